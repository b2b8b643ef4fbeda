"""A conversation of 10,000 utterances goes through the whole batch (issue #7's bad-input list):
stored complete, tagged and scored, in seconds rather than the minutes a quadratic step took."""

from __future__ import annotations

import csv
import time

import duckdb

from pipeline.cli import main

TURNS = [("王磊", "rep", "您好，我是云启科技的王磊，现在方便吗"), ("李总", "customer", "你说吧"),
         ("王磊", "rep", "我们的系统可以自动汇总销售日报"), ("李总", "customer", "一年多少钱"),
         ("王磊", "rep", "一年九千八，包含培训"), ("李总", "customer", "有点贵"),
         ("王磊", "rep", "理解，首年可以给您优惠"), ("李总", "customer", "好，那下周二再聊")]


def test_a_ten_thousand_utterance_chat_is_stored_whole(prefect_harness, tmp_path, sop_path, reps_path, monkeypatch,
                                                       capsys):
    export = tmp_path / "exports" / "marathon.csv"
    export.parent.mkdir()
    with export.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["speaker", "role", "text"])
        for index in range(10_000):
            speaker, role, text = TURNS[index % len(TURNS)]
            writer.writerow([speaker, role, f"{text} ({index})"])
    db = tmp_path / "keynode.duckdb"
    # The rules: the embedding model reads about 50 utterances a second (docs/tagging.md), which
    # would make this a 200-second test of the embedder rather than of the batch.
    monkeypatch.setenv("KEYNODE_TAGGER", "rules")
    started_s = time.monotonic()
    assert main(["process", str(export.parent), "--db", str(db), "--sop", str(sop_path),
                 "--reps", str(reps_path)]) == 0
    elapsed_s = time.monotonic() - started_s
    assert "1 processed, 0 skipped unchanged, 0 failed" in capsys.readouterr().out
    with capsys.disabled():
        print(f"\n10,000 utterances read, tagged by the rules, scored and stored in {elapsed_s:.1f} s")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT utterance_count FROM conversations").fetchall() == [(10_000,)]
        assert con.execute("SELECT count(*), max(utterance_index) FROM utterances").fetchone() == (10_000, 9_999)
        assert con.execute("SELECT count(*) FROM node_scores").fetchone() == (6,)
        events = dict(con.execute("SELECT node_id, count(*) FROM key_events GROUP BY node_id").fetchall())
        assert events["price_objection"] >= 1_000 and events["opening"] >= 1  # every "有点贵"
        assert con.execute("SELECT count(*) FROM conversation_metrics").fetchone()[0] > 0
