"""Node scores worked out by hand from the formulas in pipeline/scoring/nodes.py (and docs/scoring.md).

Formulas (configs/sop.yaml: weights key_points 0.4, communication_skill 0.25, attitude 0.2,
customer_feedback 0.15; max_monologue zh 120 characters; feedback window 3 customer utterances):

- key_points = 100 × items covered / items (an item counts only on its ``speaker``'s utterances
  in the scope: the tagged utterances plus what is nested under them in the event tree);
- communication_skill = 100 × mean(open questions / questions, monologue, turn taking);
- attitude = 70 + 30 (any polite marker) − 35 per forbidden phrase, clamped to 0–100;
- customer_feedback = 50 + 50 × mean over the window of clamp(polarity + approval − objection, −1, 1),
  with the customer's polarity (P(positive) − P(negative) from the sentiment model) set by hand
  here so the values can be worked out (the model itself is tested in test_sentiment.py);
- total = Σ w·score / Σ w over the observed dimensions.
"""

from __future__ import annotations

import pytest

from pipeline.events import RuleTagger, build_event_tree
from pipeline.scoring import score_node, score_nodes
from pipeline.sop import DIMENSIONS


# Hand-set reactions: by text for the short conversations; the sales chat's are in tests/conftest.py.
REACTION_BY_TEXT = {"好的": 1.0, "Sounds good.": 1.0}


def _polarity(conversation):
    return tuple(REACTION_BY_TEXT.get(u.text, 0.0) if u.speaker_role == "customer" else None
                 for u in conversation.utterances)


def _scores(conversation, sop, polarity=None):
    """Node scores by node id; ``polarity`` defaults to the hand-set reactions by text."""
    events = RuleTagger().tag(conversation, sop)
    tree = build_event_tree(conversation, events, sop)
    polarity = polarity if polarity is not None else _polarity(conversation)
    return {score.node_id: score for score in score_nodes(conversation, events, tree, sop, polarity)}


def _dims(score):
    return tuple(d.score for d in score.dimensions)


# The sales chat of tests/conftest.py (SALES_CHAT). Tagged: 0 opening, 2+3 customer_needs,
# 4 product_intro, 5 customer_approval, 7 price_objection, 10 next_step. Tree: 1 answers 0;
# 3 answers 2 and 4 answers 3 (depth 2); 6 answers 5; 8 answers 7; 11 answers 10.
HAND_WORKED = {
    # scope {0, 1}. Key points: 您好 · 我是 · 科技 · 想跟您 · 方便吗 → 5/5 = 100.
    # Skill: "…您现在方便吗？" is the only question, closed → 0; the turn is 32 characters ≤ 120 → 1;
    #   the customer answered → 1. (0 + 1 + 1) / 3 = 66.7.
    # Attitude: 您 → 100. Feedback: customer utterances 1, 3, 5: 0, 0, 0.5 + 1 (approval at 5) → 1
    #   → 50 + 50·(1/3) = 66.7.
    # Total: .4·100 + .25·66.7 + .2·100 + .15·66.7 = 86.68 → 86.7. Weakest: skill (ties feedback, comes first).
    "opening": ((100.0, 66.7, 100.0, 66.7), 86.7,
                "多用开放式问题（“您现在是怎么做的？”），每段讲解控制在两三句话，留时间让客户回应。", (0,)),
    # scope {2, 3, 4}; items are the rep's: only 目前 (situation) in 2 or 4 → 1/5 = 20.
    # Skill: "…怎么管理客户资料的？" open → 1; 14 characters → 1; both occurrences answered → 1 → 100.
    # Attitude: 您 in 2 → 100. Feedback: 5 → 1 (clamped), 7: −0.5 − 1 (objection) → −1, 9: 0.6
    #   → mean 0.2 → 60.  Total: 8 + 25 + 20 + 9 = 62.
    "customer_needs": ((20.0, 100.0, 100.0, 60.0), 62.0,
                       "需求挖掘还缺：痛点、预算、时间要求、决策人，下次用开放式问题问清楚。", (2, 3)),
    # scope {4}. Benefit 自动 · proof 客户 · tied to need: shares "excel", 客户, 离职 with 3 → 3/3 = 100.
    # Skill: no question; 33 characters → 1; answered → 1 → 100. Attitude: no polite form → 70.
    # Feedback: same window as the needs (5, 7, 9) → 60. Total: 40 + 25 + 14 + 9 = 88.
    # Weakest: feedback 60, but a reaction ≥ 50 is not negative and never picks the tip:
    # attitude 70 (no polite form) does.
    "product_intro": ((100.0, 100.0, 70.0, 60.0), 88.0, "多用“您/请/谢谢”等礼貌用语，让客户感到被尊重。", (4,)),
    # scope {5, 6}; no reinforce/advance cue in it → 0/2 = 0. Skill: turn taking only (the rep
    # answered) → 100. Attitude: the rep's 6 has no polite form → 70. Feedback: 7 → −1, 9 → 0.6,
    # 11 → 0.6: mean 0.0667 → 53.3. Total: 0 + 25 + 14 + 7.995 = 46.995 → 47.
    "customer_approval": ((0.0, 100.0, 70.0, 53.3), 47.0, "客户认可时还可以：强化认可、推进下一步。", (5,)),
    # scope {7, 8}. Checklist items are the rep's: "理解，算下来每天…可以先从基础版…您看可以吗" in 8
    # acknowledges, reframes, offers an option and confirms → 4/4.
    # Skill: turn taking → 100. Attitude: 您 in 8 → 100. Feedback: 9, 11 → 0.6 → 80.
    # Total: 40 + 25 + 20 + 12 = 97; every dimension ≥ 80 → "well done".
    "price_objection": ((100.0, 100.0, 100.0, 80.0), 97.0, "这个节点做得很好，保持。", (7,)),
    # scope {10, 11}: 周四/下午/三点 · 演示 · 我来 · the customer's 好的 → 4/4. 18 characters, answered,
    # 您; feedback 11 → 0.6 → 80. Total 97 → "well done".
    "next_step": ((100.0, 100.0, 100.0, 80.0), 97.0, "这个节点做得很好，保持。", (10,)),
}


