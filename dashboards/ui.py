"""Page scaffolding shared by every board page."""

import streamlit as st

from dashboards import data
from dashboards.i18n import t


def page(title_key: str) -> None:
    """Title the page; with no data yet, say which command to run and stop the page there."""
    st.title(t(title_key))
    if not data.has_data():
        st.info(t("no_data"))
        st.stop()
