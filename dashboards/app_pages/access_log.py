"""The access log (admins): who opened which conversation, and when."""

import streamlit as st

from dashboards import data
from dashboards.i18n import t
from dashboards.ui import page

viewer = page("access_log")

log = data.access_log(viewer)
if log.empty:
    st.info(t("no_access"))
else:
    st.dataframe(log, hide_index=True, key="access_log", column_config={
        "accessed_at": st.column_config.DatetimeColumn(t("accessed_at"), format="YYYY-MM-DD HH:mm:ss"),
        "username": t("username"), "role": t("role"), "conversation_id": t("conversation"), "page": t("page")})
