"""Keynode review board: ``streamlit run dashboards/app.py`` (``make demo`` does this)."""

from __future__ import annotations

import streamlit as st

from dashboards.i18n import LANGUAGES, t

st.set_page_config(page_title="Keynode", page_icon="🔑", layout="wide")

with st.sidebar:
    st.selectbox(
        "语言 / Language", options=list(LANGUAGES), format_func=LANGUAGES.__getitem__, key="lang")

pages = [
    st.Page("app_pages/overview.py", title=t("overview"), icon="📊", default=True),
    st.Page("app_pages/conversations.py", title=t("conversations"), icon="🗂️", url_path="conversations"),
    st.Page("app_pages/conversation.py", title=t("conversation"), icon="💬", url_path="conversation"),
    st.Page("app_pages/search.py", title=t("search"), icon="🔎", url_path="search"),
    st.Page("app_pages/coaching.py", title=t("coaching"), icon="🏆", url_path="coaching"),
]
st.navigation(pages).run()
