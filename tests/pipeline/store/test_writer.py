"""The single writer: whole-conversation replacement, failures, and the read snapshot."""

from __future__ import annotations

import dataclasses
import importlib
import json

import duckdb
import pytest

from pipeline.analyze import analyze
from pipeline.events import RuleTagger
from pipeline.models import TranscriptInfo, Utterance, Word
from pipeline.scoring import score_conversation, score_nodes
from pipeline.store import AnalysisWrite, Store, read_snapshot, snapshot_path

writer_module = importlib.import_module("pipeline.store.writer")

CONVERSATION_TABLES = ("conversations", "utterances", "key_events", "event_tree", "node_scores",
                       "conversation_scores")


def _dump(con, table: str, exclude: tuple[str, ...] = ()) -> list[tuple]:
    """Every row of a table, sorted, without the excluded columns."""
    columns = [row[0] for row in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall() if row[0] not in exclude]
    return con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").fetchall()


def _dumps(con, exclude: tuple[str, ...] = ("processed_at",)) -> dict[str, list[tuple]]:
    return {table: _dump(con, table, exclude) for table in CONVERSATION_TABLES}


def _counts(con) -> dict[str, int]:
    return {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in CONVERSATION_TABLES}


@pytest.fixture
def analysis(sales_chat, sales_chat_reactions, sop):
    """The sales chat analysed, with the hand-set customer reactions of tests/conftest.py so the
    stored scores are the ones worked out in tests/pipeline/scoring/test_nodes.py."""
    plain = analyze(sales_chat, sop, RuleTagger())
    node_scores = score_nodes(sales_chat, plain.events, plain.tree, sop, sales_chat_reactions)
    return dataclasses.replace(plain, node_scores=node_scores,
                               conversation_score=score_conversation(plain.events, node_scores, sop))


@pytest.fixture
def other_analysis(make_conversation, sop):
    conversation = make_conversation([("rep", "您好，我是王磊"), ("customer", "你好")],
                                     conversation_id="other-chat", source_path="other.json")
    return analyze(conversation, sop, RuleTagger())


# The sales chat: 12 utterances, 7 events, 11 tree nodes, 6 node scores, 1 conversation score.
SALES_CHAT_COUNTS = {"conversations": 1, "utterances": 12, "key_events": 7, "event_tree": 11,
                     "node_scores": 6, "conversation_scores": 1}


def test_written_rows(tmp_path, analysis, sop):
    with Store(tmp_path / "k.duckdb") as store:
        store.write_analysis(analysis, "run-1", "fp-1")
        con = store.con
        assert _counts(con) == SALES_CHAT_COUNTS
        assert con.execute("SELECT conversation_id, source_path, language, utterance_count, duration_s, "
                           "fingerprint, sop_version, tagger, run_id, transcript FROM conversations").fetchone() == (
            "sales-chat", "test.json", "zh", 12, None, "fp-1", sop.version, "rules.v1", "run-1", None)
        assert con.execute("SELECT speaker_role, text, text_normalized FROM utterances "
                           "WHERE utterance_index = 3").fetchone() == (
            "customer", "现在都用Excel，销售一离职客户就带走了，很头疼。", "现在都用excel,销售一离职客户就带走了,很头疼。")
        assert con.execute("SELECT utterance_index, confidence, source FROM key_events "
                           "WHERE node_id = 'next_step'").fetchall() == [(10, 0.9, "rule:next_step/安排,演示,周四,re:三点")]
        assert con.execute("SELECT tree_key, parent_key, kind, node_id, first_utterance, depth FROM event_tree "
                           "WHERE tree_key IN (7, 8) ORDER BY tree_key").fetchall() == [
            (7, None, "occurrence", "price_objection", 7, 0), (8, 7, "reply", None, 8, 1)]
        row = con.execute("SELECT status, key_points, communication_skill, attitude, customer_feedback, total, "
                          "utterance_indexes, explanation, evidence FROM node_scores WHERE node_id = 'opening'").fetchone()
        assert row[:7] == ("present", 100.0, 66.7, 100.0, 66.7, 86.7, [0])
        assert json.loads(row[7])["communication_skill"] == "开放式提问 0/1；最长一段讲解 32 字（上限 120）；1/1 处让对方回应"
        assert json.loads(row[8])["communication_skill"] == {"open_questions": 0.0, "monologue": 1.0, "turn_taking": 1.0}
        assert con.execute("SELECT status, key_points, total, utterance_indexes FROM node_scores "
                           "WHERE node_id = 'customer_needs'").fetchone() == ("present", 20.0, 62.0, [2, 3])
        assert con.execute("SELECT coverage, missing_required, order_conformance, node_order, total "
                           "FROM conversation_scores").fetchone() == (
            1.0, [], 1.0, ["opening", "customer_needs", "product_intro", "customer_approval", "price_objection",
                           "next_step"], 81.7)


