"""CSV, JSON and JSONL exports (pipeline/ingest/tabular.py), inline and on the real samples."""

import json
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.ingest import IngestError, load_manifest, load_rep_directory, read_source
from pipeline.ingest.tabular import parse_csv, parse_json, parse_jsonl

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples"
REPS = load_rep_directory(ROOT / "configs" / "reps.yaml")
NO_REPS = load_rep_directory(None)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(conversation):
    return [(u.index, u.speaker_role, u.speaker_name, u.text, u.start_s, u.end_s) for u in conversation.utterances]


def _by_key(result):
    return {c.source_key: c for c in result.conversations}


# ---- CSV --------------------------------------------------------------------------------------

CALLS_CSV = """conversation_key,speaker,role,start_s,end_s,text
call-a,王磊,销售,0.0,3.2,喂 您好 请问是周总吗
call-a,周总,客户,3.6,4.8,对 哪位
call-b,Ann,agent,0,2.5,Hello Bob
call-a,王磊,rep,5.1,12.4,"我是云栈CRM的王磊, 您现在方便吗"
call-b,Bob,client,3,4,Hi
call-b,Bob,customer,4.5,,
"""


def test_csv_groups_rows_by_conversation_key_with_roles_and_times(tmp_path):
    result = read_source(_write(tmp_path, "calls.csv", CALLS_CSV), reps=NO_REPS)

    assert result.errors == ()
    conversations = _by_key(result)
    assert list(conversations) == ["call-a", "call-b"]
    assert _rows(conversations["call-a"]) == [
        (0, "rep", "王磊", "喂 您好 请问是周总吗", 0.0, 3.2),
        (1, "customer", "周总", "对 哪位", 3.6, 4.8),
        (2, "rep", "王磊", "我是云栈CRM的王磊, 您现在方便吗", 5.1, 12.4),
    ]
    # The last row has no text: dropped.
    assert _rows(conversations["call-b"]) == [
        (0, "rep", "Ann", "Hello Bob", 0.0, 2.5),
        (1, "customer", "Bob", "Hi", 3.0, 4.0),
    ]
    call_a = conversations["call-a"]
    assert call_a.source_format == "csv"
    assert call_a.meta.channel == "phone"  # end times mean a call
    assert call_a.meta.started_at is None  # no message times, no manifest
    assert (call_a.meta.rep, call_a.meta.customer) == ("王磊", "周总")


def test_csv_with_chinese_column_names_and_times_is_one_chat(tmp_path):
    text = "发送人,角色,时间,内容\n张敏,销售,2024/4/11 14:03:27,周先生您好\n周先生,客户,2024/4/11 14:10:52,方便\n"
    result = read_source(_write(tmp_path, "chat.csv", text), reps=NO_REPS)

    assert result.errors == ()
    [conversation] = result.conversations
    assert conversation.source_key is None
    assert _rows(conversation) == [
        (0, "rep", "张敏", "周先生您好", 0.0, None),
        (1, "customer", "周先生", "方便", 445.0, None),
    ]
    assert conversation.meta.channel == "chat"
    assert conversation.meta.started_at == datetime(2024, 4, 11, 14, 3, 27)


def test_csv_unknown_column_fails_the_file_naming_the_column(tmp_path):
    path = _write(tmp_path, "calls.csv", "conversation_key,speaker,duration,text\nc1,王磊,3,您好\n")
    with pytest.raises(IngestError) as caught:
        read_source(path, reps=REPS)
    assert str(caught.value) == (
        f"{path}: unknown column 'duration'. Fix: rename it to one of: conversation_key, speaker, role, "
        "text, time, start_s, end_s (see docs/formats.md).")


@pytest.mark.parametrize("header, problem", [
    ("conversation_key,role,text", "no 'speaker' column (columns: conversation_key, role, text)"),
    ("speaker,role", "no 'text' column (columns: speaker, role)"),
    ("speaker,sender,text", "two columns map to 'speaker'"),
])
def test_csv_layout_problems_fail_the_file(header, problem):
    with pytest.raises(IngestError) as caught:
        parse_csv(f"{header}\n", "x.csv")
    assert caught.value.problem == problem


