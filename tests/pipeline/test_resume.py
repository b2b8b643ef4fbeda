"""Crash safety (issue #7): ``keynode process`` killed with SIGKILL in the middle of a batch, then
run again, ends with exactly what one clean run stores.

Three real ``keynode process`` commands run as subprocesses, each with its own Prefect home and
temporary Prefect server (in its own process group, so a kill takes the server too): a clean run
into a fresh database (the reference), a run that is killed once some but not all of the batch is
published to the snapshot, and the same command again (the resume).

"Intact" is precise here: every conversation the killed run stored has, in every
per-conversation table, exactly the rows the clean run stored for it (run ids and write times
aside), so its utterance count, event tree, node scores (one per SOP node), conversation score,
metrics, notes and score history are all there; and no table holds rows of a conversation that
is not in ``conversations``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from pipeline.store import read_snapshot

ROOT = Path(__file__).resolve().parents[2]

#: Tables holding rows of a conversation, and the columns that only say when or by which run a
#: row was written (a resumed conversation was written by another run than in the clean one).
CONVERSATION_TABLES = ("conversations", "utterances", "key_events", "event_tree", "node_scores",
                       "conversation_scores", "conversation_metrics", "conversation_notes", "node_score_history")
WRITE_COLUMNS = {"run_id", "processed_at", "scored_at"}
GENERATED = 34  # small chats added to the 26 samples: 60 conversations in 50 files

REPS = ("王磊", "张敏", "陈晨", "刘洋")
COMPANIES = ("云启科技", "筑家装饰", "安和保险", "岚驰汽车", "博学教育", "信达财税")
PRODUCTS = ("客户管理系统", "全屋定制", "少儿医疗险", "新能源SUV", "职场英语课", "代理记账")
NEEDS = ("现在都用Excel，客户资料很乱", "想控制一下预算", "需要下个月就能用上", "家里老人也要考虑进去",
         "之前用过一家，售后不太好", "团队有二十个人要一起用")
OBJECTIONS = ("太贵了，别家便宜不少", "价格有点高，再考虑考虑", "预算不够，能不能便宜点", "这个价我们接受不了")
NEXT_STEPS = ("那我周四下午三点给您演示，我来安排", "明天上午十点我把方案发您，您看可以吗",
              "下周一我带合同过去，您看方便吗", "我先给您发个试用账号，周五回访您")


def _generated_chat(n: int) -> dict:
    """A short chat with a rep and a customer, different in every ``n``."""
    pick = random.Random(n)
    rep, company, product = pick.choice(REPS), pick.choice(COMPANIES), pick.choice(PRODUCTS)
    customer = f"客户{n:03d}"
    turns = [("rep", f"{customer}您好，我是{company}的{rep}，想跟您聊聊{product}，您现在方便吗？"),
             ("customer", "方便，你说。"),
             ("rep", "您目前在这方面主要遇到什么问题？"),
             ("customer", pick.choice(NEEDS) + "。"),
             ("rep", f"我们的{product}正好能解决这个问题，第{n}期客户用下来反馈都不错。"),
             ("customer", "听起来不错，多少钱？"),
             ("rep", f"标准版{pick.randint(50, 500) * 10}元。"),
             ("customer", pick.choice(OBJECTIONS) + "。"),
             ("rep", "理解，可以先从基础版开始，算下来每天也就几块钱。"),
             ("customer", "好的，那先试试。"),
             ("rep", pick.choice(NEXT_STEPS) + "。"),
             ("customer", "好的。")]
    start = f"2024-06-{1 + n % 28:02d} {9 + n % 8:02d}:{n % 60:02d}:00"
    return {"conversation_key": f"gen-{n:04d}",
            "messages": [{"time": start, "speaker": rep if role == "rep" else customer, "role": role, "text": text}
                         for role, text in turns]}


@pytest.fixture
def batch(text_samples) -> Path:
    """The 26 text samples plus small generated chats: a batch that takes a few seconds to write."""
    for n in range(GENERATED):
        (text_samples / f"gen_{n:04d}.json").write_text(json.dumps(_generated_chat(n), ensure_ascii=False),
                                                        encoding="utf-8")
    return text_samples


def _command(folder: Path, db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "process", str(folder), "--db", str(db),
            "--sop", str(ROOT / "configs" / "sop.yaml"), "--reps", str(ROOT / "configs" / "reps.yaml"), *extra]


def _environment(home: Path) -> dict[str, str]:
    """Each subprocess starts its own temporary Prefect server, with its state in ``home``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(home), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               KEYNODE_TAGGER="rules", PYTHONUNBUFFERED="1")
    return env


