"""Auto notes per conversation (会话笔记): what the customer needs, the objections and how they
were answered, what was agreed next — taken from the tagged utterances, in the conversation's
language, each line pointing back at the utterances it comes from.

Nothing here is generated text: every note quotes the conversation. The next step's when /
what / who come from the cues of the SOP's own ``next_step`` checklist (``concrete_time``,
``action``, ``owner``), so a company that edits its SOP changes what the notes pick up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.events.tree import descendants
from pipeline.models import Conversation, KeyEvent, TreeNode
from pipeline.scoring.objections import customer_names, library_fields
from pipeline.sop import Sop
from pipeline.text import normalize

#: A reaction (P(positive) − P(negative)) this far from neutral decides an objection's outcome.
REACTION_CUTOFF = 0.3
#: Next-step occurrences this close (in utterances) are one agreement: one note.
MERGE_GAP = 2
#: Longest quote kept per note, in characters (a note is a summary, not the transcript).
QUOTE_CHARS = 80

_WORDS = {
    "zh": {"need": "客户需求", "objection": "价格异议", "approval": "客户认可", "next_step": "下一步",
           "answer": "销售回应", "none": "（未回应）", "when": "时间", "what": "事项", "who": "负责",
           "accepted": "客户接受", "recurred": "异议再次出现", "unresolved": "客户仍不满意", "open": "客户未表态",
           "no_reply": "客户没有再回复", "confirmed": "客户已确认", "unconfirmed": "客户未确认",
           "rep": "销售", "customer": "客户", "sep": "；", "colon": "：", "paren": "（{}）", "quote": "「{}」"},
    "en": {"need": "Customer need", "objection": "Price objection", "approval": "Customer approval",
           "next_step": "Next step", "answer": "rep answered", "none": "(no answer)", "when": "when", "what": "what",
           "who": "who", "accepted": "customer accepted", "recurred": "objection came back",
           "unresolved": "customer still unhappy", "open": "customer did not say", "no_reply": "customer did not reply",
           "confirmed": "confirmed by the customer", "unconfirmed": "not confirmed by the customer",
           "rep": "rep", "customer": "customer", "sep": "; ", "colon": ": ", "paren": " ({})", "quote": "\u201c{}\u201d"},
}


@dataclass(frozen=True)
class NoteItem:
    """One note: its kind, the words it quotes, and for objections and next steps what followed."""

    kind: str                          # need | objection | approval | next_step
    utterance_indexes: tuple[int, ...]
    quote: str
    answer: str | None = None          # objections: the rep's answer
    answer_index: int | None = None
    outcome: str | None = None         # objections: accepted|recurred|unresolved|open|no_reply; next steps: confirmed|unconfirmed
    details: dict = field(default_factory=dict)  # next steps: {"when": [...], "what": [...], "who": "rep"|"customer"|None}
    # Objections, for the objection library (pipeline.scoring.objections.library_fields): the
    # theme, and the quote and answer as a trainer sees them (personal data masked).
    theme: str | None = None
    quote_masked: str | None = None
    answer_masked: str | None = None


@dataclass(frozen=True)
class ConversationNotes:
    """The notes of one conversation, in the conversation's language."""

    language: str
    items: tuple[NoteItem, ...]

    def lines(self) -> list[str]:
        """The notes as plain lines, in the conversation's language."""
        words = _WORDS.get(self.language, _WORDS["en"])
        lines = []
        for item in self.items:
            line = f"{words[item.kind]}{words['colon']}{words['quote'].format(item.quote)}"
            if item.kind == "objection":
                answer = words["quote"].format(item.answer) if item.answer else words["none"]
                line += f" → {words['answer']} {answer} → {words[item.outcome]}"
            elif item.kind == "next_step":
                parts = [f"{words[key]} {'/'.join(item.details[key])}" for key in ("when", "what") if item.details[key]]
                if item.details["who"]:
                    parts.append(f"{words['who']} {words[item.details['who']]}")
                line += words["paren"].format(words["sep"].join(parts + [words[item.outcome]]))
            lines.append(line)
        return lines


def _for_the_library(item: NoteItem, names: Sequence[str]) -> NoteItem:
    theme, quote_masked, answer_masked = library_fields(item.quote, item.answer, names)
    return dataclasses.replace(item, theme=theme, quote_masked=quote_masked, answer_masked=answer_masked)


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