@pytest.mark.parametrize("text, problem, fix", [
    ("speaker;role;text\n王磊;rep;您好\n", "the columns are separated by semicolons, not commas",
     "save the file as comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')"),
    ("Speaker\tText\n王磊\t您好\n", "the columns are separated by tabs, not commas",
     "save the file as comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')"),
    ("speaker,role,text\n\n", "the CSV file has a header row but no message rows",
     "export the conversation again with its messages"),
    ("speaker,text\n王磊," + "好" * 200_000 + "\n", "line 2 cannot be read as CSV (field larger than field limit (131072))",
     "close the quote ('\"') that opens a cell near that line; a message longer than 131,072 characters must be split"),
], ids=["semicolons", "tabs", "header_only", "huge_cell"])
def test_csv_file_problems_say_what_to_do(text, problem, fix):
    with pytest.raises(IngestError) as caught:
        parse_csv(text, "x.csv")
    assert (caught.value.problem, caught.value.fix) == (problem, fix)


def test_a_one_column_header_with_a_semicolon_in_its_name_is_just_unknown():
    with pytest.raises(IngestError) as caught:
        parse_csv("notes; misc\nhello\n", "x.csv")
    assert caught.value.problem == "unknown column 'notes; misc'"


def test_csv_bad_start_s_fails_only_its_conversation(tmp_path):
    text = ("conversation_key,speaker,role,start_s,end_s,text\n"
            "good,王磊,rep,0,1,您好\n"
            "bad,刘洋,rep,abc,1,您好\n"
            "good,周总,customer,1.5,2,你好\n")
    result = read_source(_write(tmp_path, "calls.csv", text), reps=NO_REPS)

    assert [c.source_key for c in result.conversations] == ["good"]
    assert _rows(result.conversations[0]) == [
        (0, "rep", "王磊", "您好", 0.0, 1.0),
        (1, "customer", "周总", "你好", 1.5, 2.0),
    ]
    [error] = result.errors
    assert error.key == "bad"
    assert str(error) == (f"{tmp_path / 'calls.csv'} [bad]: row 3: start_s 'abc' is not a number of seconds. "
                          "Fix: write row 3: start_s as seconds from the start, e.g. 12.5.")


@pytest.mark.parametrize("row, problem", [
    ("bad,刘洋,rep,-1,1,您好", "row 3: start_s '-1' is negative"),
    ("bad,刘洋,boss,0,1,您好", "unknown speaker role 'boss'"),
    ("bad,,rep,0,1,您好", "row 3 has text but no speaker"),
    ("bad,刘洋,rep,0,1,您好,extra", "row 3 has a different number of cells than the header"),
])
def test_csv_row_problems_fail_only_their_conversation(row, problem):
    text = f"conversation_key,speaker,role,start_s,end_s,text\ngood,王磊,rep,0,1,您好\n{row}\n"
    items = parse_csv(text, "calls.csv")
    assert [item.key for item in items] == ["good", "bad"]
    assert [m.text for m in items[0].messages] == ["您好"]
    assert isinstance(items[1], IngestError)
    assert items[1].problem == problem


def test_csv_conversation_without_any_text_is_an_error():
    [item] = parse_csv("speaker,text\n王磊,\n周总,  \n", "x.csv")
    assert isinstance(item, IngestError)
    assert item.problem == "the conversation has no message with text"


def test_sample_call_transcripts():
    manifest = load_manifest(SAMPLES / "manifest.csv")
    result = read_source(SAMPLES / "calls_transcripts.csv", manifest, REPS)

    assert result.errors == ()
    conversations = _by_key(result)
    assert sorted(conversations) == ["call-0001", "call-0002", "call-0003", "call-0004", "call-0005"]
    assert [len(conversations[key].utterances) for key in sorted(conversations)] == [15, 19, 18, 17, 13]
    assert _rows(conversations["call-0001"])[:2] == [
        (0, "rep", "王磊", "喂 您好 请问是周总吗", 0.0, 3.2),
        (1, "customer", "周总", "对 哪位", 3.6, 4.8),
    ]
    assert conversations["call-0004"].meta.channel == "meeting"  # from the manifest
    assert conversations["call-0005"].meta.rep == "Emily Carter"


# ---- JSON -------------------------------------------------------------------------------------

def _conversation(key="web-1", **extra):
    return {"conversation_key": key,
            "messages": [
                {"time": "2024-04-16 10:05:00", "speaker": "Emily Carter", "role": "rep", "text": "Hi Sarah!"},
                {"time": "2024-04-16 10:06:10", "speaker": "Sarah Kim", "text": "Hi Emily."},
            ], **extra}


