"""Search utterances across all conversations by text and by key event."""

import streamlit as st

from dashboards import data
from dashboards.i18n import node_label, node_order, t
from dashboards.ui import page

page("search")

options = data.filter_options()
text = st.text_input(t("search_text"), key="search_text")
columns = st.columns(3)
nodes = columns[0].multiselect(t("search_events"), node_order(), format_func=node_label, key="search_nodes")
reps = columns[1].multiselect(t("rep"), options["rep"], key="search_reps")
outcomes = columns[2].multiselect(t("outcome"), options["outcome"], key="search_outcomes")

if not (text.strip() or nodes or reps or outcomes):
    st.stop()
results = data.search_utterances(text, tuple(nodes), tuple(reps), tuple(outcomes))
if results.empty:
    st.info(t("no_results"))
    st.stop()
results["nodes"] = results["nodes"].map(lambda ids: "、".join(node_label(i) for i in ids))
results["speaker_role"] = results["speaker_role"].map(lambda role: t(f"role_{role}"))
st.caption(f"{len(results)} {t('results')}")
st.dataframe(
    results,
    hide_index=True,
    column_order=["started_at", "rep", "customer", "outcome", "speaker_role", "text", "nodes"],
    column_config={
        "started_at": st.column_config.DatetimeColumn(t("started_at"), format="YYYY-MM-DD"),
        "rep": t("rep"), "customer": t("customer"), "outcome": t("outcome"),
        "speaker_role": t("speaker"), "text": st.column_config.TextColumn(t("text"), width="large"),
        "nodes": t("key_events"),
    },
)
for conversation_id in results["conversation_id"].unique()[:10]:
    st.page_link("app_pages/conversation.py", label=f"{t('conversation')} {conversation_id}",
                 query_params={"id": conversation_id})
