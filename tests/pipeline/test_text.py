"""Text normalisation, cue matching, language detection and content words (pipeline/text.py)."""

import pytest

from pipeline.text import CueSet, content_words, cue_regex, detect_language, has_cjk, normalize, text_length


@pytest.mark.parametrize("raw, normalized", [
    ("ＨＥＬＬＯ，　Ｗｏｒｌｄ！", "hello, world!"),  # full-width letters, comma, space, exclamation
    ("价格１２３元？", "价格123元?"),
    ("Ｉ'ｍ ＣＲＭ", "i'm crm"),
    ("好的，谢谢李女士[微笑]\n我想先了解下", "好的,谢谢李女士 我想先了解下"),
    ("[图片]", ""),
    ("Sounds good [Smile] see you", "sounds good see you"),
    ("  多个   空格\t\n换行  ", "多个 空格 换行"),
    ("[这是一段很长的括号内容]", "[这是一段很长的括号内容]"),  # longer than a chat code
    ("[a b]", "[a b]"),  # a space: not a chat code
])
def test_normalize(raw, normalized):
    assert normalize(raw) == normalized


@pytest.mark.parametrize("raw, normalized", [
    ("2650[捂脸]", "2650[捂脸]"),  # the sticker is the evaluation of the figure
    ("9360[裂开] [图片]", "9360[裂开]"),  # an attachment says nothing about the price
    ("Sounds good [Smile] see you [Photo]", "sounds good [smile] see you"),
    ("收到[文件][OK]", "收到 [ok]"),
])
def test_normalize_keeping_stickers_drops_only_media(raw, normalized):
    assert normalize(raw, stickers=True) == normalized


@pytest.mark.parametrize("cue, text, found", [
    ("hi", "hi sarah", True),
    ("hi", "oh, hi!", True),
    ("hi", "this is emily", False),  # not inside "this"
    ("hi", "high time", False),
    ("hi", "hi2u", False),
    ("price", "the price is high", True),
    ("price", "our prices are high", False),
    ("good time", "is this a good time?", True),
    ("good time", "a good timeline", False),
    ("i'm", "i'm calling about", True),
    ("ok", "ok好的", True),  # English cue beside Chinese text (code-switching)
    ("太贵", "这个太贵了", True),  # Chinese cues are substrings
    ("太贵", "不太贵", True),
    ("贵", "价格偏贵了吧", True),
    ("ＣＲＭ", "我们的crm系统", True),  # cues are normalised too
    ("4s店", "天河4s店的陈晨", True),
])
def test_cue_matching(cue, text, found):
    assert bool(cue_regex(cue).search(normalize(text))) is found


def test_cue_regex_escapes_special_characters():
    assert cue_regex("c++").search("we use c++ daily")
    assert not cue_regex("a.b").search("axb")


def test_cue_set_returns_labels_in_configuration_order():
    cues = CueSet(cues=("太贵", "hi", "price"), patterns=(r"(最多|只能).{0,6}[0-9]+", r"\bdiscount\b"))
    assert cues.match(normalize("Hi! 这个太贵了，预算最多只能5万，any discount?")) == ("太贵", "hi", "re:最多只能5", "re:discount")
    assert cues.match("this is fine") == ()
    assert bool(cues) is True
    assert bool(CueSet()) is False
    assert bool(CueSet(patterns=("x",))) is True


def test_cue_set_finds_what_each_cue_finds_alone():
    # match() first tries all cues as one alternation; it must not lose a cue the alternation
    # consumed the text of ("太贵" inside "不太贵了"), nor an English cue's word boundaries.
    sop_cues = CueSet(cues=("不太", "太贵", "贵了", "ok", "good time", "c++", "price"))
    for text in ["不太贵了", "ok好的", "a good timeline", "is this a good time? c++ price", "okay", "", "价格"]:
        alone = tuple(cue for cue in sop_cues.cues if cue_regex(cue).search(normalize(text)))
        assert sop_cues.match(normalize(text)) == alone, text


def test_cue_set_remembers_recent_answers_without_changing_them(monkeypatch):
    import pipeline.text

    monkeypatch.setattr(pipeline.text, "_RECENT_TEXTS", 2)
    cues = CueSet(cues=("太贵",))
    assert cues == CueSet(cues=("太贵",)) and hash(cues) == hash(CueSet(cues=("太贵",)))
    answers = [cues.match(text) for text in ["太贵了", "还行", "太贵了", "真太贵", "还行", "太贵了"]]
    assert answers == [("太贵",), (), ("太贵",), ("太贵",), (), ("太贵",)]
    assert len(cues._recent) <= 2  # bounded: cleared when full
    assert "_recent" not in repr(cues)


@pytest.mark.parametrize("texts, language", [
    (["您好，我是云栈CRM的王磊"], "zh"),
    (["Hi Sarah, this is Emily from YunZhan CRM."], "en"),
    (["我们的SaaS CRM支持API对接"], "zh"),  # Chinese with English product names
    (["Hello 你好 world how are you today"], "en"),  # a couple of Chinese characters in English
    (["一二", "abcdefgh"], "zh"),  # exactly 20% Chinese
    (["一", "abcdefghi"], "en"),  # 10%
    ([], "zh"),  # nothing to go on: the default
    (["123 ... !!!"], "zh"),
])
def test_detect_language(texts, language):
    assert detect_language(texts) == language


def test_has_cjk_and_text_length():
    assert has_cjk("ok 好") and not has_cjk("ok, fine!")
    assert text_length("你好 世界！", "zh") == 5
    assert text_length("hello  big\nworld", "en") == 3


def test_content_words_chinese_are_segmented_and_generic_words_dropped():
    assert content_words("我们现在用表格管理客户，经常丢失客户信息") == {"表格", "管理", "客户", "丢失", "信息"}


def test_content_words_english_drop_stop_words_short_words_and_numbers():
    assert content_words("We need a better pipeline tracking tool for the 12 reps") == {
        "better", "pipeline", "tracking", "tool", "reps"}


def test_content_words_ignore_chat_codes_and_case():
    assert content_words("Pipeline [Smile] PIPELINE pipeline") == {"pipeline"}


def test_clock_time_pattern_of_next_step_works_next_to_chinese():
    from pathlib import Path

    from pipeline.sop import load_sop

    next_step = load_sop(Path(__file__).resolve().parents[2] / "configs" / "sop.yaml").node("next_step")
    assert "re:3pm" in next_step.cues.match(normalize("明天3pm见，我把demo账号发你"))
    assert not any(hit.startswith("re:") and "pm" in hit for hit in next_step.cues.match(normalize("rpm 3000")))