def test_json_single_object_with_metadata(tmp_path):
    document = _conversation(metadata={"customer": "Sarah K.", "deal_id": "D-1", "outcome": "lost",
                                       "channel": "web_chat", "industry": "saas"})
    result = read_source(_write(tmp_path, "chat.json", json.dumps(document)), reps=NO_REPS)

    assert result.errors == ()
    [conversation] = result.conversations
    assert conversation.source_key == "web-1"
    assert conversation.source_format == "json"
    # Sarah Kim has no role: not the rep, not a system speaker, so a customer.
    assert _rows(conversation) == [
        (0, "rep", "Emily Carter", "Hi Sarah!", 0.0, None),
        (1, "customer", "Sarah Kim", "Hi Emily.", 70.0, None),
    ]
    meta = conversation.meta
    assert (meta.rep, meta.customer, meta.deal_id, meta.outcome, meta.channel, meta.industry, meta.language) == (
        "Emily Carter", "Sarah K.", "D-1", "lost", "web_chat", "saas", "en")
    assert meta.started_at == datetime(2024, 4, 16, 10, 5)


def test_json_list_one_bad_object_fails_alone(tmp_path):
    document = [_conversation("web-1"), _conversation("web-2", participants=["a"]), _conversation("web-3")]
    result = read_source(_write(tmp_path, "chats.json", json.dumps(document)), reps=NO_REPS)

    assert [c.source_key for c in result.conversations] == ["web-1", "web-3"]
    [error] = result.errors
    assert error.key == "web-2"
    assert str(error) == (f"{tmp_path / 'chats.json'} [web-2]: conversation 2 has unknown key 'participants'. "
                          "Fix: use only: conversation_key, messages, metadata.")


@pytest.mark.parametrize("change, problem", [
    (lambda obj: obj["messages"][1].update(sender="x"), "conversation 1 message 2 has unknown key 'sender'"),
    (lambda obj: obj.update(metadata={"owner": "x"}), "conversation 1: metadata has unknown key 'owner'"),
    (lambda obj: obj.update(metadata=["rep"]), "conversation 1: metadata has unknown key ['rep']"),
    (lambda obj: obj.pop("messages"), "conversation 1 has no 'messages' list"),
    (lambda obj: obj["messages"].append("hello"), "conversation 1 message 3 is not an object"),
    (lambda obj: obj["messages"][0].update(time="yesterday"), "cannot read the time 'yesterday'"),
    (lambda obj: obj["messages"][0].update(start_s="soon"),
     "conversation 1 message 1: start_s 'soon' is not a number of seconds"),
])
def test_json_conversation_problems_name_the_key(change, problem):
    document = _conversation()
    change(document)
    [item] = parse_json(json.dumps(document), "chat.json")
    assert isinstance(item, IngestError)
    assert (item.key, item.problem) == ("web-1", problem)


def test_json_item_that_is_not_an_object():
    items = parse_json(json.dumps([_conversation(), 42]), "chats.json")
    assert isinstance(items[1], IngestError)
    assert items[1].problem == "conversation 2 is not a JSON object"


SHAPE_FIX = "write each conversation as an object with a 'messages' list (see docs/formats.md)"


@pytest.mark.parametrize("text, problem", [
    ("[1, 2, 3]", "the file holds a list of numbers, not conversation objects"),
    ('[1, "a", null]', "the file holds a list of nulls and numbers and strings, not conversation objects"),
    ("[]", "the file holds an empty list, not conversation objects"),
    ('"hello"', "the file holds a string, not conversation objects"),
    ("[[{}]]", "the file holds a list of lists, not conversation objects"),
    ("[" * 100_000, "the JSON is nested too deeply to be conversations"),
], ids=["numbers", "mixed", "empty_list", "string", "nested_list", "deep"])
def test_json_without_any_object_fails_the_file_once(text, problem):
    with pytest.raises(IngestError) as caught:
        parse_json(text, "chat.json")
    assert (caught.value.problem, caught.value.fix) == (problem, SHAPE_FIX)


def test_invalid_json_fails_the_file_with_line_and_column():
    with pytest.raises(IngestError) as caught:
        parse_json('{"messages": [\n  {"speaker": "a",}\n]}', "chat.json")
    assert caught.value.problem.startswith("invalid JSON at line 2, column 19:")
    assert "python -m json.tool" in caught.value.fix


@pytest.mark.parametrize("metadata, problem", [
    ({"outcome": "pending"}, "metadata of web-1: outcome 'pending' is not allowed"),
    ({"language": "fr"}, "metadata of web-1: language 'fr' is not allowed"),
    ({"channel": "email"}, "metadata of web-1: channel 'email' is not allowed"),
    ({"started_at": "next monday"}, "cannot read the time 'next monday'"),
])
def test_json_metadata_values_are_validated(tmp_path, metadata, problem):
    path = _write(tmp_path, "chat.json", json.dumps(_conversation(metadata=metadata)))
    result = read_source(path, reps=NO_REPS)
    assert result.conversations == ()
    [error] = result.errors
    assert error.problem == problem
    assert error.path == str(path)


