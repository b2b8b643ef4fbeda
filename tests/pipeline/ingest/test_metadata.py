"""Manifest, rep directory and metadata precedence (pipeline/ingest/metadata.py, build_conversation)."""

import json
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.ingest import IngestError, find_manifest, load_manifest, load_rep_directory, read_source
from pipeline.ingest.metadata import ManifestRow, RepDirectory, metadata_row

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples"
REPS = load_rep_directory(ROOT / "configs" / "reps.yaml")
NO_REPS = RepDirectory({})

MANIFEST_HEADER = "file,conversation_key,channel,language,industry,rep,team,customer,deal_id,stage,outcome,started_at"
CHAT = "与李女士的聊天记录\n\n2024-05-08 10:02:13 王磊\n李女士您好，我是云栈CRM的王磊\n\n2024-05-08 10:03:40 李女士\n可以，你说\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- manifest files ---------------------------------------------------------------------------

def test_csv_manifest_rows_are_keyed_by_resolved_file_and_conversation_key(tmp_path):
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "\n".join([
        MANIFEST_HEADER,
        "chat.txt,,wechat,zh,saas,王磊,华东一组,李女士,D-1,demo,won,2024-05-08T10:00:00",
        "calls.csv,call-1,phone,,,,,,,,open,2024/5/9 9:30",
        "",
    ])))

    assert manifest.files() == {str((tmp_path / "chat.txt").resolve()), str((tmp_path / "calls.csv").resolve())}
    assert manifest.lookup(tmp_path / "chat.txt", None) == ManifestRow(
        file="chat.txt", channel="wechat", language="zh", industry="saas", rep="王磊", team="华东一组",
        customer="李女士", deal_id="D-1", stage="demo", outcome="won", started_at=datetime(2024, 5, 8, 10, 0))
    # Looked up through a different spelling of the same path.
    assert manifest.lookup(tmp_path / "sub" / ".." / "calls.csv", "call-1") == ManifestRow(
        file="calls.csv", conversation_key="call-1", channel="phone", outcome="open",
        started_at=datetime(2024, 5, 9, 9, 30))
    assert manifest.lookup(tmp_path / "calls.csv", "call-2") is None


def test_yaml_manifest(tmp_path):
    manifest = load_manifest(_write(tmp_path / "manifest.yaml", "- file: chat.txt\n  rep: 王磊\n  outcome: lost\n"
                                                                  "  started_at: 2024-05-08 10:00:00\n"))
    assert manifest.lookup(tmp_path / "chat.txt", None) == ManifestRow(
        file="chat.txt", rep="王磊", outcome="lost", started_at=datetime(2024, 5, 8, 10, 0))


@pytest.mark.parametrize("row, problem", [
    ("chat.txt,,wechat,zh,saas,王磊,华东一组,李女士,D-1,demo,pending,", "row 2: outcome 'pending' is not allowed"),
    ("chat.txt,,email,zh,,,,,,,,", "row 2: channel 'email' is not allowed"),
    ("chat.txt,,,fr,,,,,,,,", "row 2: language 'fr' is not allowed"),
    (",,,zh,,,,,,,,", "row 2 has no 'file'"),
    ("chat.txt,,,,,,,,,,,yesterday", "cannot read the time 'yesterday'"),
])
def test_invalid_manifest_values(tmp_path, row, problem):
    path = _write(tmp_path / "manifest.csv", f"{MANIFEST_HEADER}\n{row}\n")
    with pytest.raises(IngestError) as caught:
        load_manifest(path)
    assert (caught.value.path, caught.value.problem) == (str(path), problem)


def test_manifest_outcome_error_lists_the_allowed_values(tmp_path):
    path = _write(tmp_path / "manifest.csv", "file,outcome\nchat.txt,pending\n")
    with pytest.raises(IngestError) as caught:
        load_manifest(path)
    assert str(caught.value) == f"{path}: row 2: outcome 'pending' is not allowed. Fix: use one of: won, lost, open."


def test_manifest_unknown_column(tmp_path):
    path = _write(tmp_path / "manifest.csv", "file,owner\nchat.txt,王磊\n")
    with pytest.raises(IngestError) as caught:
        load_manifest(path)
    assert caught.value.problem == "unknown column 'owner'"
    assert caught.value.fix.startswith("use only: file, conversation_key, channel, language, industry, rep, team")


def test_manifest_repeated_row(tmp_path):
    path = _write(tmp_path / "manifest.csv", "file,conversation_key\ncalls.csv,c1\ncalls.csv,c2\ncalls.csv,c1\n")
    with pytest.raises(IngestError) as caught:
        load_manifest(path)
    assert (caught.value.problem, caught.value.fix) == ("row 4 repeats calls.csv c1", "keep one row per conversation")


