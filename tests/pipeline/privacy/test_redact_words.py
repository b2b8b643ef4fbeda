"""Word-level redaction: ASR words with timestamps (pipeline/privacy/words.py)."""

from dataclasses import dataclass

from pipeline.models import Utterance, Word
from pipeline.privacy import RedactionConfig, join_words, redact_utterance, redact_with, redact_words

MASK = RedactionConfig()
AUTO = RedactionConfig(lang="auto")


def words_of(texts, start=0.0, step=0.3):
    return [Word(round(start + i * step, 3), round(start + i * step + 0.25, 3), text, 0.9) for i, text in enumerate(texts)]


def test_a_spoken_number_split_over_eleven_one_digit_words():
    words = words_of(["我", "电话", "是", *"一三八一二三四五六七八", "吧"])
    redacted = redact_words(words, MASK)
    assert [w.text for w in redacted] == ["我", "电话", "是", "[手机号]", *[""] * 10, "吧"]
    # timestamps, probabilities and the number of words are kept
    assert [(w.start_s, w.end_s, w.probability) for w in redacted] == [(w.start_s, w.end_s, w.probability) for w in words]
    assert all(isinstance(w, Word) for w in redacted)


def test_eleven_arabic_digit_words_run_together_as_one_number():
    words = words_of(list("13812345678"))
    assert join_words(words)[0] == "13812345678"
    assert [w.text for w in redact_words(words, MASK)] == ["[手机号]"] + [""] * 10


def test_english_words_read_out_with_whisper_spaces():
    words = words_of([" Call", " me", " at", " four", " one", " five", " five", " five", " five", " oh", " one",
                      " oh", " oh", "."])
    redacted = redact_words(words, AUTO)
    assert [w.text for w in redacted] == [" Call", " me", " at", " [PHONE]", *[""] * 9, "."]


def test_english_words_without_spaces_get_one_between_them():
    words = [{"text": text, "start_s": i, "end_s": i + 0.5} for i, text in
             enumerate(["my", "number", "is", "five", "five", "five", "one", "two", "three", "four", "five", "six",
                        "seven"])]
    assert join_words(words)[0] == "my number is five five five one two three four five six seven"
    redacted = redact_words(words, AUTO)
    assert [w["text"] for w in redacted] == ["my", "number", "is", "[PHONE]"] + [""] * 9
    assert [(w["start_s"], w["end_s"]) for w in redacted] == [(w["start_s"], w["end_s"]) for w in words]
    assert words[3]["text"] == "five"  # the input is not changed


def test_an_email_split_over_words():
    words = [{"text": text, "start_s": i, "end_s": i + 0.5, "speaker": "customer"} for i, text in
             enumerate([" My", " email", " is", " sarah", ".", "chen", "@", "acme", ".", "io", ",", " thanks"])]
    redacted = redact_words(words, AUTO)
    assert [w["text"] for w in redacted] == [" My", " email", " is", " [EMAIL]", "", "", "", "", "", "", ",", " thanks"]
    assert all(w["speaker"] == "customer" for w in redacted)  # other keys kept


def test_an_email_read_out_over_chinese_words():
    words = words_of(["邮箱", "是", "zhangsan", "艾特", "qq", "点", "com", "谢谢"])
    assert [w.text for w in redact_words(words, MASK)] == ["邮箱", "是", "[邮箱]", "", "", "", "", "谢谢"]


def test_a_word_that_holds_more_than_the_personal_data_keeps_the_rest():
    words = words_of(["电话是138", "1234", "5678吧", "好的"])
    assert [w.text for w in redact_words(words, MASK)] == ["电话是[手机号]", "", "吧", "好的"]


def test_two_spans_in_one_word():
    words = words_of(["13812345678和13912345678", "都行"])
    assert [w.text for w in redact_words(words, MASK)] == ["[手机号]和[手机号]", "都行"]


def test_joined_words_redact_like_the_text():
    words = words_of(["李总", "您", "好", "卡号", "6222", "0202", "0000", "1234", "562", "好的"])
    joined, _ = join_words(words)
    redacted = redact_words(words, MASK, names=["李建国"])
    assert join_words(redacted)[0] == redact_with(joined, MASK, names=["李建国"])


def test_hash_mode_and_off_mode():
    words = words_of(list("一三八一二三四五六七八"))
    hashed = redact_words(words, RedactionConfig(mode="hash"))
    assert hashed[0].text == redact_with("13812345678", RedactionConfig(mode="hash")) and hashed[1].text == ""
    assert redact_words(words, RedactionConfig(mode="off")) == words
    assert redact_words([], MASK) == []


def test_words_without_personal_data_are_returned_as_they_are():
    words = words_of(["价格", "是", "九千八", "一年"])
    assert redact_words(words, MASK) == words


def test_other_objects_with_text_and_times():
    @dataclass
    class Token:  # a dataclass of another shape is copied with replace
        text: str
        start_s: float
        end_s: float
        speaker: str = "rep"

    class Plain:
        def __init__(self, text, start_s, end_s):
            self.text, self.start_s, self.end_s = text, start_s, end_s

    tokens = [Token(t, i, i + 1) for i, t in enumerate(["138", "1234", "5678"])]
    assert [t.text for t in redact_words(tokens, MASK)] == ["[手机号]", "", ""]
    assert all(isinstance(t, Token) for t in redact_words(tokens, MASK))
    plain = redact_words([Plain("号码", 0, 1), Plain("13812345678", 1, 2)], MASK)
    assert plain[1] == Word(1.0, 2.0, "[手机号]", 1.0)


def test_redact_utterance_redacts_text_and_words():
    words = tuple(words_of(["我", "是", "李", "总", "电话", *"13812345678"]))
    utterance = Utterance(3, "customer", "李建国", "我是李总电话13812345678", 1.0, 4.5, None, words)
    redacted = redact_utterance(utterance, AUTO, names=["李建国"])
    assert redacted.text == "我是[姓名]电话[手机号]"
    assert [w.text for w in redacted.words] == ["我", "是", "[姓名]", "", "电话", "[手机号]"] + [""] * 10
    assert (redacted.index, redacted.start_s, redacted.end_s, redacted.speaker_name) == (3, 1.0, 4.5, "李建国")
