"""The key-event tree on hand-built conversations with hand-placed events.

Events are given directly (not by the tagger), so these tests pin the tree rules alone:
turns, occurrences, reply nodes, nesting under what a turn answers, and MAX_DEPTH.
Each node is written as (key, parent, kind, node_id, speaker_role, first, last, depth).
"""

from __future__ import annotations

from pipeline.events import build_event_tree, descendants
from pipeline.events.tree import MAX_DEPTH
from pipeline.models import KeyEvent


def _events(*placed: tuple[str, int]) -> tuple[KeyEvent, ...]:
    return tuple(KeyEvent(node_id=node, utterance_index=index, confidence=0.6, evidence="", source="test")
                 for node, index in placed)


def _rows(tree):
    return [(n.key, n.parent, n.kind, n.node_id, n.speaker_role, n.first_utterance, n.last_utterance, n.depth)
            for n in tree]


def test_no_events_no_tree(make_conversation, sop):
    conversation = make_conversation([("rep", "在吗"), ("customer", "在")])
    assert build_event_tree(conversation, (), sop) == ()


def test_rep_answer_to_a_price_objection_is_a_reply_node(make_conversation, sop):
    conversation = make_conversation([
        ("customer", "这个多少钱？"),            # no event: not in the tree
        ("rep", "标准版每人每月99元"),
        ("customer", "太贵了"),                  # price_objection
        ("rep", "理解，算下来每天才三块钱"),      # no event, but it answers the objection
        ("customer", "那我考虑一下"),            # answers a reply: not nested further, no event
    ])
    tree = build_event_tree(conversation, _events(("price_objection", 2)), sop)
    assert _rows(tree) == [
        (0, None, "occurrence", "price_objection", "customer", 2, 2, 0),
        (1, 0, "reply", None, "rep", 3, 3, 1),
    ]


def test_needs_question_answered_by_a_needs_statement_is_nested(make_conversation, sop):
    conversation = make_conversation([
        ("rep", "您目前是怎么管理客户的？"),       # customer_needs (question)
        ("customer", "都用Excel，很头疼"),        # customer_needs (statement), answers it
        ("rep", "明白了"),                        # answers the statement
        ("customer", "嗯"),                       # past MAX_DEPTH, no event: dropped
    ])
    tree = build_event_tree(conversation, _events(("customer_needs", 0), ("customer_needs", 1)), sop)
    assert _rows(tree) == [
        (0, None, "occurrence", "customer_needs", "rep", 0, 0, 0),
        (1, 0, "occurrence", "customer_needs", "customer", 1, 1, 1),
        (2, 1, "reply", None, "rep", 2, 2, 2),
    ]


def _merged_turns(make_conversation):
    conversation = make_conversation([
        ("rep", "我们的系统可以帮您自动分配线索"),   # 0 product_intro
        ("rep", "已经有三百多家客户在用"),           # 1 same turn, no event: dropped at the top level
        ("customer", "听起来不错"),                  # 2 customer_approval
        ("customer", "不过太贵了"),                  # 3 price_objection
        ("customer", "隔壁才三千"),                  # 4 price_objection: same occurrence as 3
        ("rep", "理解您的顾虑"),                     # 5 reply to the objection
        ("rep", "可以先从基础版开始"),               # 6 reply to the objection
        ("customer", "那就周四下午三点演示吧"),      # 7 next_step: a new top-level node (depth cut-off)
        ("rep", "好的"),                             # 8 reply to the next step
    ])
    events = _events(("product_intro", 0), ("customer_approval", 2), ("price_objection", 3),
                     ("price_objection", 4), ("next_step", 7))
    return conversation, events