@pytest.mark.parametrize("node_id", list(HAND_WORKED))
def test_sales_chat_node_scores_match_the_hand_worked_values(sales_chat, sales_chat_reactions, sop, node_id):
    dimensions, total, tip, indexes = HAND_WORKED[node_id]
    score = _scores(sales_chat, sop, sales_chat_reactions)[node_id]
    assert score.status == "present"
    assert tuple(d.dimension for d in score.dimensions) == DIMENSIONS
    assert _dims(score) == dimensions
    assert score.total == total
    assert score.tip == tip
    assert score.utterance_indexes == indexes


def test_scores_come_in_sop_order(sales_chat, sales_chat_reactions, sop):
    assert list(_scores(sales_chat, sop, sales_chat_reactions)) == list(sop.node_ids)


def test_explanations_and_evidence_say_why(sales_chat, sales_chat_reactions, sop):
    scores = _scores(sales_chat, sop, sales_chat_reactions)
    skill = scores["opening"].dimension("communication_skill")
    assert skill.explanation == "开放式提问 0/1；最长一段讲解 32 字（上限 120）；1/1 处让对方回应"
    assert skill.evidence == {"open_questions": 0.0, "monologue": 1.0, "turn_taking": 1.0}
    needs = scores["customer_needs"].dimension("key_points")
    assert needs.explanation == "要点完成 1/5；做到：现状；缺少：痛点、预算、时间要求、决策人"
    assert needs.evidence["covered"] == ["situation"]
    feedback = scores["customer_approval"].dimension("customer_feedback")
    assert feedback.evidence == {"window": [7, 9, 11], "reactions": [[7, -1.0], [9, 0.6], [11, 0.6]],
                                 "recurring_objection": [7]}
    assert feedback.explanation == "客户随后的反应：积极 2，消极 1"
    tied = scores["product_intro"].dimension("key_points").evidence["found"]["tied_to_need"]
    assert {"excel", "客户", "离职"} <= set(tied["shared_words"])


def test_the_reps_handling_of_a_price_objection_covers_its_key_points(sales_chat, sales_chat_reactions, sop):
    # Utterance 8: 理解 (acknowledge) · 算下来/每天 (reframe) · 可以先/基础版 (option) · 您看/可以吗 (confirm).
    assert _scores(sales_chat, sop, sales_chat_reactions)["price_objection"].dimension("key_points").score == 100.0


def test_a_missed_required_node_scores_zero_with_the_sops_tip(sales_chat, make_conversation, sop):
    # The sales chat cut before the rep proposes the demo: no next step.
    conversation = make_conversation([(u.speaker_role, u.text) for u in sales_chat.utterances[:10]])
    score = _scores(conversation, sop)["next_step"]
    assert (score.status, score.total, score.utterance_indexes) == ("missed", 0.0, ())
    assert [(d.dimension, d.score, d.explanation) for d in score.dimensions] == [
        (name, 0.0, "必要节点缺失") for name in DIMENSIONS]
    assert score.tip == "结束前约定具体的下一步：什么时间、做什么、谁负责，并让客户确认。"
    assert score.tip == sop.node("next_step").tips["missed"]["zh"]


