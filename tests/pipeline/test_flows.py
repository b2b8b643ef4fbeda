"""The Prefect flow end to end (on Prefect's test harness) and its tasks as plain functions."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from pipeline.analyze import analyze
from pipeline.events import RuleTagger
from pipeline.flows import analyze_conversation, cached_sop, is_transient, process, read_export
from pipeline.ingest import (
    TEXT_EXTENSIONS,
    IngestError,
    discover,
    find_manifest,
    load_manifest,
    load_rep_directory,
    read_source,
)
from pipeline.sop import SopError, load_sop
from pipeline.store import read_snapshot, snapshot_path

TABLES = ("conversations", "utterances", "key_events", "event_tree", "node_scores", "conversation_scores")
#: Utterances of the 26 text samples (data/samples/README.md); checked against the files below.
SAMPLE_UTTERANCES = 417


def _dump(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def _read_db(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read once the flow has closed the database."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {table: _dump(con, table) for table in (*TABLES, "runs", "failures")}


def _count_sample_utterances(folder: Path, reps_path: Path) -> tuple[int, int]:
    """(conversations, utterances) of the text exports in ``folder``, read without the flow."""
    manifest = load_manifest(find_manifest(folder))
    reps = load_rep_directory(reps_path)
    conversations = [c for path in discover([folder]) if path.suffix in TEXT_EXTENSIONS
                     for c in read_source(path, manifest, reps).conversations]
    return len(conversations), sum(len(c.utterances) for c in conversations)


def _copy_samples(samples_dir: Path, target: Path) -> Path:
    # Without calls/: recordings need the speech model (tests/pipeline/transcribe covers them).
    shutil.copytree(samples_dir, target, ignore=shutil.ignore_patterns("calls"))
    return target


def _run(folder: Path, db: Path, sop_path: Path, reps_path: Path, **options):
    return process([str(folder)], sop_path=str(sop_path), db_path=str(db), reps_path=str(reps_path), **options)


# -- the samples, twice ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_runs(prefect_harness, tmp_path_factory, samples_dir, sop_path, reps_path):
    """The text samples processed into a new database, then processed again unchanged."""
    folder = _copy_samples(samples_dir, tmp_path_factory.mktemp("flow") / "samples")
    db = folder.parent / "keynode.duckdb"
    first = _run(folder, db, sop_path, reps_path)
    after_first = _read_db(db)
    second = _run(folder, db, sop_path, reps_path)
    return SimpleNamespace(folder=folder, db=db, first=first, second=second, after_first=after_first,
                           after_second=_read_db(db))


def test_first_run_stores_every_sample(two_runs, reps_path):
    first = two_runs.first
    assert (first.processed, first.skipped, first.failures) == (26, 0, [])
    conversations, utterances = _count_sample_utterances(two_runs.folder, reps_path)
    assert (conversations, utterances) == (26, SAMPLE_UTTERANCES)
    rows = two_runs.after_first
    assert {table: len(rows[table]) for table in ("conversations", "utterances", "node_scores",
                                                  "conversation_scores", "failures")} == {
        "conversations": 26, "utterances": SAMPLE_UTTERANCES, "node_scores": 26 * 6, "conversation_scores": 26,
        "failures": 0}
    assert len(rows["key_events"]) > 26 and len(rows["event_tree"]) >= len(rows["key_events"]) // 2


def test_manifest_metadata_lands_with_the_conversations(two_runs):
    with duckdb.connect(str(two_runs.db), read_only=True) as con:
        outcomes = dict(con.execute("SELECT outcome, count(*) FROM conversations GROUP BY outcome").fetchall())
        reps = con.execute("SELECT count(DISTINCT rep) FROM conversations").fetchone()[0]
        languages = dict(con.execute("SELECT language, count(*) FROM conversations GROUP BY language").fetchall())
        tagger = con.execute("SELECT DISTINCT tagger FROM conversations").fetchall()
    assert outcomes == {"won": 9, "lost": 8, "open": 9}   # data/samples/README.md
    assert languages == {"zh": 19, "en": 7}
    assert reps == 6
    assert tagger == [("rules.v1",)]


def test_second_run_skips_everything_and_changes_nothing(two_runs):
    second = two_runs.second
    assert (second.processed, second.skipped, second.failures) == (0, 26, [])
    for table in TABLES:  # processed_at included: nothing was rewritten
        assert two_runs.after_second[table] == two_runs.after_first[table], table
    runs = sorted(two_runs.after_second["runs"], key=lambda row: row[1])
    assert [(row[0], row[6], row[7], row[8]) for row in runs] == [
        (two_runs.first.run_id, 26, 0, 0), (two_runs.second.run_id, 0, 26, 0)]


def test_the_flow_publishes_a_snapshot(two_runs):
    with read_snapshot(two_runs.db) as con:
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (26,)
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (2,)


# -- broken inputs -----------------------------------------------------------------------------

BROKEN_JSON = '{"conversation_key": "web-9001", "messages": [\n'
BAD_CSV = "conversation_key,speaker,role,text,mood\nk1,王磊,rep,您好,happy\n"
FIXED_JSON = json.dumps({"conversation_key": "web-9001", "messages": [
    {"speaker": "王磊", "role": "rep", "text": "您好，我是云启科技的王磊，您现在方便吗？"},
    {"speaker": "李女士", "role": "customer", "text": "方便"}]}, ensure_ascii=False)


def _failures(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT source_path, source_key, stage, error_type, message, resolved_at IS NOT NULL "
                           "FROM failures ORDER BY occurred_at, source_path").fetchall()


def test_broken_files_are_recorded_and_the_good_conversations_still_land(
        prefect_harness, tmp_path, samples_dir, sop_path, reps_path):
    folder = _copy_samples(samples_dir, tmp_path / "samples")
    broken, bad = folder / "broken.json", folder / "bad.csv"
    broken.write_text(BROKEN_JSON, encoding="utf-8")
    bad.write_text(BAD_CSV, encoding="utf-8")
    db = tmp_path / "keynode.duckdb"

    summary = _run(folder, db, sop_path, reps_path)
    assert (summary.processed, summary.skipped) == (26, 0)
    assert [(f["path"], f["key"], f["stage"]) for f in summary.failures] == [
        (str(bad), None, "parse"), (str(broken), None, "parse")]
    failures = _failures(db)
    assert [(path, key, stage, kind, resolved) for path, key, stage, kind, _message, resolved in failures] == [
        (str(bad), None, "parse", "IngestError", False), (str(broken), None, "parse", "IngestError", False)]
    messages = {path: message for path, _key, _stage, _kind, message, _resolved in failures}
    assert messages[str(bad)] == (f"{bad}: unknown column 'mood'. Fix: rename it to one of: conversation_key, "
                                  "speaker, role, text, time, start_s, end_s (see docs/formats.md).")
    assert messages[str(broken)].startswith(f"{broken}: invalid JSON at line 2")
    assert "Fix: fix the JSON syntax" in messages[str(broken)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (26,)
        assert con.execute("SELECT count(*) FROM utterances").fetchone() == (SAMPLE_UTTERANCES,)

    # Fixing the JSON file: the next run stores it and marks its failure resolved.
    broken.write_text(FIXED_JSON, encoding="utf-8")
    summary = _run(folder, db, sop_path, reps_path)
    assert (summary.processed, summary.skipped) == (1, 26)
    assert [(f["path"], f["stage"]) for f in summary.failures] == [(str(bad), "parse")]
    assert [(path, resolved) for path, _key, _stage, _kind, _message, resolved in _failures(db)] == [
        (str(bad), False), (str(broken), True), (str(bad), False)]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT source_key, utterance_count FROM conversations WHERE source_path = ?",
                           [str(broken)]).fetchall() == [("web-9001", 2)]


def test_a_broken_sop_stops_the_run_before_any_conversation_is_read(prefect_harness, tmp_path, reps_path,
                                                                      samples_dir):
    sop_file = tmp_path / "sop.yaml"
    sop_file.write_text("version: 1\nnodes:\n  - id: opening\n    colour: red\nscoring: {}\n", encoding="utf-8")
    db = tmp_path / "keynode.duckdb"
    with pytest.raises(SopError, match="sop.yaml.*colour"):
        _run(samples_dir / "chat_zh_insurance_web.json", db, sop_file, reps_path)
    # Only the stop is recorded (tests/pipeline/test_cli.py follows it to retry-failed).
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (0,)
        assert con.execute("SELECT source_path, stage FROM failures").fetchall() == [(str(sop_file), "config")]
        assert con.execute("SELECT state FROM run_inputs").fetchall() == [("queued",)]


# -- tasks as plain functions ------------------------------------------------------------------

def test_read_export_task(samples_dir, reps_path):
    result = read_export.fn(str(samples_dir / "calls_transcripts.csv"), None, str(reps_path))
    assert [c.source_key for c in result.conversations] == ["call-0001", "call-0002", "call-0003", "call-0004",
                                                             "call-0005"]
    assert result.errors == ()


def test_read_export_task_raises_on_a_broken_file(tmp_path, reps_path):
    broken = tmp_path / "broken.json"
    broken.write_text(BROKEN_JSON, encoding="utf-8")
    with pytest.raises(IngestError) as caught:
        read_export.fn(str(broken), None, str(reps_path))
    assert (caught.value.path, caught.value.stage) == (str(broken), "parse")


def test_analyze_conversation_task(sales_chat, sop, sop_path):
    # The rules embed nothing: no vectors come back with the analysis.
    assert analyze_conversation.fn(sales_chat, str(sop_path)) == (analyze(sales_chat, sop, RuleTagger()), {})


def test_analyze_conversation_task_returns_only_what_it_computed(sales_chat, sop_path, monkeypatch):
    from pipeline.events import load_tagger

    monkeypatch.setenv("KEYNODE_TAGGER", str(Path(__file__).resolve().parents[2] / "models" / "tagger.pkl"))
    keys = load_tagger().cache_keys(sales_chat)  # text keys of the vectors (and the encoder's context keys)
    _analysis, computed = analyze_conversation.fn(sales_chat, str(sop_path))
    assert {kind: sorted(outputs) for kind, outputs in computed.items()} == {
        kind: sorted(set(these)) for kind, these in keys.items()}
    # As if the store had the first four of each kind.
    known = {kind: {key: computed[kind][key] for key in these[:4]} for kind, these in keys.items()}
    _analysis, again = analyze_conversation.fn(sales_chat, str(sop_path), known)
    assert {kind: sorted(outputs) for kind, outputs in again.items()} == {
        kind: sorted(set(these) - set(known[kind])) for kind, these in keys.items()}


def test_cached_sop_reloads_an_edited_file(tmp_path, sop_path):
    copy = tmp_path / "sop.yaml"
    copy.write_bytes(sop_path.read_bytes())
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    first = cached_sop(str(copy))
    assert cached_sop(str(copy)) is first
    copy.write_bytes(sop_path.read_bytes() + b"\n# edited\n")
    os.utime(copy, ns=(2_000_000_000, 2_000_000_000))
    edited = cached_sop(str(copy))
    assert edited.version != first.version
    assert edited.version == load_sop(copy).version


class _State:
    """The part of a Prefect state ``is_transient`` uses."""

    def __init__(self, error: BaseException | None = None):
        self.error = error

    def result(self):
        if self.error:
            raise self.error
        return "ok"


@pytest.mark.parametrize("error, transient", [
    (OSError(errno.EAGAIN, "Resource temporarily unavailable"), True),
    (OSError(errno.EIO, "Input/output error"), True),
    (TimeoutError("timed out"), True),
    (ConnectionError("reset"), True),
    (OSError(errno.ENOENT, "No such file or directory"), False),
    (PermissionError(errno.EACCES, "Permission denied"), False),
    (ValueError("bad value"), False),
    (IngestError("x.json", "parse", "invalid JSON", "fix it"), False),
    (KeyError("bug"), False),
    (None, False),
])
def test_only_io_hiccups_are_retried(error, transient):
    assert is_transient(None, None, _State(error)) is transient


def test_recordings_and_chats_land_in_one_batch(prefect_harness, tmp_path, monkeypatch, sop_path, reps_path):
    """A stereo call recording and a chat export in one folder: both are processed, the call
    with its roles from the manifest's rep_channel and its transcript record stored."""
    monkeypatch.setenv("KEYNODE_TRANSCRIPT_CACHE", str(tmp_path / "transcripts"))
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "audio" / "en_stereo_2spk.wav", folder / "call.wav")
    (folder / "chat.json").write_text(json.dumps({"messages": [
        {"speaker": "Emily Carter", "role": "rep", "text": "Hi Sam, this is Emily from YunZhan CRM."},
        {"speaker": "Sam", "role": "customer", "text": "Hi Emily."}]}), encoding="utf-8")
    (folder / "manifest.csv").write_text(
        "file,language,rep,customer,rep_channel\ncall.wav,en,Emily Carter,Sam,right\n", encoding="utf-8")
    summary = _run(folder, tmp_path / "k.duckdb", sop_path, reps_path)
    assert (summary.processed, summary.failed) == (2, 0)
    with duckdb.connect(str(tmp_path / "k.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT u.speaker_role, u.speaker_name, u.text FROM utterances u JOIN conversations c "
                           "USING (conversation_id) WHERE c.source_format = 'audio' ORDER BY u.utterance_index").fetchall()
        transcript = json.loads(con.execute("SELECT transcript FROM conversations WHERE source_format = 'audio'")
                                .fetchone()[0])
    assert [(role, name) for role, name, _ in rows] == [("rep", "Emily Carter"), ("customer", "Sam")]
    assert rows[0][2].startswith("The horizon")  # the right channel is the rep's
    assert transcript["role_method"] == "stereo_channels" and transcript["model"].startswith("whisper-base")


# -- crash safety and resume (issue #7; the SIGKILL test is tests/pipeline/test_resume.py) -------

def test_each_run_records_its_inputs_and_what_became_of_them(prefect_harness, tmp_path, samples_dir, sop_path,
                                                             reps_path):
    from pipeline.store.snapshot import file_digest

    folder = _copy_samples(samples_dir, tmp_path / "samples")
    broken = folder / "broken.json"
    broken.write_text(BROKEN_JSON, encoding="utf-8")
    db = tmp_path / "keynode.duckdb"
    first = _run(folder, db, sop_path, reps_path)
    with duckdb.connect(str(db), read_only=True) as con:
        inputs = con.execute("SELECT source_path, digest, state FROM run_inputs WHERE run_id = ? ORDER BY 1",
                             [first.run_id]).fetchall()
        run = con.execute("SELECT processed, skipped, failed, finished_at IS NOT NULL, interrupted_at FROM runs"
                          ).fetchone()
    files = discover([folder])
    assert inputs == [(str(path), file_digest(path), "failed" if path == broken else "done") for path in files]
    assert run == (26, 0, 1, True, None)

    # Again, unchanged: the second run's rows replace the first's (finished runs keep no history).
    second = _run(folder, db, sop_path, reps_path)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT run_id, count(*) FROM run_inputs GROUP BY 1").fetchall() == [
            (second.run_id, len(files))]


