"""Mono role attribution from SOP cues and turn structure."""

from pathlib import Path

from pipeline.sop import load_sop
from pipeline.transcribe.roles import attribute_roles, switch_probability, turn_evidence

SOP = load_sop(Path(__file__).resolve().parents[3] / "configs" / "sop.yaml")


def test_self_introduction_and_price_objection_point_to_opposite_sides():
    assert turn_evidence("周总您好，我是云栈CRM的王磊", SOP, "王磊", "周总", 0) > 4
    assert turn_evidence("这个有点贵了", SOP, "王磊", "周总", 5) < 0


def test_alternating_call_is_attributed_with_confidence():
    texts = ["喂，周总您好，我是云栈CRM的王磊，现在方便吗？", "嗯，你说吧。",
             "您现在客户是怎么管理的？", "就用表格，经常对不上。",
             "我们的系统可以帮您自动汇总，节省很多时间。", "听着不错，就是有点贵。"]
    guesses = attribute_roles(texts, [0.6] * len(texts), SOP, "王磊", "周总")
    assert [g.role for g in guesses] == ["rep", "customer", "rep", "customer", "rep", "customer"]
    assert all(0.5 <= g.confidence <= 1.0 for g in guesses)
    assert guesses[0].confidence > 0.95  # the rep named themself


def test_without_any_cue_confidence_stays_low():
    guesses = attribute_roles(["嗯", "好的"], [0.0, 0.35], SOP)
    assert all(g.confidence < 0.6 for g in guesses)


def test_longer_silences_make_a_change_of_speaker_likelier():
    assert switch_probability(0.05) == 0.2
    assert switch_probability(0.35) == 0.5
    assert switch_probability(1.5) == 0.85
    assert switch_probability(0.2) < switch_probability(0.3) < switch_probability(0.5)