def test_json_metadata_outcome_error_lists_the_allowed_values(tmp_path):
    path = _write(tmp_path, "chat.json", json.dumps(_conversation(metadata={"outcome": "pending"})))
    [error] = read_source(path, reps=NO_REPS).errors
    assert error.fix == "use one of: won, lost, open"


def test_sample_json_with_metadata():
    result = read_source(SAMPLES / "chat_en_saas_d1002_discovery.json", reps=REPS)
    assert result.errors == ()
    [conversation] = result.conversations
    assert conversation.source_key == "web-0001"
    assert len(conversation.utterances) == 19
    assert _rows(conversation)[:3] == [
        (0, "rep", "Emily Carter", "Hi Sarah, good morning! This is Emily Carter from YunZhan CRM.", 0.0, None),
        (1, "rep", "Emily Carter", "You requested a call-back about managing your sales team's pipeline. "
                                   "Do you have 10 minutes to chat here now?", 20.0, None),
        (2, "customer", "Sarah Kim", "Hi Emily. Yes, I've got about 15 minutes.", 162.0, None),
    ]
    meta = conversation.meta
    assert (meta.deal_id, meta.stage, meta.outcome, meta.team, meta.channel) == (
        "D-1002", "discovery", "lost", "华东一组", "web_chat")


# ---- JSONL ------------------------------------------------------------------------------------

def test_jsonl_bad_line_fails_only_itself(tmp_path):
    lines = [json.dumps(_conversation("web-1")), '{"conversation_key": "web-2", "messages": [', "",
             json.dumps(_conversation("web-3"))]
    result = read_source(_write(tmp_path, "chats.jsonl", "\n".join(lines) + "\n"), reps=NO_REPS)

    assert [c.source_key for c in result.conversations] == ["web-1", "web-3"]
    assert all(c.source_format == "jsonl" for c in result.conversations)
    [error] = result.errors
    assert error.key == "line 2"
    assert error.problem.startswith("line 2 is not valid JSON (")
    assert error.fix == "write one complete JSON object per line"


def test_jsonl_deeply_nested_line_fails_only_itself():
    items = parse_jsonl(json.dumps(_conversation("web-1")) + "\n" + "[" * 100_000 + "\n", "chats.jsonl")
    assert items[0].key == "web-1"
    assert (items[1].key, items[1].problem, items[1].fix) == (
        "line 2", "line 2 is nested too deeply to be a conversation", SHAPE_FIX)


def test_jsonl_unknown_key_names_the_line():
    items = parse_jsonl(json.dumps(_conversation("web-1", extra=1)), "chats.jsonl")
    assert [(item.key, item.problem) for item in items] == [("web-1", "line 1 has unknown key 'extra'")]


def test_sample_jsonl_without_roles_takes_the_rep_from_the_manifest():
    manifest = load_manifest(SAMPLES / "manifest.csv")
    # No rep directory: only the manifest says who the rep is.
    result = read_source(SAMPLES / "chats_batch.jsonl", manifest, NO_REPS)

    assert result.errors == ()
    conversations = _by_key(result)
    assert sorted(conversations) == ["web-0101", "web-0103", "web-0104", "web-0105", "web-0106", "web-0107",
                                     "web-0108"]
    assert _rows(conversations["web-0105"])[:4] == [
        (0, "customer", "唐女士", "你们那个职场英语课还有优惠吗", 0.0, None),
        (1, "rep", "刘洋", "有的亲，现在报名3999，送一个月外教口语", 72.0, None),
        (2, "rep", "刘洋", "[图片]", 90.0, None),
        (3, "customer", "唐女士", "3999有点贵了吧", 408.0, None),
    ]
    assert {key: c.meta.rep for key, c in conversations.items()} == {
        "web-0101": "Emily Carter", "web-0103": "张敏", "web-0104": "陈晨", "web-0105": "刘洋",
        "web-0106": "Emily Carter", "web-0107": "David Lin", "web-0108": "David Lin"}


def test_sample_jsonl_without_manifest_or_directory_fails_every_conversation():
    result = read_source(SAMPLES / "chats_batch.jsonl", None, NO_REPS)
    assert result.conversations == ()
    assert len(result.errors) == 7
    assert all(error.stage == "roles" for error in result.errors)