def test_a_run_stopped_by_an_error_is_marked_interrupted_and_running_again_completes_it(
        prefect_harness, tmp_path, samples_dir, sop_path, reps_path, monkeypatch):
    from pipeline.store import Store

    folder = _copy_samples(samples_dir, tmp_path / "samples")
    db = tmp_path / "keynode.duckdb"
    real_write = Store._write_group
    calls = []

    def write_then_fail(self, writes):  # one conversation per transaction, the eleventh fails
        for write in writes:
            calls.append(1)
            if len(calls) > 10:
                raise RuntimeError("disk full")
            real_write(self, [write])

    monkeypatch.setattr(Store, "_write_group", write_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        _run(folder, db, sop_path, reps_path)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (10,)
        assert con.execute("SELECT processed, finished_at, interrupted_at IS NOT NULL, interrupted_reason FROM runs"
                           ).fetchone() == (10, None, True, "RuntimeError: disk full")
        queued = con.execute("SELECT count(*) FROM run_inputs WHERE state = 'queued'").fetchone()[0]
    assert queued > 0
    with read_snapshot(db) as con:  # published when the store closed: readers see the same
        assert con.execute("SELECT count(*) FROM conversations").fetchone() == (10,)

    monkeypatch.setattr(Store, "_write_group", real_write)
    summary = _run(folder, db, sop_path, reps_path)
    assert (summary.processed, summary.skipped, summary.failures) == (16, 10, [])
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT conversation_id) FROM conversations").fetchone() == (26, 26)
        assert con.execute("SELECT count(*) FROM utterances").fetchone() == (SAMPLE_UTTERANCES,)
        assert con.execute("SELECT count(*) FROM run_inputs WHERE state = 'queued' AND run_id = ?",
                           [summary.run_id]).fetchone() == (0,)


