"""Interaction metrics worked out by hand from the formulas in pipeline/scoring/interaction.py.

Text units: Chinese characters plus Latin/digit words; punctuation and chat codes do not count.
Every value below is computed in the comments next to the conversation it comes from.
"""

from __future__ import annotations

import json

import pytest

from pipeline.models import Conversation, ConversationMeta, Utterance
from pipeline.scoring.interaction import (
    METRIC_NAMES,
    Metric,
    MetricsConfig,
    conversation_metrics,
    fillers,
    question_sentences,
    text_units,
)

NAMES = {"rep": "王磊", "customer": "李女士", "other": "系统消息"}


def _conversation(rows, language="zh", channel="phone") -> Conversation:
    """``rows`` are (role, text), (role, text, start_s) or (role, text, start_s, end_s)."""
    utterances = []
    for index, row in enumerate(rows):
        role, text, *times = row
        start_s, end_s = (list(times) + [None, None])[:2]
        utterances.append(Utterance(index=index, speaker_role=role, speaker_name=NAMES[role], text=text,
                                    start_s=start_s, end_s=end_s))
    return Conversation(conversation_id="test", source_path="test.json", source_key=None, source_format="json",
                        meta=ConversationMeta(channel=channel, language=language), utterances=tuple(utterances))


def _by_name(conversation, config=MetricsConfig()) -> dict[str, Metric]:
    result = conversation_metrics(conversation, config)
    assert tuple(m.name for m in result) == METRIC_NAMES
    for metric in result:
        assert (metric.value is None) == (not metric.applicable), metric
        assert metric.explanation, metric
        json.dumps(metric.evidence, ensure_ascii=False)  # the store writes evidence as JSON
    return {m.name: m for m in result}


def _assert_values(metrics, expected):
    """Every metric's (value, unit); value None for not applicable."""
    assert set(expected) == set(metrics)
    for name, (value, unit) in expected.items():
        metric = metrics[name]
        assert metric.unit == unit, name
        if value is None:
            assert not metric.applicable and metric.value is None, name
        else:
            assert metric.applicable, name
            assert metric.value == pytest.approx(value), name


# --- A Chinese phone call with timestamps -------------------------------------------------------