def test_metrics_notes_and_score_history_are_written(tmp_path, analysis, sop):
    with Store(tmp_path / "k.duckdb") as store:
        store.write_analysis(analysis, "run-1", "fp-1")
        con = store.con
        # A chat without message times: latency, interruptions, wait after a question, pace and fillers
    # are stored as not applicable (no value), the text-based ones are measured.
        assert con.execute("SELECT count(*), count(*) FILTER (WHERE NOT applicable) FROM conversation_metrics"
                           ).fetchone() == (11, 5)
        assert con.execute("SELECT value, unit, applicable FROM conversation_metrics WHERE name = 'question_count'"
                           ).fetchone() == (3.0, "count", True)  # utterances 0, 2 and 8
        assert con.execute("SELECT value, applicable FROM conversation_metrics WHERE name = 'rep_response_latency_s'"
                           ).fetchone() == (None, False)
        assert con.execute("SELECT kind, utterance_indexes, answer_index, outcome FROM conversation_notes "
                           "ORDER BY note_index").fetchall() == [
            ("need", [3], None, None), ("approval", [5], None, None), ("objection", [7], 8, "accepted"),
            ("next_step", [10], None, "confirmed")]
        assert con.execute("SELECT line FROM conversation_notes WHERE kind = 'next_step'").fetchone() == (
            "下一步：「那就周四下午三点给您演示，我来安排。」（时间 周四/下午/三点；事项 演示；负责 销售；客户已确认）",)
        assert con.execute("SELECT count(*), min(sop_version) FROM node_score_history").fetchone() == (6, sop.version)
        # Re-scored under another SOP version: the current scores are replaced, the history keeps both.
        store.write_analysis(dataclasses.replace(analysis, sop_version="2027.01-1+00000000"), "run-2", "fp-2")
        assert con.execute("SELECT count(DISTINCT sop_version) FROM node_score_history").fetchone() == (2,)
        assert con.execute("SELECT DISTINCT sop_version FROM node_scores").fetchall() == [("2027.01-1+00000000",)]


def test_an_objection_note_is_stored_with_its_theme_and_its_texts_masked(tmp_path, make_conversation, sop):
    """What the objection library reads (migration 008): the theme, and the quote and answer as a
    trainer sees them — numbers and the customer's names (the metadata's and every customer
    speaker's) masked. Other notes leave them empty."""
    chat = make_conversation([
        ("rep", "标准版一年九千八"),
        ("customer", "太贵了，超出预算了。你加我手机13812345678再聊"),
        ("rep", "理解，李姐，我稍后打13812345678给您和张伟，可以先从基础版开始"),
        ("customer", "张伟", "好的，那先试试基础版"),
        ("rep", "那我明天下午给您发报价单"),
    ], customer="李女士")
    with Store(tmp_path / "k.duckdb") as store:
        store.write_analysis(analyze(chat, sop, RuleTagger()), "run-1", "fp-1")
        assert store.con.execute("SELECT kind, quote, answer, theme, quote_masked, answer_masked "
                                 "FROM conversation_notes ORDER BY note_index").fetchall() == [
            ("need", "太贵了，超出预算了。你加我手机13812345678再聊", None, None, None, None),
            ("objection", "太贵了，超出预算了。你加我手机13812345678再聊",
             "理解，李姐，我稍后打13812345678给您和张伟，可以先从基础版开始", "budget",
             "太贵了，超出预算了。你加我手机[手机号]再聊", "理解，[姓名]，我稍后打[手机号]给您和[姓名]，可以先从基础版开始"),
            ("next_step", "那我明天下午给您发报价单", None, None, None, None)]


