"""The SOP rule tagger on hand-written utterances, node by node, Chinese and English.

Every expectation names the exact event: node, confidence (0.6 + 0.1 per extra cue, at most
0.95) and ``source`` (``rule:<node>/<cues in configuration order>``), so a change to
configs/sop.yaml or to the tagger that moves any of them shows up here.
"""

from __future__ import annotations

import pytest

from pipeline.events import RuleTagger, default_tagger


def _tag(make_conversation, sop, role: str, text: str, index: int = 0, language: str = "zh"):
    """Events of ``text`` said by ``role`` at position ``index`` (earlier lines are filler)."""
    filler = [("customer", "嗯") if i % 2 else ("rep", "嗯") for i in range(index)]
    conversation = make_conversation([*filler, (role, text)], language=language)
    return [(e.node_id, e.utterance_index, e.confidence, e.source)
            for e in RuleTagger().tag(conversation, sop) if e.utterance_index == index]


def test_default_tagger_is_the_rule_tagger():
    tagger = default_tagger()
    assert isinstance(tagger, RuleTagger)
    assert tagger.name == "rules.v1"


# -- price objection -------------------------------------------------------------------------

@pytest.mark.parametrize("text, source, confidence", [
    ("太贵了", "rule:price_objection/太贵,贵了", 0.7),
    ("能不能再便宜点", "rule:price_objection/便宜点,再便宜", 0.7),
    ("隔壁家才三千", "rule:price_objection/隔壁", 0.6),
    ("有点贵了吧", "rule:price_objection/有点贵,贵了", 0.7),
    ("最多只能给3万", "rule:price_objection/最多只能,re:最多只能给3万", 0.7),
    ("That's too expensive for us", "rule:price_objection/too expensive,expensive", 0.7),
    ("Can you do better on price?", "rule:price_objection/do better on price", 0.6),
])
def test_price_objections(make_conversation, sop, text, source, confidence):
    assert _tag(make_conversation, sop, "customer", text) == [("price_objection", 0, confidence, source)]


@pytest.mark.parametrize("text", [
    "价格倒不是问题",          # negated: a negative cue cancels the node
    "钱不是问题，关键是甲醛",
    "这个不贵",
    "多少钱？",                # a price *question* is not an objection
    "大概多少钱？",
    "一年要交多少？",
    "Price isn't really the issue",
])
def test_negated_price_talk_and_price_questions_are_no_event(make_conversation, sop, text):
    assert _tag(make_conversation, sop, "customer", text) == []


def test_negated_price_with_another_concern_keeps_only_the_concern(make_conversation, sop):
    assert _tag(make_conversation, sop, "customer", "价格倒不是问题，主要是售后") == [
        ("customer_needs", 0, 0.6, "rule:customer_needs/主要是")]


def test_the_rep_cannot_raise_a_price_objection(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "太贵了") == []


# -- next step -------------------------------------------------------------------------------

@pytest.mark.parametrize("role, text, source, confidence", [
    ("rep", "那就周四下午三点给您演示", "rule:next_step/演示,周四,re:三点", 0.8),
    ("rep", "明天下午两点来试驾", "rule:next_step/试驾,明天,re:两点", 0.8),
    ("customer", "好的，那就周四下午三点演示", "rule:next_step/演示,周四,re:三点", 0.8),  # speaker: any
    ("rep", "I'll send the demo invite for Thursday at 10:30", "rule:next_step/demo,thursday,re:at 10:30", 0.8),
])
def test_next_steps_need_an_action_and_a_time(make_conversation, sop, role, text, source, confidence):
    assert _tag(make_conversation, sop, role, text) == [("next_step", 0, confidence, source)]


@pytest.mark.parametrize("text", [
    "周六见",                      # a day alone is a goodbye (min_cues: 2)
    "明天给您看看二点零T的那台",    # "二点零" is an engine size, not a clock time
    "Let's touch base sometime",
])
def test_a_single_cue_or_a_vague_promise_is_no_next_step(make_conversation, sop, text):
    assert _tag(make_conversation, sop, "rep", text) == []


def test_vague_follow_up_is_not_a_next_step(make_conversation, sop):
    events = _tag(make_conversation, sop, "rep", "有需要再联系")
    assert "next_step" not in [node for node, *_ in events]


# -- opening ---------------------------------------------------------------------------------

def test_full_chinese_opening(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "您好，我是云启科技的王磊，您现在方便吗？") == [
        ("opening", 0, 0.9, "rule:opening/您好,我是,方便吗,现在方便")]


def test_full_english_opening(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "Hi Sarah, this is Emily from Acme, is this a good time?",
                language="en") == [("opening", 0, 0.8, "rule:opening/hi,this is,is this a good time")]


@pytest.mark.parametrize("index, tagged", [(0, True), (7, True), (8, False), (15, False)])
def test_opening_only_in_the_first_eight_utterances(make_conversation, sop, index, tagged):
    expected = [("opening", index, 0.7, "rule:opening/您好,我是")] if tagged else []
    assert _tag(make_conversation, sop, "rep", "您好，我是王磊", index=index) == expected


@pytest.mark.parametrize("role", ["customer", "other"])
def test_only_the_rep_opens(make_conversation, sop, role):
    assert _tag(make_conversation, sop, role, "您好，我是云启科技的王磊") == []


