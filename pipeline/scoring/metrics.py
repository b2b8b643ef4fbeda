"""Interaction metrics the node dimensions are built from. Pure functions, no scoring policy."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.models import Conversation, Utterance
from pipeline.sop import ScoringConfig
from pipeline.text import normalize, text_length

_QUESTION_END = re.compile(r"(吗|呢|么|嘛)[。.!！~～]*$")
# Of those particles only 吗/嘛 (and 么 written for 吗) ask for a yes or a no. 呢 closes
# wh-questions too ("你们现在用什么系统呢？"), and a 么 after 什/怎 is the end of 什么/怎么/为什么
# ("您最看重的是什么？"): checking open questions against _QUESTION_END counted those as closed.
_YES_NO_END = re.compile(r"(吗|嘛|(?<![什怎])么)[。.!！~～]*$")


def is_question(text: str) -> bool:
    """A question mark, or a Chinese sentence-final question particle."""
    return "?" in text or "？" in text or bool(_QUESTION_END.search(normalize(text)))


def question_kind(text: str, scoring: ScoringConfig) -> str | None:
    """``open``, ``closed`` or None for a statement.

    A question with an open cue (什么/怎么/why/how…) is open unless it also ends like a
    yes/no question (…吗?), which makes "您看看有什么问题吗" closed, as a trainer would count it.
    """
    if not is_question(text):
        return None
    norm = normalize(text)
    is_open = bool(scoring.open_question_cues.match(norm))
    if is_open and not _YES_NO_END.search(norm.rstrip("?？ ")):
        return "open"
    return "closed"


def turn_of(conversation: Conversation, index: int) -> list[Utterance]:
    """The run of consecutive utterances by the same speaker role around ``index``.

    System (``other``) lines inside the run are stepped over and left out, as in the event
    tree's turns: a "你撤回了一条消息" between two rep messages does not end the rep's turn
    (otherwise ``next_turn_role`` would name the rep as the side that answered the rep).
    """
    utterances = conversation.utterances
    role = utterances[index].speaker_role
    if role == "other":
        return [utterances[index]]
    first = last = index
    for position in range(index - 1, -1, -1):
        if utterances[position].speaker_role not in (role, "other"):
            break
        if utterances[position].speaker_role == role:
            first = position
    for position in range(index + 1, len(utterances)):
        if utterances[position].speaker_role not in (role, "other"):
            break
        if utterances[position].speaker_role == role:
            last = position
    return [u for u in utterances[first:last + 1] if u.speaker_role == role]


def longest_rep_turn(conversation: Conversation, indexes: Iterable[int]) -> int:
    """Length (characters for zh, words for en) of the longest rep turn touching ``indexes``."""
    longest = 0
    for index in indexes:
        if conversation.utterances[index].speaker_role != "rep":
            continue
        turn = turn_of(conversation, index)
        longest = max(longest, sum(text_length(u.text, conversation.language) for u in turn))
    return longest


def next_turn_role(conversation: Conversation, index: int) -> str | None:
    """The role of the first utterance after the turn holding ``index`` (None at the end)."""
    turn = turn_of(conversation, index)
    following = turn[-1].index + 1
    for utterance in conversation.utterances[following:]:
        if utterance.speaker_role != "other":
            return utterance.speaker_role
    return None


def lexicon_hits(lexicon, utterances: Iterable[Utterance]) -> list[tuple[int, str]]:
    """Every (utterance index, cue) of a lexicon found in the utterances."""
    return [(u.index, cue) for u in utterances for cue in lexicon.match(normalize(u.text))]


def customer_turns_after(conversation: Conversation, index: int, count: int) -> list[Utterance]:
    """The next ``count`` customer utterances after ``index``."""
    after = [u for u in conversation.utterances[index + 1:] if u.speaker_role == "customer"]
    return after[:count]
