"""WeChat / WeCom text exports (pipeline/ingest/wechat.py), inline and on the real samples."""

from datetime import datetime
from pathlib import Path

import pytest

from pipeline.ingest import IngestError, load_rep_directory, read_source
from pipeline.ingest.wechat import parse_wechat

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples"
REPS = load_rep_directory(ROOT / "configs" / "reps.yaml")

# Title line, day separators, a multi-line message, a sticker code inside text, a media code as
# a whole message, two consecutive messages by the customer, and a second day.
TIME_FIRST = """与李女士的聊天记录

—————  2024-05-08  —————
2024-05-08 10:02:13 王磊
李女士您好，我是云栈CRM的王磊
上次您在官网留言，现在方便聊几句吗？

2024-05-08 10:03:40 李女士
[图片]

2024-05-08 10:04:05 李女士
可以，你说[微笑]

—— 2024-05-09 ——
2024-05-09 09:00:00 王磊
早上好
"""

NAME_FIRST = """王磊 2024-05-08 10:02:13
李女士您好，我是云栈CRM的王磊
上次您在官网留言，现在方便聊几句吗？

李女士 2024-05-08 10:03:40
[图片]

李女士 2024-05-08 10:04:05
可以，你说[微笑]

王磊 2024-05-09 09:00:00
早上好
"""

EXPECTED = [
    # index, role, name, text, start_s
    (0, "rep", "王磊", "李女士您好，我是云栈CRM的王磊\n上次您在官网留言，现在方便聊几句吗？", 0.0),
    (1, "customer", "李女士", "[图片]", 87.0),
    (2, "customer", "李女士", "可以，你说[微笑]", 112.0),
    (3, "rep", "王磊", "早上好", 82667.0),  # next day 09:00:00 − 10:02:13
]


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _rows(conversation):
    return [(u.index, u.speaker_role, u.speaker_name, u.text, u.start_s) for u in conversation.utterances]


@pytest.mark.parametrize("layout", [TIME_FIRST, NAME_FIRST], ids=["wechat_time_first", "wecom_name_first"])
def test_both_header_layouts_give_the_same_utterances(tmp_path, layout):
    result = read_source(_write(tmp_path, "chat.txt", layout), reps=REPS)

    assert result.errors == ()
    [conversation] = result.conversations
    assert _rows(conversation) == EXPECTED
    assert all(u.end_s is None for u in conversation.utterances)  # a chat has no turn end times
    assert conversation.source_format == "wechat"
    assert conversation.source_key is None
    assert conversation.meta.channel == "wechat"
    assert conversation.meta.started_at == datetime(2024, 5, 8, 10, 2, 13)


def test_the_two_layouts_of_one_chat_get_one_conversation_id(tmp_path):
    time_first = read_source(_write(tmp_path, "a.txt", TIME_FIRST), reps=REPS).conversations[0]
    name_first = read_source(_write(tmp_path, "b.txt", NAME_FIRST), reps=REPS).conversations[0]
    assert time_first.conversation_id == name_first.conversation_id


def test_parse_wechat_keeps_raw_messages_with_their_times():
    [raw] = parse_wechat(TIME_FIRST, "chat.txt")
    assert raw.key is None
    assert [(m.speaker, m.text, m.sent_at, m.role) for m in raw.messages] == [
        ("王磊", "李女士您好，我是云栈CRM的王磊\n上次您在官网留言，现在方便聊几句吗？", datetime(2024, 5, 8, 10, 2, 13), None),
        ("李女士", "[图片]", datetime(2024, 5, 8, 10, 3, 40), None),
        ("李女士", "可以，你说[微笑]", datetime(2024, 5, 8, 10, 4, 5), None),
        ("王磊", "早上好", datetime(2024, 5, 9, 9, 0, 0), None),
    ]


@pytest.mark.parametrize("header, sent_at", [
    ("2024-05-08 10:02:13 王磊", datetime(2024, 5, 8, 10, 2, 13)),
    ("2024/5/8 10:02 王磊", datetime(2024, 5, 8, 10, 2)),
    ("2024.05.08 9:05:01 王磊", datetime(2024, 5, 8, 9, 5, 1)),
    ("王磊 2024/5/8 10:02", datetime(2024, 5, 8, 10, 2)),
    ("  2024-05-08 10:02:13 王磊  ", datetime(2024, 5, 8, 10, 2, 13)),
])
def test_header_date_and_time_spellings(header, sent_at):
    [raw] = parse_wechat(f"{header}\n您好\n", "chat.txt")
    assert [(m.speaker, m.text, m.sent_at) for m in raw.messages] == [("王磊", "您好", sent_at)]


