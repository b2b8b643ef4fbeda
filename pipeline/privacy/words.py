"""Redaction of word-level tokens (ASR words with timestamps) and of whole utterances.

A phone number is often split over many words ("一", "三", "八", … or " five", " five", …), so
words are never redacted one by one: personal data is found in the words' joined text, and every
word that overlaps a found span is rewritten. The first overlapping word carries the mask (after
any of its own text before the span), the others lose the span's characters — a word entirely
inside a span becomes the empty string — and every timestamp stays as it was. Joining the new
words the same way gives the redacted joined text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.models import Utterance, Word
from pipeline.privacy.config import RedactionConfig
from pipeline.privacy.redact import _redacted_pieces, redact_with


def _text(word: Any) -> str:
    return word["text"] if isinstance(word, Mapping) else word.text


def _needs_space(left: str, right: str) -> bool:
    """Whisper's English words carry their leading space; words from elsewhere may not. Put a
    space between two words only where Latin text would run together ("five" + "five"); digits
    meet digits without one (a number split over words), Chinese never has one."""
    if not left or not right or left[-1].isspace() or right[0].isspace():
        return False
    a, b = left[-1], right[0]
    latin = (a.isascii() and a.isalpha(), b.isascii() and b.isalpha())
    alnum = (a.isascii() and a.isalnum(), b.isascii() and b.isalnum())
    return any(latin) and all(alnum)


def join_words(words: Sequence[Any]) -> tuple[str, list[tuple[int, int]]]:
    """The words' joined text and each word's ``(start, end)`` in it."""
    pieces: list[str] = []
    bounds: list[tuple[int, int]] = []
    position = 0
    previous = ""
    for word in words:
        text = _text(word) or ""
        if pieces and _needs_space(previous, text):
            pieces.append(" ")
            position += 1
        bounds.append((position, position + len(text)))
        pieces.append(text)
        position += len(text)
        previous = text if text else previous
    return "".join(pieces), bounds


def _with_text(word: Any, text: str) -> Any:
    if isinstance(word, Mapping):
        return {**word, "text": text}
    if dataclasses.is_dataclass(word) and not isinstance(word, type):
        return dataclasses.replace(word, text=text)
    return Word(float(word.start_s), float(word.end_s), text, float(getattr(word, "probability", 1.0)))


def redact_words(words: Sequence[Any], config: RedactionConfig, names: Sequence[str] = ()) -> list[Any]:
    """New word records with the personal data of their joined text redacted.

    ``words``: :class:`~pipeline.models.Word` records, dicts, or any objects with ``text``,
    ``start_s`` and ``end_s``. Returns records of the same kind (dicts stay dicts, dataclasses are
    copied with :func:`dataclasses.replace`, other objects become :class:`Word`), one per input
    word, timestamps unchanged. The language of ``lang="auto"`` is decided on the joined text
    (one utterance). ``mode="off"`` returns the words as they are (in a new list).
    """
    words = list(words)
    if config.mode == "off" or not words:
        return words
    joined, bounds = join_words(words)
    pieces = _redacted_pieces(joined, config, names)
    if not pieces:
        return words
    # The first word that overlaps a span carries its mask (a span may begin in the space put
    # between two words).
    carrier = {}
    for index, (start, end) in enumerate(bounds):
        for piece in pieces:
            if piece[0] < end and piece[1] > start:
                carrier.setdefault(piece, index)
    out = []
    for index, (word, (start, end)) in enumerate(zip(words, bounds, strict=True)):
        text = joined[start:end]
        overlapping = [piece for piece in pieces if carrier.get(piece) == index
                       or (piece[0] < end and piece[1] > start)]
        if not overlapping:
            out.append(word)
            continue
        rebuilt, position = [], start
        for piece in overlapping:
            span_start, span_end, replacement = piece
            rebuilt.append(joined[position:max(position, span_start)])
            if carrier[piece] == index:
                rebuilt.append(replacement)
            position = max(position, min(end, span_end))
        rebuilt.append(joined[position:end])
        new_text = "".join(rebuilt)
        out.append(word if new_text == text else _with_text(word, new_text))
    return out


def redact_utterance(utterance: Utterance, config: RedactionConfig, names: Sequence[str] = ()) -> Utterance:
    """``utterance`` with its text and its words redacted (:func:`redact_with`, :func:`redact_words`)."""
    if config.mode == "off":
        return utterance
    return dataclasses.replace(utterance, text=redact_with(utterance.text, config, names),
                               words=tuple(redact_words(utterance.words, config, names)))