ZH_CALL = (
    # role        text                                                   start   end    units
    ("rep", "您好，我是云栈CRM的王磊，现在方便吗？", 0.0, 5.0),                   # 0   14 + "crm" = 15
    ("customer", "方便，你说。", 6.0, 7.0),                                       # 1
    ("rep", "嗯，那个，您现在用的是什么系统", 8.0, 14.0),                         # 2   13
    ("customer", "我们一直用Excel，销售一离职", 15.5, 21.0),                      # 3   cut off: no final mark
    ("rep", "嗯", 18.0, 18.4),                                                    # 4   1; inside 3: backchannel
    ("rep", "就是，客户就带走了对吧", 21.1, 24.0),                                # 5   10; 0.1 s after 3 → interruption
    ("customer", "对，很头疼。", 24.5, 27.0),                                     # 6
    ("rep", "预算大概多少", 28.5, 31.0),                                          # 7   6
    ("rep", "像您这样的团队一般一年两三万", 31.5, 36.0),                          # 8   14
    ("customer", "差不多，有没有便宜点的。", 35.0, 40.0),                         # 9
    ("rep", "有的，基础版便宜一半。是不是下周比较方便，我给您演示一下", 42.0, 48.0),  # 10  2+7+9+7 = 25
    ("customer", "可以，那就下周二上午，到时候你把报价也带上。", 50.0, 60.0),     # 11
)
# Floor (backchannel 4 left out, by start): 0 1 2 3 5 6 7 8 9 10 11.
# Turns: R[0] C[1] R[2] C[3] R[5] C[6] R[7,8] C[9] R[10] C[11] → 10 turns, 9 switches.
# Rep speech s: 5 + 6 + 0.4 + 2.9 + 2.5 + 4.5 + 6 = 27.3 (the backchannel is speech too).
# Customer speech s: 1 + 5.5 + 2.5 + 5 + 10 = 24.0.  talk_ratio = 27.3 / 51.3.
# Conversation time: 0.0 → 60.0 = 60 s = 1 min.  interactivity = 9 / 1 = 9 per minute.
# Longest rep turn: R[7,8] 28.5 → 36.0 = 7.5 s (R[2] and R[10] are 6 s).
# Longest customer turn: C[11] 50 → 60 = 10 s (C[3] is 5.5 s).
# Customer → rep gaps: C[1]→R[2] 8.0 − 7.0 = 1.0 · C[3]→R[5] 21.1 − 21.0 = 0.1 < 0.3 and 3 cut off:
#   interruption · C[6]→R[7] 28.5 − 27.0 = 1.5 · C[9]→R[10] 42.0 − 40.0 = 2.0.
#   rep_response_latency_s = median(1.0, 1.5, 2.0) = 1.5; rep_interruptions = 1.
# Rep utterances ending in a question, wait to the next floor utterance:
#   0 (…方便吗？) 6.0 − 5.0 = 1.0 · 2 (什么) 15.5 − 14.0 = 1.5 · 5 (对吧) 24.5 − 24.0 = 0.5 ·
#   7 (多少) 31.5 − 31.0 = 0.5 (the rep answered their own question) · 10 (是不是) 50.0 − 48.0 = 2.0.
#   wait_after_question_s = median(0.5, 0.5, 1.0, 1.5, 2.0) = 1.0.
# Rep questions: 0, 2, 5, 7 and the second sentence of 10 = 5; rate = 5 per 1 min = 50 per 10 min.
# Rep units: 15 + 13 + 1 + 10 + 6 + 14 + 25 = 84; pace = 84 / 27.3 s × 60.
# Fillers: 2 嗯 + 那个 (set off by commas), 4 嗯, 5 就是 (clause start, comma after) = 4;
#   filler_rate = 4 / 84 × 100.


def test_chinese_call_every_metric():
    metrics = _by_name(_conversation(ZH_CALL))
    _assert_values(metrics, {
        "talk_ratio": (27.3 / 51.3, "ratio"),
        "longest_rep_monologue": (7.5, "s"),
        "longest_customer_story": (10.0, "s"),
        "interactivity": (9.0, "per_min"),
        "rep_response_latency_s": (1.5, "s"),
        "rep_interruptions": (1, "count"),
        "wait_after_question_s": (1.0, "s"),
        "question_count": (5, "count"),
        "question_rate": (50.0, "per_10_min"),
        "speaking_pace": (84 * 60 / 27.3, "chars_per_min"),
        "filler_rate": (4 / 84 * 100, "per_100_chars"),
    })


def test_chinese_call_evidence_and_explanations():
    metrics = _by_name(_conversation(ZH_CALL))
    assert metrics["talk_ratio"].explanation == "销售说话时间占 53%（按双方语音时长 27.3/51.3 秒，不按通话时长）"
    assert metrics["longest_rep_monologue"].evidence == {"utterance_indexes": [7, 8], "start_s": 28.5, "end_s": 36.0}
    assert metrics["longest_customer_story"].evidence["utterance_indexes"] == [11]
    assert metrics["interactivity"].evidence == {"switches": 9, "conversation_s": 60.0, "backchannel_indexes": [4]}
    latency = metrics["rep_response_latency_s"].evidence
    assert [index for index, _ in latency["responses"]] == [2, 7, 10]
    assert [index for index, _ in latency["interruptions"]] == [5]
    assert metrics["wait_after_question_s"].evidence["waits"] == [
        [0, 1.0], [2, 1.5], [5, pytest.approx(0.5)], [7, 0.5], [10, 2.0]]
    assert metrics["question_count"].evidence["questions"] == [
        [0, "您好，我是云栈CRM的王磊，现在方便吗？"], [2, "嗯，那个，您现在用的是什么系统"],
        [5, "就是，客户就带走了对吧"], [7, "预算大概多少"], [10, "是不是下周比较方便，我给您演示一下"]]
    assert metrics["filler_rate"].evidence["fillers"] == [[2, "嗯"], [2, "那个"], [4, "嗯"], [5, "就是"]]