def _objection(conversation: Conversation, occurrence: TreeNode, tree: tuple[TreeNode, ...],
               tagged: set[tuple[int, str]], polarity: Sequence[float | None]) -> NoteItem:
    utterances = conversation.utterances
    said = range(occurrence.first_utterance, occurrence.last_utterance + 1)
    quote = " ".join(utterances[i].text for i in said if utterances[i].speaker_role == "customer")
    answers = [r for r in descendants(tree, occurrence.key) if r.speaker_role == "rep"]
    if not answers:
        return NoteItem("objection", tuple(said), _quote(quote), outcome="no_reply" if not any(
            u.speaker_role == "customer" for u in utterances[occurrence.last_utterance + 1:]) else "open")
    answer = answers[0]
    answer_text = " ".join(utterances[i].text for i in range(answer.first_utterance, answer.last_utterance + 1)
                           if utterances[i].speaker_role == "rep")
    following = next((u for u in utterances[answer.last_utterance + 1:] if u.speaker_role == "customer"), None)
    if following is None:
        outcome = "no_reply"
    elif (following.index, "price_objection") in tagged:
        outcome = "recurred"
    elif (following.index, "customer_approval") in tagged or (polarity[following.index] or 0) >= REACTION_CUTOFF:
        outcome = "accepted"
    elif (polarity[following.index] or 0) <= -REACTION_CUTOFF:
        outcome = "unresolved"
    else:
        outcome = "open"
    return NoteItem("objection", tuple(said), _quote(quote), _quote(answer_text), answer.first_utterance, outcome)


def _next_step(conversation: Conversation, sop: Sop, occurrence: TreeNode, tree: tuple[TreeNode, ...]) -> NoteItem:
    utterances = conversation.utterances
    indexes = {i for i in range(occurrence.first_utterance, occurrence.last_utterance + 1)}
    indexes |= {i for r in descendants(tree, occurrence.key) for i in range(r.first_utterance, r.last_utterance + 1)}
    scope = [utterances[i] for i in sorted(indexes)]
    points = {p.point_id: p for p in sop.node("next_step").key_points} if "next_step" in sop.node_ids else {}

    def found(point_id: str, role: str | None = None) -> list[str]:
        point = points.get(point_id)
        if point is None:
            return []
        hits = [hit for u in scope if role is None or u.speaker_role == role for hit in point.cues.match(normalize(u.text))]
        # A pattern's hit comes back as "re:<matched text>": the note shows the text.
        return list(dict.fromkeys(hit.removeprefix("re:") for hit in hits))

    proposer = utterances[occurrence.first_utterance].speaker_role
    who = "rep" if found("owner", "rep") else ("customer" if found("owner", "customer") else None)
    confirmed = proposer == "customer" or bool(found("customer_confirmed", "customer"))
    said = range(occurrence.first_utterance, occurrence.last_utterance + 1)
    return NoteItem("next_step", tuple(said), _quote(" ".join(utterances[i].text for i in said)),
                    outcome="confirmed" if confirmed else "unconfirmed",
                    details={"when": found("concrete_time"), "what": found("action"), "who": who})


def _merged(first: NoteItem, later: NoteItem) -> NoteItem:
    """One next-step note from two: the first quote, every when / what, the first owner, and
    confirmed when either was."""
    details = {key: list(dict.fromkeys(first.details[key] + later.details[key])) for key in ("when", "what")}
    details["who"] = first.details["who"] or later.details["who"]
    confirmed = "confirmed" in (first.outcome, later.outcome)
    return NoteItem("next_step", first.utterance_indexes + later.utterance_indexes, first.quote,
                    outcome="confirmed" if confirmed else "unconfirmed", details=details)


def conversation_notes(conversation: Conversation, events: tuple[KeyEvent, ...], tree: tuple[TreeNode, ...],
                       sop: Sop, polarity: Sequence[float | None]) -> ConversationNotes:
    """Notes in conversation order: needs and approvals the customer stated, each price
    objection with the rep's answer and the customer's reaction, and each next step (its
    proposal and confirmations in consecutive turns as one) with its when / what / who and
    whether the customer confirmed it. Objections also carry what the objection library
    stores: their theme and their quote and answer masked."""
    utterances = conversation.utterances
    tagged = {(e.utterance_index, e.node_id) for e in events}
    items: list[tuple[int, NoteItem]] = []
    for event in events:
        if event.node_id in ("customer_needs", "customer_approval") and \
                utterances[event.utterance_index].speaker_role == "customer":
            kind = "need" if event.node_id == "customer_needs" else "approval"
            items.append((event.utterance_index, NoteItem(kind, (event.utterance_index,),
                                                          _quote(utterances[event.utterance_index].text))))
    for occurrence in tree:
        if occurrence.kind != "occurrence":
            continue
        if occurrence.node_id == "price_objection":
            items.append((occurrence.first_utterance, _objection(conversation, occurrence, tree, tagged, polarity)))
        elif occurrence.node_id == "next_step":
            step = _next_step(conversation, sop, occurrence, tree)
            previous = next((pair for pair in reversed(items) if pair[1].kind == "next_step"), None)
            # Proposal, counter-proposal and confirmations in consecutive turns are one agreement.
            if previous and occurrence.first_utterance - previous[1].utterance_indexes[-1] <= MERGE_GAP:
                items[items.index(previous)] = (previous[0], _merged(previous[1], step))
            else:
                items.append((occurrence.first_utterance, step))
    items.sort(key=lambda pair: pair[0])
    if any(item.kind == "objection" for _, item in items):
        names = customer_names(conversation)
        items = [(at, _for_the_library(item, names) if item.kind == "objection" else item) for at, item in items]
    return ConversationNotes(conversation.language, tuple(item for _, item in items))
