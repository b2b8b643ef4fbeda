"""read_source / discover and the speaker-role rule (pipeline/ingest/__init__.py)."""

import csv
from collections import Counter
from pathlib import Path

import pytest

from pipeline.ingest import (
    TEXT_EXTENSIONS,
    IngestError,
    discover,
    find_manifest,
    load_manifest,
    load_rep_directory,
    read_source,
)
from pipeline.ingest.metadata import RepDirectory

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples"
REPS = load_rep_directory(ROOT / "configs" / "reps.yaml")
NO_REPS = RepDirectory({})


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _roles(conversation):
    return [(u.speaker_name, u.speaker_role) for u in conversation.utterances]


def _chat(*messages: tuple[str, str]) -> str:
    return "\n".join(f"2024-05-08 10:0{n}:00 {speaker}\n{text}\n" for n, (speaker, text) in enumerate(messages))


# ---- discover ---------------------------------------------------------------------------------

def test_discover_finds_exports_and_skips_manifests_docs_and_hidden_files(tmp_path):
    for name in ["b.txt", "a.csv", "sub/c.jsonl", "sub/call.wav", "manifest.csv", "sub/manifest.yaml", "README.md",
                 "notes.yml", ".hidden.txt", ".git/x.txt", "LICENSE", "sub/.DS_Store"]:
        _write(tmp_path / name, "x")
    assert discover([tmp_path]) == [tmp_path / "a.csv", tmp_path / "b.txt", tmp_path / "sub" / "c.jsonl",
                                    tmp_path / "sub" / "call.wav"]


def test_discover_follows_linked_folders_once_and_lists_broken_links(tmp_path):
    _write(tmp_path / "nas" / "2024" / "a.txt", "x")
    exports = tmp_path / "exports"
    _write(exports / "b.txt", "x")
    (exports / "2024").symlink_to(tmp_path / "nas" / "2024")  # a linked folder of exports
    (exports / "again").symlink_to(exports)                     # a loop
    (exports / "gone.txt").symlink_to(tmp_path / "nowhere.txt")  # broken: listed, fails when read
    assert discover([exports]) == [exports / "2024" / "a.txt", exports / "b.txt", exports / "gone.txt"]


def test_discover_takes_single_files_and_removes_duplicates(tmp_path):
    path = _write(tmp_path / "a.txt", "x")
    assert discover([path, tmp_path, str(path)]) == [path]


# ---- file types -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, problem, fix", [
    ("chat.docx", "unsupported file type '.docx'", "use one of .txt, .csv, .json, .jsonl (see docs/formats.md)"),
    ("chat", "unsupported file type '(none)'", "use one of .txt, .csv, .json, .jsonl (see docs/formats.md)"),
    ("call.MP3", "a recording is not a text export",
     "process it with `keynode process` or `keynode transcribe`, which transcribe audio"),
])
def test_files_that_are_not_text_exports(tmp_path, name, problem, fix):
    path = _write(tmp_path / name, "2024-05-08 10:00:00 王磊\n您好\n")
    with pytest.raises(IngestError) as caught:
        read_source(path, reps=REPS)
    assert (caught.value.path, caught.value.stage, caught.value.problem, caught.value.fix) == (
        str(path), "ingest", problem, fix)


def test_upper_case_extension_is_read(tmp_path):
    path = _write(tmp_path / "CHAT.TXT", _chat(("王磊", "您好"), ("李女士", "你好")))
    assert read_source(path, reps=REPS).conversations[0].source_format == "wechat"


# ---- who is the rep ---------------------------------------------------------------------------

def test_manifest_rep_decides_for_a_speaker_unknown_to_the_directory(tmp_path):
    path = _write(tmp_path / "chat.txt", _chat(("小王", "您好"), ("李女士", "你好"), ("小王", "[微笑]")))
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "file,rep\nchat.txt,小王\n"))
    [conversation] = read_source(path, manifest, REPS).conversations
    assert _roles(conversation) == [("小王", "rep"), ("李女士", "customer"), ("小王", "rep")]
    assert (conversation.meta.rep, conversation.meta.customer, conversation.meta.team) == ("小王", "李女士", None)


def test_manifest_rep_is_the_conversation_rep_even_when_the_directory_knows_another(tmp_path):
    # 张敏 is a rep in the directory and stays one; the manifest names who owns the conversation.
    path = _write(tmp_path / "chat.txt", _chat(("王磊", "您好"), ("张敏", "我是他同事"), ("李女士", "你好")))
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "file,rep\nchat.txt,张敏\n"))
    [conversation] = read_source(path, manifest, REPS).conversations
    assert _roles(conversation) == [("王磊", "rep"), ("张敏", "rep"), ("李女士", "customer")]
    assert (conversation.meta.rep, conversation.meta.team) == ("张敏", "华东一组")


def test_rep_directory_decides_without_a_manifest(tmp_path):
    path = _write(tmp_path / "chat.txt", _chat(("李女士", "你好"), ("David", "Hello"), ("李女士", "在吗")))
    [conversation] = read_source(path, None, REPS).conversations
    assert _roles(conversation) == [("李女士", "customer"), ("David", "rep"), ("李女士", "customer")]
    assert (conversation.meta.rep, conversation.meta.team, conversation.meta.customer) == ("David Lin", "华南二组", "李女士")


