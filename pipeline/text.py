"""Text normalisation and cue matching shared by the tagger and the scorer.

Cues come from ``configs/sop.yaml``. A cue containing a CJK character matches as a substring
(Chinese has no spaces to anchor on); any other cue matches whole words only, so "hi" does not
fire inside "this". Both kinds are tried on every utterance, because sales chats code-switch.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# WeChat renders stickers and media as bracketed codes: [微笑], [图片], [Smile].
_CHAT_CODE = re.compile(r"\[[^\[\]\s]{1,6}\]")
#: Codes that stand for an attachment, not for how the writer feels: dropped even where the
#: stickers are kept (lower-case: they are matched after folding).
MEDIA_CODES = frozenset({"图片", "文件", "位置", "链接", "语音", "视频", "表情", "动画表情", "红包", "转账", "名片",
                         "小程序", "image", "photo", "picture", "link", "file", "video", "voice", "location",
                         "sticker", "emoji"})


def has_cjk(text: str) -> bool:
    """True when the text holds at least one Chinese character."""
    return bool(_CJK.search(text))


def normalize(text: str, stickers: bool = False) -> str:
    """Fold full-width forms (NFKC), lower-case, drop chat codes and squeeze white space; with
    ``stickers``, keep the sticker codes ([捂脸], [流泪]) and drop only :data:`MEDIA_CODES`."""
    folded = unicodedata.normalize("NFKC", text).lower()
    folded = _CHAT_CODE.sub(lambda code: code[0] if stickers and code[0][1:-1] not in MEDIA_CODES else " ", folded)
    return re.sub(r"\s+", " ", folded).strip()


def detect_language(texts: list[str] | tuple[str, ...]) -> str:
    """``zh`` when at least 20% of the letters are Chinese characters, else ``en``."""
    joined = "".join(texts)
    cjk = len(_CJK.findall(joined))
    latin = len(re.findall(r"[A-Za-z]", joined))
    if cjk + latin == 0:
        return "zh"
    # Chinese chats carry English product names ("CRM", "SaaS"); one Chinese character
    # carries about as much as a whole English word, hence the low threshold.
    return "zh" if cjk / (cjk + latin) >= 0.2 else "en"


def text_length(text: str, language: str) -> int:
    """Length in the unit scoring uses: characters for Chinese, words for English."""
    if language == "zh":
        return len(re.sub(r"\s", "", text))
    return len(text.split())


@lru_cache(maxsize=4096)
def cue_regex(cue: str) -> re.Pattern[str]:
    """Compile one cue phrase the way :func:`normalize` d text is matched."""
    cue = normalize(cue)
    if has_cjk(cue):
        return re.compile(re.escape(cue))
    return re.compile(r"(?<![a-z0-9'])" + re.escape(cue) + r"(?![a-z0-9])")


#: Texts whose matches a cue set remembers (a long call's utterances, a few MB at most).
_RECENT_TEXTS = 4_096


@dataclass(frozen=True)
class CueSet:
    """Phrases and regular expressions that signal one thing (a node, a key point, a marker).

    ``match`` returns the labels that fired: the cue itself, or ``re:<matched text>`` for a
    pattern; labels are what the UI shows as evidence.
    """

    cues: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    def __post_init__(self):
        # The rules, the learned tagger's features and the scorer ask the same cue set about the
        # same utterance: the answers of the last texts are kept (not a field: no part of equality).
        object.__setattr__(self, "_recent", {})

    def match(self, normalized_text: str) -> tuple[str, ...]:
        """Every cue and pattern found in already-normalised text, in configuration order."""
        recent = self._recent
        hits = recent.get(normalized_text)
        if hits is None:
            if len(recent) >= _RECENT_TEXTS:
                recent.clear()
            hits = recent[normalized_text] = self._search(normalized_text)
        return hits

    def _search(self, normalized_text: str) -> tuple[str, ...]:
        # Most texts match none of a node's cues: one pass of their alternation rules that out
        # before each cue is tried on its own (tagging time was mostly these searches).
        hits = ([cue for cue in self.cues if cue_regex(cue).search(normalized_text)]
                if self.cues and _any_cue(self.cues).search(normalized_text) else [])
        for pattern in self.patterns:
            found = _pattern(pattern).search(normalized_text)
            if found:
                # The matched text reads better as evidence than the pattern itself.
                hits.append(f"re:{found.group(0).strip()}")
        return tuple(hits)

    def __bool__(self) -> bool:
        return bool(self.cues or self.patterns)


@lru_cache(maxsize=1024)
def _any_cue(cues: tuple[str, ...]) -> re.Pattern[str]:
    """One expression that matches wherever any of ``cues`` does (see :func:`cue_regex`)."""
    return re.compile("|".join(f"(?:{cue_regex(cue).pattern})" for cue in cues))


@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@lru_cache(maxsize=2)
def _tokenizer(language: str):
    # spaCy is imported lazily: the board and the CLI's --help should not pay for it.
    import spacy

    if language == "zh":
        # jieba segmentation ships with its dictionary; no model download is involved.
        return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    return spacy.blank("en")


# Words that carry no need of their own in sales talk, beyond spaCy's stop lists.
_GENERIC_WORDS = frozenset({"我们", "你们", "您们", "这个", "那个", "就是", "现在", "然后", "可以", "一下",
                            "什么", "怎么", "这样", "还是", "没有", "一个", "比较", "主要", "目前",
                            "need", "want", "like", "just", "really", "right", "yeah", "okay"})


@lru_cache(maxsize=8192)  # the scorer asks again for each node that checks a customer's needs
def content_words(text: str) -> frozenset[str]:
    """Words that carry meaning (spaCy tokens; Chinese segmented by jieba), lower-cased.

    Used to check whether a product introduction reuses what the customer said they need.
    """
    nlp = _tokenizer("zh" if has_cjk(text) else "en")
    words = set()
    for token in nlp(normalize(text)):
        word = token.text
        if token.is_stop or token.is_punct or token.like_num or word in _GENERIC_WORDS:
            continue
        if (has_cjk(word) and len(word) >= 2) or (word.isalpha() and len(word) >= 4):
            words.add(word)
    return frozenset(words)