def test_objection_notes_stored_before_008_are_filled_when_the_store_opens(tmp_path, make_conversation, sop):
    """A database upgraded in place: its objection notes have no theme or masked texts until
    the writer opens it, which fills them exactly as it stores new ones, and republishes."""
    from pipeline.store import read_snapshot

    chat = make_conversation([
        ("rep", "标准版一年九千八"),
        ("customer", "太贵了，超出预算了。你加我手机13812345678再聊"),
        ("rep", "理解，李姐，我稍后打给您，可以先从基础版开始"),
    ], customer="李女士")
    db = tmp_path / "k.duckdb"
    with Store(db) as store:
        store.write_analysis(analyze(chat, sop, RuleTagger()), "run-1", "fp-1")
        stored = store.con.execute("SELECT note_index, theme, quote_masked, answer_masked FROM conversation_notes "
                                   "WHERE kind = 'objection'").fetchall()
        store.con.execute("UPDATE conversation_notes SET theme = NULL, quote_masked = NULL, answer_masked = NULL")
    with Store(db) as store:
        assert store.con.execute("SELECT note_index, theme, quote_masked, answer_masked FROM conversation_notes "
                                 "WHERE kind = 'objection'").fetchall() == stored
        assert store.con.execute("SELECT count(*) FROM conversation_notes WHERE kind <> 'objection' "
                                 "AND theme IS NOT NULL").fetchone() == (0,)
    assert stored == [(1, "budget", "太贵了，超出预算了。你加我手机[手机号]再聊", "理解，[姓名]，我稍后打给您，可以先从基础版开始")]
    with read_snapshot(db) as con:
        assert con.execute("SELECT theme FROM conversation_notes WHERE kind = 'objection'").fetchall() == [("budget",)]


def test_rewriting_the_same_analysis_leaves_the_same_rows(tmp_path, analysis, other_analysis):
    with Store(tmp_path / "k.duckdb") as store:
        store.write_analysis(analysis, "run-1", "fp-1")
        store.write_analysis(other_analysis, "run-1", "fp-2")
        counts, dumps = _counts(store.con), _dumps(store.con)
        store.write_analysis(analysis, "run-1", "fp-1")
        assert _counts(store.con) == counts
        assert _dumps(store.con) == dumps
    assert counts == {"conversations": 2, "utterances": 14, "key_events": 8, "event_tree": 13,
                      "node_scores": 12, "conversation_scores": 2}


def test_analyses_written_together_give_the_rows_of_writing_them_one_by_one(tmp_path, analysis, other_analysis,
                                                                           make_conversation, sop):
    """write_analyses (the flow's group commit) stores exactly what write_analysis does one at a
    time, the same conversation twice in one call included (the last write wins), with the run's
    count and the input states it carries."""
    shorter = analyze(make_conversation([(u.speaker_role, u.text) for u in analysis.conversation.utterances[:4]],
                                        conversation_id="sales-chat"), sop, RuleTagger())
    sequence = [(analysis, "fp-1", None), (other_analysis, "fp-2", {"b.txt": "done"}), (shorter, "fp-3", {"a.txt": "done"})]
    dumps = {}
    for name in ("one by one", "together"):
        with Store(tmp_path / f"{name}.duckdb") as store:
            store.begin_run("run-1", "v1", "rules.v1", ["exports"], {"a.txt": "d1", "b.txt": "d2"})
            if name == "one by one":
                for item, stamp, states in sequence:
                    store.write_analysis(item, "run-1", stamp, states)
            else:
                store.write_analyses([AnalysisWrite(item, "run-1", stamp, states) for item, stamp, states in sequence])
            dumps[name] = _dumps(store.con, exclude=("processed_at", "scored_at", "updated_at"))
            assert _run_row(store.con, "run-1")[0] == 3  # processed: every write counts
            assert _inputs(store.con, "run-1") == [("a.txt", "d1", "done"), ("b.txt", "d2", "done")]
            assert store.stored_fingerprint("sales-chat") == "fp-3"
    assert dumps["together"] == dumps["one by one"]
    assert len(dumps["together"]["utterances"]) == 4 + len(other_analysis.conversation.utterances)


