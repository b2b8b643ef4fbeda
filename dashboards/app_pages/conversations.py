"""Conversation list with filters; selecting a row opens the conversation page."""

import streamlit as st

from dashboards import data
from dashboards.i18n import node_label, t
from dashboards.ui import conversation_filter, page

viewer = page("conversations")

frame = data.conversations(viewer, conversation_filter(viewer, "list"))
frame["missing_required"] = frame["missing_required"].map(lambda ids: "、".join(node_label(i) for i in ids))
st.caption(f"{len(frame)} {t('conversations_count')} · {t('open_conversation')}")
selection = st.dataframe(
    frame,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="conversation_table",
    column_order=["started_at", "rep", "team", "customer", "channel", "industry", "deal_id", "stage",
                  "outcome", "coverage", "score", "missing_required"],
    column_config={
        "started_at": st.column_config.DatetimeColumn(t("started_at"), format="YYYY-MM-DD HH:mm"),
        "rep": t("rep"), "team": t("team"), "customer": t("customer"), "channel": t("channel"),
        "industry": t("industry"), "deal_id": t("deal"), "stage": t("stage"), "outcome": t("outcome"),
        "coverage": st.column_config.ProgressColumn(t("coverage"), format="percent", min_value=0, max_value=1),
        "score": st.column_config.NumberColumn(t("score"), format="%.1f"),
        "missing_required": t("missing"),
    },
)
rows = selection.selection.rows if selection else []
if rows:
    st.switch_page("app_pages/conversation.py", query_params={"id": frame.iloc[rows[0]]["conversation_id"]})
