"""Aggregates over stored scores: per-rep node averages, trends, weakest nodes, leaderboards,
what separates won from lost deals, and peer exemplars.

Pure functions over pandas frames shaped like the store's tables
(``pipeline/store/migrations/001_initial.sql``): ``conversations``, ``node_scores`` and
``conversation_scores``. Nothing here reads or writes the database; the board's data layer
queries the tables and calls these. Each function needs only some columns (named in its
docstring); a frame that is empty, even one without columns, gives an empty result with the
documented columns, and a non-empty frame lacking a needed column fails with the column's name.

Conventions shared by every function (the statistics are in docs/scoring.md, "Analytics"):

- a **missed** node counts as 0 in every mean of node totals (it is stored with total 0, and
  is set to 0 here too, so a missed row with an empty total cannot drop out of a mean);
  a **not_applicable** node (an optional node that did not occur) neither helps nor hurts,
  as in the call score;
- dimension means are over **present** nodes only, skipping dimensions that were not observed;
- rows of conversations without a rep are left out of per-rep results;
- scores are 0–100, shares and rates 0–1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
# scipy.special rather than scipy.stats: the same quantiles at a third of the import time, and
# the board imports this module on every page.
from scipy.special import ndtri, stdtrit

DIMENSIONS: tuple[str, ...] = ("key_points", "communication_skill", "attitude", "customer_feedback")
CALL_METRICS: tuple[str, ...] = ("total", "coverage", "order_conformance")
#: Standard normal quantile for a two-sided 95% interval.
Z_95 = float(ndtri(0.975))

REP_NODE_AVERAGE_COLUMNS: tuple[str, ...] = (
    "rep", "node_id", "conversations", "present_count", "missed_count", "coverage_share",
    "mean_total", "mean_total_present", *(f"mean_{dimension}" for dimension in DIMENSIONS))
REP_TREND_COLUMNS: tuple[str, ...] = ("rep", "node_id", "period", "period_start", "mean_total", "scored_count")
WEAKEST_NODE_COLUMNS: tuple[str, ...] = ("rep", "team", "node_id", "scored_count", "mean_total",
                                         "team_scored_count", "team_mean_total", "gap_to_team")
LEADERBOARD_COLUMNS: tuple[str, ...] = ("rep", "team", "conversations", "value", "rank", "reason")
OUTCOME_COLUMNS: tuple[str, ...] = (
    "feature", "kind", "node_id", "won_count", "lost_count", "mean_won", "mean_lost",
    "difference", "ci_low", "ci_high", "significant", "coefficient",
    "present_count", "present_win_rate", "present_win_rate_low", "present_win_rate_high",
    "absent_count", "absent_win_rate", "absent_win_rate_low", "absent_win_rate_high", "lift")
EXEMPLAR_COLUMNS: tuple[str, ...] = ("conversation_id", "rep", "team", "total", "outcome", "started_at",
                                     "utterance_indexes")

#: ``leaderboard``'s reason for a rep left unranked (a key for the board's i18n strings).
TOO_FEW_CONVERSATIONS = "too_few_conversations"

_NODE_COLUMNS = ("conversation_id", "node_id", "status", "total")
_CONVERSATION_COLUMNS = ("conversation_id", "rep", "team", "outcome", "started_at")
_PERIODS = {"W": "W-SUN", "M": "M"}  # pandas' W-SUN: weeks ending Sunday, i.e. ISO weeks from Monday


@dataclass(frozen=True)
class TrendNote:
    """What ``rep_trends`` left out: conversations without a start time (messages empty when none)."""

    undated_conversations: int
    message_zh: str
    message_en: str


@dataclass(frozen=True)
class OutcomeSummary:
    """The population behind ``outcome_analysis`` and whether it can support a conclusion.

    ``won_conversations``/``lost_conversations`` count the conversations with that outcome;
    ``conclusive`` is False when either is below ``min_per_class``; ``excluded_conversations``
    counts conversations whose outcome is open or unknown.
    """

    conclusive: bool
    won_conversations: int
    lost_conversations: int
    excluded_conversations: int
    min_per_class: int
    message_zh: str
    message_en: str


# -- shared helpers ------------------------------------------------------------------------
def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def _require(frame: pd.DataFrame, columns: Iterable[str], table: str) -> pd.DataFrame | None:
    """``frame`` when it has ``columns``; None when it is empty; ValueError naming what is missing."""
    if frame is None or frame.empty:
        return None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"the {table} frame has no column {', '.join(missing)}: pass rows of the {table} "
                         "table (pipeline/store/migrations/001_initial.sql)")
    return frame


def _scored_nodes(node_scores: pd.DataFrame, conversations: pd.DataFrame,
                  extra: Iterable[str] = ()) -> pd.DataFrame | None:
    """Node rows with their conversation's rep, team, outcome and start; None when there are none.

    Adds ``is_present``, ``is_missed`` and ``total_missed_as_zero`` (present: the total;
    missed: 0; not_applicable: empty, so means skip it).
    """
    nodes = _require(node_scores, (*_NODE_COLUMNS, *extra), "node_scores")
    convs = _require(conversations, _CONVERSATION_COLUMNS, "conversations")
    if nodes is None or convs is None:
        return None
    # A caller may hand in node rows already joined to their conversation: take those columns
    # from ``conversations`` only, rather than ending up with rep_x / rep_y.
    nodes = nodes.drop(columns=[column for column in _CONVERSATION_COLUMNS[1:] if column in nodes.columns])
    rows = nodes.merge(convs[list(_CONVERSATION_COLUMNS)], on="conversation_id", how="inner")
    if rows.empty:
        return None
    is_present = rows["status"].eq("present")
    is_missed = rows["status"].eq("missed")
    total = pd.to_numeric(rows["total"], errors="coerce").astype(float)
    return rows.assign(
        started_at=pd.to_datetime(rows["started_at"]),
        total=total,
        is_present=is_present,
        is_missed=is_missed,
        total_missed_as_zero=total.where(~is_missed, 0.0).where(is_present | is_missed))


def _node_means(rows: pd.DataFrame, keys: Sequence[str], dimensions: Sequence[str] = ()) -> pd.DataFrame:
    """Per ``keys``: conversations, present/missed counts, coverage share and mean totals.

    ``mean_total`` counts missed nodes as 0; ``mean_total_present`` and the dimension means
    are over present nodes only. Rows with an empty key (no rep) are left out.
    """
    present_only = {f"present_{column}": rows[column].where(rows["is_present"])
                    for column in ("total", *dimensions)}
    grouped = rows.assign(**present_only).groupby(list(keys), sort=True, dropna=True)
    means = grouped.agg(
        conversations=("conversation_id", "nunique"),
        present_count=("is_present", "sum"),
        missed_count=("is_missed", "sum"),
        mean_total=("total_missed_as_zero", "mean"),
        mean_total_present=("present_total", "mean"),
        **{f"mean_{dimension}": (f"present_{dimension}", "mean") for dimension in dimensions},
    ).reset_index()
    means["coverage_share"] = means["present_count"] / means["conversations"]
    means["scored_count"] = means["present_count"] + means["missed_count"]
    return means


def _home_teams(conversations: pd.DataFrame) -> pd.Series:
    """rep → the team on most of the rep's conversations (ties: the first team by name)."""
    known = conversations.dropna(subset=["rep", "team"])
    counts = known.groupby(["rep", "team"]).size().rename("n").reset_index()
    counts = counts.sort_values(["rep", "n", "team"], ascending=[True, False, True])
    return counts.drop_duplicates("rep").set_index("rep")["team"]


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for the proportion ``successes / trials`` (95% by default).

    Unlike the normal approximation it stays inside 0–1 and is usable for small counts and
    proportions at 0 or 1 (8 of 10 → 0.490–0.943). ``(nan, nan)`` when ``trials`` is 0.
    """
    if trials <= 0:
        return math.nan, math.nan
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half_width), min(1.0, centre + half_width)


def _welch_interval(won: np.ndarray, lost: np.ndarray) -> tuple[float, float]:
    """95% Welch t interval for mean(won) − mean(lost); NaNs when it cannot be estimated."""
    if len(won) < 2 or len(lost) < 2:
        return math.nan, math.nan
    won_var, lost_var = won.var(ddof=1) / len(won), lost.var(ddof=1) / len(lost)
    standard_error = math.sqrt(won_var + lost_var)
    # Both classes constant: the spread is unknown, not zero, so no interval (and never "significant").
    if standard_error == 0:
        return math.nan, math.nan
    dof = (won_var + lost_var) ** 2 / (won_var ** 2 / (len(won) - 1) + lost_var ** 2 / (len(lost) - 1))
    difference = won.mean() - lost.mean()
    margin = float(stdtrit(dof, 0.975)) * standard_error
    return difference - margin, difference + margin


def _newcombe_interval(won_hits: int, won_count: int, lost_hits: int, lost_count: int) -> tuple[float, float]:
    """95% interval for a difference of two proportions from their Wilson intervals (Newcombe 1998).

    Used for presence rates rather than Welch: a node present in every won call has a sample
    variance of 0, which would make a t interval collapse to a point.
    """
    if won_count == 0 or lost_count == 0:
        return math.nan, math.nan
    won_share, lost_share = won_hits / won_count, lost_hits / lost_count
    won_low, won_high = wilson_interval(won_hits, won_count)
    lost_low, lost_high = wilson_interval(lost_hits, lost_count)
    difference = won_share - lost_share
    return (difference - math.hypot(won_share - won_low, lost_high - lost_share),
            difference + math.hypot(won_high - won_share, lost_share - lost_low))


# -- per rep -------------------------------------------------------------------------------
def rep_node_averages(node_scores: pd.DataFrame, conversations: pd.DataFrame) -> pd.DataFrame:
    """Per rep and SOP node: how often the rep covers it and how well.

    Needs ``node_scores`` (conversation_id, node_id, status, total and the four dimensions) and
    ``conversations`` (conversation_id, rep, team, outcome, started_at). Columns:

    - ``rep``, ``node_id``;
    - ``conversations``: the rep's conversations with a row for the node (any status);
    - ``present_count``, ``missed_count``;
    - ``coverage_share``: present_count / conversations, 0–1 (for an optional node, the share
      of conversations in which it occurred);
    - ``mean_total``: mean node total, 0–100, over present **and missed** nodes, a missed node
      counting as 0 (skipping a node costs as much as doing it badly); not_applicable nodes
      are left out;
    - ``mean_total_present``: mean total over present nodes only (how well, when done);
    - ``mean_key_points``, ``mean_communication_skill``, ``mean_attitude``,
      ``mean_customer_feedback``: over present nodes, skipping unobserved dimensions.
    """
    rows = _scored_nodes(node_scores, conversations, extra=DIMENSIONS)
    if rows is None:
        return _empty(REP_NODE_AVERAGE_COLUMNS)
    return _node_means(rows, ["rep", "node_id"], DIMENSIONS)[list(REP_NODE_AVERAGE_COLUMNS)]


def rep_trends(node_scores: pd.DataFrame, conversations: pd.DataFrame,
               freq: str = "W") -> tuple[pd.DataFrame, TrendNote]:
    """Per rep, node and period of ``conversations.started_at``: the mean node total.

    ``freq`` is ``"W"`` (ISO weeks, Monday to Sunday) or ``"M"`` (calendar months). Needs
    ``node_scores`` (conversation_id, node_id, status, total) and ``conversations``. Columns:
    ``rep``, ``node_id``, ``period`` (``"2025-W01"`` with the ISO year, or ``"2025-01"``),
    ``period_start`` (the period's first day, a timestamp at midnight), ``mean_total`` (0–100,
    missed as 0) and ``scored_count`` (present + missed nodes averaged). Periods in which the
    node was only not_applicable are left out.

    Conversations without ``started_at`` cannot be placed in a period: they are left out and
    counted in the returned :class:`TrendNote`.
    """
    if freq not in _PERIODS:
        raise ValueError(f"rep_trends: freq must be one of {', '.join(_PERIODS)} (ISO week, month), not {freq!r}")
    rows = _scored_nodes(node_scores, conversations)
    if rows is None:
        return _empty(REP_TREND_COLUMNS), TrendNote(0, "", "")
    undated = int(rows.loc[rows["started_at"].isna(), "conversation_id"].nunique())
    note = TrendNote(undated, "", "")
    if undated:
        note = TrendNote(undated, f"{undated} 个会话没有开始时间，未计入趋势。",
                         f"{undated} conversation(s) without a start time are left out of the trends.")
    dated = rows[rows["started_at"].notna()]
    if dated.empty:
        return _empty(REP_TREND_COLUMNS), note
    period_start = dated["started_at"].dt.to_period(_PERIODS[freq]).dt.start_time
    if freq == "W":
        # The ISO year, not the calendar year: Monday 2024-12-30 starts 2025-W01.
        iso = period_start.dt.isocalendar()
        period = iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    else:
        period = period_start.dt.strftime("%Y-%m")
    trends = _node_means(dated.assign(period=period, period_start=period_start),
                         ["rep", "node_id", "period", "period_start"])
    trends = trends[trends["scored_count"] > 0]
    return trends[list(REP_TREND_COLUMNS)].reset_index(drop=True), note


def weakest_nodes(node_scores: pd.DataFrame, conversations: pd.DataFrame, rep: str,
                  top: int = 3, min_count: int = 2) -> pd.DataFrame:
    """A rep's ``top`` lowest-scoring SOP nodes, with the gap to the team's mean on the same node.

    Only nodes the rep was scored on (present or missed) in at least ``min_count``
    conversations are considered, so one bad call does not make a "weak node". The rep's team
    is the team on most of the rep's conversations; the team mean is over all of that team's
    conversations, the rep's own included (the team average the board shows). Columns: ``rep``,
    ``team``, ``node_id``, ``scored_count``, ``mean_total`` (0–100, missed as 0),
    ``team_scored_count``, ``team_mean_total``, ``gap_to_team`` (rep − team: negative means
    below the team; empty when the rep has no team). Lowest ``mean_total`` first, then the
    largest gap below the team.
    """
    rows = _scored_nodes(node_scores, conversations)
    if rows is None or not rows["rep"].eq(rep).any():
        return _empty(WEAKEST_NODE_COLUMNS)
    team = _home_teams(rows.drop_duplicates("conversation_id")).get(rep)  # count calls, not node rows
    own = _node_means(rows[rows["rep"].eq(rep)], ["node_id"])
    own = own[own["scored_count"] >= min_count]
    team_means = (_node_means(rows[rows["team"].eq(team)], ["node_id"])
                  if team is not None else _node_means(rows.iloc[0:0], ["node_id"]))
    team_means = team_means[["node_id", "scored_count", "mean_total"]].rename(
        columns={"scored_count": "team_scored_count", "mean_total": "team_mean_total"})
    weakest = own.merge(team_means, on="node_id", how="left").assign(rep=rep, team=team)
    weakest["gap_to_team"] = weakest["mean_total"] - weakest["team_mean_total"]
    weakest = weakest.sort_values(["mean_total", "gap_to_team", "node_id"], na_position="last")
    return weakest.head(top)[list(WEAKEST_NODE_COLUMNS)].reset_index(drop=True)


# -- leaderboard -----------------------------------------------------------------------------
def _metric_values(metric: str, conversation_scores: pd.DataFrame,
                   node_scores: pd.DataFrame, conversations: pd.DataFrame) -> pd.DataFrame:
    """conversation_id → ``value`` of one leaderboard metric (rows only where it applies)."""
    if metric in CALL_METRICS:
        scores = _require(conversation_scores, ("conversation_id", metric), "conversation_scores")
        if scores is None:
            return pd.DataFrame({"conversation_id": [], "value": []})
        return scores[["conversation_id", metric]].rename(columns={metric: "value"}).dropna(subset=["value"])
    if metric.startswith("node:") and len(metric) > len("node:"):
        rows = _scored_nodes(node_scores, conversations)
        if rows is None:
            return pd.DataFrame({"conversation_id": [], "value": []})
        node_rows = rows[rows["node_id"].eq(metric.removeprefix("node:"))]
        return (node_rows[["conversation_id", "total_missed_as_zero"]]
                .rename(columns={"total_missed_as_zero": "value"}).dropna(subset=["value"]))
    raise ValueError(f"leaderboard: metric must be one of {', '.join(CALL_METRICS)} or node:<node_id>, "
                     f"not {metric!r}")


def leaderboard(conversation_scores: pd.DataFrame, node_scores: pd.DataFrame, conversations: pd.DataFrame,
                team: str | None = None, metric: str = "total", min_conversations: int = 1) -> pd.DataFrame:
    """排行榜: reps ranked by a metric, higher first, within ``team`` when one is given.

    ``metric`` is the mean per conversation of ``"total"`` (call score, 0–100), ``"coverage"``
    (0–1), ``"order_conformance"`` (0–1; conversations without one are left out) or
    ``"node:<node_id>"`` (the node's total, 0–100, missed as 0, not_applicable left out).
    With a ``team``, only that team's conversations count. Columns:

    - ``rep``; ``team`` (the given team, or else the team on most of the rep's conversations);
    - ``conversations``: conversations that have a value for the metric;
    - ``value``: the mean; ``rank``: competition ranking, equal values share a rank and the
      next rank is skipped (1, 2, 2, 4); values equal to 9 decimals tie, so float noise
      does not split a tie;
    - ``reason``: empty for ranked reps; :data:`TOO_FEW_CONVERSATIONS` for reps with fewer
      than ``min_conversations`` conversations, who are listed last with an empty rank.
    """
    convs = _require(conversations, ("conversation_id", "rep", "team"), "conversations")
    if convs is None:
        return _empty(LEADERBOARD_COLUMNS)
    if team is not None:
        convs = convs[convs["team"].eq(team)]
    convs = convs.dropna(subset=["rep"])
    values = convs[["conversation_id", "rep"]].merge(
        _metric_values(metric, conversation_scores, node_scores, conversations), on="conversation_id", how="left")
    board = values.groupby("rep", sort=True).agg(conversations=("value", "count"),
                                                 value=("value", "mean")).reset_index()
    if board.empty:
        return _empty(LEADERBOARD_COLUMNS)
    board["team"] = team if team is not None else board["rep"].map(_home_teams(convs))
    ranked = board["conversations"] >= max(min_conversations, 1)
    board["rank"] = (board["value"].where(ranked).round(9)
                     .rank(method="min", ascending=False).astype("Int64"))
    board["reason"] = pd.Series(TOO_FEW_CONVERSATIONS, index=board.index, dtype=object).where(~ranked)
    board = board.sort_values(["rank", "value", "rep"], ascending=[True, False, True], na_position="last")
    return board[list(LEADERBOARD_COLUMNS)].reset_index(drop=True)


# -- won vs lost -----------------------------------------------------------------------------
def _outcome_message(won: int, lost: int, excluded: int, min_per_class: int, conclusive: bool) -> tuple[str, str]:
    if conclusive:
        zh = (f"对比了赢单会话 {won} 个、丢单会话 {lost} 个。差异只说明相关，不说明因果：标为显著的指标"
              "在这些会话里区分了赢单和丢单，并不代表它让订单赢下来。")
        en = (f"Compared {won} won and {lost} lost conversations. Differences are associations, not causes: "
              "a feature marked significant separates won from lost deals in these conversations; it does "
              "not show that it wins deals.")
    else:
        zh = (f"会话太少，无法得出任何结论：赢单 {won} 个、丢单 {lost} 个，每类至少需要 {min_per_class} 个。"
              "下表仅供参考。")
        en = (f"Too few conversations to conclude anything: {won} won and {lost} lost, at least "
              f"{min_per_class} of each are needed. The table is for reference only.")
    if excluded:
        zh += f"另有 {excluded} 个进行中或没有结果的会话未计入。"
        en += f" {excluded} open conversation(s) or conversation(s) without an outcome were left out."
    return zh, en


def _outcome_features(conversation_scores: pd.DataFrame, rows: pd.DataFrame | None,
                      labelled: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str, str | None]]]:
    """One row per won/lost conversation, one column per feature (empty where it does not apply),
    and the features as (name, kind, node_id)."""
    features = labelled[["conversation_id"]].set_index("conversation_id")
    specs: list[tuple[str, str, str | None]] = []
    scores = _require(conversation_scores, ("conversation_id", *CALL_METRICS), "conversation_scores")
    if scores is not None:
        call = scores.set_index("conversation_id")[list(CALL_METRICS)].astype(float)
        features = features.join(call.add_prefix("call:"))
        specs += [(f"call:{metric}", "call", None) for metric in CALL_METRICS]
    if rows is not None:
        totals = rows.pivot(index="conversation_id", columns="node_id", values="total_missed_as_zero")
        presence = rows.pivot(index="conversation_id", columns="node_id", values="is_present").astype(float)
        features = features.join(totals.add_prefix("node_total:")).join(presence.add_prefix("node_presence:"))
        specs += [(f"node_total:{node_id}", "node_total", node_id) for node_id in totals.columns]
        specs += [(f"node_presence:{node_id}", "node_presence", node_id) for node_id in presence.columns]
    return features, specs


def _association_coefficients(features: pd.DataFrame, won: pd.Series, columns: list[str],
                              min_per_class: int) -> dict[str, float]:
    """Coefficients of an L2 logistic regression of won on the standardized ``columns``."""
    # Imported here: scikit-learn takes a while to import, and the board imports this module
    # for pages that never fit a model.
    from sklearn.linear_model import LogisticRegression

    x = features[columns]
    scored = x.notna().any(axis=1)
    x, y = x[scored], won[scored]
    if y.sum() < min_per_class or (~y).sum() < min_per_class:
        return {}
    # An optional node that did not occur has no total: fill in the mean, i.e. 0 after
    # standardizing, so it carries no information either way.
    x = x.fillna(x.mean())
    spread = x.std(ddof=0)
    varying = [column for column in columns if spread[column] > 0]
    if not varying:
        return {}
    z = (x[varying] - x[varying].mean()) / spread[varying]
    model = LogisticRegression(C=1.0, max_iter=1000).fit(z.to_numpy(), y.to_numpy())
    return dict(zip(varying, model.coef_[0].tolist()))


def _presence_rates(won_present: int, won_count: int, lost_present: int, lost_count: int) -> dict[str, float]:
    """Difference interval, win rates when present/absent with Wilson intervals, and the lift."""
    present, absent = won_present + lost_present, (won_count - won_present) + (lost_count - lost_present)
    rates: dict[str, float] = {"present_count": present, "absent_count": absent}
    for side, wins, trials in (("present", won_present, present), ("absent", won_count - won_present, absent)):
        rates[f"{side}_win_rate"] = wins / trials if trials else math.nan
        rates[f"{side}_win_rate_low"], rates[f"{side}_win_rate_high"] = wilson_interval(wins, trials)
    absent_rate = rates["absent_win_rate"]
    rates["lift"] = rates["present_win_rate"] / absent_rate if absent_rate > 0 else math.nan
    rates["ci_low"], rates["ci_high"] = _newcombe_interval(won_present, won_count, lost_present, lost_count)
    return rates


def outcome_analysis(conversation_scores: pd.DataFrame, node_scores: pd.DataFrame, conversations: pd.DataFrame,
                     min_per_class: int = 10) -> tuple[pd.DataFrame, OutcomeSummary]:
    """Which call scores and SOP nodes separate won from lost deals.

    Only conversations with outcome ``won`` or ``lost`` count; open ones and those without an
    outcome are left out and counted in the summary. Features, one row each (``kind``):

    - ``call``: ``call:total``, ``call:coverage``, ``call:order_conformance``;
    - ``node_total``: ``node_total:<node_id>``, the node's total with missed as 0
      (conversations where it was not_applicable left out);
    - ``node_presence``: ``node_presence:<node_id>``, 1 when present, 0 when missed or
      not_applicable (over conversations with a row for the node).

    Columns: ``feature``, ``kind``, ``node_id``; ``won_count``/``lost_count`` (conversations
    with a value); ``mean_won``, ``mean_lost``, ``difference`` (won − lost) and its 95%
    interval ``ci_low``/``ci_high`` (Welch t; for presence, Newcombe's interval for a difference
    of proportions); ``significant``, True only when the summary is conclusive, both classes
    have at least ``min_per_class`` values and the interval excludes 0; ``coefficient``
    (node totals only, when conclusive: L2 logistic regression on standardized node totals,
    log-odds of winning per standard deviation — an association, not a cause). Presence rows
    also have ``present_count``/``absent_count``, the win rate when present and when absent
    with 95% Wilson intervals (``present_win_rate``, ``_low``, ``_high``; same for absent) and
    ``lift`` = present win rate / absent win rate (empty when the absent win rate is 0).

    The table is always returned; the :class:`OutcomeSummary` says whether it is conclusive
    and carries a plain message in Chinese and English for the board.
    """
    convs = _require(conversations, _CONVERSATION_COLUMNS, "conversations")
    if convs is None:
        message_zh, message_en = _outcome_message(0, 0, 0, min_per_class, False)
        return _empty(OUTCOME_COLUMNS), OutcomeSummary(False, 0, 0, 0, min_per_class, message_zh, message_en)
    labelled = convs[convs["outcome"].isin(["won", "lost"])]
    won_total, lost_total = int(labelled["outcome"].eq("won").sum()), int(labelled["outcome"].eq("lost").sum())
    excluded = len(convs) - len(labelled)
    conclusive = won_total >= min_per_class and lost_total >= min_per_class
    message_zh, message_en = _outcome_message(won_total, lost_total, excluded, min_per_class, conclusive)
    summary = OutcomeSummary(conclusive, won_total, lost_total, excluded, min_per_class, message_zh, message_en)

    rows = _scored_nodes(node_scores, labelled)
    features, specs = _outcome_features(conversation_scores, rows, labelled)
    if not specs:
        return _empty(OUTCOME_COLUMNS), summary
    won = labelled.set_index("conversation_id")["outcome"].eq("won").reindex(features.index)
    total_columns = [name for name, kind, _ in specs if kind == "node_total"]
    coefficients = (_association_coefficients(features, won, total_columns, min_per_class)
                    if conclusive else {})

    table = []
    for name, kind, node_id in specs:
        values = features[name]
        won_values = values[won & values.notna()].to_numpy(dtype=float)
        lost_values = values[~won & values.notna()].to_numpy(dtype=float)
        row = dict.fromkeys(OUTCOME_COLUMNS, math.nan) | {
            "feature": name, "kind": kind, "node_id": node_id,
            "won_count": len(won_values), "lost_count": len(lost_values),
            "mean_won": won_values.mean() if len(won_values) else math.nan,
            "mean_lost": lost_values.mean() if len(lost_values) else math.nan,
            "coefficient": coefficients.get(name, math.nan)}
        row["difference"] = row["mean_won"] - row["mean_lost"]
        if kind == "node_presence":
            row |= _presence_rates(int(won_values.sum()), len(won_values), int(lost_values.sum()), len(lost_values))
        else:
            row["ci_low"], row["ci_high"] = _welch_interval(won_values, lost_values)
        excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0  # False when the interval is empty (NaN)
        row["significant"] = bool(conclusive and min(len(won_values), len(lost_values)) >= min_per_class
                                  and excludes_zero)
        table.append(row)
    table = pd.DataFrame(table, columns=list(OUTCOME_COLUMNS))
    # Counts only exist on presence rows: nullable integers rather than floats with NaN.
    table[["present_count", "absent_count"]] = table[["present_count", "absent_count"]].astype("Int64")
    return table, summary


# -- exemplars -------------------------------------------------------------------------------
def exemplars(node_scores: pd.DataFrame, conversations: pd.DataFrame, node_id: str,
              for_conversation: str | None = None, rep: str | None = None, limit: int = 3) -> pd.DataFrame:
    """Peer exemplars: other reps' best handling of ``node_id``, to listen to when coaching.

    The rep to learn from others is ``rep``, or else the rep of ``for_conversation``; that
    rep's conversations (and ``for_conversation`` itself) are left out, as are conversations
    without a rep (they could be the rep's own). Only present nodes with a total count.
    Order: won deals first, then the highest node total, then the most recent start (unknown
    last), then conversation_id. Needs ``node_scores`` with ``utterance_indexes`` (where in
    the conversation to listen). Columns: ``conversation_id``, ``rep``, ``team``, ``total``
    (0–100), ``outcome``, ``started_at``, ``utterance_indexes`` (a list of ints).
    """
    rows = _scored_nodes(node_scores, conversations, extra=("utterance_indexes",))
    if rows is None:
        return _empty(EXEMPLAR_COLUMNS)
    if rep is None and for_conversation is not None:
        own = conversations.loc[conversations["conversation_id"].eq(for_conversation), "rep"].dropna()
        rep = own.iloc[0] if not own.empty else None
    candidates = rows[rows["node_id"].eq(node_id) & rows["is_present"] & rows["total"].notna()
                      & rows["rep"].notna() & rows["conversation_id"].ne(for_conversation)]
    if rep is not None:
        candidates = candidates[candidates["rep"].ne(rep)]
    candidates = candidates.assign(is_won=candidates["outcome"].eq("won")).sort_values(
        ["is_won", "total", "started_at", "conversation_id"], ascending=[False, False, False, True],
        na_position="last")
    best = candidates.head(limit).assign(
        utterance_indexes=lambda frame: frame["utterance_indexes"].map(_index_list))
    return best[list(EXEMPLAR_COLUMNS)].reset_index(drop=True)


def _index_list(indexes: object) -> list[int]:
    # DuckDB hands INTEGER[] to pandas as numpy arrays; a plain list is what callers expect.
    return [] if indexes is None or (isinstance(indexes, float) and math.isnan(indexes)) else [int(i) for i in indexes]