def test_goodbye_cancels_an_opening_cue(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "好的，谢谢您，再见！祝您下午好") == []


# -- customer needs --------------------------------------------------------------------------

@pytest.mark.parametrize("role, text, source, confidence", [
    ("rep", "您目前是怎么管理客户的？", "rule:customer_needs/目前,怎么管理,re:怎么管理客户的?", 0.8),
    ("customer", "我们主要是想找一个能自动提醒跟进的系统", "rule:customer_needs/想找,主要是", 0.7),
    ("rep", "How do you track leads today?", "rule:customer_needs/how do you,re:how do you track leads today?", 0.7),
])
def test_needs_questions_and_statements(make_conversation, sop, role, text, source, confidence):
    assert _tag(make_conversation, sop, role, text) == [("customer_needs", 0, confidence, source)]


def test_no_need_is_not_a_need(make_conversation, sop):
    assert _tag(make_conversation, sop, "customer", "暂时不需要，谢谢") == []


# -- product introduction --------------------------------------------------------------------

def test_product_intro_zh(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "我们的系统可以帮您自动分配线索") == [
        ("product_intro", 0, 0.9, "rule:product_intro/我们的,可以帮您,帮您,自动")]


def test_product_intro_en(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "Our platform automatically assigns leads and helps you save time",
                language="en") == [("product_intro", 0, 0.9, "rule:product_intro/our,helps you,automatically,save")]


def test_confidence_is_capped_and_source_lists_five_cues(make_conversation, sop):
    # Eight cues fire; 0.6 + 0.7 would exceed the 0.95 ceiling.
    assert _tag(make_conversation, sop, "rep", "我们的方案包含自动提醒功能，可以帮您节省时间") == [
        ("product_intro", 0, 0.95, "rule:product_intro/我们的,功能,可以帮您,帮您,自动")]


def test_a_customer_saying_our_is_not_a_product_intro(make_conversation, sop):
    assert _tag(make_conversation, sop, "customer", "我们的销售都用Excel") == []


def test_goodbye_cancels_a_product_intro(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "好的，我们的顾问会再联系您，再见！") == []


# -- customer approval -----------------------------------------------------------------------

@pytest.mark.parametrize("text, source", [
    ("听起来不错", "rule:customer_approval/不错"),
    ("That's interesting", "rule:customer_approval/interesting"),
])
def test_customer_approval(make_conversation, sop, text, source):
    assert _tag(make_conversation, sop, "customer", text) == [("customer_approval", 0, 0.6, source)]


@pytest.mark.parametrize("role, text", [
    ("rep", "不错"),                       # the rep cannot approve for the customer
    ("customer", "有用吗？我看没什么用"),   # 有用 fires, 没什么用 cancels it
    ("customer", "We're not interested"),  # "interested" fires, "not interested" cancels it
])
def test_no_approval(make_conversation, sop, role, text):
    assert _tag(make_conversation, sop, role, text) == []


# -- several nodes in one utterance ----------------------------------------------------------

def test_approval_and_objection_in_one_message_in_sop_order(make_conversation, sop):
    assert _tag(make_conversation, sop, "customer", "听起来不错，就是太贵了") == [
        ("customer_approval", 0, 0.6, "rule:customer_approval/不错"),
        ("price_objection", 0, 0.7, "rule:price_objection/太贵,贵了"),
    ]


def test_events_come_by_utterance_and_carry_the_text_as_evidence(make_conversation, sop):
    conversation = make_conversation([
        ("rep", "您好，我是王磊"),
        ("customer", "预算最多五万"),
        ("rep", "明天下午两点来试驾"),
    ])
    events = RuleTagger().tag(conversation, sop)
    assert [(e.utterance_index, e.node_id, e.evidence) for e in events] == [
        (0, "opening", "您好，我是王磊"),
        (1, "customer_needs", "预算最多五万"),
        (1, "price_objection", "预算最多五万"),
        (2, "next_step", "明天下午两点来试驾"),
    ]
    assert events[2].source == "rule:price_objection/re:最多五万"


# -- realistic sentences the first cue lists of configs/sop.yaml got wrong ---------------------

def test_shopping_around_is_not_a_price_objection(make_conversation, sop):
    assert _tag(make_conversation, sop, "customer", "我们再看看别家") == []


def test_vague_follow_up_carries_no_event(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "有需要再联系") == []


def test_service_greeting_is_not_a_product_intro(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "很高兴为您服务") == []


def test_english_weekend_call_back_is_a_next_step(make_conversation, sop):
    events = _tag(make_conversation, sop, "rep", "I'll call you Saturday at ten a.m.", language="en")
    assert [node for node, *_ in events] == ["next_step"]


def test_a_time_alone_is_no_next_step(make_conversation, sop):
    assert _tag(make_conversation, sop, "rep", "See you at 3pm", language="en") == []


def test_competitor_quote_is_a_price_objection(make_conversation, sop):
    events = _tag(make_conversation, sop, "customer", "另一家同款落地便宜八千")
    assert [node for node, *_ in events] == ["price_objection"]


def test_asking_about_a_past_test_drive_is_not_a_next_step(make_conversation, sop):
    events = _tag(make_conversation, sop, "rep", "周六试驾感觉怎么样？")
    assert "next_step" not in [node for node, *_ in events]
