"""Character and word error rates, the way docs/asr.md reports them.

Both sides are normalised first (references often have no punctuation and another case):
NFKC, lower case, Traditional → Simplified, punctuation and spaces removed for CER.
"""

from __future__ import annotations

import re
import unicodedata


def _edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    previous = list(range(len(hypothesis) + 1))
    for i, ref_item in enumerate(reference, start=1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp_item in enumerate(hypothesis, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_item != hyp_item))
        previous = current
    return previous[-1]


def normalize_for_scoring(text: str) -> str:
    """NFKC, lower case, Simplified characters, punctuation replaced by spaces."""
    from pipeline.transcribe.segments import to_simplified

    text = to_simplified(unicodedata.normalize("NFKC", text).lower())
    return re.sub(r"[^\w\s']|_", " ", text)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate over non-space characters (the usual metric for Mandarin)."""
    ref = list(re.sub(r"\s+", "", normalize_for_scoring(reference)))
    hyp = list(re.sub(r"\s+", "", normalize_for_scoring(hypothesis)))
    return _edit_distance(ref, hyp) / max(1, len(ref))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate over white-space separated words (for English)."""
    ref = normalize_for_scoring(reference).split()
    hyp = normalize_for_scoring(hypothesis).split()
    return _edit_distance(ref, hyp) / max(1, len(ref))