@pytest.mark.parametrize("text, problem", [
    ("file: chat.txt\n", "expected a list of rows (mappings)"),
    ("- file: chat.txt\n  rep: [王磊\n", "invalid YAML"),
])
def test_invalid_yaml_manifest(tmp_path, text, problem):
    path = _write(tmp_path / "manifest.yaml", text)
    with pytest.raises(IngestError) as caught:
        load_manifest(path)
    assert caught.value.path == str(path)
    assert caught.value.problem.startswith(problem)


def test_find_manifest(tmp_path):
    assert find_manifest(tmp_path) is None
    _write(tmp_path / "manifest.yaml", "[]\n")
    assert find_manifest(tmp_path) == tmp_path / "manifest.yaml"
    _write(tmp_path / "manifest.csv", "file\n")
    assert find_manifest(tmp_path) == tmp_path / "manifest.csv"  # CSV first
    assert find_manifest(SAMPLES) == SAMPLES / "manifest.csv"


def test_metadata_row_requires_a_file():
    with pytest.raises(IngestError) as caught:
        metadata_row({"rep": "王磊"}, "m.csv", "row 7")
    assert caught.value.problem == "row 7 has no 'file'"


# ---- rep directory ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, team", [
    ("王磊", "华东一组"), ("张敏", "华东一组"), ("Emily Carter", "华东一组"), ("Emily", "华东一组"),
    ("陈晨", "华南二组"), ("刘洋", "华南二组"), ("David Lin", "华南二组"), ("David", "华南二组"),
])
def test_rep_directory_names_aliases_and_teams(name, team):
    assert REPS.is_rep(name)
    assert REPS.team_of(name) == team


def test_rep_directory_does_not_know_customers():
    assert not REPS.is_rep("李女士")
    assert REPS.team_of("李女士") is None
    assert len(REPS.teams_by_name) == 8


def test_no_rep_directory_file_means_no_reps(tmp_path):
    assert load_rep_directory(None) == RepDirectory({})
    assert load_rep_directory(tmp_path / "missing.yaml") == RepDirectory({})


@pytest.mark.parametrize("text, problem", [
    ("reps:\n  - team: A\n", "rep 1 needs 'name' and only name/team/aliases"),
    ("reps:\n  - name: A\n    email: a@x\n", "rep 1 needs 'name' and only name/team/aliases"),
    ("people: []\n", "expected 'reps:' with a list of {name, team, aliases}"),
    ("reps: [name: A\n", "cannot read the rep directory"),
])
def test_invalid_rep_directory(tmp_path, text, problem):
    path = _write(tmp_path / "reps.yaml", text)
    with pytest.raises(IngestError) as caught:
        load_rep_directory(path)
    assert caught.value.path == str(path)
    assert caught.value.problem.startswith(problem)


# ---- precedence: manifest > file metadata > rep directory > what the export implies ------------

def _json_chat(tmp_path, metadata, name="chat.json"):
    document = {"conversation_key": "web-1", "metadata": metadata, "messages": [
        {"time": "2024-04-16 10:05:00", "speaker": "Emily Carter", "text": "Hi Sarah, this is Emily."},
        {"time": "2024-04-16 10:06:10", "speaker": "Sarah Kim", "text": "Hi Emily."}]}
    return _write(tmp_path / name, json.dumps(document, ensure_ascii=False))


def test_manifest_values_override_file_metadata(tmp_path):
    path = _json_chat(tmp_path, {"outcome": "lost", "stage": "discovery", "deal_id": "D-1", "customer": "S. Kim",
                                 "started_at": "2024-04-16T09:00:00", "team": "file team"})
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "file,conversation_key,outcome,stage,started_at\n"
                                                               "chat.json,web-1,won,closed,2024-04-17T08:00:00\n"))
    [conversation] = read_source(path, manifest, REPS).conversations
    meta = conversation.meta
    assert (meta.outcome, meta.stage, meta.started_at) == ("won", "closed", datetime(2024, 4, 17, 8, 0))  # manifest
    assert (meta.deal_id, meta.customer, meta.team) == ("D-1", "S. Kim", "file team")  # the file's own metadata
    assert meta.rep == "Emily Carter"  # rep directory


def test_manifest_rep_overrides_the_file_metadata_rep(tmp_path):
    path = _json_chat(tmp_path, {"rep": "Sarah Kim"})
    manifest = load_manifest(_write(tmp_path / "manifest.csv",
                                    "file,conversation_key,rep\nchat.json,web-1,Emily Carter\n"))
    [conversation] = read_source(path, manifest, NO_REPS).conversations
    assert conversation.meta.rep == "Emily Carter"
    assert [u.speaker_role for u in conversation.utterances] == ["rep", "customer"]


def test_without_a_manifest_the_file_metadata_is_used(tmp_path):
    [conversation] = read_source(_json_chat(tmp_path, {"outcome": "open", "rep": "Emily Carter"}), None,
                                 NO_REPS).conversations
    assert (conversation.meta.outcome, conversation.meta.rep, conversation.meta.team) == ("open", "Emily Carter", None)