def test_a_longer_pause_after_a_cut_off_sentence_is_a_response():
    # Same call, the rep waits 0.5 s (≥ min_pause_s 0.3) after the customer's unfinished "销售一离职".
    rows = list(ZH_CALL)
    rows[5] = ("rep", "就是，客户就带走了对吧", 21.5, 24.0)
    metrics = _by_name(_conversation(rows))
    assert metrics["rep_interruptions"].value == 0
    # Responses 1.0, 0.5, 1.5, 2.0: median (1.0 + 1.5) / 2.
    assert metrics["rep_response_latency_s"].value == pytest.approx(1.25)
    # With a pause threshold of 1 s the same 0.5 s counts as an interruption again.
    strict = _by_name(_conversation(rows), MetricsConfig(min_pause_s=1.0))
    assert strict["rep_interruptions"].value == 1


def test_a_backchannel_does_not_split_the_customers_story():
    rows = [
        ("customer", "我们去年换过一次系统，结果数据迁移出了很多问题", 0.0, 20.0),
        ("rep", "嗯", 5.0, 5.5),                 # entirely inside 0: a backchannel, not a turn
        ("customer", "所以这次特别谨慎。", 21.0, 30.0),
    ]
    metrics = _by_name(_conversation(rows))
    # One customer turn 0.0 → 30.0; without the rule it would be 20 s, with 2 switches and an interruption.
    assert metrics["longest_customer_story"].value == 30.0
    assert metrics["longest_customer_story"].evidence["utterance_indexes"] == [0, 2]
    assert metrics["interactivity"].value == 0.0
    assert metrics["rep_interruptions"].value == 0
    assert metrics["talk_ratio"].value == pytest.approx(0.5 / 29.5)   # the "嗯" is still speech
    # The backchannel is not the rep's floor either: there is no rep turn to measure.
    assert not metrics["longest_rep_monologue"].applicable
    assert metrics["longest_rep_monologue"].explanation == "销售只在对方说话时附和（嗯、对），没有自己的一段话"


def test_utterances_with_the_same_times_are_both_turns():
    rows = [("rep", "您好", 0.0, 1.0), ("customer", "你好", 0.0, 1.0)]
    metrics = _by_name(_conversation(rows))
    assert metrics["interactivity"].evidence["backchannel_indexes"] == []
    assert metrics["interactivity"].value == 60.0                     # 1 switch in 1 s
    assert metrics["longest_rep_monologue"].value == 1.0


# --- An English phone call ----------------------------------------------------------------------

EN_CALL = (
    ("rep", "Hi Sarah, this is Emily from Cloudstack. Do you have a minute?", 0.0, 4.0),  # 0  12 words
    ("customer", "Sure, go ahead.", 4.5, 6.0),                                              # 1
    ("rep", "Um, so, what are you using to track leads today?", 7.0, 13.0),               # 2  10 words
    ("customer", "Mostly spreadsheets, and honestly it's like, a mess when someone leaves", 14.0, 22.0),  # 3
    ("rep", "Right, like, I'd like to show you how we fix that.", 21.0, 25.0),             # 4  11 words
    ("customer", "Okay.", 26.0, 28.0),                                                      # 5
    ("rep", "Uh, would Thursday work for a demo?", 29.5, 34.5),                             # 6  7 words
    ("customer", "Thursday works.", 37.0, 40.0),                                            # 7
)
# No backchannel (4 starts inside 3 but ends after it). Turns R C R C R C R C: 7 switches.
# Rep speech 4 + 6 + 4 + 5 = 19 s; customer 1.5 + 8 + 2 + 3 = 14.5 s; talk_ratio = 19 / 33.5.
# Conversation 0 → 40 s; interactivity = 7 / (40/60) = 10.5 per minute.
# Longest rep turn: 2, 6 s. Longest customer turn: 3, 8 s.
# Gaps: C1→R2 7.0 − 6.0 = 1.0 · C3→R4 21.0 − 22.0 = −1.0: interruption · C5→R6 29.5 − 28.0 = 1.5.
#   latency = median(1.0, 1.5) = 1.25; interruptions = 1.
# Questions ending an utterance: 0 (Do you have a minute?) wait 4.5 − 4.0 = 0.5 · 2: 14.0 − 13.0 = 1.0 ·
#   6: 37.0 − 34.5 = 2.5 → median 1.0. Question count 3; rate 3 / 40 s × 600 = 45 per 10 min.
# Rep words 12 + 10 + 11 + 7 = 40; pace 40 / 19 s × 60.
# Fillers: "Um" · "like," (set off by commas; "I'd like to" is not) · "Uh" = 3; rate 3 / 40 × 100 = 7.5.
# The customer's "it's like," is not counted: fillers are the rep's.