def test_an_absent_optional_node_is_not_applicable(make_conversation, sop):
    conversation = make_conversation([("rep", "您好，我是王磊"), ("customer", "你好")])
    score = _scores(conversation, sop)["price_objection"]
    assert (score.status, score.dimensions, score.total, score.tip, score.utterance_indexes) == (
        "not_applicable", (), None, "", ())


def _next_step(make_conversation, sop, rep_text: str, reply: str = "好的"):
    conversation = make_conversation([("rep", rep_text), ("customer", reply)])
    return _scores(conversation, sop)["next_step"]


def test_forbidden_phrase_lowers_attitude_and_picks_the_tip(make_conversation, sop):
    polite = _next_step(make_conversation, sop, "那就明天上午十点给您演示，我来安排。")
    assert (_dims(polite), polite.total) == ((100.0, 100.0, 100.0, 100.0), 100.0)
    # 70 + 30 (您) − 35 (今天不定) = 65; total 40 + 25 + .2·65 + 15 = 93.
    pushy = _next_step(make_conversation, sop, "那就明天上午十点给您演示，我来安排，今天不定明天就没这个价了。")
    assert (_dims(pushy), pushy.total) == ((100.0, 100.0, 65.0, 100.0), 93.0)
    assert pushy.tip == "多用“您/请/谢谢”，避免“今天不定”这类施压或不礼貌的说法。"
    assert pushy.dimension("attitude").evidence == {"polite": [[0, "您"]], "forbidden": [[0, "今天不定"]]}


def test_two_forbidden_phrases_cost_seventy_and_the_tip_names_the_first(make_conversation, sop):
    # 70 + 30 − 2·35 = 30; total 40 + 25 + 6 + 15 = 86.
    score = _next_step(make_conversation, sop, "那就明天上午十点给您演示，我来安排。最后一天了，别犹豫了。")
    assert (_dims(score), score.total) == ((100.0, 100.0, 30.0, 100.0), 86.0)
    assert score.tip == "多用“您/请/谢谢”，避免“最后一天”这类施压或不礼貌的说法。"


def test_attitude_is_clamped_at_zero(make_conversation, sop):
    # 70 − 3·35 = −35 → 0; total 40 + 25 + 0 + 15 = 80.
    score = _next_step(make_conversation, sop, "你听我说，明天上午十点演示，我来安排，今天不定明天就没这个价了，别犹豫了")
    assert (_dims(score), score.total) == ((100.0, 100.0, 0.0, 100.0), 80.0)


def test_no_polite_form_without_pressure_gets_the_politeness_tip(make_conversation, sop):
    # 70 without 您/请/谢谢, no forbidden phrase; total 40 + 25 + 14 + 15 = 94.
    score = _next_step(make_conversation, sop, "那就明天上午十点演示，我来安排。")
    assert (_dims(score), score.total) == ((100.0, 100.0, 70.0, 100.0), 94.0)
    assert score.tip == "多用“您/请/谢谢”等礼貌用语，让客户感到被尊重。"


def test_tip_ties_go_to_the_first_dimension(make_conversation, sop):
    # Time 明天/上午/十点 and action 演示, no owner, no confirmation → 2/4 = 50; "嗯" is neutral → 50.
    # Skill 100, attitude 70. Key points and feedback tie at 50: key points come first.
    score = _next_step(make_conversation, sop, "明天上午十点演示", reply="嗯")
    assert (_dims(score), score.total) == ((50.0, 100.0, 70.0, 50.0), 66.5)
    assert score.tip == "下一步约定还缺：明确负责人、客户确认。"


def test_feedback_and_attitude_are_not_observed_without_the_other_side(make_conversation, sop):
    # A customer's next step alone: no rep in the scope, no customer after it.
    score = _scores(make_conversation([("customer", "那就明天上午十点演示吧")]), sop)["next_step"]
    # Key points: the time and action cues are the rep's items, the confirmation is the customer's
    # (好 is not in the text) → 0/4. Skill: nobody answered → turn taking 0.
    assert _dims(score) == (0.0, 0.0, None, None)
    assert score.total == 0.0
    assert score.dimension("attitude").explanation == "销售在该节点没有发言，无法评价"