@pytest.mark.parametrize("reps, team", [(REPS, "华东一组"), (NO_REPS, None)])
def test_team_is_filled_from_the_rep_directory(tmp_path, reps, team):
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "file,rep\nchat.txt,王磊\n"))
    [conversation] = read_source(_write(tmp_path / "chat.txt", CHAT), manifest, reps).conversations
    assert (conversation.meta.rep, conversation.meta.team) == ("王磊", team)


def test_a_rep_signing_with_an_alias_is_stored_under_the_directory_name(tmp_path):
    path = _write(tmp_path / "chat.txt", "2024-04-16 10:05:00 Emily\nHi Sarah\n\n2024-04-16 10:06:00 Sarah\nHi\n")
    [conversation] = read_source(path, None, REPS).conversations
    assert (conversation.meta.rep, conversation.meta.team, conversation.meta.customer) == (
        "Emily Carter", "华东一组", "Sarah")
    assert conversation.utterances[0].speaker_name == "Emily"  # the transcript keeps what was written


def test_started_at_comes_from_the_first_message_when_nobody_gives_it(tmp_path):
    [conversation] = read_source(_write(tmp_path / "chat.txt", CHAT), None, REPS).conversations
    assert conversation.meta.started_at == datetime(2024, 5, 8, 10, 2, 13)


@pytest.mark.parametrize("texts, language", [
    (["您好，我是云栈CRM的王磊", "可以，你说"], "zh"),
    (["Hi Sarah, this is Emily from YunZhan CRM.", "Hi Emily, go ahead."], "en"),
    (["我们的SaaS CRM支持API", "OK"], "zh"),  # product names in a Chinese chat
])
def test_language_is_detected_when_not_given(tmp_path, texts, language):
    lines = []
    for number, (speaker, text) in enumerate(zip(["王磊", "李女士"], texts)):
        lines += [f"2024-05-08 10:0{number}:00 {speaker}", text, ""]
    [conversation] = read_source(_write(tmp_path / "chat.txt", "\n".join(lines)), None, REPS).conversations
    assert conversation.meta.language == language
    assert conversation.language == language


def test_manifest_language_overrides_detection(tmp_path):
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "file,language\nchat.txt,en\n"))
    [conversation] = read_source(_write(tmp_path / "chat.txt", CHAT), manifest, REPS).conversations
    assert conversation.meta.language == "en"


def test_keyless_manifest_row_applies_to_a_one_conversation_json_that_names_its_key():
    # chat_zh_insurance_web.json carries "conversation_key": "web-0002" and no metadata; its
    # manifest row leaves conversation_key empty, as docs/formats.md says for one-conversation files.
    manifest = load_manifest(SAMPLES / "manifest.csv")
    [conversation] = read_source(SAMPLES / "chat_zh_insurance_web.json", manifest, REPS).conversations
    assert conversation.source_key == "web-0002"
    meta = conversation.meta
    assert (meta.channel, meta.industry, meta.deal_id, meta.stage, meta.outcome, meta.customer) == (
        "web_chat", "insurance", "D-1104", "discovery", "lost", "郑女士")


def test_keyless_manifest_row_does_not_spread_over_a_multi_conversation_file(tmp_path):
    calls = _write(tmp_path / "calls.csv", "conversation_key,speaker,role,text\nc1,王磊,rep,您好\nc2,王磊,rep,您好啊\n")
    manifest = load_manifest(_write(tmp_path / "manifest.csv", "file,conversation_key,outcome\ncalls.csv,,won\n"))
    result = read_source(calls, manifest, REPS)
    assert [(c.source_key, c.meta.outcome) for c in result.conversations] == [("c1", None), ("c2", None)]


# ---- conversation ids -------------------------------------------------------------------------

def _id(tmp_path: Path, name: str, text: str) -> str:
    [conversation] = read_source(_write(tmp_path / name, text), None, REPS).conversations
    return conversation.conversation_id


def test_conversation_id_is_stable_across_file_names_and_changes_with_the_content(tmp_path):
    original = _id(tmp_path, "a.txt", CHAT)
    assert len(original) == 16 and int(original, 16) >= 0
    assert _id(tmp_path, "renamed_copy.txt", CHAT) == original
    assert _id(tmp_path, "b.txt", CHAT.replace("可以，你说", "可以，您说")) != original
    assert _id(tmp_path, "c.txt", CHAT.replace("10:03:40", "10:03:41")) != original
    assert _id(tmp_path, "d.txt", CHAT.replace("2024-05-08", "2024-05-09")) != original  # start time


def test_conversation_id_of_the_samples_does_not_depend_on_the_manifest():
    manifest = load_manifest(SAMPLES / "manifest.csv")
    path = SAMPLES / "wechat_auto_pushy.txt"
    with_manifest = read_source(path, manifest, REPS).conversations[0]
    without = read_source(path, None, REPS).conversations[0]
    assert with_manifest.conversation_id == without.conversation_id
