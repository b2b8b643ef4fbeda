"""Disputes: node scores reps disagreed with, for the manager of their team (or an admin) to
accept or reject with a word of explanation."""

import streamlit as st

from dashboards import actions, data
from dashboards.i18n import node_label, t
from dashboards.ui import page

viewer = page("disputes")

status = st.radio(t("dispute_status"), ["open", "accepted", "rejected"], horizontal=True, key="dispute_status",
                  format_func=lambda s: t(f"dispute_{s}"))
disputes = data.disputes(viewer, status)
if disputes.empty:
    st.info(t("no_disputes"))
    st.stop()
for dispute in disputes.itertuples():
    with st.container(border=True):
        st.markdown(f"**{node_label(dispute.node_id)}** · {dispute.author} · {dispute.created_at:%Y-%m-%d %H:%M}")
        st.text(dispute.comment)
        st.page_link("app_pages/conversation.py", label=t("open_in_conversation"), icon="💬",
                     query_params={"id": dispute.conversation_id})
        if dispute.status != "open":
            st.caption(f"{t('dispute_' + dispute.status)} · {dispute.resolved_by}: {dispute.resolution or ''}")
        elif viewer.can_resolve_disputes:
            with st.form(f"resolve_{dispute.dispute_id}"):
                resolution = st.text_input(t("resolution"), key=f"resolution_{dispute.dispute_id}")
                accept, reject = st.columns(2)
                decision = ("accepted" if accept.form_submit_button(t("dispute_accept")) else
                            "rejected" if reject.form_submit_button(t("dispute_reject")) else None)
                if decision:
                    actions.resolve_dispute(viewer, dispute.dispute_id, decision, resolution)
                    st.rerun()
