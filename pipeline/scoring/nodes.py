"""Node quality (节点质量): four dimensions per SOP node, each 0–100 with its evidence.

The formulas are written out in docs/scoring.md; keep the two in step. In short:

- ``key_points`` = 100 × checklist items covered / items (要点完成);
- ``communication_skill`` = 100 × mean of the applicable sub-scores: share of open questions,
  monologue length against ``max_monologue``, turn-taking, and (timed calls) letting the
  customer finish (沟通技巧);
- ``attitude`` = 70 + 30 if polite forms are used − 35 per forbidden or pushy phrase − 15 per
  time the rep cut the customer off (沟通态度);
- ``customer_feedback`` = 50 + 50 × the mean reaction of the customer's next turns, each
  P(positive) − P(negative) from the trained sentiment model, ±1 for a later approval or a
  recurring objection (客户反馈).

A dimension that cannot be observed (no rep turn, no customer turn after the node) is
``None`` and left out of the total, whose weights are renormalised over what was observed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipeline.events.tree import descendants
from pipeline.models import Conversation, DimensionScore, KeyEvent, NodeScore, TreeNode, Utterance
from pipeline.scoring import metrics
from pipeline.sop import DIMENSIONS, KeyPoint, Sop, SopNode
from pipeline.text import content_words, normalize

# Attitude: a neutral rep starts at 70; polite forms add 30; each forbidden phrase costs 35.
ATTITUDE_BASE = 70.0
ATTITUDE_POLITE_BONUS = 30.0
ATTITUDE_FORBIDDEN_PENALTY = 35.0
# Each time the rep cut the customer off inside the node costs attitude 15 and halves
# the "let the customer finish" part of communication skill (0 from two on).
ATTITUDE_INTERRUPTION_PENALTY = 15.0
LET_FINISH_COST = 0.5
# A reaction this far from neutral (P(positive) − P(negative)) is named positive or negative in
# the explanation; the score itself uses the values as they are.
REACTION_CUTOFF = 0.3
# Customer feedback at or above this (the reaction was not negative) never chooses the tip.
NEUTRAL_FEEDBACK = 50.0
# A tip praises the node instead of correcting it when every dimension reaches this.
WELL_DONE_THRESHOLD = 80.0

_PHRASES = {
    "zh": {
        "covered": "要点完成 {n}/{total}", "done": "做到：{items}", "missing": "缺少：{items}",
        "open_q": "开放式提问 {open}/{total}", "monologue": "最长一段讲解 {length} 字（上限 {limit}）",
        "turns": "{ok}/{total} 处让对方回应", "polite": "使用了礼貌用语（{items}）", "no_polite": "没有礼貌用语",
        "forbidden": "出现禁语/施压说法：{items}", "no_rep": "销售在该节点没有发言，无法评价",
        "feedback": "客户随后的反应：积极 {pos}，消极 {neg}", "neutral": "客户反应中性",
        "no_customer": "之后客户没有再发言，无法评价", "missed": "必要节点缺失",
        "interrupted": "打断客户 {n} 次", "relevance": "{ok}/{total} 句讲解对上客户需求",
        "sep": "；", "list": "、",
    },
    "en": {
        "covered": "{n}/{total} key points covered", "done": "done: {items}", "missing": "missing: {items}",
        "open_q": "{open}/{total} questions open", "monologue": "longest explanation {length} words (limit {limit})",
        "turns": "the other side got to respond {ok}/{total} times", "polite": "polite forms used ({items})",
        "no_polite": "no polite forms", "forbidden": "pushy or forbidden phrases: {items}",
        "no_rep": "the rep did not speak in this node", "feedback": "customer reaction: {pos} positive, {neg} negative",
        "neutral": "neutral customer reaction", "no_customer": "the customer did not speak afterwards",
        "missed": "required node missing", "interrupted": "cut the customer off {n} times",
        "relevance": "{ok}/{total} explanations tied to the customer's needs",
        "sep": "; ", "list": ", ",
    },
}


def _phrase(language: str, key: str, **values: object) -> str:
    return _PHRASES.get(language, _PHRASES["en"])[key].format(**values)


def _join(language: str, parts: Iterable[str]) -> str:
    return _PHRASES.get(language, _PHRASES["en"])["sep"].join(parts)


def _items(language: str, items: Iterable[str]) -> str:
    return _PHRASES.get(language, _PHRASES["en"])["list"].join(items)


def _need_words(conversation: Conversation, events: tuple[KeyEvent, ...], tree: tuple[TreeNode, ...]) -> frozenset[str]:
    """Content words of what the customer said about their needs (tagged, or answering a needs question)."""
    indexes = {e.utterance_index for e in events if e.node_id == "customer_needs"}
    for node in tree:
        if node.kind == "occurrence" and node.node_id == "customer_needs":
            indexes.update(d.first_utterance for d in descendants(tree, node.key))
    words: set[str] = set()
    for index in indexes:
        utterance = conversation.utterances[index]
        if utterance.speaker_role == "customer":
            words |= content_words(utterance.text)
    return frozenset(words)


def _key_point(point: KeyPoint, scope: list[Utterance], node_utterances: list[Utterance],
               need_words: frozenset[str]) -> tuple[bool, dict]:
    if point.check == "need_overlap":
        said = set()
        for utterance in node_utterances:
            if utterance.speaker_role == "rep":
                said |= content_words(utterance.text)
        shared = sorted(said & need_words)
        return bool(shared), {"shared_words": shared[:8]}
    for utterance in scope:
        if point.speaker != "any" and utterance.speaker_role != point.speaker:
            continue
        hits = point.cues.match(normalize(utterance.text))
        if hits:
            return True, {"utterance_index": utterance.index, "cues": list(hits[:3])}
    return False, {}


def _score_key_points(node: SopNode, language: str, scope, node_utterances, need_words) -> tuple[DimensionScore, list[str]]:
    covered: list[str] = []
    missing: list[str] = []
    evidence: dict[str, dict] = {}
    for point in node.key_points:
        ok, found = _key_point(point, scope, node_utterances, need_words)
        (covered if ok else missing).append(point.name.get(language, point.name["en"]))
        if ok:
            evidence[point.point_id] = found
    total = len(node.key_points)
    parts = [_phrase(language, "covered", n=len(covered), total=total)]
    if covered:
        parts.append(_phrase(language, "done", items=_items(language, covered)))
    if missing:
        parts.append(_phrase(language, "missing", items=_items(language, missing)))
    score = DimensionScore("key_points", round(100.0 * len(covered) / total, 1), _join(language, parts),
                           {"covered": sorted(evidence), "missing_names": missing, "found": evidence})
    return score, missing


def _score_skill(conversation: Conversation, sop: Sop, node_utterances: list[Utterance],
                 occurrences: list[TreeNode], cut_off: list[int] | None,
                 need_words: frozenset[str] | None) -> DimensionScore:
    language = conversation.language
    scoring = sop.scoring
    parts: list[str] = []
    subscores: dict[str, float] = {}
    rep_utterances = [u for u in node_utterances if u.speaker_role == "rep"]

    kinds = [metrics.question_kind(u.text, scoring) for u in rep_utterances]
    questions = [kind for kind in kinds if kind]
    if questions:
        open_count = questions.count("open")
        subscores["open_questions"] = open_count / len(questions)
        parts.append(_phrase(language, "open_q", open=open_count, total=len(questions)))

    if rep_utterances:
        limit = scoring.max_monologue[language if language in scoring.max_monologue else "en"]
        longest = metrics.longest_rep_turn(conversation, [u.index for u in rep_utterances])
        # Full marks up to the limit, falling linearly to 0 at three times the limit.
        subscores["monologue"] = max(0.0, min(1.0, 1 - (longest - limit) / (2 * limit)))
        parts.append(_phrase(language, "monologue", length=longest, limit=limit))

    answered = 0
    for occurrence in occurrences:
        expected = "customer" if occurrence.speaker_role == "rep" else "rep"
        if metrics.next_turn_role(conversation, occurrence.last_utterance) == expected:
            answered += 1
    if occurrences:
        subscores["turn_taking"] = answered / len(occurrences)
        parts.append(_phrase(language, "turns", ok=answered, total=len(occurrences)))

    if need_words and rep_utterances:
        tied = [u.index for u in rep_utterances if content_words(u.text) & need_words]
        subscores["needs_relevance"] = len(tied) / len(rep_utterances)
        parts.append(_phrase(language, "relevance", ok=len(tied), total=len(rep_utterances)))

    if cut_off is not None:
        subscores["let_finish"] = max(0.0, 1 - LET_FINISH_COST * len(cut_off))
        parts.append(_phrase(language, "interrupted", n=len(cut_off)))

    value = round(100.0 * sum(subscores.values()) / len(subscores), 1) if subscores else None
    return DimensionScore("communication_skill", value, _join(language, parts),
                          {name: round(score, 3) for name, score in subscores.items()})


def _score_attitude(sop: Sop, language: str, scope: list[Utterance], cut_off: list[int] | None) -> DimensionScore:
    rep_utterances = [u for u in scope if u.speaker_role == "rep"]
    if not rep_utterances:
        return DimensionScore("attitude", None, _phrase(language, "no_rep"), {})
    polite = metrics.lexicon_hits(sop.scoring.polite_markers, rep_utterances)
    forbidden = metrics.lexicon_hits(sop.scoring.forbidden_phrases, rep_utterances)
    value = (ATTITUDE_BASE + (ATTITUDE_POLITE_BONUS if polite else 0) - ATTITUDE_FORBIDDEN_PENALTY * len(forbidden)
             - ATTITUDE_INTERRUPTION_PENALTY * len(cut_off or ()))
    parts = [_phrase(language, "polite", items=_items(language, dict.fromkeys(c for _, c in polite)))
             if polite else _phrase(language, "no_polite")]
    if forbidden:
        parts.append(_phrase(language, "forbidden", items=_items(language, [c for _, c in forbidden])))
    if cut_off:
        parts.append(_phrase(language, "interrupted", n=len(cut_off)))
    evidence = {"polite": [list(hit) for hit in polite], "forbidden": [list(hit) for hit in forbidden]}
    if cut_off is not None:
        evidence["interruptions"] = cut_off
    return DimensionScore("attitude", round(max(0.0, min(100.0, value)), 1), _join(language, parts), evidence)


def _score_feedback(conversation: Conversation, sop: Sop, events: tuple[KeyEvent, ...], last_index: int,
                    polarity: Sequence[float | None]) -> DimensionScore:
    language = conversation.language
    window = metrics.customer_turns_after(conversation, last_index, sop.scoring.feedback_window_turns)
    if not window:
        return DimensionScore("customer_feedback", None, _phrase(language, "no_customer"), {})
    tagged = {(e.utterance_index, e.node_id) for e in events}
    reactions = []
    for utterance in window:
        value = polarity[utterance.index] or 0.0
        # A later approval is a positive reaction whatever its wording; a price objection in the
        # window is the objection coming back.
        value += ((utterance.index, "customer_approval") in tagged) - ((utterance.index, "price_objection") in tagged)
        reactions.append((utterance.index, round(max(-1.0, min(1.0, value)), 3)))
    mean = sum(value for _, value in reactions) / len(reactions)
    positive = sum(1 for _, value in reactions if value >= REACTION_CUTOFF)
    negative = sum(1 for _, value in reactions if value <= -REACTION_CUTOFF)
    text = _phrase(language, "feedback", pos=positive, neg=negative) if positive + negative else _phrase(language, "neutral")
    return DimensionScore("customer_feedback", round(50.0 + 50.0 * mean, 1), text,
                          {"window": [index for index, _ in reactions], "reactions": [list(r) for r in reactions],
                           "recurring_objection": [i for i, _ in reactions if (i, "price_objection") in tagged]})


def _total(sop: Sop, dimensions: tuple[DimensionScore, ...]) -> float:
    weights = sop.scoring.dimension_weights
    observed = [d for d in dimensions if d.score is not None]
    weight = sum(weights[d.dimension] for d in observed)
    return round(sum(weights[d.dimension] * d.score for d in observed) / weight, 1) if weight else 0.0


def _tip(node: SopNode, sop: Sop, language: str, dimensions: tuple[DimensionScore, ...], missing: list[str]) -> str:
    # A neutral or positive customer reaction (feedback ≥ 50) is nothing to coach: the tip
    # "the customer reacted negatively" would be wrong, so the next weakest dimension speaks.
    observed = [d for d in dimensions if d.score is not None
                and not (d.dimension == "customer_feedback" and d.score >= NEUTRAL_FEEDBACK)]
    if not observed:
        return sop.scoring.tips["well_done"][language if language in ("zh", "en") else "en"]
    weakest = min(observed, key=lambda d: (d.score, DIMENSIONS.index(d.dimension)))
    tips = sop.scoring.tips
    lang = language if language in ("zh", "en") else "en"
    if weakest.score >= WELL_DONE_THRESHOLD:
        return tips["well_done"][lang]
    if weakest.dimension == "key_points":
        return node.tips["key_points"][lang].format(missing=_items(language, missing))
    if weakest.dimension == "attitude":
        forbidden = [cue for _, cue in weakest.evidence.get("forbidden", [])]
        if forbidden:
            return tips["attitude"][lang].format(forbidden=forbidden[0])
        return tips["attitude_polite"][lang]
    return tips[weakest.dimension][lang]


def score_node(conversation: Conversation, events: tuple[KeyEvent, ...], tree: tuple[TreeNode, ...],
               sop: Sop, node: SopNode, polarity: Sequence[float | None],
               interruptions: frozenset[int] | None = None) -> NodeScore:
    """Score one SOP node of one conversation (see the module docstring for the formulas).

    ``polarity`` holds each customer utterance's reaction in [−1, 1] (None for others), from
    :func:`pipeline.scoring.sentiment.customer_polarity`; ``interruptions`` the rep utterances
    that cut the customer off (None when a chat or an untimed call cannot tell).
    """
    language = conversation.language
    lang = language if language in ("zh", "en") else "en"
    tagged = sorted({e.utterance_index for e in events if e.node_id == node.node_id})
    if not tagged:
        if not node.required:
            return NodeScore(node.node_id, "not_applicable", (), None, "")
        dims = tuple(DimensionScore(name, 0.0, _phrase(language, "missed"), {}) for name in DIMENSIONS)
        return NodeScore(node.node_id, "missed", dims, 0.0, node.tips["missed"][lang])

    occurrences = [t for t in tree if t.kind == "occurrence" and t.node_id == node.node_id]
    scope_indexes = set(tagged)
    for occurrence in occurrences:
        scope_indexes.update(
            index for d in descendants(tree, occurrence.key)
            for index in range(d.first_utterance, d.last_utterance + 1))
    scope = [conversation.utterances[i] for i in sorted(scope_indexes)]
    node_utterances = [conversation.utterances[i] for i in tagged]

    need_words = _need_words(conversation, events, tree)
    key_points, missing = _score_key_points(node, language, scope, node_utterances, need_words)
    cut_off = None if interruptions is None else sorted(interruptions & scope_indexes)
    dimensions = (
        key_points,
        _score_skill(conversation, sop, node_utterances, occurrences, cut_off,
                     need_words if node.needs_relevance else None),
        _score_attitude(sop, language, scope, cut_off),
        _score_feedback(conversation, sop, events, max(tagged), polarity),
    )
    return NodeScore(node.node_id, "present", dimensions, _total(sop, dimensions),
                     _tip(node, sop, language, dimensions, missing), tuple(tagged))


def score_nodes(conversation: Conversation, events: tuple[KeyEvent, ...], tree: tuple[TreeNode, ...],
                sop: Sop, polarity: Sequence[float | None] | None = None,
                interruptions: frozenset[int] | None = None) -> tuple[NodeScore, ...]:
    """One :class:`NodeScore` per SOP node, in SOP order. Without ``polarity`` the committed
    sentiment model reads the customer's reactions; ``interruptions`` as in :func:`score_node`."""
    if polarity is None:
        from pipeline.scoring.sentiment import customer_polarity

        polarity = customer_polarity(conversation)
    return tuple(score_node(conversation, events, tree, sop, node, polarity, interruptions) for node in sop.nodes)
