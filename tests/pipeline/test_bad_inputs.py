"""The bad-input corpus, processed in one real batch: every kind has its exact outcome.

The batch is tests/data/bad/ (small committed files) plus what scripts/make_bad_inputs.py
generates (audio, binary and large files, links, a folder named like a file) plus two good
sample exports, run once through ``keynode process`` on Prefect's test harness. Each kind is
either processed (its rows asserted) or recorded in ``failures`` with its stage and a message
that names the file and the fix, while every good conversation of the batch is stored.
docs/formats.md ("Bad input") has the same table; a test below keeps the two in step.

Only two recordings reach Whisper: 3 s of silence and a 4.3 s speech clip (an MP3 named .wav).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

import pipeline.flows  # noqa: F401  (Prefect's log handlers set up at collection, see test_cli.py)
from pipeline.cli import main
from pipeline.transcribe.accuracy import cer

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "bad"
sys.path.insert(0, str(ROOT / "scripts"))
from make_bad_inputs import GENERATED, make_bad_inputs  # noqa: E402

GOOD_SAMPLES = ("wechat_saas_d1001_1_discovery.txt", "chat_en_saas_d1002_discovery.json")
AS_ROOT = os.geteuid() == 0  # root reads a file without read permission: that kind is not written

EMPTY = "the file is empty. Fix: export the conversation again."
SHAPE_FIX = "Fix: write each conversation as an object with a 'messages' list (see docs/formats.md)."
TRUNCATED_FIX = ("Fix: copy the complete recording again; to process just the part that is there, re-encode it "
                 "first (e.g. `ffmpeg -i <file> fixed.wav`).")

#: Files recorded as failures: file (relative to the batch folder) → (conversation key, stage,
#: message). ``{path}`` is the file's absolute path and ``{folder}`` the batch folder's.
FAILED: dict[str, tuple[str | None, str, str]] = {
    # -- empty files
    "empty.txt": (None, "read", "{path}: " + EMPTY),
    "empty.csv": (None, "read", "{path}: " + EMPTY),
    "empty.json": (None, "read", "{path}: " + EMPTY),
    "blank_lines.txt": (None, "read", "{path}: " + EMPTY),
    "empty.wav": (None, "decode", "{path}: the file is empty (0 bytes). Fix: copy or export the recording again."),
    # -- recordings
    "no_samples.wav": (None, "decode", "{path}: the recording is empty (zero length). Fix: export the call again."),
    "corrupt_header.wav": (None, "decode", "{path}: the audio cannot be decoded (FFmpeg: Invalid data found when "
                           "processing input). Fix: check that the file is a complete wav/mp3/m4a/flac/ogg/amr "
                           "recording."),
    "truncated.mp3": (None, "decode", "{path}: the recording is truncated: its header states 4.3 s of audio but "
                      "only 1.4 s are in the file. " + TRUNCATED_FIX),
    "three_hours.wav": (None, "decode", "{path}: the recording is truncated: its header states 3:00:00 of audio "
                        "but only 1.0 s are in the file. " + TRUNCATED_FIX),
    "unknown_codec.wav": (None, "decode", "{path}: the audio codec (WAV format tag 0x1234) is not one FFmpeg can "
                          "decode. Fix: convert the recording to wav or mp3 with the software that made it, or "
                          "export it again in a common format."),
    "silence.wav": (None, "transcribe", "{path}: no speech was recognised in the recording. Fix: check that the "
                    "file holds the call (not silence or hold music)."),
    "not_audio.m4a": (None, "decode", "{path}: the audio cannot be decoded (FFmpeg: Invalid data found when "
                      "processing input). Fix: check that the file is a complete wav/mp3/m4a/flac/ogg/amr recording."),
    "chat_named.wav": (None, "decode", "{path}: the file holds text, not audio. Fix: if it is a chat export, give "
                       "it its format's extension (.txt, .csv, .json, .jsonl); otherwise copy the recording again."),
    # -- encodings and bytes
    "mixed_encodings.txt": (None, "read", "{path}: the file mixes encodings: line 1 is UTF-8 but line 9 is not. "
                            "Fix: re-save the whole file in one encoding, preferably UTF-8 (re-export it, or fix "
                            "the lines that show garbled characters in an editor)."),
    "utf16_no_bom.csv": (None, "read", "{path}: the file looks like UTF-16 without a byte order mark. Fix: re-save "
                         "the file as UTF-8 (in Excel: 'CSV UTF-8'; in Notepad: Save as → UTF-8)."),
    "nul_bytes.txt": (None, "read", "{path}: the file holds NUL bytes (the first at byte 65, line 4): it is binary "
                      "or damaged, not a text export. Fix: export the conversation again as a text file (UTF-8)."),
    "binary_garbage.json": (None, "read", "{path}: the file holds NUL bytes (the first at byte 27, line 2): it is "
                            "binary or damaged, not a text export. Fix: export the conversation again as a text "
                            "file (UTF-8)."),
    # -- layouts
    "unknown_layout.txt": (None, "parse", "{path}: no message header like '2024-05-08 10:02:13 王经理' was found. "
                           "Fix: export the chat as text from WeChat/WeCom, or convert it to the CSV layout in "
                           "docs/formats.md."),
    "export.xlsx": (None, "ingest", "{path}: unsupported file type '.xlsx'. Fix: use one of .txt, .csv, .json, "
                    ".jsonl (see docs/formats.md)."),
    # -- JSON
    "invalid.json": (None, "parse", "{path}: invalid JSON at line 3, column 1: Expecting value. Fix: fix the JSON "
                     "syntax (a validator such as `python -m json.tool` shows where)."),
    "numbers.json": (None, "parse", "{path}: the file holds a list of numbers, not conversation objects. " + SHAPE_FIX),
    "empty_list.json": (None, "parse", "{path}: the file holds an empty list, not conversation objects. " + SHAPE_FIX),
    "no_messages.json": ("web-bad-2", "parse", "{path} [web-bad-2]: conversation 1 has no 'messages' list. Fix: "
                         "add the messages as a list."),
    "deep_nesting.json": (None, "parse", "{path}: the JSON is nested too deeply to be conversations. " + SHAPE_FIX),
    "broken_line.jsonl": ("line 2", "parse", "{path} [line 2]: line 2 is not valid JSON (Expecting ',' delimiter). "
                          "Fix: write one complete JSON object per line."),
    # -- CSV
    "missing_columns.csv": (None, "parse", "{path}: no 'text' column (columns: conversation_key, speaker, time). "
                            "Fix: add a column named 'text'."),
    "extra_columns.csv": (None, "parse", "{path}: unknown column 'mood'. Fix: rename it to one of: "
                          "conversation_key, speaker, role, text, time, start_s, end_s (see docs/formats.md)."),
    "semicolon.csv": (None, "parse", "{path}: the columns are separated by semicolons, not commas. Fix: save the "
                      "file as comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')."),
    "header_only.csv": (None, "parse", "{path}: the CSV file has a header row but no message rows. Fix: export the "
                        "conversation again with its messages."),
    "ragged_row.csv": ("call-ragged", "parse", "{path} [call-ragged]: row 6 has a different number of cells than "
                       "the header. Fix: quote cells that contain commas and line breaks."),
    "huge_cell.csv": (None, "parse", "{path}: line 3 cannot be read as CSV (field larger than field limit "
                      "(131072)). Fix: close the quote ('\"') that opens a cell near that line; a message longer "
                      "than 131,072 characters must be split."),
    # -- who is the rep
    "only_customer.txt": (None, "roles", "{path}: cannot tell which participant is the rep (speakers: 何主任). Fix: "
                          "add a manifest row with rep=<name>, add the rep to configs/reps.yaml, or add a 'role' "
                          "column to the export."),
    # -- the file system
    "broken_link.txt": (None, "read", "{path}: it is a symbolic link to no_such_export.txt, which cannot be read "
                        "(No such file or directory). Fix: point the link at the export or remove it."),
    "link_loop.txt": (None, "read", "{path}: it is a symbolic link to link_loop.txt, which cannot be read (Too many "
                      "levels of symbolic links). Fix: point the link at the export or remove it."),
    "unreadable.txt": (None, "read", "{path}: cannot read the file (Permission denied). Fix: check that it exists "
                       "and that Keynode may read it."),
    # -- manifests
    "manifest_missing_file/gone.txt": (None, "manifest", "{folder}/manifest_missing_file/manifest.csv: a row names "
                                       "{path}, which does not exist. Fix: fix the file name in the manifest or add "
                                       "the export."),
    "manifest_bad_date/chat.txt": (None, "manifest", "{folder}/manifest_bad_date/manifest.csv [row 2]: invalid "
                                   "date/time '2024-13-45T10:00:00' (month must be in 1..12). Fix: write times as "
                                   "YYYY-MM-DD HH:MM:SS."),
    "manifest_bad_outcome/chat.txt": (None, "manifest", "{folder}/manifest_bad_outcome/manifest.csv: row 2: outcome "
                                      "'maybe' is not allowed. Fix: use one of: won, lost, open."),
}

#: Conversations stored: (file, conversation key) → (source format, rep, utterances).
STORED: dict[tuple[str, str | None], tuple[str, str | None, int]] = {
    ("good/wechat_saas_d1001_1_discovery.txt", None): ("wechat", "王磊", 25),
    ("good/chat_en_saas_d1002_discovery.json", "web-0001"): ("json", "Emily Carter", 19),
    ("gbk_no_bom.txt", None): ("wechat", "刘洋", 8),
    ("utf16_bom.txt", None): ("wechat", "陈晨", 4),
    ("only_rep.txt", None): ("wechat", "张敏", 3),
    ("one_message.txt", None): ("wechat", "王磊", 1),  # a conversation of one utterance
    ("duplicate_b (copy).txt", None): ("wechat", "王磊", 4),   # and duplicate_a.txt: one conversation
    ("ragged_row.csv", "call-ok"): ("csv", "王磊", 3),
    ("renamed_columns.csv", "renamed-1"): ("csv", "陈晨", 3),          # Chinese column names and role values
    ("客户 导出 2024/微信 聊天 记录.txt", None): ("wechat", "刘洋", 3),  # spaces and Chinese in the path
    ("broken_line.jsonl", "web-ok-1"): ("jsonl", "Emily Carter", 2),
    ("broken_line.jsonl", "web-ok-2"): ("jsonl", "David Lin", 2),
    ("huge_line.txt", None): ("wechat", "王磊", 3),
    ("mp3_named.wav", None): ("audio", None, 1),
    ("folder.txt/chat.txt", None): ("wechat", "张敏", 4),
    ("manifest_missing_file/chat.txt", None): ("wechat", "刘洋", 2),
}


def _expected_failures() -> dict[str, tuple[str | None, str, str]]:
    return {name: value for name, value in FAILED.items() if not (AS_ROOT and name == "unreadable.txt")}


@pytest.fixture(scope="module")
def batch(prefect_harness, tmp_path_factory, samples_dir, sop_path, reps_path):
    """The corpus plus two good samples, processed once with ``keynode process``."""
    folder = (tmp_path_factory.mktemp("bad-inputs") / "batch").resolve()
    shutil.copytree(BAD, folder)
    make_bad_inputs(folder)
    (folder / "good").mkdir()
    for name in GOOD_SAMPLES:
        shutil.copy(samples_dir / name, folder / "good" / name)
    db = folder.parent / "keynode.duckdb"
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(output):
        patch.setenv("KEYNODE_TRANSCRIPT_CACHE", str(folder.parent / "transcripts"))
        started = time.monotonic()
        exit_code = main(["process", str(folder), "--db", str(db), "--sop", str(sop_path), "--reps", str(reps_path)])
        seconds = time.monotonic() - started
    with duckdb.connect(str(db), read_only=True) as con:
        failures = con.execute("SELECT source_path, source_key, stage, error_type, message, resolved_at "
                               "FROM failures").fetchall()
        conversations = con.execute("SELECT source_path, source_key, source_format, rep, utterance_count, "
                                    "conversation_id FROM conversations").fetchall()
        runs = con.execute("SELECT processed, skipped, failed FROM runs").fetchall()
    return SimpleNamespace(folder=folder, db=db, exit_code=exit_code, output=output.getvalue(), seconds=seconds,
                           failures=failures, conversations=conversations, runs=runs)


def _relative(batch, path: str) -> str:
    return str(Path(path).relative_to(batch.folder))


def _rows(batch, sql: str, *parameters) -> list[tuple]:
    with duckdb.connect(str(batch.db), read_only=True) as con:
        return con.execute(sql, list(parameters)).fetchall()


def _utterances(batch, file: str, key: str | None = None) -> list[tuple]:
    return _rows(batch, "SELECT u.speaker_role, u.speaker_name, u.text FROM utterances u JOIN conversations c "
                        "USING (conversation_id) WHERE c.source_path = ? AND c.source_key IS NOT DISTINCT FROM ? "
                        "ORDER BY u.utterance_index", str(batch.folder / file), key)


# -- the batch as a whole ----------------------------------------------------------------------

def _kinds() -> set[str]:
    """Every bad input of the corpus, by file name."""
    return (set(FAILED) | {name for name, _key in STORED if not name.startswith("good/")}
            | {"duplicate_a.txt", "loop_folder"})


def test_the_corpus_has_at_least_24_kinds():
    assert len(_kinds()) >= 24


def test_exit_code_and_run_counts(batch):
    failed = len(_expected_failures())
    # 17 conversations analysed and written: the 16 stored, the duplicate written twice.
    assert batch.exit_code == 1
    assert batch.runs == [(17, 0, failed)]
    lines = batch.output.splitlines()
    assert re.fullmatch(rf"run [0-9a-f]{{12}}: 17 processed, 0 skipped unchanged, {failed} failed", lines[0])
    assert len([line for line in lines if line.startswith("  FAILED ")]) == failed


def test_every_failure_is_one_expected(batch):
    recorded = sorted((_relative(batch, path), key, stage) for path, key, stage, *_rest in batch.failures)
    assert recorded == sorted((name, key, stage) for name, (key, stage, _message) in _expected_failures().items())


def test_every_good_conversation_is_stored(batch):
    stored = {(_relative(batch, path), key): (fmt, rep, count)
              for path, key, fmt, rep, count, _id in batch.conversations}
    assert stored == STORED


# -- each failure ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FAILED)
def test_failure_names_the_file_and_the_fix(batch, name):
    if AS_ROOT and name == "unreadable.txt":
        pytest.skip("running as root, which reads a file without read permission")
    key, stage, message = FAILED[name]
    path = batch.folder / name
    [row] = [row for row in batch.failures if row[0] == str(path) and row[1] == key]
    assert row[2:4] == (stage, "IngestError")
    assert row[4] == message.format(path=path, folder=batch.folder)
    assert row[5] is None  # unresolved: shown on the board and by `keynode status`
    assert f"  FAILED {path}{f' [{key}]' if key else ''} ({stage}): {row[4]}" in batch.output.splitlines()


# -- what is processed, and how ----------------------------------------------------------------

def test_gbk_without_a_bom_and_utf16_with_a_bom_read_exactly(batch):
    assert _utterances(batch, "gbk_no_bom.txt")[:2] == [
        ("rep", "刘洋", "冯总您好，我是启航科技的刘洋，上次展会上加的微信，想跟您聊聊外包开发的事，现在方便吗？"),
        ("customer", "冯总", "可以，你说吧")]
    assert _utterances(batch, "utf16_bom.txt")[-1] == ("customer", "黄先生", "周六上午可以")


def test_a_duplicate_under_another_name_is_stored_once(batch):
    ids = [cid for path, _key, *_rest, cid in batch.conversations if "duplicate" in path]
    assert len(ids) == 1
    assert not [row for row in batch.failures if "duplicate" in row[0]]


def test_a_conversation_with_only_the_rep_speaking_is_scored(batch):
    assert {role for role, _name, _text in _utterances(batch, "only_rep.txt")} == {"rep"}
    [(coverage, total)] = _rows(batch, "SELECT s.coverage, s.total FROM conversation_scores s JOIN conversations c "
                                       "USING (conversation_id) WHERE c.source_path = ?",
                                str(batch.folder / "only_rep.txt"))
    assert 0 <= coverage <= 1 and total is not None


def test_a_one_megabyte_message_is_stored_whole(batch):
    first, huge, last = _utterances(batch, "huge_line.txt")
    assert len(huge[2].encode("utf-8")) >= 1_048_576 and huge[2].startswith("我们的系统可以自动分配客户")
    assert (first[2], last[2]) == ("冯总您好，我把方案说明发您", "收到")


def test_one_bad_conversation_of_a_file_leaves_the_others(batch):
    assert [text for _role, _name, text in _utterances(batch, "ragged_row.csv", "call-ok")][-1] == (
        "我们的系统可以自动分配客户，离职交接一键完成")
    assert _utterances(batch, "broken_line.jsonl", "web-ok-2")[0][1] == "David Lin"


def test_an_mp3_named_wav_is_read_by_its_content_and_transcribed(batch):
    [(text,)] = _rows(batch, "SELECT string_agg(u.text, '') FROM utterances u JOIN conversations c "
                             "USING (conversation_id) WHERE c.source_path = ?", str(batch.folder / "mp3_named.wav"))
    assert cer("广州市房地产中介协会分析", text) <= 0.42  # the clip of tests/data/audio, as MP3 (measured 0.17-0.25)
    [(transcript,)] = _rows(batch, "SELECT transcript FROM conversations WHERE source_path = ?",
                            str(batch.folder / "mp3_named.wav"))
    assert '"duration_s": 4.28' in transcript


def test_the_good_row_of_a_manifest_with_a_missing_file_applies(batch):
    assert _rows(batch, "SELECT rep, customer, deal_id, stage, outcome FROM conversations WHERE source_path = ?",
                 str(batch.folder / "manifest_missing_file" / "chat.txt")) == [
        ("刘洋", "谢先生", "D-9101", "discovery", "open")]


def test_a_folder_named_like_a_file_is_searched_and_a_folder_loop_walked_once(batch):
    paths = [row[0] for row in batch.failures + batch.conversations]
    assert str(batch.folder / "folder.txt") not in paths  # the folder itself is not an export
    assert not [path for path in paths if "loop_folder" in path]


def test_the_batch_takes_under_two_minutes(batch):
    assert batch.seconds < 120  # measured about 20 s on two shared cores


# -- the corpus and its documentation ----------------------------------------------------------

def test_committed_corpus_is_small_and_holds_nothing_generated():
    committed = [path for path in BAD.rglob("*") if path.is_file()]
    assert sum(path.stat().st_size for path in committed) < 200_000
    assert not {str(path.relative_to(BAD)) for path in committed} & set(GENERATED)


def test_every_kind_is_in_the_formats_table():
    """docs/formats.md "Bad input": one row per file, with the outcome the tests assert."""
    text = (ROOT / "docs" / "formats.md").read_text(encoding="utf-8").split("## Bad input", 1)[1]
    documented = dict(re.findall(r"^\| `([^`]+)` \|[^|]*\| (processed|stored once|ignored|`\w+`)[^|]*\|", text, re.M))
    expected = {name: "processed" for name in _kinds()}  # a file with a failure and a stored conversation: its failure
    expected.update({name: f"`{stage}`" for name, (_key, stage, _message) in FAILED.items()})
    expected.update({"duplicate_a.txt": "stored once", "duplicate_b (copy).txt": "stored once",
                     "loop_folder": "ignored"})
    assert documented == expected


# -- a file without read permission, even on a machine that runs the tests as root ------------

def _without_root_privileges() -> list[str]:
    """A command prefix that runs a program as an ordinary process would, or skip: root reads a
    file without read permission through the DAC capabilities, which `setpriv` drops."""
    if not AS_ROOT:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux) to drop the capability to read anything")
    dropped = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={dropped}", f"--inh-caps={dropped}"]


def test_an_unreadable_file_fails_with_the_fix_and_the_rest_is_stored(prefect_harness, tmp_path, samples_dir,
                                                                      sop_path, reps_path):
    import subprocess

    from prefect.settings import PREFECT_API_URL

    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(samples_dir / GOOD_SAMPLES[0], folder)
    unreadable = folder / "unreadable.txt"
    shutil.copy(samples_dir / GOOD_SAMPLES[0], unreadable)
    unreadable.chmod(0)
    db = tmp_path / "keynode.duckdb"
    environment = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}  # the harness's server
    finished = subprocess.run([*_without_root_privileges(), sys.executable, "-m", "pipeline", "process", str(folder),
                               "--db", str(db), "--sop", str(sop_path), "--reps", str(reps_path)],
                              capture_output=True, text=True, env=environment, timeout=300)
    assert finished.returncode == 1, finished.stderr[-2000:]
    key, stage, message = FAILED["unreadable.txt"]
    assert f"  FAILED {unreadable} ({stage}): {message.format(path=unreadable)}" in finished.stdout.splitlines()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT source_path, stage, message FROM failures").fetchall() == [
            (str(unreadable), stage, message.format(path=unreadable))]
        assert con.execute("SELECT source_path FROM conversations").fetchall() == [
            (str(folder / GOOD_SAMPLES[0]),)]
