"""Auto notes: needs, objections with the rep's answer and what followed, next steps with when /
what / who, in the conversation's language."""

from __future__ import annotations

from pipeline.events import RuleTagger, build_event_tree
from pipeline.scoring.notes import conversation_notes


def _notes(conversation, sop, reactions=None):
    events = RuleTagger().tag(conversation, sop)
    tree = build_event_tree(conversation, events, sop)
    reactions = reactions or {}
    polarity = tuple(reactions.get(u.index, 0.0) if u.speaker_role == "customer" else None
                     for u in conversation.utterances)
    return conversation_notes(conversation, events, tree, sop, polarity)


def test_sales_chat_notes_quote_the_conversation(sales_chat, sales_chat_reactions, sop):
    events = RuleTagger().tag(sales_chat, sop)
    notes = conversation_notes(sales_chat, events, build_event_tree(sales_chat, events, sop), sop,
                               sales_chat_reactions)
    assert notes.lines() == [
        "客户需求：「现在都用Excel，销售一离职客户就带走了，很头疼。」",
        "客户认可：「听起来不错，多少钱？」",
        # 9 "好的，那先试试。" has reaction 0.6 ≥ 0.3: accepted.
        "价格异议：「太贵了，隔壁才69。」 → 销售回应 「理解，算下来每天才三块钱，可以先从基础版开始，您看可以吗？」 → 客户接受",
        "下一步：「那就周四下午三点给您演示，我来安排。」（时间 周四/下午/三点；事项 演示；负责 销售；客户已确认）",
    ]
    objection = notes.items[2]
    assert (objection.utterance_indexes, objection.answer_index, objection.outcome) == ((7,), 8, "accepted")


def test_an_objection_that_comes_back_and_a_next_step_nobody_confirmed(make_conversation, sop):
    conversation = make_conversation([
        ("rep", "标准版一年九千八"),
        ("customer", "太贵了"),                     # 1 objection
        ("rep", "理解，可以先从基础版开始"),         # 2 answer
        ("customer", "还是太贵了"),                 # 3 the objection again
        ("rep", "那我明天下午给您发报价单"),         # 4 next step, no reply
    ])
    notes = _notes(conversation, sop, {1: -0.8, 3: -0.8})
    objections = [item for item in notes.items if item.kind == "objection"]
    assert [(o.utterance_indexes, o.outcome) for o in objections] == [((1,), "recurred"), ((3,), "no_reply")]
    (step,) = [item for item in notes.items if item.kind == "next_step"]
    assert (step.outcome, step.details) == ("unconfirmed", {"when": ["明天", "下午"], "what": ["报价"], "who": None})


def test_english_notes_are_in_english(make_conversation, sop):
    conversation = make_conversation([
        ("customer", "Honestly that's too expensive for us."),
        ("rep", "I understand. Over a year it pays for itself; we could start with the basic plan."),
        ("customer", "Hmm."),
        ("rep", "I'll send the demo invite for Thursday at 10:30."),
        ("customer", "Sounds good."),
    ], language="en")
    assert _notes(conversation, sop).lines() == [
        # Quotes stop at 80 characters.
        "Price objection: \u201cHonestly that's too expensive for us.\u201d → rep answered \u201cI understand. "
        "Over a year it pays for itself; we could start with the basic pla…\u201d → customer did not say",
        "Next step: \u201cI'll send the demo invite for Thursday at 10:30.\u201d (when thursday; what demo; "
        "who rep; confirmed by the customer)",
        "Customer approval: \u201cSounds good.\u201d",   # the rule tagger reads it as approval too
    ]


def test_no_tagged_events_no_notes(make_conversation, sop):
    assert _notes(make_conversation([("rep", "喂"), ("customer", "喂？")]), sop).items == ()


def test_a_proposal_and_its_confirmations_are_one_next_step(make_conversation, sop):
    conversation = make_conversation([
        ("customer", "你们能先来演示一下吗"),                 # 0 (no time: the rules do not tag it)
        ("rep", "没问题，周四下午三点我来您公司演示"),         # 1
        ("customer", "周四下午三点可以"),                     # 2
        ("rep", "好的，那周四下午三点见，我今晚把邀请发您"),    # 3
    ])
    steps = [item for item in _notes(conversation, sop).items if item.kind == "next_step"]
    assert len(steps) == 1
    (step,) = steps
    assert step.outcome == "confirmed" and step.details["who"] == "rep"
    assert step.utterance_indexes == (1, 2, 3)  # proposal, acceptance, confirmation
    assert {"周四", "下午"} <= set(step.details["when"]) and "演示" in step.details["what"]