def test_a_changed_conversation_replaces_all_its_rows(tmp_path, analysis, make_conversation, sop):
    shorter = make_conversation([(u.speaker_role, u.text) for u in analysis.conversation.utterances[:4]],
                                conversation_id="sales-chat")
    with Store(tmp_path / "k.duckdb") as store:
        store.write_analysis(analysis, "run-1", "fp-1")
        store.write_analysis(analyze(shorter, sop, RuleTagger()), "run-2", "fp-2")
        assert _counts(store.con) == {"conversations": 1, "utterances": 4, "key_events": 3, "event_tree": 4,
                                      "node_scores": 6, "conversation_scores": 1}
        assert store.stored_fingerprint("sales-chat") == "fp-2"
        assert store.stored_fingerprint("unknown") is None


def test_a_failure_mid_write_leaves_the_previous_rows(tmp_path, analysis, other_analysis, make_conversation,
                                                       sop, monkeypatch):
    shorter = make_conversation([(u.speaker_role, u.text) for u in analysis.conversation.utterances[:4]],
                                conversation_id="sales-chat")
    replacement = analyze(shorter, sop, RuleTagger())
    real_insert = writer_module._insert

    def insert_then_crash(con, table, rows):
        if table == "node_scores":  # conversations, utterances, key_events, event_tree already replaced
            raise RuntimeError("disk full")
        real_insert(con, table, rows)

    with Store(tmp_path / "k.duckdb") as store:
        store.write_analysis(analysis, "run-1", "fp-1")
        store.write_analysis(other_analysis, "run-1", "fp-2")
        before = _dumps(store.con, exclude=())
        monkeypatch.setattr(writer_module, "_insert", insert_then_crash)
        with pytest.raises(RuntimeError, match="disk full"):
            store.write_analysis(replacement, "run-2", "fp-3")
        assert _dumps(store.con, exclude=()) == before
        assert store.stored_fingerprint("sales-chat") == "fp-1"
        # The connection is usable afterwards: the transaction was rolled back, not left open.
        monkeypatch.setattr(writer_module, "_insert", real_insert)
        store.write_analysis(replacement, "run-2", "fp-3")
        assert store.stored_fingerprint("sales-chat") == "fp-3"
        assert _counts(store.con)["utterances"] == 4 + 2


def test_transcript_words_and_role_confidence_are_stored_as_json(tmp_path, analysis):
    transcript = TranscriptInfo(audio_sha256="ab" * 32, duration_s=12.5, channels=2, channels_transcribed=2,
                                sample_rate=16000, model="base", compute_type="int8",
                                options=(("beam_size", 5),), language_probability=0.98,
                                role_method="stereo_channels")
    first = analysis.conversation.utterances[0]
    timed = Utterance(index=0, speaker_role="rep", speaker_name=first.speaker_name, text=first.text, start_s=0.5,
                      end_s=3.0, role_confidence=0.9, words=(Word(0.5, 1.0, "李总", 0.75),))
    conversation = dataclasses.replace(analysis.conversation, transcript=transcript,
                                       utterances=(timed, *analysis.conversation.utterances[1:]))
    with Store(tmp_path / "k.duckdb") as store:
        store.write_analysis(dataclasses.replace(analysis, conversation=conversation), "run-1", "fp-1")
        stored, duration = store.con.execute("SELECT transcript, duration_s FROM conversations").fetchone()
        assert json.loads(stored)["options"] == [["beam_size", 5]]
        assert json.loads(stored)["role_method"] == "stereo_channels"
        assert duration == 3.0
        assert store.con.execute("SELECT start_s, end_s, role_confidence, words FROM utterances "
                                 "WHERE utterance_index = 0").fetchone() == (0.5, 3.0, 0.9, '[[0.5, 1.0, "李总", 0.75]]')
        assert store.con.execute("SELECT count(*) FROM utterances WHERE words IS NULL").fetchone() == (11,)
        # Re-tagging rebuilds the record from the rows: it must come back exactly as written.
        assert list(store.stored_conversations()) == [conversation]
        assert store.con.execute("SELECT DISTINCT tagger FROM key_events").fetchall() == [("rules.v1",)]


