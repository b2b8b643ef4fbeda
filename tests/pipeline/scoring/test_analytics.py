"""Aggregates over stored scores: per-rep averages, trends, weakest nodes, leaderboard,
won-vs-lost analysis and exemplars, on small hand-built frames shaped like the store's tables."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.scoring import analytics
from pipeline.scoring.analytics import (
    exemplars, leaderboard, outcome_analysis, rep_node_averages, rep_trends, weakest_nodes, wilson_interval)

_DIMENSIONS = ("key_points", "communication_skill", "attitude", "customer_feedback")


def _conversations(*rows: tuple) -> pd.DataFrame:
    """(conversation_id, rep, team, outcome, started_at) → a conversations frame."""
    frame = pd.DataFrame(rows, columns=["conversation_id", "rep", "team", "outcome", "started_at"])
    return frame.assign(started_at=pd.to_datetime(frame["started_at"]))


def _node(conversation_id: str, node_id: str, total: float | None, status: str | None = None,
          dims: tuple | None = None, indexes: tuple[int, ...] = ()) -> dict:
    """A node_scores row; status from the total (0 → missed, None → not_applicable) unless given."""
    status = status or ("not_applicable" if total is None else "missed" if total == 0 else "present")
    dims = dims or ((None,) * 4 if total is None else (total,) * 4)
    return {"conversation_id": conversation_id, "node_id": node_id, "status": status, "total": total,
            **dict(zip(_DIMENSIONS, dims)), "utterance_indexes": np.array(indexes, dtype=np.int32)}


def _nodes(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def _call_scores(*rows: tuple) -> pd.DataFrame:
    """(conversation_id, total, coverage, order_conformance) → a conversation_scores frame."""
    return pd.DataFrame(rows, columns=["conversation_id", "total", "coverage", "order_conformance"])


@pytest.fixture
def team_calls() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reps ann and bob in team A, cy in team B, and one team-A call without a rep."""
    conversations = _conversations(
        ("c1", "ann", "A", "won", "2024-01-01 09:00"),   # Monday of ISO week 2024-W01
        ("c2", "ann", "A", "lost", "2024-01-07 18:00"),  # Sunday: still 2024-W01
        ("c3", "ann", "A", "open", "2024-01-08 10:00"),  # Monday: 2024-W02
        ("c4", "bob", "A", "won", "2024-12-30 11:00"),   # Monday: ISO year 2025, 2025-W01
        ("c5", "bob", "A", None, None),                  # no start time
        ("c6", "cy", "B", "won", "2024-01-02 15:00"),
        ("c7", None, "A", "lost", "2024-01-03 15:00"),   # no rep
    )
    node_scores = _nodes(
        _node("c1", "opening", 80.0, dims=(100.0, 60.0, 70.0, None)),  # feedback not observed
        _node("c2", "opening", 60.0, dims=(40.0, 80.0, 100.0, 50.0)),
        _node("c3", "opening", 0.0, dims=(0.0, 0.0, 0.0, 0.0)),        # missed
        _node("c4", "opening", 100.0),
        _node("c5", "opening", 50.0),
        _node("c6", "opening", 70.0),
        _node("c7", "opening", 10.0),
        _node("c1", "price_objection", 90.0),
        _node("c2", "price_objection", None),                          # optional, did not occur
        _node("c3", "price_objection", None),
        _node("c1", "customer_needs", 50.0),
        _node("c2", "customer_needs", 70.0),
        _node("c3", "customer_needs", 90.0),
        _node("c4", "customer_needs", 100.0),
        _node("c6", "customer_needs", 20.0),
        _node("c1", "next_step", 30.0),
    )
    return node_scores, conversations


# -- rep_node_averages ---------------------------------------------------------------------
def test_rep_node_averages_count_a_missed_node_as_zero(team_calls):
    averages = rep_node_averages(*team_calls).set_index(["rep", "node_id"])
    assert list(averages.reset_index().columns) == list(analytics.REP_NODE_AVERAGE_COLUMNS)
    opening = averages.loc[("ann", "opening")]
    assert opening["conversations"] == 3
    assert opening["present_count"] == 2 and opening["missed_count"] == 1
    assert opening["coverage_share"] == pytest.approx(2 / 3)
    assert opening["mean_total"] == pytest.approx((80 + 60 + 0) / 3)      # 46.67: the miss counts as 0
    assert opening["mean_total_present"] == pytest.approx(70.0)          # (80 + 60) / 2
    assert opening["mean_key_points"] == pytest.approx(70.0)             # (100 + 40) / 2, the miss left out
    assert opening["mean_communication_skill"] == pytest.approx(70.0)    # (60 + 80) / 2
    assert opening["mean_attitude"] == pytest.approx(85.0)               # (70 + 100) / 2
    assert opening["mean_customer_feedback"] == pytest.approx(50.0)      # only c2 observed it


