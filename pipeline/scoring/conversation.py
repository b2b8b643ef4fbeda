"""SOP execution of a whole conversation: coverage, order conformance and the call score."""

from __future__ import annotations

from itertools import combinations

from pipeline.models import ConversationScore, KeyEvent, NodeScore
from pipeline.sop import Sop


def score_conversation(events: tuple[KeyEvent, ...], node_scores: tuple[NodeScore, ...], sop: Sop) -> ConversationScore:
    """Coverage, order and total of one conversation (formulas in docs/scoring.md).

    - ``coverage`` = required nodes present / required nodes;
    - ``order_conformance`` = share of pairs of present nodes whose first occurrences come in
      the SOP's order (None with fewer than two nodes present);
    - ``total`` = node totals averaged with the SOP weights, over present and missed nodes
      (an absent optional node neither helps nor hurts).
    """
    first_seen: dict[str, int] = {}
    for event in sorted(events, key=lambda e: e.utterance_index):
        first_seen.setdefault(event.node_id, event.utterance_index)
    required = [node.node_id for node in sop.nodes if node.required]
    missing = tuple(node_id for node_id in required if node_id not in first_seen)
    coverage = (len(required) - len(missing)) / len(required) if required else 1.0

    sop_rank = {node.node_id: node.order for node in sop.nodes}
    node_order = tuple(sorted(first_seen, key=lambda node_id: (first_seen[node_id], sop_rank[node_id])))
    pairs = list(combinations(node_order, 2))
    in_order = sum(1 for earlier, later in pairs if sop_rank[earlier] < sop_rank[later])
    order_conformance = round(in_order / len(pairs), 3) if pairs else None

    weights = {node.node_id: node.weight for node in sop.nodes}
    scored = [score for score in node_scores if score.total is not None]
    weight = sum(weights[score.node_id] for score in scored)
    total = sum(weights[score.node_id] * score.total for score in scored) / weight if weight else 0.0
    return ConversationScore(coverage=round(coverage, 3), missing_required=missing,
                             order_conformance=order_conformance, node_order=node_order, total=round(total, 1))