def test_runs_are_recorded(tmp_path, sop):
    with Store(tmp_path / "k.duckdb") as store:
        store.begin_run("run-1", sop.version, "rules.v1", ["data/samples"])
        assert store.con.execute("SELECT processed, finished_at FROM runs").fetchone() == (0, None)
        store.finish_run("run-1", 3, 2, 1)
        assert store.con.execute("SELECT run_id, sop_version, tagger, inputs, processed, skipped, failed, "
                                 "finished_at IS NOT NULL FROM runs").fetchone() == (
            "run-1", sop.version, "rules.v1", ["data/samples"], 3, 2, 1, True)


def _open_failures(store) -> list[tuple]:
    return store.con.execute("SELECT source_path, source_key, stage FROM failures WHERE resolved_at IS NULL "
                             "ORDER BY ALL").fetchall()


def test_failures_are_recorded_once_and_resolved_by_source(tmp_path, analysis):
    message = "a.json: invalid JSON at line 1, column 2. Fix: fix the JSON syntax."
    with Store(tmp_path / "k.duckdb") as store:
        store.record_failure("run-1", "a.json", None, "parse", "IngestError", message)
        store.record_failure("run-1", "a.json", None, "parse", "IngestError", message)  # same failure again
        store.record_failure("run-1", "batch.jsonl", "k1", "roles", "IngestError", "batch.jsonl [k1]: no rep")
        store.record_failure("run-1", "batch.jsonl", "k2", "roles", "IngestError", "batch.jsonl [k2]: no rep")
        assert store.con.execute("SELECT run_id, source_path, source_key, stage, error_type, message FROM failures "
                                 "WHERE source_path = 'a.json'").fetchall() == [
            ("run-1", "a.json", None, "parse", "IngestError", message)]
        assert _open_failures(store) == [("a.json", None, "parse"), ("batch.jsonl", "k1", "roles"),
                                         ("batch.jsonl", "k2", "roles")]

        store.resolve_failures("batch.jsonl", "k1")
        assert _open_failures(store) == [("a.json", None, "parse"), ("batch.jsonl", "k2", "roles")]

        # Writing a conversation read from a.json resolves the file's failure.
        store.write_analysis(dataclasses.replace(
            analysis, conversation=dataclasses.replace(analysis.conversation, source_path="a.json")), "run-2", "fp")
        assert _open_failures(store) == [("batch.jsonl", "k2", "roles")]
        assert store.con.execute("SELECT count(*) FROM failures").fetchone() == (3,)


def test_snapshot_paths():
    assert snapshot_path("data/keynode.duckdb").as_posix() == "data/keynode.snapshot.duckdb"
    assert snapshot_path("db/keynode").as_posix() == "db/keynode.snapshot.duckdb"


def test_reading_before_anything_was_published_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="keynode process"):
        with read_snapshot(tmp_path / "k.duckdb"):
            pass


def test_snapshot_is_readable_while_the_writer_holds_the_database(tmp_path, analysis, other_analysis):
    db = tmp_path / "k.duckdb"
    # A long interval: only the first write and forced publishes copy the database.
    with Store(db, publish_interval_s=1e9) as store:
        store.write_analysis(analysis, "run-1", "fp-1")   # the first write publishes
        assert snapshot_path(db).exists()
        with read_snapshot(db) as reader:
            assert _counts(reader) == SALES_CHAT_COUNTS
            assert _dumps(reader, exclude=()) == _dumps(store.con, exclude=())
            with pytest.raises(duckdb.Error):
                reader.execute("DELETE FROM conversations")  # read-only

        store.write_analysis(other_analysis, "run-1", "fp-2")  # within the interval: not published
        assert store.publish_snapshot() is None
        with read_snapshot(db) as reader:
            assert reader.execute("SELECT count(*) FROM conversations").fetchone() == (1,)

        assert store.publish_snapshot(force=True) == snapshot_path(db)
        with read_snapshot(db) as reader:
            assert reader.execute("SELECT count(*) FROM conversations").fetchone() == (2,)
        store.con.execute("DELETE FROM failures")  # the writer still writes after publishing
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary copy was renamed into place


def test_closing_the_store_publishes_and_releases_the_connection(tmp_path, analysis):
    db = tmp_path / "k.duckdb"
    store = Store(db, publish_interval_s=1e9)
    with store:
        store.begin_run("run-1", "v", "rules.v1", [])
    with read_snapshot(db) as reader:
        assert reader.execute("SELECT run_id FROM runs").fetchall() == [("run-1",)]
    with pytest.raises(RuntimeError, match="not open"):
        store.con
    # Released: another connection can now open the database itself.
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)