def test_rep_node_averages_leave_out_not_applicable_and_repless_calls(team_calls):
    averages = rep_node_averages(*team_calls).set_index(["rep", "node_id"])
    objection = averages.loc[("ann", "price_objection")]
    # Present once in three calls; the two not_applicable rows neither help nor hurt the mean.
    assert (objection["conversations"], objection["present_count"], objection["missed_count"]) == (3, 1, 0)
    assert objection["coverage_share"] == pytest.approx(1 / 3)
    assert objection["mean_total"] == pytest.approx(90.0)
    assert averages.loc[("bob", "opening"), "mean_total"] == pytest.approx(75.0)  # (100 + 50) / 2
    assert set(averages.index.get_level_values("rep")) == {"ann", "bob", "cy"}   # c7 has no rep


# -- rep_trends ------------------------------------------------------------------------------
def test_rep_trends_by_iso_week(team_calls):
    trends, note = rep_trends(*team_calls)
    assert list(trends.columns) == list(analytics.REP_TREND_COLUMNS)
    rows = {(r.rep, r.node_id, r.period): (r.period_start, r.mean_total, r.scored_count)
            for r in trends.itertuples()}
    assert rows[("ann", "opening", "2024-W01")] == (pd.Timestamp("2024-01-01"), 70.0, 2)  # (80 + 60) / 2
    assert rows[("ann", "opening", "2024-W02")] == (pd.Timestamp("2024-01-08"), 0.0, 1)   # the miss
    assert rows[("ann", "price_objection", "2024-W01")][1:] == (90.0, 1)
    assert ("ann", "price_objection", "2024-W02") not in rows   # only not_applicable that week
    assert rows[("bob", "opening", "2025-W01")] == (pd.Timestamp("2024-12-30"), 100.0, 1)
    # c5 has no start time: left out (bob's 50 is not in any week) and counted in the note.
    assert note.undated_conversations == 1
    assert "1 conversation(s) without a start time" in note.message_en
    assert "没有开始时间" in note.message_zh


def test_rep_trends_by_month_and_unknown_frequency(team_calls):
    trends, note = rep_trends(*team_calls, freq="M")
    ann = trends[(trends["rep"] == "ann") & (trends["node_id"] == "opening")]
    assert ann[["period", "mean_total", "scored_count"]].values.tolist() == [["2024-01", pytest.approx(140 / 3), 3]]
    with pytest.raises(ValueError, match="freq must be one of W, M"):
        rep_trends(*team_calls, freq="Q")


def test_rep_trends_note_is_empty_when_every_call_is_dated(team_calls):
    node_scores, conversations = team_calls
    _, note = rep_trends(node_scores, conversations[conversations["conversation_id"] != "c5"])
    assert note == analytics.TrendNote(0, "", "")


# -- weakest_nodes ---------------------------------------------------------------------------
def test_weakest_nodes_with_gap_to_team(team_calls):
    weakest = weakest_nodes(*team_calls, rep="ann")
    assert list(weakest.columns) == list(analytics.WEAKEST_NODE_COLUMNS)
    # price_objection (1 present) and next_step (1) have fewer than min_count=2 scored calls.
    assert weakest["node_id"].tolist() == ["opening", "customer_needs"]
    opening, needs = weakest.iloc[0], weakest.iloc[1]
    assert opening["team"] == "A"
    assert opening["mean_total"] == pytest.approx(140 / 3)               # (80 + 60 + 0) / 3
    # Team A's opening: ann 80, 60, 0; bob 100, 50; c7 (team A, no rep) 10 → 300 / 6 = 50.
    assert opening["team_scored_count"] == 6
    assert opening["team_mean_total"] == pytest.approx(50.0)
    assert opening["gap_to_team"] == pytest.approx(140 / 3 - 50)
    # customer_needs: ann 50, 70, 90 → 70; team A adds bob's 100 → 77.5; cy's 20 is team B.
    assert (needs["mean_total"], needs["team_mean_total"], needs["gap_to_team"]) == (70.0, 77.5, -7.5)
    assert weakest_nodes(*team_calls, rep="ann", top=1)["node_id"].tolist() == ["opening"]
    assert weakest_nodes(*team_calls, rep="nobody").empty