def _run(command: list[str], home: Path, log: Path) -> tuple[int, str]:
    with open(log, "w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=ROOT, env=_environment(home), stdout=out, stderr=subprocess.STDOUT,
                              timeout=600, start_new_session=True)
    return done.returncode, log.read_text(encoding="utf-8")


def _summary(output: str) -> tuple[int, int, int]:
    # Not anchored to a line: stdout and stderr share the log file, and a log line written at the
    # same moment can run into the summary. The flow logs the same counts as the CLI prints.
    found = re.findall(r"\brun [0-9a-f]{12}: (\d+) processed, (\d+) skipped unchanged, (\d+) failed", output)
    assert found, output[-3000:]
    return tuple(int(n) for n in found[-1])


def _columns(con, table: str) -> list[str]:
    return [row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall() if row[0] not in WRITE_COLUMNS]


def _rows(db: Path, ids: list[str] | None = None) -> dict[str, list[tuple]]:
    """Every per-conversation row (of ``ids``, or all), sorted, without the write columns."""
    with duckdb.connect(str(db), read_only=True) as con:
        where = "WHERE list_contains(?, conversation_id)" if ids is not None else ""
        return {table: con.execute(f"SELECT {', '.join(_columns(con, table))} FROM {table} {where} ORDER BY ALL",
                                   [ids] if ids is not None else []).fetchall()
                for table in CONVERSATION_TABLES}


def _ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT conversation_id FROM conversations ORDER BY 1").fetchall()]