def test_intro_that_ignores_the_stated_need_misses_tied_to_need(make_conversation, sop):
    conversation = make_conversation([
        ("rep", "您目前是怎么管理客户的？"),
        ("customer", "销售一离职就把客户带走了"),
        ("rep", "我们的系统支持微信登录，界面很简洁"),
        ("customer", "哦"),
    ])
    intro = _scores(conversation, sop)["product_intro"]
    key_points = intro.dimension("key_points")
    # 支持 is no benefit cue, nothing proves it, and it shares no word with the need: 0/3.
    assert key_points.score == 0.0
    assert key_points.evidence["missing_names"] == ["讲清价值", "案例或证明", "结合客户需求"]
    # needs_relevance (product_intro has it in sop.yaml): 0 of 1 rep utterances share a word with
    # the need; monologue 1, turn taking 1 → skill (0 + 1 + 1) / 3 = 66.7.
    skill = intro.dimension("communication_skill")
    assert skill.evidence == {"monologue": 1.0, "turn_taking": 1.0, "needs_relevance": 0.0}
    assert skill.score == 66.7
    assert skill.explanation.endswith("0/1 句讲解对上客户需求")


def test_english_node_explains_in_english(make_conversation, sop):
    conversation = make_conversation([("rep", "I'll send the demo invite for Thursday at 10:30."),
                                      ("customer", "Sounds good.")], language="en")
    score = _scores(conversation, sop)["next_step"]
    assert (_dims(score), score.total) == ((100.0, 100.0, 70.0, 100.0), 94.0)
    assert score.dimension("key_points").explanation == (
        "4/4 key points covered; done: Concrete time, Concrete action, Clear owner, Confirmed by the customer")
    assert score.tip == "Use polite forms (please, thank you) so the customer feels respected."


def test_score_node_scores_one_node(sales_chat, sales_chat_reactions, sop):
    events = RuleTagger().tag(sales_chat, sop)
    tree = build_event_tree(sales_chat, events, sop)
    assert score_node(sales_chat, events, tree, sop, sop.node("next_step"), sales_chat_reactions).total == 97.0


def test_cutting_the_customer_off_costs_skill_and_attitude(make_conversation, sop):
    import dataclasses

    from pipeline.scoring.interaction import conversation_metrics, interrupting_utterances

    times = [(0.0, 4.0), (4.5, 9.0), (8.2, 12.0), (12.6, 14.0)]
    plain = make_conversation([
        ("rep", "您好，请问您现在用什么系统管理客户？"),
        ("customer", "我们现在用的是那个表格，就是"),      # cut off: the rep starts at 8.2 s, before 9.0 s
        ("rep", "那您一定很需要我们的系统，明天上午十点我给您演示"),
        ("customer", "好的"),
    ], channel="phone")
    call = dataclasses.replace(plain, utterances=tuple(
        dataclasses.replace(u, start_s=start, end_s=end) for u, (start, end) in zip(plain.utterances, times)))
    interruptions = interrupting_utterances(conversation_metrics(call))
    assert interruptions == frozenset({2})
    assert interrupting_utterances(conversation_metrics(plain)) is None  # no times: cannot tell
    events = RuleTagger().tag(call, sop)
    tree = build_event_tree(call, events, sop)
    scores = {s.node_id: s for s in score_nodes(call, events, tree, sop, _polarity(call), interruptions)}
    untimed = {s.node_id: s for s in score_nodes(call, events, tree, sop, _polarity(call), None)}
    step, step_untimed = scores["next_step"], untimed["next_step"]
    # Utterance 2 is in the next step's scope. Skill: turn taking 1, monologue 1, let_finish
    # 1 − 0.5·1 = 0.5 → 83.3 (untimed: 100). Attitude: 70 + 30 (您) − 15 = 85 (untimed: 100).
    assert step.dimension("communication_skill").evidence == {"monologue": 1.0, "turn_taking": 1.0,
                                                               "let_finish": 0.5}
    assert (step.dimension("communication_skill").score, step_untimed.dimension("communication_skill").score) == (
        83.3, 100.0)
    assert (step.dimension("attitude").score, step_untimed.dimension("attitude").score) == (85.0, 100.0)
    assert step.dimension("attitude").explanation == "使用了礼貌用语（您）；打断客户 1 次"
    assert step.dimension("attitude").evidence["interruptions"] == [2]


def test_a_negative_reaction_picks_the_feedback_tip(make_conversation, sop):
    conversation = make_conversation([("rep", "那就明天上午十点给您演示，我来安排。"), ("customer", "好的"),
                                      ("customer", "算了，不用了")])
    events = RuleTagger().tag(conversation, sop)
    tree = build_event_tree(conversation, events, sop)
    # Reactions 0.2 and −0.9: feedback 50 + 50·(−0.35) = 32.5 < 50 → the feedback tip.
    score = {s.node_id: s for s in score_nodes(conversation, events, tree, sop, (None, 0.2, -0.9))}["next_step"]
    assert score.dimension("customer_feedback").score == 32.5
    assert score.tip == "客户反应偏消极：先确认客户的顾虑，再针对顾虑回应，而不是继续推进。"