def test_weakest_nodes_of_a_rep_without_a_team():
    conversations = _conversations(("x1", "zoe", None, "won", None), ("x2", "zoe", None, "lost", None))
    node_scores = _nodes(_node("x1", "opening", 40.0), _node("x2", "opening", 0.0))
    weakest = weakest_nodes(node_scores, conversations, rep="zoe")
    assert weakest["node_id"].tolist() == ["opening"] and weakest["mean_total"].tolist() == [20.0]
    assert weakest[["team", "team_mean_total", "gap_to_team"]].isna().all().all()


# -- leaderboard -----------------------------------------------------------------------------
@pytest.fixture
def board_calls() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    conversations = _conversations(
        ("a1", "ann", "A", "won", "2024-01-01"), ("a2", "ann", "A", "lost", "2024-01-02"),
        ("b1", "bob", "A", "won", "2024-01-01"), ("b2", "bob", "A", "won", "2024-01-02"),
        ("b3", "bob", "A", "lost", "2024-01-03"),
        ("d1", "dan", "A", "won", "2024-01-01"), ("d2", "dan", "A", "won", "2024-01-02"),
        ("e1", "eve", "A", "lost", "2024-01-01"),
        ("y1", "cy", "B", "won", "2024-01-01"), ("y2", "cy", "B", "lost", "2024-01-02"),
    )
    scores = _call_scores(
        ("a1", 80.0, 1.0, 1.0), ("a2", 90.0, 0.5, None),
        # 84.99999999999999 in floating point: must still tie with ann's 85.0
        ("b1", 84.1, 1.0, 1.0), ("b2", 85.3, 1.0, 0.5), ("b3", 85.6, 0.25, 1.0),
        ("d1", 95.0, 1.0, 1.0), ("d2", 95.0, 1.0, 1.0),
        ("e1", 70.0, 0.75, 1.0),
        ("y1", 80.0, 1.0, 1.0), ("y2", 80.0, 1.0, 1.0),
    )
    node_scores = _nodes(_node("a1", "opening", 80.0), _node("a2", "opening", 0.0),
                         _node("b1", "opening", 60.0), _node("d1", "opening", None))
    return scores, node_scores, conversations


def test_leaderboard_ties_share_a_rank(board_calls):
    board = leaderboard(*board_calls, min_conversations=2)
    assert list(board.columns) == list(analytics.LEADERBOARD_COLUMNS)
    assert board["rep"].tolist() == ["dan", "ann", "bob", "cy", "eve"]
    assert board["rank"].tolist() == [1, 2, 2, 4, pd.NA]
    assert board["value"].tolist()[:4] == pytest.approx([95.0, 85.0, 85.0, 80.0])
    assert board["conversations"].tolist() == [2, 2, 3, 2, 1]
    assert board["team"].tolist() == ["A", "A", "A", "B", "A"]
    eve = board.iloc[4]
    assert eve["reason"] == analytics.TOO_FEW_CONVERSATIONS and eve["value"] == 70.0
    assert board["reason"].iloc[:4].isna().all()


def test_leaderboard_within_a_team(board_calls):
    board = leaderboard(*board_calls, team="A")
    assert board["rep"].tolist() == ["dan", "ann", "bob", "eve"]
    assert board["rank"].tolist() == [1, 2, 2, 4]
    assert (board["team"] == "A").all()


def test_leaderboard_other_metrics(board_calls):
    coverage = leaderboard(*board_calls, metric="coverage").set_index("rep")
    assert coverage.loc["bob", "value"] == pytest.approx(0.75)          # (1 + 1 + .25) / 3
    order = leaderboard(*board_calls, metric="order_conformance").set_index("rep")
    assert order.loc["ann", "conversations"] == 1                        # a2 has no order
    assert order.loc["bob", "value"] == pytest.approx(2.5 / 3)
    opening = leaderboard(*board_calls, metric="node:opening")
    # ann: 80 and a miss → 40; bob: 60; dan's opening is not_applicable and the rest have none.
    assert opening["rep"].tolist()[:2] == ["bob", "ann"]
    assert opening["value"].tolist()[:2] == [60.0, 40.0]
    assert opening["rank"].tolist() == [1, 2, pd.NA, pd.NA, pd.NA]
    assert opening["conversations"].tolist() == [1, 2, 0, 0, 0]
    with pytest.raises(ValueError, match="node:<node_id>"):
        leaderboard(*board_calls, metric="speed")