def test_english_call_every_metric():
    metrics = _by_name(_conversation(EN_CALL, language="en"))
    _assert_values(metrics, {
        "talk_ratio": (19 / 33.5, "ratio"),
        "longest_rep_monologue": (6.0, "s"),
        "longest_customer_story": (8.0, "s"),
        "interactivity": (10.5, "per_min"),
        "rep_response_latency_s": (1.25, "s"),
        "rep_interruptions": (1, "count"),
        "wait_after_question_s": (1.0, "s"),
        "question_count": (3, "count"),
        "question_rate": (45.0, "per_10_min"),
        "speaking_pace": (40 * 60 / 19, "words_per_min"),
        "filler_rate": (7.5, "per_100_words"),
    })
    assert metrics["rep_interruptions"].evidence["interruptions"] == [[4, -1.0]]
    assert metrics["filler_rate"].evidence["fillers"] == [[2, "um"], [4, "like"], [6, "uh"]]
    assert metrics["talk_ratio"].explanation == (
        "The rep spoke 57% of the speech time (19.0 of 33.5 s of speech, not of call time)")


# --- A WeChat chat with message times -----------------------------------------------------------

WECHAT = (
    ("rep", "李总您好，我是云栈CRM的王磊[微笑]", 0.0),                  # 0  11 + "crm" = 12 (sticker dropped)
    ("rep", "想跟您约个时间聊聊客户管理，您现在用的是什么系统", 5.0),   # 1  13 + 10 = 23, question (什么)
    ("customer", "Excel", 65.0),                                        # 2  1
    ("rep", "有没有考虑过换一套系统", 125.0),                           # 3  11, question (有没有)
    ("customer", "考虑过，预算不多。", 425.0),                           # 4  7
    ("other", "你撤回了一条消息", 430.0),                               # 5  system line: not speech
    ("rep", "嗯嗯，明白，预算大概多少", 545.0),                          # 6  10, question (多少)
    ("customer", "一年一万以内吧，多了批不下来", 1085.0),               # 7  13
)
# Rep units 12 + 23 + 11 + 10 = 56; customer 1 + 7 + 13 = 21; talk_ratio = 56 / 77.
# Turns (the system line stepped over): R[0,1] C[2] R[3] C[4] R[6] C[7]: 5 switches over 7 messages;
#   interactivity = 5 / 7 × 10 per 10 messages.
# Longest rep run R[0,1]: 35 chars, 2 messages; longest customer run C[7]: 13 chars.
# Latency by message time: C2→R3 125 − 65 = 60 · C4→R6 545 − 425 = 120 → median 90 s.
# Questions 3 in 4 rep messages → 75 per 100 messages.
# Not applicable in a chat: interruptions, wait after a question, speaking pace, fillers.