def test_explicit_role_column_wins_over_the_directory(tmp_path):
    # A customer who happens to share a rep's name: the export says so.
    text = "speaker,role,text\n王磊,customer,我想了解下\n张敏,销售,您好\n王磊,,好的\n"
    [conversation] = read_source(_write(tmp_path / "chat.csv", text), None, REPS).conversations
    assert _roles(conversation) == [("王磊", "customer"), ("张敏", "rep"), ("王磊", "rep")]


def test_explicit_role_column_wins_over_the_manifest_rep(tmp_path):
    text = "speaker,role,text\n王磊,客户,我想了解下\n张敏,rep,您好\n"
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "file,rep\nchat.csv,王磊\n"))
    [conversation] = read_source(_write(tmp_path / "chat.csv", text), manifest, NO_REPS).conversations
    assert _roles(conversation) == [("王磊", "customer"), ("张敏", "rep")]


@pytest.mark.parametrize("speaker", ["系统消息", "系统", "system", "System Message"])
def test_system_speakers_are_other(tmp_path, speaker):
    path = _write(tmp_path / "chat.txt", _chat((speaker, "以上是打招呼的内容"), ("王磊", "您好"), ("李女士", "你好")))
    [conversation] = read_source(path, None, REPS).conversations
    assert [u.speaker_role for u in conversation.utterances] == ["other", "rep", "customer"]
    assert conversation.meta.customer == "李女士"


def test_no_identifiable_rep_is_an_error_listing_the_speakers_and_the_fix(tmp_path):
    path = _write(tmp_path / "chat.txt", _chat(("小王", "您好"), ("李女士", "你好"), ("小王", "在吗"), ("系统消息", "x")))
    result = read_source(path, None, REPS)
    assert result.conversations == ()
    [error] = result.errors
    assert (error.path, error.stage, error.key) == (str(path), "roles", None)
    assert str(error) == (
        f"{path}: cannot tell which participant is the rep (speakers: 小王, 李女士, 系统消息). "
        "Fix: add a manifest row with rep=<name>, add the rep to configs/reps.yaml, "
        "or add a 'role' column to the export.")


def test_a_conversation_without_a_rep_does_not_hide_the_others_in_its_file(tmp_path):
    text = "conversation_key,speaker,text\nc1,王磊,您好\nc1,周总,你好\nc2,甲,你好\nc2,乙,你好\n"
    result = read_source(_write(tmp_path / "calls.csv", text), None, REPS)
    assert [c.source_key for c in result.conversations] == ["c1"]
    assert [(e.key, e.problem) for e in result.errors] == [
        ("c2", "cannot tell which participant is the rep (speakers: 甲, 乙)")]
    assert str(result.errors[0]).startswith(f"{tmp_path / 'calls.csv'} [c2]: ")


# ---- the whole sample folder ------------------------------------------------------------------

def _sample_exports() -> list[Path]:
    """The text exports of data/samples (its subfolders hold recordings with their own manifests)."""
    return [path for path in discover([SAMPLES]) if path.parent == SAMPLES and path.suffix in TEXT_EXTENSIONS]


def test_sample_folder_reads_26_conversations_without_errors_matching_the_manifest():
    manifest = load_manifest(find_manifest(SAMPLES))
    files = _sample_exports()
    assert len(files) == 16
    assert {str(path.resolve()) for path in files} == manifest.files()

    conversations, errors = [], []
    for path in files:
        result = read_source(path, manifest, REPS)
        conversations += result.conversations
        errors += result.errors
    assert errors == []
    assert len(conversations) == 26
    assert len({c.conversation_id for c in conversations}) == 26
    assert Counter(c.meta.language for c in conversations) == {"zh": 19, "en": 7}

    with open(SAMPLES / "manifest.csv", encoding="utf-8", newline="") as handle:
        expected = {(row["file"], row["conversation_key"] or None): row for row in csv.DictReader(handle)}
    for conversation in conversations:
        key = conversation.source_key if Path(conversation.source_path).suffix in (".csv", ".jsonl") else None
        row = expected.pop((Path(conversation.source_path).name, key))
        meta = conversation.meta
        assert {field: getattr(meta, field) for field in ("channel", "language", "industry", "rep", "team", "customer",
                                                          "deal_id", "stage", "outcome")} == {
            field: row[field] for field in ("channel", "language", "industry", "rep", "team", "customer", "deal_id",
                                            "stage", "outcome")}, conversation.source_path
        assert meta.started_at.isoformat() == row["started_at"]
        assert [u.index for u in conversation.utterances] == list(range(len(conversation.utterances)))
        assert conversation.utterances[0].start_s == 0.0
        roles = {u.speaker_role for u in conversation.utterances}
        assert roles == {"rep", "customer"}, conversation.source_path
    assert expected == {}  # every manifest row was matched by exactly one conversation


def test_sample_languages_are_detected_without_the_manifest():
    manifest = load_manifest(SAMPLES / "manifest.csv")
    detected, declared = Counter(), Counter()
    for path in _sample_exports():
        for conversation in read_source(path, None, REPS).conversations:
            detected[conversation.meta.language] += 1
            row = manifest.lookup(path, conversation.source_key) or manifest.lookup(path, None)
            declared[row.language] += 1
            assert conversation.meta.language == row.language, (path.name, conversation.source_key)
    assert detected == declared == {"zh": 19, "en": 7}


def test_ground_truth_references_beside_sample_calls_are_not_exports(tmp_path):
    (tmp_path / "references.jsonl").write_text("{}\n", encoding="utf-8")
    (tmp_path / "call.mp3").write_bytes(b"")
    assert discover([tmp_path]) == [tmp_path / "call.mp3"]
