"""Encoding detection (pipeline/ingest/encoding.py): UTF-8, BOMs, GBK/GB18030, Big5, and refusals."""

import codecs
import random
from pathlib import Path

import pytest

from pipeline.ingest import IngestError, load_rep_directory, read_source
from pipeline.ingest.encoding import decode_bytes, read_text

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "samples"
REPS = load_rep_directory(ROOT / "configs" / "reps.yaml")

CHAT = "与周先生的聊天记录\n\n2024-04-11 14:03:27 张敏\n周先生您好，我是安和保险经纪的张敏\n\n2024-04-11 14:10:52 周先生\n方便，刚开完会\n"
UTF8_FIX = "re-save the file as UTF-8 (in Excel: 'CSV UTF-8'; in Notepad: Save as → UTF-8)"


@pytest.mark.parametrize("data, encoding", [
    (CHAT.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + CHAT.encode("utf-8"), "utf-8-sig"),
    (CHAT.encode("utf-16"), "utf-16"),  # Python writes a BOM for "utf-16"
    (CHAT.encode("gbk"), "gb18030"),
    (CHAT.encode("gb18030"), "gb18030"),
    (CHAT.encode("gb2312"), "gb18030"),
], ids=["utf8", "utf8_bom", "utf16_bom", "gbk", "gb18030", "gb2312"])
def test_decodes_each_supported_encoding_exactly(data, encoding):
    assert decode_bytes(data, "chat.txt") == (CHAT, encoding)


# Short GBK texts: the free-running detector called these cp949 (refused) or Big5 (garbled:
# "你好" came back as "斕疑"). They must decode exactly.
@pytest.mark.parametrize("text", [
    "你好",
    "好的",
    "价格太贵了",
    "李女士您好",
    "speaker,text\n王磊,您好\n李女士,太贵了\n",
    "conversation_key,speaker,role,text\nc1,王磊,销售,您好\nc1,李女士,客户,你好\n",
], ids=["nihao", "haode", "taigui", "greeting", "csv", "csv_with_roles"])
def test_short_gbk_texts_decode_exactly(text):
    assert decode_bytes(text.encode("gbk"), "short.csv") == (text, "gb18030")


def test_traditional_chinese_big5_is_read_as_big5():
    text = "這個價格太貴了，謝謝"
    assert decode_bytes(text.encode("big5"), "tw.txt") == (text, "big5")


def test_gbk_characters_outside_gb2312_survive():
    text = "王喆您好，我是张敏，想跟您约个时间。"  # 喆 is GBK, not GB2312
    assert decode_bytes(text.encode("gbk"), "chat.txt") == (text, "gb18030")


@pytest.mark.parametrize("data", [
    bytes(range(1, 256)),
    b"\x89PNG\r\n\x1a\n" + bytes(range(128, 256)),
    b"\x01\x02\x80\x81\xfe\xff" * 50,
    "こんにちは世界、価格が高すぎます".encode("shift_jis"),
    "Größe café naïve".encode("latin-1"),
], ids=["all_bytes", "png", "binary_noise", "shift_jis", "latin1"])
def test_undecodable_bytes_are_refused_with_the_file_and_a_fix(data):
    with pytest.raises(IngestError) as caught:
        decode_bytes(data, "mystery.txt")
    error = caught.value
    assert (error.path, error.stage, error.fix) == ("mystery.txt", "read", UTF8_FIX)
    assert error.problem.startswith("the file is not valid UTF-8 (byte ")
    assert "could not be detected as a Chinese encoding" in error.problem
    assert str(error).startswith("mystery.txt: the file is not valid UTF-8")


NUL_FIX = "export the conversation again as a text file (UTF-8)"


@pytest.mark.parametrize("data, problem", [
    (bytes(range(256)), "the file holds NUL bytes (the first at byte 0, line 1)"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64) + bytes(range(128, 256)), "the file holds NUL bytes (the first at byte 8, line 3)"),
    (b"\x00\x01\x02\x80\x81\xfe\xff" * 50, "the file holds NUL bytes (the first at byte 0, line 1)"),
    (CHAT.encode("utf-8") + bytes(512), "the file holds NUL bytes (the first at byte 161, line 8)"),  # padded
], ids=["all_bytes", "png", "binary_noise", "nul_padding"])
def test_nul_bytes_mean_binary_or_damaged(data, problem):
    with pytest.raises(IngestError) as caught:
        decode_bytes(data, "mystery.txt")
    assert (caught.value.path, caught.value.stage, caught.value.fix) == ("mystery.txt", "read", NUL_FIX)
    assert caught.value.problem == f"{problem}: it is binary or damaged, not a text export"


def test_random_binary_file_is_refused(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(7).randbytes(4096))
    with pytest.raises(IngestError) as caught:
        read_source(path, reps=REPS)
    assert caught.value.path == str(path)
    assert caught.value.fix == NUL_FIX


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_named(encoding):
    with pytest.raises(IngestError) as caught:
        decode_bytes(CHAT.encode(encoding), "chat.txt")
    assert (caught.value.problem, caught.value.fix) == ("the file looks like UTF-16 without a byte order mark", UTF8_FIX)


MIXED_FIX = ("re-save the whole file in one encoding, preferably UTF-8 (re-export it, or fix the lines that show "
             "garbled characters in an editor)")