def test_wechat_chat_every_metric():
    metrics = _by_name(_conversation(WECHAT, channel="wechat"))
    _assert_values(metrics, {
        "talk_ratio": (56 / 77, "ratio"),
        "longest_rep_monologue": (35, "chars"),
        "longest_customer_story": (13, "chars"),
        "interactivity": (50 / 7, "per_10_messages"),
        "rep_response_latency_s": (90.0, "s"),
        "rep_interruptions": (None, "count"),
        "wait_after_question_s": (None, "s"),
        "question_count": (3, "count"),
        "question_rate": (75.0, "per_100_messages"),
        "speaking_pace": (None, "chars_per_min"),
        "filler_rate": (None, "per_100_chars"),
    })
    assert metrics["longest_rep_monologue"].evidence == {"utterance_indexes": [0, 1], "message_count": 2}
    assert metrics["rep_response_latency_s"].evidence["responses"] == [[3, 60.0], [6, 120.0]]
    assert metrics["talk_ratio"].explanation == "销售文字量占 73%（按字数 56/77，聊天没有语音时长）"
    assert metrics["speaking_pace"].explanation == "聊天是打字，不计算语速"
    assert "不按分钟" in metrics["interactivity"].explanation


def test_chat_without_times_loses_only_the_latency():
    timeless = [row[:2] for row in WECHAT]
    metrics = _by_name(_conversation(timeless, channel="wechat"))
    with_times = _by_name(_conversation(WECHAT, channel="wechat"))
    latency = metrics["rep_response_latency_s"]
    assert not latency.applicable and latency.value is None
    assert latency.explanation == "7/7 条消息没有发送时间，不估算"
    assert latency.evidence == {"untimed_indexes": [0, 1, 2, 3, 4, 6, 7]}
    for name in METRIC_NAMES:
        if name != "rep_response_latency_s":
            assert metrics[name] == with_times[name], name


def test_chat_messages_out_of_clock_order_are_left_out_of_the_latency():
    rows = list(WECHAT)
    rows[3] = ("rep", "有没有考虑过换一套系统", 60.0)   # 5 s before the customer's message it answers
    metrics = _by_name(_conversation(rows, channel="wechat"))
    assert metrics["rep_response_latency_s"].value == 120.0
    assert metrics["rep_response_latency_s"].evidence["out_of_order"] == [[3, -5.0]]


# --- Calls without (all) timestamps -------------------------------------------------------------

TIME_BASED = ("talk_ratio", "longest_rep_monologue", "longest_customer_story", "interactivity",
              "rep_response_latency_s", "rep_interruptions", "wait_after_question_s", "question_rate",
              "speaking_pace")


def test_call_without_timestamps_marks_time_metrics_not_applicable():
    metrics = _by_name(_conversation([row[:2] for row in ZH_CALL]))
    for name in TIME_BASED:
        assert not metrics[name].applicable and metrics[name].value is None, name
        assert metrics[name].explanation == "12/12 句没有开始或结束时间，不估算", name
    # What needs no clock is still measured, with the same values as the timed call.
    assert metrics["question_count"].value == 5
    assert metrics["filler_rate"].value == pytest.approx(4 / 84 * 100)
    # No backchannel detection without times: 4 ("嗯") is an ordinary rep utterance here.


def test_one_missing_time_is_not_papered_over():
    rows = list(EN_CALL)
    rows[5] = ("customer", "Okay.", 26.0, None)
    metrics = _by_name(_conversation(rows, language="en"))
    assert not metrics["talk_ratio"].applicable
    assert metrics["talk_ratio"].explanation == "1 of 8 utterances have no start or end time; not estimated"
    assert metrics["talk_ratio"].evidence == {"untimed_indexes": [5]}
    assert not metrics["speaking_pace"].applicable
    assert metrics["question_count"].value == 3


# --- Empty and one-utterance conversations ------------------------------------------------------


@pytest.mark.parametrize("channel", ["phone", "wechat"])
def test_empty_conversation(channel):
    metrics = _by_name(_conversation([], channel=channel))
    for name in METRIC_NAMES:
        if name == "question_count":
            assert metrics[name].value == 0   # a count of nothing is 0, not unknown
        else:
            assert not metrics[name].applicable, name


