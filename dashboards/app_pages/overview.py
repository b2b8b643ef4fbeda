"""Team overview for managers and admins: calls processed, SOP coverage and average score per
node, the weekly trend, the SOP compliance heatmap (reps × nodes), open disputes and failures."""

import altair as alt
import streamlit as st

from dashboards import data
from dashboards.i18n import node_label, node_order, t
from dashboards.ui import page

viewer = page("overview")

teams = data.visible_teams(viewer)
team = None
if viewer.role != "manager" and len(teams) > 1:
    choice = st.selectbox(t("team"), [t("all_teams"), *teams], key="overview_team")
    team = None if choice == t("all_teams") else choice
elif viewer.role == "manager":
    st.caption(f"{t('team')}: {viewer.team}")

counts = data.overview_counts(viewer, team)
disputes = data.disputes(viewer)
columns = st.columns(5)
for column, (key, label) in zip(columns, [("conversations", "conversations_count"), ("utterances", "utterances"),
                                           ("key_events", "key_events"), ("failures", "open_failures")]):
    column.metric(t(label), counts.get(key, 0))
columns[4].metric(t("open_disputes"), len(disputes))

order = {node_id: position for position, node_id in enumerate(node_order())}

st.subheader(t("coverage_by_node"))
coverage = data.node_coverage(viewer, team)
coverage = coverage.assign(position=coverage["node_id"].map(order)).sort_values("position")
coverage[t("node")] = coverage["node_id"].map(node_label)
st.dataframe(
    coverage[[t("node"), "coverage", "avg_score", "missed"]],
    hide_index=True, key="coverage",
    column_config={
        "coverage": st.column_config.ProgressColumn(t("coverage"), format="percent", min_value=0, max_value=1),
        "avg_score": st.column_config.NumberColumn(t("avg_score"), format="%.1f"),
        "missed": st.column_config.NumberColumn(t("missed")),
    },
)

st.subheader(t("weekly_team_trend"))
trend = data.weekly_trend(viewer, team)
if len(trend) < 2:
    st.caption(t("one_week"))
    st.dataframe(trend, hide_index=True, key="trend_table",
                 column_config={"week": st.column_config.DateColumn(t("week")),
                                "conversations": t("conversations_count"),
                                "mean_score": st.column_config.NumberColumn(t("score"), format="%.1f"),
                                "mean_coverage": st.column_config.ProgressColumn(t("coverage"), format="percent")})
else:
    st.line_chart(trend.set_index("week")[["mean_score"]].rename(columns={"mean_score": t("score")}),
                  x_label=t("week"), y_label=t("score"))

st.subheader(t("compliance_heatmap"))
matrix = data.compliance_matrix(viewer, team)
if matrix.empty:
    st.info(t("no_reps"))
else:
    matrix = matrix.assign(node=matrix["node_id"].map(node_label), position=matrix["node_id"].map(order))
    nodes_in_order = matrix.sort_values("position")["node"].drop_duplicates().tolist()
    heatmap = alt.Chart(matrix).mark_rect().encode(
        x=alt.X("node:N", sort=nodes_in_order, title=t("node")),
        y=alt.Y("rep:N", title=t("rep")),
        color=alt.Color("coverage:Q", title=t("coverage"), scale=alt.Scale(domain=[0, 1], scheme="redyellowgreen")),
        tooltip=[alt.Tooltip("rep:N", title=t("rep")), alt.Tooltip("node:N", title=t("node")),
                 alt.Tooltip("coverage:Q", title=t("coverage"), format=".0%"),
                 alt.Tooltip("conversations:Q", title=t("conversations_count"))])
    labels = heatmap.mark_text(fontSize=11).encode(text=alt.Text("coverage:Q", format=".0%"), color=alt.value("black"))
    st.altair_chart(heatmap + labels, width="stretch", key="heatmap")

if viewer.can_resolve_disputes and not disputes.empty:
    st.subheader(t("open_disputes"))
    st.page_link("app_pages/disputes.py", label=f"{t('disputes')} ({len(disputes)})", icon="⚖️")

failures = data.open_failures(viewer)
if viewer.role in ("admin", "manager"):
    st.subheader(t("failures_title"))
    if failures.empty:
        st.success(t("no_failures"))
    else:
        st.dataframe(failures, hide_index=True, key="failures")

run = data.last_run()
if not run.empty:
    last = run.iloc[0]
    st.caption(f"{t('last_run')}: {last['started_at']:%Y-%m-%d %H:%M} · {t('processed')} {last['processed']} · "
               f"{t('skipped')} {last['skipped']} · {t('failed')} {last['failed']} · "
               f"SOP {last['sop_version']} · {last['tagger']}")
