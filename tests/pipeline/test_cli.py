"""The ``keynode`` command, called in-process."""

from __future__ import annotations

import os
import re
import shutil

import pytest

import pipeline.flows  # noqa: F401
from pipeline.cli import main

# ``keynode process`` imports Prefect on first use. Importing it here, at collection, makes
# Prefect's log handlers write to pytest's session-wide capture rather than to the ``capsys``
# stream of whichever test ran first, which is closed after that test ("--- Logging error ---").


def test_status_without_a_snapshot_says_what_to_run(tmp_path, capsys):
    db = tmp_path / "keynode.duckdb"
    assert main(["status", "--db", str(db)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"error: {tmp_path / 'keynode.snapshot.duckdb'} does not exist yet: run "
                   "`keynode process data/samples` (or `make demo`) to create it\n")


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "keynode" in capsys.readouterr().err


def test_process_then_status(prefect_harness, tmp_path, samples_dir, sop_path, reps_path, capsys):
    exports = tmp_path / "exports"
    exports.mkdir()
    shutil.copy(samples_dir / "calls_transcripts.csv", exports)
    broken = exports / "broken.json"
    broken.write_text("[", encoding="utf-8")
    db = tmp_path / "keynode.duckdb"
    arguments = ["--db", str(db), "--sop", str(sop_path), "--reps", str(reps_path)]

    assert main(["process", str(exports), *arguments]) == 1  # a file failed
    out, _err = capsys.readouterr()
    lines = out.splitlines()
    run_id = re.fullmatch(r"run ([0-9a-f]{12}): 5 processed, 0 skipped unchanged, 1 failed", lines[0])[1]
    assert lines[1:] == [f"  FAILED {broken} (parse): {broken}: invalid JSON at line 1, column 2: Expecting value. "
                         "Fix: fix the JSON syntax (a validator such as `python -m json.tool` shows where)."]

    assert main(["status", "--db", str(db)]) == 0
    out, _err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[:3] == ["conversations stored: 5", "unresolved failures: 1", "pending inputs: 0"]
    assert re.fullmatch(rf"last run {run_id} at \d{{4}}-\d\d-\d\d \d\d:\d\d: 5 processed, 0 skipped, 1 failed",
                        lines[3])
    assert len(lines) == 4

    broken.unlink()
    assert main(["process", str(exports), *arguments]) == 0
    assert re.fullmatch(r"run [0-9a-f]{12}: 0 processed, 5 skipped unchanged, 0 failed\n", capsys.readouterr().out)


def test_a_broken_sop_stops_the_batch_is_recorded_and_retry_failed_runs_it_once_fixed(
        prefect_harness, tmp_path, samples_dir, sop_path, reps_path, capsys):
    from pipeline.store import read_snapshot

    sop_file = tmp_path / "sop.yaml"
    sop_file.write_text("version: [unclosed\n", encoding="utf-8")
    exports = tmp_path / "exports"
    exports.mkdir()
    shutil.copy(samples_dir / "calls_transcripts.csv", exports)
    db = tmp_path / "keynode.duckdb"
    options = ["--db", str(db), "--sop", str(sop_file), "--reps", str(reps_path)]
    assert main(["process", str(exports), *options]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {sop_file}: invalid YAML at line 2")

    # Nothing analysed with a broken SOP; the stop is a failure the board lists, the batch pending.
    with read_snapshot(db) as con:
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (0,)
        assert con.execute("SELECT source_path, stage, error_type, starts_with(message, ?) FROM failures",
                           [f"{sop_file}: invalid YAML at line 2"]).fetchall() == [
            (str(sop_file), "config", "SopError", True)]
        assert con.execute("SELECT interrupted_reason FROM runs").fetchall() == [
            (f"stopped before reading any file: {sop_file} cannot be used",)]
    assert main(["status", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "conversations stored: 0", "unresolved failures: 1", "pending inputs: 1"]

    # Still broken: retry-failed stops the same way, and adds no second failure for it.
    assert main(["retry-failed", *options]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == ["retrying 1 path with unresolved failures:",
                                f"  {sop_file} (config): it stopped the batch {exports}"]
    assert err.startswith(f"error: {sop_file}: invalid YAML")

    # Fixed: retry-failed runs the stopped batch, and the failure is resolved.
    shutil.copy(sop_path, sop_file)
    assert main(["retry-failed", *options]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"run \w+: 5 processed, 0 skipped unchanged, 0 failed", out[2])
    assert out[3:] == [f"now succeeding: {exports}"]
    with read_snapshot(db) as con:
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (5,)
        assert con.execute("SELECT count(*) FROM failures WHERE resolved_at IS NULL").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM failures").fetchone() == (2,)  # one per stopped run, both resolved
    assert main(["status", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "conversations stored: 5", "unresolved failures: 0", "pending inputs: 0"]


def test_process_with_hash_privacy_and_no_salt_exits_2_before_storing_any_text(prefect_harness, tmp_path, samples_dir,
                                                                       sop_path, reps_path, capsys, monkeypatch):
    monkeypatch.delenv("KEYNODE_REDACT_SALT", raising=False)
    privacy = tmp_path / "privacy.yaml"
    privacy.write_text("mode: hash\n", encoding="utf-8")
    db = tmp_path / "keynode.duckdb"
    assert main(["process", str(samples_dir / "calls_transcripts.csv"), "--db", str(db), "--sop", str(sop_path),
                 "--reps", str(reps_path), "--privacy", str(privacy)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {privacy}: mode is hash but the environment variable KEYNODE_REDACT_SALT is not set")
    from pipeline.store import read_snapshot

    with read_snapshot(db) as con:  # nothing stored unredacted: the stop itself is recorded
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (0,)
        assert con.execute("SELECT source_path, stage, error_type FROM failures").fetchall() == [
            (str(privacy), "config", "RedactionConfigError")]


def _processed_samples(tmp_path, samples_dir, sop_path, reps_path):
    """A database holding the 26 text samples, processed with the rule tagger."""
    folder = tmp_path / "samples"
    shutil.copytree(samples_dir, folder, ignore=shutil.ignore_patterns("calls"))
    db = tmp_path / "k.duckdb"
    assert main(["process", str(folder), "--db", str(db), "--sop", str(sop_path), "--reps", str(reps_path)]) == 0
    return db


def test_retag_rescores_stored_conversations_after_an_sop_edit(prefect_harness, tmp_path, samples_dir, sop_path,
                                                              reps_path, capsys):
    import duckdb

    db = _processed_samples(tmp_path, samples_dir, sop_path, reps_path)
    assert main(["retag", "--db", str(db), "--sop", str(sop_path), "--tagger", "rules"]) == 0
    assert "0 conversations re-tagged" in capsys.readouterr().out  # nothing changed: nothing rewritten

    edited = tmp_path / "sop.yaml"  # the company drops '有点贵' from its price-objection cues
    edited.write_text(sop_path.read_text(encoding="utf-8").replace("有点贵, ", "", 1), encoding="utf-8")
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM key_events WHERE source LIKE '%有点贵%'").fetchone()[0]
    assert before > 0
    assert main(["retag", "--db", str(db), "--sop", str(edited), "--tagger", "rules"]) == 0
    assert re.search(r"26 conversations re-tagged and re-scored with rules.v1", capsys.readouterr().out)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM key_events WHERE source LIKE '%有点贵%'").fetchone()[0] == 0
        assert con.execute("SELECT count(DISTINCT sop_version) FROM key_events").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM conversations").fetchone()[0] == 26


def test_rescore_keeps_the_stored_events_and_versions_the_scores(prefect_harness, tmp_path, samples_dir, sop_path,
                                                                 reps_path, capsys):
    import duckdb

    db = _processed_samples(tmp_path, samples_dir, sop_path, reps_path)
    assert main(["rescore", "--db", str(db), "--sop", str(sop_path)]) == 0
    assert "0 conversations re-scored from their stored events" in capsys.readouterr().out

    # The company weighs key points more: scores change, events (and their sources) stay.
    edited = tmp_path / "sop.yaml"
    edited.write_text(sop_path.read_text(encoding="utf-8").replace(
        "    key_points: 0.4\n    communication_skill: 0.25", "    key_points: 0.5\n    communication_skill: 0.15", 1),
        encoding="utf-8")
    with duckdb.connect(str(db), read_only=True) as con:
        events_before = con.execute("SELECT * EXCLUDE (sop_version) FROM key_events ORDER BY ALL").fetchall()
        totals_before = con.execute("SELECT conversation_id, node_id, total FROM node_scores ORDER BY ALL").fetchall()
    assert main(["rescore", "--db", str(db), "--sop", str(edited)]) == 0
    assert re.search(r"26 conversations re-scored from their stored events", capsys.readouterr().out)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT * EXCLUDE (sop_version) FROM key_events ORDER BY ALL").fetchall() == events_before
        totals_after = con.execute("SELECT conversation_id, node_id, total FROM node_scores ORDER BY ALL").fetchall()
        assert totals_after != totals_before and len(totals_after) == len(totals_before)
        # Both SOP versions' scores are kept in the history; node_scores holds the new one.
        assert con.execute("SELECT count(DISTINCT sop_version) FROM node_score_history").fetchone()[0] == 2
        assert con.execute("SELECT count(DISTINCT sop_version) FROM node_scores").fetchone()[0] == 1


# -- status: pending inputs and runs that did not finish; retry-failed (issue #7) ---------------

def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_status_names_a_running_and_an_interrupted_run(tmp_path, capsys):
    """Runs written straight through the store: one this process is still running, then one
    whose process died before it finished (what `kill -9` leaves: no finish, no interrupt mark)."""
    from pipeline.store import Store

    db = tmp_path / "k.duckdb"
    files = {f"exports/{name}.json": "d" for name in ("a", "b", "c", "d")}
    with Store(db) as store:
        store.begin_run("run-a", "v", "rules.v1", ["exports"], files)
        store.finish_inputs("run-a", {"exports/a.json": "done", "exports/b.json": "failed"},
                            skipped=[("exports/a.json", None)])
    assert main(["status", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["conversations stored: 0", "unresolved failures: 0",
                         "pending inputs: 2 (2 of them not found from this folder)"]
    assert re.fullmatch(r"last run run-a at [\d: -]+: running, 0 processed, 1 skipped, 0 failed so far", lines[3])
    assert re.fullmatch(rf"run run-a started at [\d: -]+ is running \(pid {os.getpid()}\): 2 of 4 inputs done "
                        r"\(1 failed\) so far", lines[4])
    assert re.fullmatch(r"\(as of the snapshot published at [\d: -]+\)", lines[5])

    with Store(db) as store:  # the same process: its own run is left alone
        store.con.execute("UPDATE runs SET pid = ? WHERE run_id = 'run-a'", [_dead_pid()])
    assert main(["status", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"last run run-a at [\d: -]+: interrupted after 0 processed, 1 skipped, 0 failed", lines[3])
    assert re.fullmatch(rf"run run-a started at [\d: -]+ did not finish: 2 of 4 inputs done \(1 failed\); run "
                        rf"`keynode process exports --db {re.escape(str(db))}` again \(with the same options\) "
                        r"to resume", lines[4])

    # A later run takes up one of the pending inputs: one stays pending, the run is still named.
    with Store(db) as store:  # opening marks the dead run interrupted
        assert store.con.execute("SELECT interrupted_reason FROM runs").fetchone() == (
            "the process ended before the run finished",)
        store.begin_run("run-b", "v", "rules.v1", ["exports/c.json"], {"exports/c.json": "d"})
        store.finish_inputs("run-b", {"exports/c.json": "done"})
        store.finish_run("run-b", 0, 1, 0)
    assert main(["status", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "pending inputs: 1 (1 of them not found from this folder)"
    assert re.fullmatch(r"last run run-b at [\d: -]+: 0 processed, 1 skipped, 0 failed", lines[3])
    assert lines[4].startswith("run run-a started at ") and "did not finish: 2 of 4 inputs done" in lines[4]


BATCH_K1 = {"conversation_key": "k1", "messages": [
    {"speaker": "王磊", "role": "rep", "text": "您好，我是云启科技的王磊，想了解下您现在怎么管理客户？"},
    {"speaker": "客户甲", "role": "customer", "text": "用表格，挺乱的。"}]}
BATCH_K2 = {"conversation_key": "k2", "messages": [
    {"speaker": "小周", "text": "您好，我是小周，看到您留言问报价？"},
    {"speaker": "客户乙", "text": "对，多少钱？"}]}


def _write_batch(path, fixed: bool) -> None:
    import copy
    import json

    k2 = copy.deepcopy(BATCH_K2)
    if fixed:
        k2["messages"][0]["role"] = "rep"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in (BATCH_K1, k2)) + "\n", encoding="utf-8")


def test_retry_failed_reprocesses_exactly_the_failing_files(prefect_harness, tmp_path, samples_dir, sop_path,
                                                            reps_path, capsys):
    exports = tmp_path / "exports"
    exports.mkdir()
    shutil.copy(samples_dir / "calls_transcripts.csv", exports)
    broken, batch = exports / "broken.json", exports / "batch.jsonl"
    broken.write_text("[", encoding="utf-8")
    _write_batch(batch, fixed=False)  # k2: nobody is the rep
    db = tmp_path / "keynode.duckdb"
    options = ["--db", str(db), "--sop", str(sop_path), "--reps", str(reps_path)]

    assert main(["process", str(exports), *options]) == 1
    assert re.match(r"run \w+: 6 processed, 0 skipped unchanged, 2 failed", capsys.readouterr().out)
    (exports / "new.json").write_text(FIXED_NEW, encoding="utf-8")  # arrived since: pending
    assert main(["status", "--db", str(db), str(exports), "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["conversations stored: 6", "unresolved failures: 2", "pending inputs: 0"]
    assert lines[4:] == [f"files under {exports}: 4: 1 processed, 2 failed, 1 pending (6 conversations stored "
                         "from them)", f"  failed  {batch}", f"  failed  {broken}", f"  pending {exports / 'new.json'}"]

    # Nothing fixed yet: both files are retried, both still fail, exit 1.
    assert main(["retry-failed", *options]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["retrying 2 files with unresolved failures:", f"  {batch} [k2] (roles)", f"  {broken} (parse)"]
    assert re.fullmatch(r"run \w+: 0 processed, 1 skipped unchanged, 2 failed", out[3])
    assert [line for line in out if line.startswith("still failing")] == [
        f"still failing: {batch} [k2] (roles): {batch} [k2]: cannot tell which participant is the rep (speakers: "
        "小周, 客户乙). Fix: add a manifest row with rep=<name>, add the rep to configs/reps.yaml, or add a 'role' "
        "column to the export.",
        f"still failing: {broken} (parse): {broken}: invalid JSON at line 1, column 2: Expecting value. Fix: fix the "
        "JSON syntax (a validator such as `python -m json.tool` shows where)."]

    # Both fixed: only they are processed (k1 of the batch is skipped as unchanged), exit 0.
    _write_batch(batch, fixed=True)
    broken.write_text(FIXED_NEW.replace("web-7001", "web-7002"), encoding="utf-8")
    assert main(["retry-failed", *options]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "retrying 2 files with unresolved failures:"
    assert re.fullmatch(r"run \w+: 2 processed, 1 skipped unchanged, 0 failed", out[3])
    assert out[4:] == [f"now succeeding: {batch}, {broken}"]
    assert main(["status", "--db", str(db), str(exports)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["conversations stored: 8", "unresolved failures: 0", "pending inputs: 0"]
    assert lines[4] == f"files under {exports}: 4: 3 processed, 0 failed, 1 pending (8 conversations stored from them)"
    assert main(["retry-failed", *options]) == 0
    assert capsys.readouterr().out == "nothing to retry: no unresolved failures\n"


FIXED_NEW = ('{"conversation_key": "web-7001", "messages": [{"speaker": "王磊", "role": "rep", "text": '
             '"您好，我是云启科技的王磊，您现在方便吗？"}, {"speaker": "李女士", "role": "customer", "text": "方便"}]}')