def test_one_utterance_call():
    # Rep 0.0 → 3.0 "喂，您好？": 3 chars; the customer never speaks.
    metrics = _by_name(_conversation([("rep", "喂，您好？", 0.0, 3.0)]))
    _assert_values(metrics, {
        "talk_ratio": (1.0, "ratio"),                         # 3 / (3 + 0)
        "longest_rep_monologue": (3.0, "s"),
        "longest_customer_story": (None, "s"),                # the customer never spoke
        "interactivity": (0.0, "per_min"),                    # 0 switches in 3 s
        "rep_response_latency_s": (None, "s"),                # no customer turn to answer
        "rep_interruptions": (0, "count"),
        "wait_after_question_s": (None, "s"),                 # the question ends the call: no wait to measure
        "question_count": (1, "count"),
        "question_rate": (200.0, "per_10_min"),               # 1 / 3 s × 600
        "speaking_pace": (60.0, "chars_per_min"),             # 3 chars / 3 s × 60
        "filler_rate": (0.0, "per_100_chars"),
    })
    assert metrics["longest_customer_story"].explanation == "客户没有发言"


def test_one_message_chat_in_english():
    metrics = _by_name(_conversation([("customer", "Hi, is anyone there?", 0.0)], language="en", channel="web_chat"))
    _assert_values(metrics, {
        "talk_ratio": (0.0, "ratio"),                         # 0 rep words of 4
        "longest_rep_monologue": (None, "words"),
        "longest_customer_story": (4, "words"),
        "interactivity": (0.0, "per_10_messages"),
        "rep_response_latency_s": (None, "s"),
        "rep_interruptions": (None, "count"),
        "wait_after_question_s": (None, "s"),
        "question_count": (0, "count"),                       # the customer's question is not the rep's
        "question_rate": (None, "per_100_messages"),          # no rep messages
        "speaking_pace": (None, "words_per_min"),
        "filler_rate": (None, "per_100_words"),
    })
    assert metrics["longest_rep_monologue"].explanation == "The rep never spoke"


# --- Building blocks ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "您现在用的是什么系统",           # question word, no "？"
    "预算大概多少",
    "是不是下周比较方便",             # A-not-A anywhere in the clause
    "有没有考虑过",
    "您团队有几个人",
    "你们在哪个城市",
    "您是做外贸的吧",                 # confirmation ending 的吧
    "客户就带走了对吧",
    "现在方便吗",                     # metrics.is_question's particle
    "您用什么系统，我们都能对接",     # the 都 is in the next clause
    "Do you have a minute?",
])
def test_questions_without_question_marks(text):
    assert question_sentences(text) == (text,)


@pytest.mark.parametrize("text", [
    "我们什么系统都能对接",           # question word + 都: "any system"
    "什么时候都可以",
    "无论您用哪家的系统，数据都能导入",
    "没什么问题",
    "有好几个客户在用",
    "几乎每家都在用",
    "我们周四见吧",                   # a bare 吧 closes a suggestion
    "算了吧",
    "那个方案我发您了",
    "像您这样的团队一般一年两三万",
    "Let me know what you think.",    # English relies on the "?"
])
def test_statements_are_not_questions(text):
    assert question_sentences(text) == ()


def test_question_sentences_split_on_sentence_marks_only():
    text = "有的，基础版便宜一半。是不是下周比较方便，我给您演示一下"
    assert question_sentences(text) == ("是不是下周比较方便，我给您演示一下",)
    assert question_sentences("方便吗？您用什么系统？团队多大？") == ("方便吗？", "您用什么系统？", "团队多大？")
    assert question_sentences("The price is 3.5 dollars. OK?") == ("OK?",)


@pytest.mark.parametrize("text, expected", [
    ("嗯，那个，就是，我们这个系统啊，主要是管客户", ("嗯", "那个", "就是")),   # 这个/啊 glued to a word
    ("那个方案我发您了", ()),                                               # 那个 = "that"
    ("这就是我们的优势", ()),                                               # 就是 = "is exactly"
    ("是啊，好啊，", ()),                                                   # modal particles
    ("啊，这个，怎么说呢", ("啊", "这个")),
    ("嗯嗯那个那个，我们", ("嗯", "嗯", "那个", "那个")),                   # a filler before another filler
    ("呃我想想", ("呃",)),                                                  # sounds count anywhere
    ("I'd like to show you the demo.", ()),                                 # "like" is a verb
    ("That's what I'd like.", ()),                                          # a full stop is no pause
    ("It's like, a mess", ("like",)),
    ("Um, so, you know, uh, we're like-minded", ("um", "you know", "uh")),
    ("The umbrella policy", ()),                                            # whole words only
])
def test_fillers(text, expected):
    assert fillers(text) == expected


