"""Pure post-processing of Whisper output: filters, turns, Simplified text, error rates."""

import pytest

from pipeline.models import Word
from pipeline.transcribe.accuracy import cer, wer
from pipeline.transcribe.segments import (
    AsrSegment,
    Turn,
    drop_hallucinations,
    hallucination_reason,
    interleave,
    to_simplified,
    words_to_turns,
)


def _segment(text, start=0.0, end=1.0, no_speech=0.1, logprob=-0.2, ratio=1.0):
    return AsrSegment(start, end, text, (), no_speech, logprob, ratio)


@pytest.mark.parametrize(("segment", "reason"), [
    (_segment("广州市房地产中介协会分析。"), None),
    (_segment("请不吝点赞 订阅 转发 打赏支持明镜与点点栏目"), "known hallucination"),
    (_segment("Thanks for watching!"), "known hallucination"),
    (_segment("作词作作曲"), "known hallucination"),  # seen here on badly resampled 8 kHz audio
    (_segment("请问问问问问问问问问问", ratio=33.4), "repetition loop"),
    (_segment("室佛地产中间协会分析。", no_speech=0.99, logprob=-0.75), "no speech"),
    (_segment("嗯", no_speech=0.7, logprob=-0.9), "probably no speech"),
    (_segment("  。 "), "empty"),
])
def test_hallucination_reasons(segment, reason):
    assert hallucination_reason(segment) == reason


def test_a_segment_repeating_the_previous_one_is_dropped_and_reported():
    first = _segment("您好我是云栈CRM的王磊", 0, 2)
    repeat = _segment("您好，我是云栈CRM的王磊。", 2, 3)
    different = _segment("现在方便吗", 3, 4)
    kept, dropped = drop_hallucinations([first, repeat, different])
    assert kept == [first, different]
    assert dropped == [(repeat, "repeats the previous segment")]


def _words(*items):
    return [Word(start, end, text) for start, end, text in items]


def test_turns_split_at_long_pauses_and_sentence_ends():
    words = _words((0.0, 0.4, "您好"), (0.4, 0.9, "，我是王磊。"), (1.0, 1.5, "现在"), (1.5, 2.0, "方便吗"),
                   (3.2, 3.6, "可以"))
    turns = words_to_turns(words, pause_s=0.8)
    assert [(t.start_s, t.end_s, t.text) for t in turns] == [
        (0.0, 0.9, "您好，我是王磊。"), (1.0, 2.0, "现在方便吗"), (3.2, 3.6, "可以")]
    merged = words_to_turns(words, pause_s=0.8, split_sentences=False)
    assert [t.text for t in merged] == ["您好，我是王磊。现在方便吗", "可以"]


def test_english_words_keep_their_spaces():
    words = _words((0.0, 0.3, " Hello"), (0.3, 0.6, " there."), (2.0, 2.4, " Hi"))
    assert [t.text for t in words_to_turns(words)] == ["Hello there.", "Hi"]


def test_interleave_orders_turns_of_both_channels_by_start_and_keeps_overlaps():
    rep = [Turn(0.0, 3.0, "a", ()), Turn(5.0, 6.0, "c", ())]
    customer = [Turn(2.5, 4.0, "b", ())]
    assert [(role, t.text) for role, t in interleave({"rep": rep, "customer": customer})] == [
        ("rep", "a"), ("customer", "b"), ("rep", "c")]


def test_traditional_output_becomes_simplified():
    assert to_simplified("廣州市房地產中介協會分析") == "广州市房地产中介协会分析"
    assert to_simplified("Hello 123") == "Hello 123"


def test_mandarin_gets_full_width_punctuation_english_keeps_its_own():
    from pipeline.transcribe.segments import chinese_punctuation

    assert chinese_punctuation("您好,我是王磊,现在方便吗?") == "您好，我是王磊，现在方便吗？"
    assert chinese_punctuation("Hi, is this Sam?") == "Hi, is this Sam?"


def test_error_rates_normalise_case_script_and_punctuation():
    assert cer("广州市房地产中介协会分析", "廣州市佛地产中间协会分析。") == pytest.approx(2 / 12)
    assert wer("ASK NOT WHAT YOUR COUNTRY", "Ask not, what your country!") == 0.0
    assert wer("a b c d", "a x c") == pytest.approx(2 / 4)