def _duplicates(db: Path) -> dict[str, int]:
    """Per table: keys held by more than one row (primary keys; whole rows where there is none),
    and sources (file, conversation key) stored as more than one conversation."""
    found = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        keys = dict(con.execute("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                                "WHERE constraint_type = 'PRIMARY KEY'").fetchall())
        for table in tables:
            group = ", ".join(keys[table]) if table in keys else "ALL"
            found[table] = con.execute(f"SELECT count(*) FROM (SELECT count(*) AS n FROM {table} GROUP BY {group}) "
                                       "WHERE n > 1").fetchone()[0]
        found["conversations by source"] = con.execute(
            "SELECT count(*) FROM (SELECT count(*) AS n FROM conversations GROUP BY source_path, source_key) "
            "WHERE n > 1").fetchone()[0]
        assert set(keys) >= set(CONVERSATION_TABLES) | {"runs", "run_inputs", "failures"}
    return found


def _orphans(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {table: con.execute(f"SELECT count(*) FROM {table} WHERE conversation_id NOT IN "
                                   "(SELECT conversation_id FROM conversations)").fetchone()[0]
                for table in CONVERSATION_TABLES[1:]}


def _published_count(db: Path) -> int | None:
    """Conversations in the published snapshot, read as the board reads it (None: not published yet)."""
    try:
        with read_snapshot(db) as con:
            return con.execute("SELECT count(*) FROM conversations").fetchone()[0]
    except FileNotFoundError:
        return None


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the command and everything it started (its temporary Prefect server), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the group is gone once its last member is reaped
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def test_a_batch_killed_mid_write_resumes_to_exactly_a_clean_run(batch, tmp_path, capsys):
    started = time.monotonic()
    # The reference: the batch processed in one clean run into a fresh database.
    clean_db = tmp_path / "clean" / "keynode.duckdb"
    code, output = _run(_command(batch, clean_db), tmp_path / "prefect-clean", tmp_path / "clean.log")
    assert code == 0, output[-3000:]
    total, skipped, failed = _summary(output)
    assert (total, skipped, failed) == (26 + GENERATED, 0, 0)
    clean = _rows(clean_db)
    clean_ids = _ids(clean_db)
    assert len(clean_ids) == total

    # The killed run: publishes its snapshot every 0.2 s, so a poller sees the batch land.
    db = tmp_path / "crash" / "keynode.duckdb"
    log = open(tmp_path / "crash.log", "w", encoding="utf-8")
    process = subprocess.Popen(_command(batch, db, "--publish-interval", "0.2"), cwd=ROOT,
                               env=_environment(tmp_path / "prefect-crash"), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    seen, deadline = None, time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            seen = _published_count(db)
            if seen is not None and total // 4 <= seen < total:
                break
            time.sleep(0.05)
    finally:
        _kill_group(process)
        log.close()
    crash_output = (tmp_path / "crash.log").read_text(encoding="utf-8")
    assert seen is not None and 0 < seen < total, (
        f"the run was not caught mid-batch (snapshot showed {seen} of {total}; exit code {process.returncode})\n"
        + crash_output[-3000:])
    assert process.returncode == -signal.SIGKILL
    assert not re.search(r"^run \w+: \d+ processed", crash_output, re.M)  # it never finished

    # The database opens; what the killed run stored is intact, and only that.
    stored = _ids(db)
    assert 0 < len(stored) < total and set(stored) <= set(clean_ids)
    assert _rows(db) == _rows(clean_db, stored)
    assert not any(_orphans(db).values())
    with duckdb.connect(str(db), read_only=True) as con:
        run_id, finished, interrupted = con.execute("SELECT run_id, finished_at, interrupted_at FROM runs").fetchone()
        inputs = dict(con.execute("SELECT state, count(*) FROM run_inputs GROUP BY 1").fetchall())
    assert (finished, interrupted) == (None, None)  # as the kill left it: marked by the next writer
    assert inputs.get("queued", 0) > 0 and sum(inputs.values()) == 16 + GENERATED

    # `keynode status` names the interrupted run and counts its pending inputs (from the snapshot).
    assert main(["status", "--db", str(db)]) == 0
    status = capsys.readouterr().out
    pending = int(re.search(r"^pending inputs: (\d+)", status, re.M)[1])
    progress = re.search(rf"^run {run_id} started at [\d: -]+ did not finish: (\d+) of (\d+) inputs done; run "
                         rf"`keynode process .+ --db {re.escape(str(db))}` again \(with the same options\) to resume$",
                         status, re.M)
    assert progress, status
    assert pending > 0 and int(progress[1]) + pending == int(progress[2]) == 16 + GENERATED

    # The same command again completes the batch: what was stored is skipped, the rest written.
    code, output = _run(_command(batch, db), tmp_path / "prefect-resume", tmp_path / "resume.log")
    assert code == 0, output[-3000:]
    processed, skipped, failed = _summary(output)
    assert (processed, skipped, failed) == (total - len(stored), len(stored), 0)
    assert _ids(db) == clean_ids
    assert _rows(db) == clean  # every row of every conversation, as one clean run stores it
    assert not any(_duplicates(db).values()), _duplicates(db)
    assert not any(_orphans(db).values())
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute("SELECT run_id, finished_at IS NOT NULL, interrupted_reason, processed FROM runs "
                           "ORDER BY started_at").fetchall()
        counts = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in CONVERSATION_TABLES}
    assert [row[:3] for row in runs] == [(run_id, False, "the process ended before the run finished"),
                                         (runs[1][0], True, None)]
    assert runs[0][3] == len(stored)  # the interrupted run's count is what it wrote
    with duckdb.connect(str(clean_db), read_only=True) as con:
        clean_counts = {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                        for table in CONVERSATION_TABLES}
    assert counts == clean_counts

    assert main(["status", "--db", str(db)]) == 0
    status = capsys.readouterr().out.splitlines()
    assert status[:3] == [f"conversations stored: {total}", "unresolved failures: 0", "pending inputs: 0"]
    assert not [line for line in status if "did not finish" in line]

    with capsys.disabled():
        print(f"\ncrash test: {total} conversations in {16 + GENERATED} files; snapshot showed {seen} when killed, "
              f"{len(stored)} stored (main database) after the kill, {pending} inputs pending; resume "
              f"{processed} processed + {skipped} skipped; after resume {counts['conversations']} conversations, "
              f"{counts['utterances']} utterances, {counts['node_scores']} node scores = clean run "
              f"{clean_counts['conversations']} / {clean_counts['utterances']} / {clean_counts['node_scores']}; "
              f"{time.monotonic() - started:.0f} s")