# -- outcome_analysis --------------------------------------------------------------------------
def _welch(won: list[float], lost: list[float]) -> tuple[float, float]:
    """The Welch–Satterthwaite interval written out, to check the module against."""
    a, b = statistics.variance(won) / len(won), statistics.variance(lost) / len(lost)
    dof = (a + b) ** 2 / (a * a / (len(won) - 1) + b * b / (len(lost) - 1))
    margin = stats.t.ppf(0.975, dof) * math.sqrt(a + b)
    difference = statistics.mean(won) - statistics.mean(lost)
    return difference - margin, difference + margin


@pytest.fixture
def deals() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """10 won and 10 lost calls in which next_step separates the classes and opening does not."""
    won = [f"w{i}" for i in range(10)]
    lost = [f"l{i}" for i in range(10)]
    conversations = _conversations(
        *[(cid, "ann", "A", "won", "2024-01-01") for cid in won],
        *[(cid, "bob", "A", "lost", "2024-01-01") for cid in lost],
        ("o1", "ann", "A", "open", "2024-01-01"), ("o2", "bob", "A", None, "2024-01-01"))
    # next_step: won w0..w8 present with 80, 82, …, 96, w9 missed; lost l0..l4 with 40, 44, …, 56, l5..l9 missed.
    won_next = [80.0 + 2 * i for i in range(9)] + [0.0]
    lost_next = [40.0, 44.0, 48.0, 52.0, 56.0] + [0.0] * 5
    # opening: 60 and 80 alternating in both classes.
    opening = [60.0, 80.0] * 5
    node_scores = _nodes(
        *[_node(cid, "next_step", total) for cid, total in zip(won + lost, won_next + lost_next)],
        *[_node(cid, "opening", total) for cid, total in zip(won + lost, opening + opening)],
        _node("o1", "next_step", 0.0), _node("o1", "opening", 0.0))
    # call total: 70/80 alternating in won (mean 75), 50/60 in lost (mean 55); order 1.0 everywhere.
    scores = _call_scores(
        *[(cid, total, 1.0 if next_ > 0 else 0.75, 1.0)
          for cid, total, next_ in zip(won, [70.0, 80.0] * 5, won_next)],
        *[(cid, total, 1.0 if next_ > 0 else 0.75, 1.0)
          for cid, total, next_ in zip(lost, [50.0, 60.0] * 5, lost_next)],
        ("o1", 0.0, 0.5, None))
    return scores, node_scores, conversations


