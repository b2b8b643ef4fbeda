"""Coaching: the leaderboard per team, one rep's nodes, trend and peer exemplars, and what
separates won from lost deals (pipeline/scoring/analytics.py; docs/scoring.md, "Analytics").
A rep sees this as "my page": their own conversations and scores, and their team's leaderboard."""

import math

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.i18n import language, node_label, node_order, t
from dashboards.ui import conversation_label, page
from pipeline.scoring.analytics import DIMENSIONS, TOO_FEW_CONVERSATIONS

SHARE_METRICS = ("coverage", "order_conformance")  # 0–1, shown as percentages; the rest are 0–100 scores

viewer = page("coaching", title_for_reps="my_page")

order = {node_id: position for position, node_id in enumerate(node_order())}


def metric_label(metric: str) -> str:
    if metric.startswith("node:"):
        return t("node_metric").format(node=node_label(metric.removeprefix("node:")))
    return t("call_total") if metric == "total" else t(metric)


def in_sop_order(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(position=frame["node_id"].map(order)).sort_values(["position", "node_id"])


# -- a rep's own conversations -----------------------------------------------------------------
if viewer.role == "rep":
    st.header(t("my_conversations"))
    mine = data.conversations(viewer)
    for row in mine.head(20).itertuples():
        score = "" if row.score is None or pd.isna(row.score) else f" · {t('score')} {row.score:.0f}"
        st.page_link("app_pages/conversation.py", label=conversation_label(row) + score, icon="💬",
                     query_params={"id": row.conversation_id})
    if len(mine) > 20:
        st.page_link("app_pages/conversations.py", label=f"{t('conversations')} ({len(mine)})", icon="🗂️")

# -- 排行榜 ---------------------------------------------------------------------------------
st.header(t("leaderboard"))
columns = st.columns([2, 1])
# Labels fixed in this run's language (a format_func reading the language later could mix them).
metrics = {metric: metric_label(metric) for metric in ["total", *SHARE_METRICS, *(f"node:{n}" for n in node_order())]}
metric = columns[0].selectbox(t("rank_by"), list(metrics), format_func=metrics.__getitem__, key="rank_by")
minimum = columns[1].number_input(t("min_conversations"), min_value=1, value=data.MIN_RANKED_CONVERSATIONS,
                                  step=1, key="min_conversations")
value_column = (st.column_config.NumberColumn(metrics[metric], format="percent") if metric in SHARE_METRICS
                else st.column_config.NumberColumn(metrics[metric], format="%.1f"))
reason = t("too_few_conversations").format(n=int(minimum))

teams = data.visible_teams(viewer)
if not teams:
    st.info(t("no_teams"))
for team, tab in zip(teams or [None], st.tabs(teams or [t("all_teams")])):
    with tab:
        board = data.leaderboard_table(viewer, team, metric, int(minimum))
        if board.empty:
            st.info(t("empty_leaderboard"))
            continue
        board["reason"] = board["reason"].map(lambda why: reason if why == TOO_FEW_CONVERSATIONS else "")
        st.dataframe(board, hide_index=True, key=f"leaderboard_{team}",
                     column_order=["rank", "rep", "conversations", "value", "reason"],
                     column_config={"rank": st.column_config.NumberColumn(t("rank"), format="%d"),
                                    "rep": t("rep"), "conversations": t("conversations_count"),
                                    "value": value_column, "reason": t("reason")})

# -- one rep --------------------------------------------------------------------------------
st.header(t("rep_detail"))
reps = data.visible_reps(viewer)
if not reps:
    st.info(t("no_reps"))
else:
    rep = reps[0] if viewer.role == "rep" else st.selectbox(t("rep"), reps, key="coaching_rep")

    st.subheader(t("node_averages"))
    averages = in_sop_order(data.rep_node_table(viewer, rep))
    averages["node_id"] = averages["node_id"].map(node_label)
    score = {name: st.column_config.NumberColumn(t(name), format="%.1f") for name in DIMENSIONS}
    st.dataframe(averages, hide_index=True, key="rep_nodes",
                 column_order=["node_id", "conversations", "coverage_share", "mean_total", "mean_total_present",
                               *(f"mean_{name}" for name in DIMENSIONS)],
                 column_config={
                     "node_id": t("node"), "conversations": t("conversations_count"),
                     "coverage_share": st.column_config.ProgressColumn(t("coverage"), format="percent",
                                                                       min_value=0, max_value=1),
                     "mean_total": st.column_config.NumberColumn(t("mean_total"), format="%.1f"),
                     "mean_total_present": st.column_config.NumberColumn(t("mean_total_present"), format="%.1f"),
                     **{f"mean_{name}": column for name, column in score.items()}})

    st.subheader(t("weakest_nodes"))
    weakest = data.weakest_nodes_table(viewer, rep)
    if weakest.empty:
        st.info(t("no_weakest"))
    else:
        shown = weakest.assign(node_id=weakest["node_id"].map(node_label))
        st.dataframe(shown, hide_index=True, key="weakest",
                     column_order=["node_id", "scored_count", "mean_total", "team_mean_total", "gap_to_team"],
                     column_config={
                         "node_id": t("node"), "scored_count": t("scored_count"),
                         "mean_total": st.column_config.NumberColumn(t("mean_total"), format="%.1f"),
                         "team_mean_total": st.column_config.NumberColumn(t("team_mean"), format="%.1f"),
                         "gap_to_team": st.column_config.NumberColumn(t("gap_to_team"), format="%+.1f")})

    st.subheader(t("weekly_trend"))
    trend, note = data.rep_trend_table(viewer, rep)
    if trend.empty:
        st.info(t("no_trend"))
    else:
        chart = (trend.assign(node=trend["node_id"].map(node_label), position=trend["node_id"].map(order))
                 .sort_values(["position", "period_start"])
                 .pivot_table(index="period_start", columns="node", values="mean_total", sort=False))
        if len(chart) < 2:
            st.caption(t("one_week"))
            table = trend.assign(node_id=trend["node_id"].map(node_label))
            st.dataframe(table, hide_index=True, key="trend_table", column_order=["period", "node_id", "mean_total"],
                         column_config={"period": t("week"), "node_id": t("node"),
                                        "mean_total": st.column_config.NumberColumn(t("mean_total"), format="%.1f")})
        else:
            st.line_chart(chart, x_label=t("week"), y_label=t("mean_total"))
    if note.undated_conversations:
        st.caption(note.message_zh if language() == "zh" else note.message_en)

    if not weakest.empty:
        weakest_node = weakest["node_id"].iloc[0]
        st.subheader(t("exemplars").format(node=node_label(weakest_node)))
        examples = data.exemplar_table(viewer, weakest_node, rep)
        if examples.empty:
            st.info(t("no_exemplars"))
        else:
            st.caption(t("exemplars_help"))
            for example in examples.itertuples():
                when = "" if pd.isna(example.started_at) else f"{example.started_at:%Y-%m-%d} · "
                where = " ".join(f"#{index}" for index in example.utterance_indexes)
                label = f"{example.rep} · {when}{example.outcome or '—'} · {t('total')} {example.total:.0f} · {where}"
                if example.openable:
                    st.page_link("app_pages/conversation.py", icon="🎧", label=label,
                                 query_params={"id": example.conversation_id})
                else:  # another team's call: its words (personal data masked), not the call
                    st.markdown(f"🎧 {label}")
                st.text(example.quote)


# -- won vs lost ----------------------------------------------------------------------------
def is_share(row) -> bool:
    return row.kind == "node_presence" or row.feature.removeprefix("call:") in SHARE_METRICS


def feature_label(row) -> str:
    if row.kind == "call":
        return metric_label(row.feature.removeprefix("call:"))
    return t(f"{row.kind}_feature").format(node=node_label(row.node_id))


def amount(value: float, share: bool, signed: bool = False, unit: bool = True) -> str:
    """A score as 63.1 (signed: +27.2); a share as 62% (signed: in percentage points, +26 pp)."""
    if pd.isna(value):
        return "—"
    if not signed:
        return f"{value:.0%}" if share else f"{value:.1f}"
    rounded = round(value * 100) if share else round(value, 1)
    text = "0" if rounded == 0 else f"{rounded:+.0f}" if share else f"{rounded:+.1f}"  # never "-0"
    return f"{text}{t('points')}" if share and unit else text


def interval(low: float, high: float, share: bool) -> str:
    if pd.isna(low) or pd.isna(high):
        return "—"
    return f"{amount(low, share, True, unit=False)} ~ {amount(high, share, True)}"


def win_rate(rate: float, low: float, high: float) -> str:
    return "—" if pd.isna(rate) else f"{rate:.0%} ({low:.0%}–{high:.0%})"


if viewer.role == "rep":
    st.stop()  # won-vs-lost analysis is for the team, not one rep's handful of deals
st.header(t("outcome_title"))
features, summary = data.outcome_table(viewer)
message = summary.message_zh if language() == "zh" else summary.message_en
if summary.conclusive:
    st.info(message)
else:
    st.warning(message)

if not features.empty:
    kinds = {"call": 0, "node_total": 1, "node_presence": 2}
    features = features.assign(kind_position=features["kind"].map(kinds),
                               position=features["node_id"].map(order)).sort_values(["kind_position", "position"])
    rows = list(features.itertuples())
    table = pd.DataFrame({
        "feature": [feature_label(row) for row in rows],
        "won_count": [row.won_count for row in rows],
        "lost_count": [row.lost_count for row in rows],
        "mean_won": [amount(row.mean_won, is_share(row)) for row in rows],
        "mean_lost": [amount(row.mean_lost, is_share(row)) for row in rows],
        "difference": [amount(row.difference, is_share(row), signed=True) for row in rows],
        "interval": [interval(row.ci_low, row.ci_high, is_share(row)) for row in rows],
        "significant": [bool(row.significant) for row in rows],
        "coefficient": [row.coefficient for row in rows],
        "win_rate_present": [win_rate(row.present_win_rate, row.present_win_rate_low, row.present_win_rate_high)
                             for row in rows],
        "win_rate_absent": [win_rate(row.absent_win_rate, row.absent_win_rate_low, row.absent_win_rate_high)
                            for row in rows],
        "lift": ["—" if pd.isna(row.lift) or math.isinf(row.lift) else f"×{row.lift:.2f}" for row in rows],
    })
    visible = [name for name in table.columns if name != "coefficient" or summary.conclusive]
    st.dataframe(table, hide_index=True, key="outcomes", column_order=visible,
                 column_config={name: t(name) for name in table.columns if name not in ("significant", "coefficient")}
                 | {"significant": st.column_config.CheckboxColumn(t("significant")),
                    "coefficient": st.column_config.NumberColumn(t("coefficient"), format="%+.2f")})
