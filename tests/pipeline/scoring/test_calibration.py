"""Calibration against a trainer's ratings: loading the set, the statistics, and the report."""

from __future__ import annotations

import json

import pytest

from pipeline.ingest import IngestError
from pipeline.scoring import calibration


def test_the_calibration_set_is_what_its_readme_says():
    rated = calibration.load_ratings()
    assert len(rated) == 48
    assert sum(r.dialogue.conversation.language == "zh" for r in rated) == 34
    calls = [r for r in rated if r.dialogue.conversation.meta.channel == "call"]
    chats = [r for r in rated if r.dialogue.conversation.meta.channel == "chat"]
    # Calls carry speech times, chats message times (seconds since the first message).
    assert all(u.start_s is not None and u.end_s is not None for r in calls for u in r.dialogue.conversation.utterances)
    assert all(r.dialogue.conversation.utterances[0].start_s == 0.0 for r in chats)
    assert all(u.end_s is None for r in chats for u in r.dialogue.conversation.utterances)
    # Customer approval is the customer's act: never rated.
    assert all(r.ratings["customer_approval"] is None for r in rated)


def test_gold_events_follow_the_labels(tmp_path):
    path = tmp_path / "rated.jsonl"
    path.write_text(json.dumps({"id": "c1", "lang": "zh", "channel": "chat", "ratings": {"opening": 4}, "turns": [
        {"role": "rep", "text": "您好，我是王磊", "labels": ["opening"], "time": "2026-10-01 09:00:00"},
        {"role": "customer", "text": "预算十万", "labels": ["customer_needs"], "time": "2026-10-01 09:02:30"},
    ]}, ensure_ascii=False) + "\n", encoding="utf-8")
    (item,) = calibration.load_ratings(path)
    assert [u.start_s for u in item.dialogue.conversation.utterances] == [0.0, 150.0]
    events = calibration.gold_events(item.dialogue)
    assert [(e.node_id, e.utterance_index, e.source) for e in events] == [("opening", 0, "gold"),
                                                                          ("customer_needs", 1, "gold")]


def test_a_rating_outside_one_to_five_names_file_and_line(tmp_path):
    path = tmp_path / "rated.jsonl"
    path.write_text(json.dumps({"id": "c1", "ratings": {"opening": 7},
                                "turns": [{"role": "rep", "text": "hi", "labels": []}]}) + "\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"rated.jsonl: line 1 has ratings outside 1–5: \{'opening': 7\}"):
        calibration.load_ratings(path)


def test_spearman_by_hand():
    # Ranks of x: 1 2 3 4 5; of y: 2 1 4 3 5. d² = 1+1+1+1+0 = 4; rho = 1 − 6·4 / (5·24) = 0.8.
    assert calibration.spearman([10, 20, 30, 40, 50], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert calibration.spearman([1, 1, 1], [1, 2, 3]) is None      # a constant side has no rank order
    assert calibration.spearman([1, 2], [1, 2]) is None            # too few pairs


def test_fisher_interval_by_hand():
    # z = atanh(0.5) = 0.5493; se = √(1.06 / 45) = 0.15348; z ± 1.96·se = 0.2485 … 0.8501;
    # tanh → 0.2435 … 0.6911.
    assert calibration.fisher_interval(0.5, 48) == (0.243, 0.691)
    assert calibration.fisher_interval(0.5, 3) is None


def test_calibrate_reports_every_rated_node(sop):
    rated = calibration.load_ratings()[:12]
    report = calibration.calibrate(rated, sop)
    assert set(report) == {"opening", "customer_needs", "product_intro", "price_objection", "next_step"}
    assert report["opening"]["rated"] == 12
    assert report["price_objection"]["rated"] == sum(r.ratings["price_objection"] is not None for r in rated)
    for row in report.values():
        assert row["spearman"] is None or -1 <= row["spearman"] <= 1
        assert set(row["mean_total_by_rating"]) <= {1, 2, 3, 4, 5}
