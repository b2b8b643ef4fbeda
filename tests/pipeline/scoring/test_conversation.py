"""Conversation scores: coverage, missing required nodes, order conformance and the total."""

from __future__ import annotations

from pipeline.analyze import analyze
from pipeline.events import RuleTagger, build_event_tree
from pipeline.models import DimensionScore, KeyEvent, NodeScore
from pipeline.scoring import score_conversation, score_nodes


def _events(*placed: tuple[str, int]) -> tuple[KeyEvent, ...]:
    return tuple(KeyEvent(node, index, 0.6, "", "test") for node, index in placed)


def _node(node_id: str, total: float | None) -> NodeScore:
    if total is None:
        return NodeScore(node_id, "not_applicable", (), None, "")
    status = "missed" if total == 0 else "present"
    return NodeScore(node_id, status, (DimensionScore("key_points", total, ""),), total, "")


def test_sales_chat_total_is_the_weighted_mean_of_its_node_totals(sales_chat, sales_chat_reactions, sop):
    events = RuleTagger().tag(sales_chat, sop)
    tree = build_event_tree(sales_chat, events, sop)
    score = score_conversation(events, score_nodes(sales_chat, events, tree, sop, sales_chat_reactions), sop)
    assert score.coverage == 1.0
    assert score.missing_required == ()
    assert score.node_order == ("opening", "customer_needs", "product_intro", "customer_approval",
                                "price_objection", "next_step")
    assert score.order_conformance == 1.0  # 15 of 15 pairs in SOP order
    # Node totals of tests/pipeline/scoring/test_nodes.py with the SOP node weights (sum 1.0):
    # .15·86.7 + .2·62 + .2·88 + .1·47 + .15·97 + .2·97 = 81.655 → 81.7
    assert score.total == 81.7


def test_analyze_reads_the_customer_with_the_sentiment_model(sales_chat, sop):
    analysis = analyze(sales_chat, sop, RuleTagger())
    feedback = {s.node_id: s.dimension("customer_feedback") for s in analysis.node_scores}
    reactions = dict(map(tuple, feedback["customer_approval"].evidence["reactions"]))
    # "太贵了，隔壁才69。" is negative (and an objection), "好的，那先试试。" positive.
    assert reactions[7] == -1.0 and reactions[9] > 0.3


def test_nodes_out_of_order_missing_opening(sop):
    # product_intro first, then customer_needs, then next_step; no opening, nothing optional.
    events = _events(("product_intro", 0), ("customer_needs", 2), ("next_step", 4))
    scores = (_node("opening", 0.0), _node("customer_needs", 60.0), _node("product_intro", 80.0),
              _node("customer_approval", None), _node("price_objection", None), _node("next_step", 90.0))
    score = score_conversation(events, scores, sop)
    assert score.coverage == 0.75                     # 3 of 4 required nodes
    assert score.missing_required == ("opening",)
    assert score.node_order == ("product_intro", "customer_needs", "next_step")
    # pairs: (intro, needs) out of order, (intro, next step) and (needs, next step) in order → 2/3
    assert score.order_conformance == 0.667
    # (.15·0 + .2·60 + .2·80 + .2·90) / (.15 + .2 + .2 + .2) = 46 / .75 = 61.33…; optional nodes left out
    assert score.total == 61.3


def test_first_occurrence_decides_the_order_and_sop_order_breaks_ties(sop):
    events = _events(("next_step", 5), ("opening", 0), ("price_objection", 1), ("customer_needs", 1),
                     ("opening", 6))
    score = score_conversation(events, (), sop)
    assert score.node_order == ("opening", "customer_needs", "price_objection", "next_step")
    assert score.order_conformance == 1.0
    assert score.missing_required == ("product_intro",)
    assert score.total == 0.0  # no node scores given


def test_fewer_than_two_nodes_have_no_order(sop):
    score = score_conversation(_events(("price_objection", 3)), (), sop)
    assert score.order_conformance is None
    assert score.coverage == 0.0
    assert score.missing_required == ("opening", "customer_needs", "product_intro", "next_step")
    assert score_conversation((), (), sop).order_conformance is None


def test_a_conversation_with_every_required_node_missed_scores_zero(make_conversation, sop):
    score = analyze(make_conversation([("rep", "在吗"), ("customer", "在")]), sop, RuleTagger()).conversation_score
    assert (score.coverage, score.order_conformance, score.node_order, score.total) == (0.0, None, (), 0.0)