def test_consecutive_messages_of_one_side_are_one_turn(make_conversation, sop):
    conversation, events = _merged_turns(make_conversation)
    tree = build_event_tree(conversation, events, sop)
    assert _rows(tree) == [
        (0, None, "occurrence", "product_intro", "rep", 0, 0, 0),
        # the customer's three messages answer the intro together; the objection spans two
        (1, 0, "occurrence", "customer_approval", "customer", 2, 2, 1),
        (2, 0, "occurrence", "price_objection", "customer", 3, 4, 1),
        # the rep's two messages answer the last-ending occurrence of that turn, the objection
        (3, 2, "reply", None, "rep", 5, 5, 2),
        (4, 2, "reply", None, "rep", 6, 6, 2),
        (5, None, "occurrence", "next_step", "customer", 7, 7, 0),
        (6, 5, "reply", None, "rep", 8, 8, 1),
    ]


def test_descendants_collect_every_nested_node(make_conversation, sop):
    conversation, events = _merged_turns(make_conversation)
    tree = build_event_tree(conversation, events, sop)
    assert [n.key for n in descendants(tree, 0)] == [1, 2, 3, 4]
    assert [n.key for n in descendants(tree, 2)] == [3, 4]
    assert [n.key for n in descendants(tree, 5)] == [6]
    assert descendants(tree, 4) == []


def test_nesting_stops_at_max_depth(make_conversation, sop):
    assert MAX_DEPTH == 2
    conversation = make_conversation([
        ("rep", "您好，我是王磊"),               # opening
        ("customer", "我们想找个CRM"),          # customer_needs: answers the opening
        ("rep", "我们的系统正好可以"),           # product_intro: answers the needs, depth 2
        ("customer", "太贵了吧"),               # price_objection: would be depth 3, starts at the top
        ("rep", "理解"),                         # reply to the objection
    ])
    events = _events(("opening", 0), ("customer_needs", 1), ("product_intro", 2), ("price_objection", 3))
    assert _rows(build_event_tree(conversation, events, sop)) == [
        (0, None, "occurrence", "opening", "rep", 0, 0, 0),
        (1, 0, "occurrence", "customer_needs", "customer", 1, 1, 1),
        (2, 1, "occurrence", "product_intro", "rep", 2, 2, 2),
        (3, None, "occurrence", "price_objection", "customer", 3, 3, 0),
        (4, 3, "reply", None, "rep", 4, 4, 1),
    ]


def test_an_untagged_turn_after_the_cut_off_is_left_out(make_conversation, sop):
    conversation = make_conversation([
        ("rep", "您好，我是王磊"), ("customer", "我们想找个CRM"), ("rep", "我们的系统正好可以"),
        ("customer", "哦"),
    ])
    events = _events(("opening", 0), ("customer_needs", 1), ("product_intro", 2))
    assert [n.first_utterance for n in build_event_tree(conversation, events, sop)] == [0, 1, 2]


def test_system_lines_are_skipped_and_do_not_split_a_turn(make_conversation, sop):
    conversation = make_conversation([
        ("customer", "太贵了"),
        ("other", "你撤回了一条消息"),
        ("rep", "理解"),
        ("other", "以下为新消息"),
        ("rep", "可以先用基础版"),
    ])
    tree = build_event_tree(conversation, _events(("price_objection", 0)), sop)
    assert _rows(tree) == [
        (0, None, "occurrence", "price_objection", "customer", 0, 0, 0),
        (1, 0, "reply", None, "rep", 2, 2, 1),
        (2, 0, "reply", None, "rep", 4, 4, 1),
    ]


def test_two_nodes_in_one_message_follow_sop_order_and_the_later_one_is_answered(make_conversation, sop):
    conversation = make_conversation([("customer", "听起来不错，就是太贵了"), ("rep", "理解，我们有基础版")])
    # given out of SOP order, and with a duplicate: the tree sorts and de-duplicates
    events = _events(("price_objection", 0), ("customer_approval", 0), ("price_objection", 0))
    assert _rows(build_event_tree(conversation, events, sop)) == [
        (0, None, "occurrence", "customer_approval", "customer", 0, 0, 0),
        (1, None, "occurrence", "price_objection", "customer", 0, 0, 0),
        (2, 1, "reply", None, "rep", 1, 1, 1),
    ]