def test_outcome_analysis_finds_the_node_that_separates(deals):
    table, summary = outcome_analysis(*deals)
    assert list(table.columns) == list(analytics.OUTCOME_COLUMNS)
    assert (summary.conclusive, summary.won_conversations, summary.lost_conversations,
            summary.excluded_conversations) == (True, 10, 10, 2)        # o1 open, o2 without outcome
    assert "not causes" in summary.message_en and "不说明因果" in summary.message_zh
    rows = table.set_index("feature")

    next_total = rows.loc["node_total:next_step"]
    # won: (80 + 82 + … + 96 + 0) / 10 = 792 / 10 = 79.2; lost: (40 + 44 + … + 56 + 0·5) / 10 = 24.
    assert (next_total["won_count"], next_total["lost_count"]) == (10, 10)
    assert next_total["mean_won"] == pytest.approx(79.2)
    assert next_total["mean_lost"] == pytest.approx(24.0)
    assert next_total["difference"] == pytest.approx(55.2)
    low, high = _welch([80.0 + 2 * i for i in range(9)] + [0.0], [40.0, 44.0, 48.0, 52.0, 56.0] + [0.0] * 5)
    assert (next_total["ci_low"], next_total["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert (low, high) == (pytest.approx(29.807, abs=1e-3), pytest.approx(80.593, abs=1e-3))  # df ≈ 17.83
    assert next_total["significant"]
    assert next_total["coefficient"] > 0

    # Call total: 75 vs 55, equal variances 250/9 and n = 10 each → df 18, 20 ± t(18)·√(2·250/9/10).
    call_total = rows.loc["call:total"]
    assert call_total["difference"] == pytest.approx(20.0)
    margin = stats.t.ppf(0.975, 18) * math.sqrt(2 * 250 / 9 / 10)
    assert (call_total["ci_low"], call_total["ci_high"]) == (pytest.approx(20 - margin), pytest.approx(20 + margin))
    assert call_total["significant"]
    assert math.isnan(call_total["coefficient"])  # the regression uses node totals only

    # opening: the same scores in both classes → difference 0, interval around 0, not significant.
    opening = rows.loc["node_total:opening"]
    assert opening["difference"] == 0.0 and opening["ci_low"] < 0 < opening["ci_high"]
    assert not opening["significant"]
    assert abs(opening["coefficient"]) < next_total["coefficient"]

    # order_conformance is 1.0 in every call: no spread, no interval, never significant.
    order = rows.loc["call:order_conformance"]
    assert order["difference"] == 0.0 and math.isnan(order["ci_low"]) and not order["significant"]


def test_outcome_analysis_presence_win_rates_and_newcombe_interval(deals):
    rows = outcome_analysis(*deals)[0].set_index("feature")
    presence = rows.loc["node_presence:next_step"]
    assert (presence["mean_won"], presence["mean_lost"]) == (pytest.approx(0.9), pytest.approx(0.5))
    assert presence["difference"] == pytest.approx(0.4)
    # Present in 9 won + 5 lost = 14 calls (9 won), absent in 1 won + 5 lost = 6 (1 won).
    assert (presence["present_count"], presence["absent_count"]) == (14, 6)
    assert presence["present_win_rate"] == pytest.approx(9 / 14)
    assert presence["absent_win_rate"] == pytest.approx(1 / 6)
    assert presence["lift"] == pytest.approx((9 / 14) / (1 / 6))        # 3.857
    assert (presence["present_win_rate_low"], presence["present_win_rate_high"]) == wilson_interval(9, 14)
    assert (presence["absent_win_rate_low"], presence["absent_win_rate_high"]) == wilson_interval(1, 6)
    # Newcombe: 0.4 − √((0.9 − L(9/10))² + (U(5/10) − 0.5)²) … reaches just below 0.
    won_low, won_high = wilson_interval(9, 10)
    lost_low, lost_high = wilson_interval(5, 10)
    assert presence["ci_low"] == pytest.approx(0.4 - math.hypot(0.9 - won_low, lost_high - 0.5))
    assert presence["ci_high"] == pytest.approx(0.4 + math.hypot(won_high - 0.9, 0.5 - lost_low))
    assert presence["ci_low"] == pytest.approx(-0.0024, abs=1e-4)
    assert not presence["significant"]                                   # its interval includes 0
    assert math.isnan(presence["coefficient"])
    # opening is present everywhere: no absent calls, so no absent win rate and no lift.
    opening = rows.loc["node_presence:opening"]
    assert opening["absent_count"] == 0 and math.isnan(opening["lift"])


def test_outcome_analysis_on_too_few_calls_is_inconclusive():
    conversations = _conversations(("w1", "ann", "A", "won", None), ("w2", "ann", "A", "won", None),
                                   ("w3", "ann", "A", "won", None), ("l1", "bob", "A", "lost", None),
                                   ("l2", "bob", "A", "lost", None), ("o1", "bob", "A", "open", None))
    node_scores = _nodes(_node("w1", "next_step", 90.0), _node("w2", "next_step", 95.0),
                         _node("w3", "next_step", 92.0), _node("l1", "next_step", 10.0),
                         _node("l2", "next_step", 12.0))
    scores = _call_scores(("w1", 90.0, 1.0, 1.0), ("w2", 91.0, 1.0, 1.0), ("w3", 92.0, 1.0, 1.0),
                          ("l1", 20.0, 0.5, 1.0), ("l2", 22.0, 0.5, 1.0))
    table, summary = outcome_analysis(scores, node_scores, conversations)
    assert (summary.conclusive, summary.won_conversations, summary.lost_conversations,
            summary.excluded_conversations) == (False, 3, 2, 1)
    assert summary.message_en.startswith("Too few conversations to conclude anything: 3 won and 2 lost, "
                                         "at least 10 of each are needed.")
    assert summary.message_zh.startswith("会话太少，无法得出任何结论：赢单 3 个、丢单 2 个，每类至少需要 10 个。")
    next_total = table.set_index("feature").loc["node_total:next_step"]
    assert next_total["mean_won"] == pytest.approx(92.333, abs=1e-3) and next_total["mean_lost"] == 11.0
    assert next_total["ci_low"] > 0          # the interval alone would exclude 0 …
    assert not table["significant"].any()    # … but too few calls: nothing is called significant
    assert table["coefficient"].isna().all()


def test_wilson_interval_matches_the_formula():
    z = stats.norm.ppf(0.975)
    p, n = 0.8, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(8, 10) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert wilson_interval(8, 10) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))


