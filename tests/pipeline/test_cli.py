"""The ``keynode`` command, called in-process."""

from __future__ import annotations

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
    assert lines[:2] == ["conversations stored: 5", "unresolved failures: 1"]
    assert re.fullmatch(rf"last run {run_id} at \d{{4}}-\d\d-\d\d \d\d:\d\d: 5 processed, 0 skipped, 1 failed",
                        lines[2])
    assert len(lines) == 3

    broken.unlink()
    assert main(["process", str(exports), *arguments]) == 0
    assert re.fullmatch(r"run [0-9a-f]{12}: 0 processed, 5 skipped unchanged, 0 failed\n", capsys.readouterr().out)


def test_process_with_a_broken_sop_exits_2(prefect_harness, tmp_path, samples_dir, reps_path, capsys):
    sop_file = tmp_path / "sop.yaml"
    sop_file.write_text("version: [unclosed\n", encoding="utf-8")
    db = tmp_path / "keynode.duckdb"
    assert main(["process", str(samples_dir / "calls_transcripts.csv"), "--db", str(db), "--sop", str(sop_file),
                 "--reps", str(reps_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"error: {sop_file}: invalid YAML at line 2")
    assert not db.exists()


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