@pytest.mark.parametrize("header", ["2024-05-08 10:02:13 Emily Carter", "Emily Carter 2024-05-08 10:02:13"])
def test_sender_names_with_spaces(header):
    [raw] = parse_wechat(f"{header}\nHi Sarah\n", "chat.txt")
    assert [(m.speaker, m.text) for m in raw.messages] == [("Emily Carter", "Hi Sarah")]


def test_a_header_without_text_is_dropped_and_blank_lines_inside_a_message_are_kept():
    text = "2024-05-08 10:00:00 王磊\n\n2024-05-08 10:01:00 王磊\n第一行\n\n第三行\n\n"
    [raw] = parse_wechat(text, "chat.txt")
    assert [(m.text, m.sent_at) for m in raw.messages] == [("第一行\n\n第三行", datetime(2024, 5, 8, 10, 1))]


def test_up_to_three_title_lines_are_allowed_and_day_separators_do_not_count():
    text = "聊天记录\n导出自微信\n与李女士\n—— 2024-05-08 ——\n2024-05-08 10:00:00 王磊\n您好\n"
    [raw] = parse_wechat(text, "chat.txt")
    assert [m.text for m in raw.messages] == ["您好"]


def test_a_long_preamble_is_an_unknown_layout():
    text = "第一行\n第二行\n第三行\n第四行\n2024-05-08 10:00:00 王磊\n您好\n"
    with pytest.raises(IngestError) as caught:
        parse_wechat(text, "notes.txt")
    message = str(caught.value)
    assert message.startswith("notes.txt: 4 lines before the first message header (starting '第一行')")
    assert "remove the extra lines or convert the file to the CSV layout" in message


def test_a_file_without_any_header_names_the_file_and_says_what_to_do(tmp_path):
    path = _write(tmp_path, "minutes.txt", "会议纪要\n王磊：您好\n李女士：你好\n")
    with pytest.raises(IngestError) as caught:
        read_source(path, reps=REPS)
    error = caught.value
    assert error.path == str(path)
    assert error.stage == "parse"
    assert str(error) == (
        f"{path}: no message header like '2024-05-08 10:02:13 王经理' was found. "
        "Fix: export the chat as text from WeChat/WeCom, or convert it to the CSV layout in docs/formats.md.")


def test_an_impossible_header_date_names_file_and_line():
    with pytest.raises(IngestError) as caught:
        parse_wechat("标题\n2024-13-08 10:00:00 王磊\n您好\n", "chat.txt")
    assert str(caught.value).startswith("chat.txt:2: invalid date/time '2024-13-08 10:00:00'")
    assert "write times as YYYY-MM-DD HH:MM:SS" in str(caught.value)


# ---- the real samples -------------------------------------------------------------------------

def _sample(name: str):
    result = read_source(SAMPLES / name, reps=REPS)
    assert result.errors == ()
    [conversation] = result.conversations
    return conversation


def test_sample_discovery_chat_title_line_multiline_and_sticker():
    conversation = _sample("wechat_saas_d1001_1_discovery.txt")
    assert len(conversation.utterances) == 25
    assert _rows(conversation)[:4] == [
        (0, "rep", "王磊", "李女士您好，我是云栈CRM的王磊\n上次您在官网留言想了解客户管理系统，现在方便聊几句吗？", 0.0),
        (1, "customer", "李女士", "可以，你说", 87.0),
        (2, "rep", "王磊", "好的，谢谢李女士[微笑]\n我想先了解下您这边的情况，方便给您推荐合适的方案", 112.0),
        (3, "rep", "王磊", "您现在是怎么管理客户的呀？", 138.0),
    ]
    assert conversation.meta.started_at == datetime(2024, 5, 8, 10, 2, 13)
    assert conversation.meta.customer == "李女士"


def test_sample_wecom_layout():
    conversation = _sample("wecom_saas_d1001_3_closed.txt")
    assert len(conversation.utterances) == 19
    assert _rows(conversation)[:3] == [
        (0, "rep", "王磊", "李女士下午好，昨天跟赵总聊完，不知道他那边对方案有什么想法？", 0.0),
        (1, "customer", "李女士", "赵总看了报价，说功能没问题，就是有点贵", 925.0),
        (2, "customer", "李女士", "他让我问了下另外一家，人家21个账号一年才四万出头", 948.0),
    ]


def test_sample_media_codes_are_kept_as_messages():
    conversation = _sample("wechat_b2b_tax_lost.txt")
    assert _rows(conversation)[1:4] == [
        (1, "rep", "王磊", "小规模纳税人每月200起，一般纳税人每月600起\n还有社保代缴、发票代开，一站式服务", 12.0),
        (2, "rep", "王磊", "[图片]", 25.0),
        (3, "rep", "王磊", "[图片]", 30.0),
    ]
