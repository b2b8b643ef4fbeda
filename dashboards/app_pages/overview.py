"""Overview: headline counts, SOP coverage per node, open failures, last run."""

import streamlit as st

from dashboards import data
from dashboards.i18n import node_label, node_order, t
from dashboards.ui import page

page("app_title")

counts = data.overview_counts()
columns = st.columns(4)
for column, (key, label) in zip(columns, [("conversations", "conversations_count"), ("utterances", "utterances"),
                                           ("key_events", "key_events"), ("failures", "open_failures")]):
    column.metric(t(label), counts.get(key, 0))

st.subheader(t("coverage_by_node"))
coverage = data.node_coverage()
order = {node_id: position for position, node_id in enumerate(node_order())}
coverage = coverage.assign(position=coverage["node_id"].map(order)).sort_values("position")
coverage[t("node")] = coverage["node_id"].map(node_label)
st.dataframe(
    coverage[[t("node"), "coverage", "avg_score", "missed"]],
    hide_index=True,
    column_config={
        "coverage": st.column_config.ProgressColumn(t("coverage"), format="percent", min_value=0, max_value=1),
        "avg_score": st.column_config.NumberColumn(t("avg_score"), format="%.1f"),
        "missed": st.column_config.NumberColumn(t("missed")),
    },
)

st.subheader(t("failures_title"))
failures = data.open_failures()
if failures.empty:
    st.success(t("no_failures"))
else:
    st.dataframe(failures, hide_index=True)

run = data.last_run()
if not run.empty:
    last = run.iloc[0]
    st.caption(f"{t('last_run')}: {last['started_at']:%Y-%m-%d %H:%M} · {t('processed')} {last['processed']} · "
               f"{t('skipped')} {last['skipped']} · {t('failed')} {last['failed']} · "
               f"SOP {last['sop_version']} · {last['tagger']}")