# -- exemplars ---------------------------------------------------------------------------------
@pytest.fixture
def objections() -> tuple[pd.DataFrame, pd.DataFrame]:
    conversations = _conversations(
        ("e1", "ann", "A", "won", "2024-03-01"),   # the call being coached
        ("e2", "bob", "A", "won", "2024-02-01"),
        ("e3", "bob", "A", "lost", "2024-03-05"),
        ("e4", "cy", "B", "won", "2024-03-10"),
        ("e5", "dan", "A", "open", "2024-01-01"),
        ("e6", "eve", "A", "won", "2024-03-01"),
        ("e7", None, "A", "won", "2024-03-01"),
        ("e8", "ann", "A", "won", "2024-03-02"),
        ("e9", "fay", "B", "won", None),
    )
    node_scores = _nodes(
        _node("e1", "price_objection", 60.0), _node("e2", "price_objection", 85.0, indexes=(3, 4)),
        _node("e3", "price_objection", 95.0), _node("e4", "price_objection", 85.0, indexes=(7,)),
        _node("e5", "price_objection", 99.0), _node("e6", "price_objection", 0.0),   # missed
        _node("e7", "price_objection", 100.0), _node("e8", "price_objection", 100.0),
        _node("e9", "price_objection", 85.0), _node("e2", "opening", 100.0))
    return node_scores, conversations


def test_exemplars_prefer_won_deals_and_exclude_the_rep(objections):
    best = exemplars(*objections, node_id="price_objection", for_conversation="e1", limit=5)
    assert list(best.columns) == list(analytics.EXEMPLAR_COLUMNS)
    # Won first (85s: most recent first, the undated one last), then by total: 99 open, 95 lost.
    # Left out: ann's e1 and e8, eve's miss, e7 without a rep.
    assert best["conversation_id"].tolist() == ["e4", "e2", "e9", "e5", "e3"]
    assert best["rep"].tolist() == ["cy", "bob", "fay", "dan", "bob"]
    assert best["outcome"].tolist() == ["won", "won", "won", "open", "lost"]
    assert best["total"].tolist() == [85.0, 85.0, 85.0, 99.0, 95.0]
    assert best["utterance_indexes"].tolist()[:2] == [[7], [3, 4]]
    assert exemplars(*objections, node_id="price_objection", for_conversation="e1")["conversation_id"].tolist() \
        == ["e4", "e2", "e9"]


def test_exemplars_for_a_named_rep(objections):
    best = exemplars(*objections, node_id="price_objection", rep="bob")
    assert best["conversation_id"].tolist() == ["e8", "e4", "e9"]   # ann's 100 (won) now counts


# -- empty and malformed input -------------------------------------------------------------------
@pytest.mark.parametrize("empty", [pd.DataFrame(), pd.DataFrame(columns=["conversation_id", "rep"])])
def test_empty_inputs_give_empty_frames(empty):
    assert list(rep_node_averages(empty, empty).columns) == list(analytics.REP_NODE_AVERAGE_COLUMNS)
    trends, note = rep_trends(empty, empty)
    assert trends.empty and note.undated_conversations == 0
    assert weakest_nodes(empty, empty, rep="ann").empty
    assert leaderboard(empty, empty, empty).empty
    table, summary = outcome_analysis(empty, empty, empty)
    assert table.empty and list(table.columns) == list(analytics.OUTCOME_COLUMNS)
    assert not summary.conclusive and summary.message_en.startswith("Too few conversations")
    assert exemplars(empty, empty, node_id="opening").empty


def test_scores_without_conversations_give_empty_frames(team_calls):
    node_scores, _ = team_calls
    assert rep_node_averages(node_scores, pd.DataFrame()).empty
    assert exemplars(node_scores, pd.DataFrame(), node_id="opening").empty


def test_a_missing_column_is_named(team_calls):
    node_scores, conversations = team_calls
    with pytest.raises(ValueError, match="node_scores frame has no column status"):
        rep_node_averages(node_scores.drop(columns=["status"]), conversations)