def test_text_units():
    assert text_units("李总您好，我是云栈CRM的王磊[微笑]") == 12      # 11 characters + CRM; no sticker, no comma
    assert text_units("Right, like, I'd like to show you how we fix that.") == 11
    assert text_units("标准版每人每月99元。") == 9                   # 8 characters + "99"


def test_custom_lexicons_change_the_counts():
    config = MetricsConfig.from_mapping({"filler_sounds_zh": ["嗯", "呃", "额"], "zh_question_words": ["什么"]})
    assert fillers("额，我看看", config) == ("额",)
    assert question_sentences("预算大概多少", config) == ()


# --- Configuration ------------------------------------------------------------------------------


def test_from_mapping_defaults_and_values():
    assert MetricsConfig.from_mapping(None) == MetricsConfig()
    assert MetricsConfig.from_mapping({}) == MetricsConfig()
    config = MetricsConfig.from_mapping({"min_pause_s": 0.5, "call_channels": ["phone"],
                                         "filler_words_en": ["Like", "you know"]})
    assert config.min_pause_s == 0.5
    assert config.call_channels == ("phone",)
    assert config.filler_words_en == ("like", "you know")   # normalised like the text it is matched on
    hash(config)  # frozen and hashable: usable as a cache key


def test_call_channels_decide_how_a_conversation_is_measured():
    as_chat = _by_name(_conversation(ZH_CALL), MetricsConfig(call_channels=("meeting",)))
    assert as_chat["speaking_pace"].applicable is False
    assert as_chat["interactivity"].unit == "per_10_messages"


@pytest.mark.parametrize("raw, message", [
    ({"filler_rate": 3}, "unknown key 'filler_rate'"),
    ({"min_pause": 0.3}, "unknown key 'min_pause'"),
    ({"min_pause_s": -1}, "scoring.metrics.min_pause_s"),
    ({"min_pause_s": "0.3"}, "scoring.metrics.min_pause_s"),
    ({"min_pause_s": True}, "scoring.metrics.min_pause_s"),
    ({"filler_sounds_zh": "嗯呃"}, "scoring.metrics.filler_sounds_zh"),   # a string, not a list
    ({"filler_words_en": ["like", ""]}, "scoring.metrics.filler_words_en"),
    ({"zh_question_cues": [1, 2]}, "scoring.metrics.zh_question_cues"),
    ({"call_channels": ["call"]}, "unknown channel 'call'"),
    (["min_pause_s"], "must be a mapping"),
])
def test_from_mapping_rejects_bad_settings(raw, message):
    with pytest.raises(ValueError, match=message):
        MetricsConfig.from_mapping(raw)


def test_backchannel_sweep_matches_the_definition_on_random_calls():
    """The O(n log n) sweep finds exactly the utterances said entirely inside a strictly longer
    utterance of the other side (the definition, checked pair by pair)."""
    import random

    from pipeline.models import Utterance
    from pipeline.scoring.interaction import _inside_other_side

    rng = random.Random(7)
    for _ in range(200):
        speech = []
        for index in range(rng.randint(1, 12)):
            start = rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0])
            speech.append(Utterance(index, rng.choice(["rep", "customer"]), "", "嗯", start_s=start,
                                    end_s=start + rng.choice([0.5, 1.0, 2.0, 3.0])))
        brute = {u.index for u in speech if any(
            o.speaker_role != u.speaker_role and o.start_s <= u.start_s and u.end_s <= o.end_s
            and u.end_s - u.start_s < o.end_s - o.start_s for o in speech)}
        assert _inside_other_side(tuple(speech)) == brute
