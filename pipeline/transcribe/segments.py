"""From Whisper's segments and words to utterances: pure functions, no model needed.

Whisper's segments are not turns: one segment can run over several turns of a channel, and
sorting two channels' segments by start time then interleaves them wrongly. So utterances are
rebuilt from **words**: a new utterance starts at a pause longer than ``pause_s`` or after
sentence-final punctuation. Mandarin output is converted to Simplified characters (Whisper
often writes Traditional ones), and segments that look like Whisper's known hallucinations on
silence or music are dropped before anything else sees them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache

from pipeline.models import Word

# Lines Whisper is known to invent on silence, hold music or noise (it learned them from
# video subtitles). Matched after normalisation, as substrings.
KNOWN_HALLUCINATIONS: tuple[str, ...] = (
    "请不吝点赞", "点赞订阅", "订阅转发", "打赏支持", "明镜与点点", "字幕由", "字幕提供", "字幕志愿者",
    "谢谢观看", "感谢观看", "谢谢大家观看", "下次再见", "优优独播剧场", "amara.org", "作词", "作曲",
    "thank you for watching", "thanks for watching", "please subscribe", "subtitles by",
)
# A segment Whisper itself thinks is probably not speech, and whose text it was unsure of.
NO_SPEECH_PROB_DROP = 0.9
NO_SPEECH_PROB_UNSURE = 0.6
UNSURE_AVG_LOGPROB = -0.5
# Highly compressible text is a repetition loop ("问问问问…").
MAX_COMPRESSION_RATIO = 2.4
_SENTENCE_END = re.compile(r"[。！？!?…]$|(?<![0-9])\.$")


@dataclass(frozen=True)
class AsrSegment:
    """What Whisper returned for one segment, reduced to what the filters need."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 1.0


@dataclass(frozen=True)
class Turn:
    """A stretch of one channel's speech: becomes one utterance."""

    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...]


def _squash(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", text.lower())


def hallucination_reason(segment: AsrSegment, previous: AsrSegment | None = None) -> str | None:
    """Why a segment should be dropped, or None to keep it."""
    squashed = _squash(segment.text)
    if not squashed:
        return "empty"
    if any(_squash(phrase) in squashed for phrase in KNOWN_HALLUCINATIONS):
        return "known hallucination"
    if segment.compression_ratio > MAX_COMPRESSION_RATIO:
        return "repetition loop"
    if segment.no_speech_prob >= NO_SPEECH_PROB_DROP:
        return "no speech"
    if segment.no_speech_prob > NO_SPEECH_PROB_UNSURE and segment.avg_logprob < UNSURE_AVG_LOGPROB:
        return "probably no speech"
    if previous is not None:
        similarity = difflib.SequenceMatcher(None, _squash(previous.text), squashed).ratio()
        if similarity > 0.8:
            return "repeats the previous segment"
    return None


def drop_hallucinations(segments: list[AsrSegment]) -> tuple[list[AsrSegment], list[tuple[AsrSegment, str]]]:
    """Keep the real segments; return the dropped ones with their reason (logged, not lost)."""
    kept: list[AsrSegment] = []
    dropped: list[tuple[AsrSegment, str]] = []
    for segment in segments:
        reason = hallucination_reason(segment, kept[-1] if kept else None)
        if reason:
            dropped.append((segment, reason))
        else:
            kept.append(segment)
    return kept, dropped


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # the audio extra; only Mandarin transcripts need it

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC ``t2s``); other text is unchanged."""
    return _t2s().convert(text)


_FULL_WIDTH = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；"}
_ASCII_AFTER_HANZI = re.compile(r"(?<=[\u3400-\u9fff])([,?!:;])")


def chinese_punctuation(text: str) -> str:
    """Whisper writes ASCII punctuation in Mandarin ("您好,我是王磊。"); use the full-width
    forms a Chinese reader expects after a Chinese character."""
    return _ASCII_AFTER_HANZI.sub(lambda match: _FULL_WIDTH[match.group(1)], text)


def _join(words: list[Word]) -> str:
    # faster-whisper keeps the leading space of English words and none for Chinese.
    return "".join(word.text for word in words).strip()


def words_to_turns(words: list[Word], pause_s: float = 0.8, split_sentences: bool = True) -> list[Turn]:
    """Cut one channel's words into turns at pauses longer than ``pause_s`` and, with
    ``split_sentences``, after sentence-final punctuation (for mono audio, where the speaker
    may change at a sentence boundary with hardly a pause)."""
    turns: list[Turn] = []
    current: list[Word] = []
    for word in words:
        if current and (word.start_s - current[-1].end_s > pause_s
                        or (split_sentences and _SENTENCE_END.search(current[-1].text.strip()))):
            turns.append(Turn(current[0].start_s, current[-1].end_s, _join(current), tuple(current)))
            current = []
        current.append(word)
    if current:
        turns.append(Turn(current[0].start_s, current[-1].end_s, _join(current), tuple(current)))
    return [turn for turn in turns if turn.text]


def interleave(turns_by_role: dict[str, list[Turn]]) -> list[tuple[str, Turn]]:
    """One timeline from per-channel turns, ordered by start time (overlaps are kept: both
    turns stay, in the order they began)."""
    timeline = [(role, turn) for role, turns in turns_by_role.items() for turn in turns]
    return sorted(timeline, key=lambda item: (item[1].start_s, item[1].end_s))
