"""Interaction metrics: question kinds, turns, monologue length, who speaks next."""

from __future__ import annotations

import pytest

from pipeline.scoring import metrics


@pytest.mark.parametrize("text", [
    "您目前是怎么管理客户的？",
    "这个功能怎么样？",
    "您最看重的是什么？",          # ends in 什么: the 么 is not a yes/no particle
    "为什么？",
    "你们现在用什么系统呢？",      # 呢 closes wh-questions too
    "多少钱？",
    "How do you track leads today?",
    "What matters most to you?",
])
def test_open_questions(sop, text):
    assert metrics.question_kind(text, sop.scoring) == "open"


@pytest.mark.parametrize("text", [
    "您看看有什么问题吗？",        # an open cue, but it ends like a yes/no question
    "有没有预算？",
    "您现在方便吗？",
    "是这样吗",                    # no question mark: the particle makes it a question
    "Do you use a CRM?",
    "Is Thursday OK for you?",
])
def test_closed_questions(sop, text):
    assert metrics.question_kind(text, sop.scoring) == "closed"


@pytest.mark.parametrize("text", ["我们下周演示。", "好的", "Thanks, talk soon."])
def test_statements_are_not_questions(sop, text):
    assert not metrics.is_question(text)
    assert metrics.question_kind(text, sop.scoring) is None


def test_full_width_question_mark_counts(sop):
    assert metrics.is_question("什么时候上线？")
    assert metrics.question_kind("什么时候上线？", sop.scoring) == "open"


def test_longest_rep_turn_counts_characters_of_the_whole_turn(make_conversation):
    conversation = make_conversation([
        ("rep", "您好"),                       # 2 characters
        ("rep", "我是 王磊"),                  # 4 (white space does not count)
        ("customer", "你好你好你好你好你好"),
        ("rep", "我们的系统可以帮您"),          # 9
    ])
    assert metrics.longest_rep_turn(conversation, [0]) == 6
    assert metrics.longest_rep_turn(conversation, [1]) == 6
    assert metrics.longest_rep_turn(conversation, [3]) == 9
    assert metrics.longest_rep_turn(conversation, [0, 3]) == 9
    assert metrics.longest_rep_turn(conversation, [2]) == 0  # customer turns are not the rep's speech


def test_longest_rep_turn_counts_words_in_english(make_conversation):
    conversation = make_conversation([("rep", "Hi Sarah, this is Emily."), ("rep", "Got a minute?")],
                                     language="en")
    assert metrics.longest_rep_turn(conversation, [1]) == 5 + 3


def test_turns_step_over_system_lines(make_conversation):
    conversation = make_conversation([
        ("rep", "您好"),
        ("other", "你撤回了一条消息"),
        ("rep", "我是王磊"),
        ("customer", "你好"),
    ])
    assert [u.index for u in metrics.turn_of(conversation, 0)] == [0, 2]
    assert [u.index for u in metrics.turn_of(conversation, 2)] == [0, 2]
    assert metrics.longest_rep_turn(conversation, [0]) == 6
    # The rep's turn is answered by the customer, not by the rep's own second message.
    assert metrics.next_turn_role(conversation, 0) == "customer"


def test_next_turn_role(make_conversation):
    conversation = make_conversation([
        ("rep", "您好"),
        ("rep", "我是王磊"),
        ("customer", "你好"),
        ("other", "系统消息"),
        ("rep", "您现在方便吗？"),
    ])
    assert metrics.next_turn_role(conversation, 0) == "customer"
    assert metrics.next_turn_role(conversation, 1) == "customer"
    assert metrics.next_turn_role(conversation, 2) == "rep"      # the system line is skipped
    assert metrics.next_turn_role(conversation, 4) is None       # nobody speaks after the end


def test_customer_turns_after_and_lexicon_hits(make_conversation, sop):
    conversation = make_conversation([
        ("customer", "嗯"), ("rep", "标准版99元"), ("customer", "太贵了"), ("rep", "理解"),
        ("customer", "好的，没问题"), ("customer", "谢谢"), ("customer", "再见"),
    ])
    window = metrics.customer_turns_after(conversation, 1, 3)
    assert [u.index for u in window] == [2, 4, 5]
    assert metrics.lexicon_hits(sop.scoring.polite_markers, window) == [(5, "谢谢")]