def test_the_progress_line_counts_files_conversations_and_audio_minutes():
    from pipeline.flows import Progress

    progress = Progress(files=50, started_s=100.0)
    assert progress.line(now_s=100.5) == "progress: 0/50 files read, 0 conversations stored in 0:00"
    progress.files_read, progress.stored, progress.audio_s = 12, 30, 1_110.0
    assert progress.line(now_s=190.0) == ("progress: 12/50 files read, 30 conversations stored, 18.5 audio min "
                                          "in 1:30, 20/min")


def test_recordings_are_submitted_longest_first_and_exports_after_them(tmp_path):
    """Longest-processing-time first: with several workers, the batch's longest call must not
    start last. Work = duration × channels (a stereo call is transcribed twice); a recording the
    flow cannot probe goes last among them (its task reports why); exports keep their order."""
    from pipeline.flows import work_order

    calls = Path(__file__).resolve().parents[2] / "data" / "samples" / "calls"
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all")
    chats = [tmp_path / "b.txt", tmp_path / "a.csv"]
    recordings = sorted(calls.glob("call_*"))
    order = work_order([chats[0], broken, *recordings, chats[1]])
    assert [path.stem[-5:] for path in order[:8]] == [
        "d5001",  # 125.7 s × 2 channels
        "d5002",  # 118.5 × 2
        "d5007",  # 103.5 × 2
        "d5003",  # 88.5 × 2
        "d5005",  # 82.8 × 2
        "d5004",  # 86.3, mono
        "d5008",  # 79.3, mono
        "d5006",  # 74.8, mono
    ]
    assert order[8:] == [broken, *chats]