@pytest.mark.parametrize("data, lines", [
    (CHAT.encode("utf-8") + "2024-04-11 14:12:00 周先生\n价格太贵了\n".encode("gbk"), (1, 8)),
    # The detector alone read this one as GB18030, garbling the UTF-8 line.
    ("你好\n".encode("utf-8") + "价格太贵了\n".encode("gbk"), (1, 2)),
    ("价格太贵了\n".encode("gbk") + "你好\n".encode("utf-8"), (2, 1)),
], ids=["utf8_then_gbk", "short", "gbk_then_utf8"])
def test_mixed_encodings_name_the_lines(data, lines):
    with pytest.raises(IngestError) as caught:
        decode_bytes(data, "chat.txt")
    assert caught.value.problem == f"the file mixes encodings: line {lines[0]} is UTF-8 but line {lines[1]} is not"
    assert caught.value.fix == MIXED_FIX


def test_truncated_utf16_is_an_ingest_error_not_a_crash():
    with pytest.raises(IngestError) as caught:
        decode_bytes(codecs.BOM_UTF16_LE + "您好".encode("utf-16-le") + b"\x00", "chat.txt")
    assert caught.value.problem == "the file starts with a UTF-16 byte order mark but byte 6 is not valid UTF-16"
    assert caught.value.fix == "re-save the file as UTF-8"


def test_invalid_utf8_after_a_utf8_bom_is_an_ingest_error_not_a_crash():
    with pytest.raises(IngestError) as caught:
        decode_bytes(codecs.BOM_UTF8 + "ok 您好".encode("gbk"), "chat.txt")
    assert caught.value.problem == ("the file starts with a UTF-8 byte order mark but byte 6 is not valid UTF-8 "
                                    "(mixed encodings in one file?)")
    assert caught.value.fix == "re-save the whole file in one encoding, preferably UTF-8"


@pytest.mark.parametrize("content, problem", [(b"", "the file is empty"), (b" \n\t\n", "the file is empty")])
def test_empty_file(tmp_path, content, problem):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(IngestError) as caught:
        read_text(path)
    assert (caught.value.path, caught.value.problem, caught.value.fix) == (
        str(path), problem, "export the conversation again")


def test_missing_file(tmp_path):
    with pytest.raises(IngestError) as caught:
        read_text(tmp_path / "gone.txt")
    assert caught.value.problem == "cannot read the file (No such file or directory)"
    assert caught.value.fix == "check that it exists and that Keynode may read it"


@pytest.mark.parametrize("links, problem", [
    ({"chat.txt": "gone.txt"}, "it is a symbolic link to gone.txt, which cannot be read (No such file or directory)"),
    ({"chat.txt": "other.txt", "other.txt": "chat.txt"},
     "it is a symbolic link to other.txt, which cannot be read (Too many levels of symbolic links)"),
], ids=["broken", "loop"])
def test_broken_or_looping_symlink(tmp_path, links, problem):
    for name, target in links.items():
        (tmp_path / name).symlink_to(target)
    with pytest.raises(IngestError) as caught:
        read_text(tmp_path / "chat.txt")
    assert (caught.value.problem, caught.value.fix) == (problem, "point the link at the export or remove it")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_wechat_export_in_each_encoding_reads_the_same(tmp_path, encoding):
    path = tmp_path / "chat.txt"
    path.write_bytes(CHAT.encode(encoding))
    [conversation] = read_source(path, reps=REPS).conversations
    assert [(u.speaker_role, u.speaker_name, u.text, u.start_s) for u in conversation.utterances] == [
        ("rep", "张敏", "周先生您好，我是安和保险经纪的张敏", 0.0),
        ("customer", "周先生", "方便，刚开完会", 445.0),
    ]


def test_gbk_csv_with_chinese_header(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("发送人,角色,内容\n王磊,销售,您好\n李女士,客户,太贵了\n".encode("gbk"))
    [conversation] = read_source(path, reps=REPS).conversations
    assert [(u.speaker_role, u.speaker_name, u.text) for u in conversation.utterances] == [
        ("rep", "王磊", "您好"), ("customer", "李女士", "太贵了")]


def test_sample_gbk_export():
    path = SAMPLES / "wechat_insurance_gbk.txt"
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the sample really is not UTF-8
    text, encoding = read_text(path)
    assert encoding == "gb18030"
    assert text.startswith("与周先生的聊天记录\n")

    [conversation] = read_source(path, reps=REPS).conversations
    assert len(conversation.utterances) == 21
    first, second = conversation.utterances[:2]
    assert (first.speaker_name, first.text) == (
        "张敏", "周先生您好，我是安和保险经纪的张敏\n"
                "您上周在我们公众号做了家庭保障测评，结果里重疾这块是空白，想跟您简单沟通一下，现在方便吗？")
    assert (second.speaker_name, second.text, second.start_s) == ("周先生", "方便，刚开完会", 445.0)


def test_sample_utf8_bom_export():
    path = SAMPLES / "wechat_saas_d1001_2_demo_bom.txt"
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    text, encoding = read_text(path)
    assert encoding == "utf-8-sig"
    assert text.startswith("2024-05-13 14:30:05 王磊\n")  # no BOM left to hide the first header

    [conversation] = read_source(path, reps=REPS).conversations
    assert [(u.speaker_name, u.text) for u in conversation.utterances[:2]] == [
        ("王磊", "李女士，周五演示的录屏和PPT发您了，您有空看下"), ("王磊", "[文件]")]