# -- crash safety: run progress, inputs, recovery on open (docs/architecture.md) --------------------

def _dead_pid() -> int:
    """The number of a process that has ended (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _run_row(con, run_id: str) -> tuple:
    return con.execute("SELECT processed, skipped, failed, finished_at IS NOT NULL, interrupted_at IS NOT NULL, "
                       "interrupted_reason FROM runs WHERE run_id = ?", [run_id]).fetchone()


def _inputs(con, run_id: str) -> list[tuple]:
    return con.execute("SELECT source_path, digest, state FROM run_inputs WHERE run_id = ? ORDER BY 1",
                       [run_id]).fetchall()


def test_a_run_records_its_inputs_and_its_progress(tmp_path, analysis, other_analysis):
    import os
    import socket

    with Store(tmp_path / "k.duckdb") as store:
        store.begin_run("run-1", "v", "rules.v1", ["exports"], {"test.json": "d1", "other.json": "d2", "x.json": None})
        assert store.con.execute("SELECT pid, host FROM runs").fetchone() == (os.getpid(), socket.gethostname())
        assert _inputs(store.con, "run-1") == [("other.json", "d2", "queued"), ("test.json", "d1", "queued"),
                                               ("x.json", None, "queued")]
        # The last conversation of a file settles it in the same transaction; progress is counted as it goes.
        store.write_analysis(analysis, "run-1", "fp-1", {"test.json": "done"})
        store.finish_inputs("run-1", {}, skipped=[("other.json", None)])
        store.record_failure("run-1", "x.json", None, "parse", "IngestError", "x.json: broken")
        store.record_failure("run-1", "x.json", None, "parse", "IngestError", "x.json: broken")  # the same again
        store.finish_inputs("run-1", {"x.json": "failed", "other.json": "done"})
        assert _inputs(store.con, "run-1") == [("other.json", "d2", "done"), ("test.json", "d1", "done"),
                                               ("x.json", None, "failed")]
        assert _run_row(store.con, "run-1") == (1, 1, 1, False, False, None)
        with pytest.raises(ValueError, match="unknown input state"):
            store.finish_inputs("run-1", {"x.json": "queued"})
        store.finish_run("run-1", 1, 1, 1)
        assert _run_row(store.con, "run-1") == (1, 1, 1, True, False, None)


def test_a_failed_write_leaves_its_input_queued(tmp_path, analysis, monkeypatch):
    def crash(con, table, rows):
        raise RuntimeError("disk full")

    with Store(tmp_path / "k.duckdb") as store:
        store.begin_run("run-1", "v", "rules.v1", ["exports"], {"test.json": "d1"})
        monkeypatch.setattr(writer_module, "_insert", crash)
        with pytest.raises(RuntimeError):
            store.write_analysis(analysis, "run-1", "fp-1", {"test.json": "done"})
        assert _inputs(store.con, "run-1") == [("test.json", "d1", "queued")]
        assert _run_row(store.con, "run-1")[0] == 0  # not counted either


def test_failures_of_the_same_run_are_not_resolved_by_its_other_conversations(tmp_path, analysis):
    # A file-level failure (no key) recorded in this run stays open when one of the file's
    # conversations is written in the same run; a later run's success resolves it.
    with Store(tmp_path / "k.duckdb") as store:
        store.record_failure("run-1", "test.json", None, "parse", "IngestError", "test.json: one row is broken")
        store.write_analysis(analysis, "run-1", "fp-1")
        assert _open_failures(store) == [("test.json", None, "parse")]
        store.write_analysis(analysis, "run-2", "fp-1")
        assert _open_failures(store) == []


def test_a_file_done_resolves_all_its_earlier_failures(tmp_path):
    with Store(tmp_path / "k.duckdb") as store:
        store.begin_run("run-2", "v", "rules.v1", ["batch.jsonl"], {"batch.jsonl": "d"})
        for key in ("k1", "k2"):
            store.record_failure("run-1", "batch.jsonl", key, "roles", "IngestError", f"batch.jsonl [{key}]: no rep")
        store.record_failure("run-1", "other.jsonl", "k1", "roles", "IngestError", "other.jsonl [k1]: no rep")
        store.finish_inputs("run-2", {"batch.jsonl": "failed"})   # still failing: nothing resolved
        assert len(_open_failures(store)) == 3
        store.finish_inputs("run-2", {"batch.jsonl": "done"})
        assert _open_failures(store) == [("other.jsonl", "k1", "roles")]
        assert [f["source_path"] for f in store.unresolved_failures()] == ["other.jsonl"]


def test_a_run_left_unfinished_by_a_dead_process_is_marked_interrupted_on_the_next_open(tmp_path, analysis):
    db = tmp_path / "k.duckdb"
    with Store(db, publish_interval_s=1e9) as store:
        store.begin_run("run-1", "v", "rules.v1", ["exports"], {"test.json": "d1", "other.json": "d2"})
        store.write_analysis(analysis, "run-1", "fp-1", {"test.json": "done"})   # published: the first write
        store.begin_run("run-2", "v", "rules.v1", ["exports"])  # this process's own run: not touched
        store.con.execute("UPDATE runs SET pid = ? WHERE run_id = 'run-1'", [_dead_pid()])
        assert store.interrupt_unfinished_runs() == ["run-1"]
        store.con.execute("UPDATE runs SET interrupted_at = NULL, interrupted_reason = NULL, processed = NULL, "
                          "skipped = NULL, failed = NULL WHERE run_id = 'run-1'")
        store.finish_run("run-2", 0, 0, 0)
        store.con.execute("UPDATE runs SET finished_at = NULL WHERE run_id = 'run-2'")  # as if killed too
        store.con.execute("UPDATE runs SET pid = ? WHERE run_id = 'run-2'", [_dead_pid()])
        store.con.execute("UPDATE runs SET processed = 1 WHERE run_id = 'run-1'")
    with Store(db) as store:
        rows = store.con.execute("SELECT run_id, processed, skipped, failed, finished_at IS NULL, interrupted_reason "
                                 "FROM runs ORDER BY run_id").fetchall()
    assert rows == [("run-1", 1, 0, 0, True, "the process ended before the run finished"),
                    ("run-2", 0, 0, 0, True, "the process ended before the run finished")]
    with read_snapshot(db) as reader:  # republished on open: readers see the runs marked
        assert reader.execute("SELECT count(*) FROM runs WHERE interrupted_at IS NOT NULL").fetchone() == (2,)


def test_opening_republishes_a_snapshot_a_crash_left_behind(tmp_path, analysis, other_analysis):
    db = tmp_path / "k.duckdb"
    store = Store(db, publish_interval_s=1e9).__enter__()
    store.begin_run("run-1", "v", "rules.v1", ["exports"])
    store.write_analysis(analysis, "run-1", "fp-1")          # published
    store.write_analysis(other_analysis, "run-1", "fp-2")    # not published (the interval)
    store.finish_run("run-1", 2, 0, 0)
    store.con.close()  # a crash here: the store never closes, so it never publishes again
    with read_snapshot(db) as reader:
        assert reader.execute("SELECT count(*) FROM conversations").fetchone() == (1,)
    target = snapshot_path(db)
    leftover = target.with_name(f".{target.name}.999999.tmp")  # a publish killed half-way
    leftover.write_bytes(b"half a copy")
    target.with_name(f"{leftover.name}.wal").write_bytes(b"")
    with Store(db, publish_interval_s=1e9):
        with read_snapshot(db) as reader:  # the database is the truth: the snapshot catches up on open
            assert reader.execute("SELECT count(*) FROM conversations").fetchone() == (2,)
            assert reader.execute("SELECT finished_at IS NOT NULL FROM runs").fetchone() == (True,)
    assert not list(tmp_path.glob(".*.tmp*"))


def test_opening_with_a_current_snapshot_does_not_copy_it_again(tmp_path, analysis):
    db = tmp_path / "k.duckdb"
    with Store(db) as store:
        store.begin_run("run-1", "v", "rules.v1", [])
        store.write_analysis(analysis, "run-1", "fp-1")
        store.finish_run("run-1", 1, 0, 0)
    published = snapshot_path(db).stat().st_mtime_ns
    with Store(db) as store:
        assert snapshot_path(db).stat().st_mtime_ns == published
        store.write_analysis(analysis, "run-2", "fp-2")  # the first write of a session still publishes
        assert snapshot_path(db).stat().st_mtime_ns != published


def test_finishing_a_run_forgets_the_inputs_of_earlier_finished_runs_it_took_up(tmp_path):
    with Store(tmp_path / "k.duckdb") as store:
        store.begin_run("run-1", "v", "rules.v1", ["a"], {"a/1.json": "x", "a/2.json": "y"})
        store.finish_inputs("run-1", {"a/1.json": "done", "a/2.json": "done"})
        store.finish_run("run-1", 2, 0, 0)
        store.begin_run("run-2", "v", "rules.v1", ["a"], {"a/1.json": "x", "a/2.json": "y"})
        store.finish_inputs("run-2", {"a/1.json": "done"})
        store.interrupt_run("run-2", "killed")                   # interrupted: its rows stay
        store.begin_run("run-3", "v", "rules.v1", ["a/1.json"], {"a/1.json": "x"})
        store.finish_inputs("run-3", {"a/1.json": "done"})
        store.finish_run("run-3", 0, 1, 0)
        assert store.con.execute("SELECT run_id, source_path FROM run_inputs ORDER BY ALL").fetchall() == [
            ("run-1", "a/2.json"), ("run-2", "a/1.json"), ("run-2", "a/2.json"), ("run-3", "a/1.json")]


def test_a_publish_that_fails_half_way_leaves_the_previous_snapshot_readable(tmp_path, analysis, other_analysis,
                                                                             monkeypatch):
    db = tmp_path / "k.duckdb"
    store = Store(db, publish_interval_s=1e9).__enter__()
    store.write_analysis(analysis, "run-1", "fp-1")   # published

    def crash(source, target):
        raise OSError("killed before the rename")

    store.write_analysis(other_analysis, "run-1", "fp-2")  # not published (the interval)
    monkeypatch.setattr(writer_module.os, "replace", crash)
    with pytest.raises(OSError):
        store.publish_snapshot(force=True)
    with read_snapshot(db) as reader:  # the previous snapshot, whole
        assert _counts(reader) == SALES_CHAT_COUNTS
    assert list(tmp_path.glob(".k.snapshot.duckdb.*.tmp"))  # the copy that was never renamed
    store.con.close()  # and the process dies
    monkeypatch.undo()

    with Store(db, publish_interval_s=1e9):  # no run, no interrupted run: the snapshot is still caught up
        with read_snapshot(db) as reader:
            assert reader.execute("SELECT count(*) FROM conversations").fetchone() == (2,)
    assert not list(tmp_path.glob(".*.tmp*"))


def test_many_rows_go_in_as_one_arrow_table_and_mixed_ones_as_values():
    """Large inserts take the Arrow path; rows Arrow cannot type as one column (DuckDB can cast
    them) take the VALUES path; both store exactly the rows given, NULLs included."""
    from pipeline.store import writer

    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INTEGER, label VARCHAR, score DOUBLE, indexes INTEGER[])")
    uniform = [{"k": i, "label": None if i % 7 == 0 else f"r{i}", "score": None if i % 5 == 0 else i / 4,
                "indexes": [i, i + 1]} for i in range(writer._ARROW_MIN_ROWS)]
    writer._insert(con, "t", uniform)
    mixed = [{"k": 1000 + i, "label": i if i % 2 else f"r{i}", "score": i, "indexes": []}
             for i in range(writer._ARROW_MIN_ROWS)]
    writer._insert(con, "t", mixed)
    stored = con.execute("SELECT k, label, score, indexes FROM t ORDER BY k").fetchall()
    assert stored[:6] == [(0, None, None, [0, 1]), (1, "r1", 0.25, [1, 2]), (2, "r2", 0.5, [2, 3]),
                          (3, "r3", 0.75, [3, 4]), (4, "r4", 1.0, [4, 5]), (5, "r5", None, [5, 6])]
    assert stored[writer._ARROW_MIN_ROWS:writer._ARROW_MIN_ROWS + 2] == [(1000, "r0", 0.0, []), (1001, "1", 1.0, [])]
    assert len(stored) == 2 * writer._ARROW_MIN_ROWS
