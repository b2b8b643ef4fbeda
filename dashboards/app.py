"""Keynode review board: ``keynode board`` (``make demo`` does this after processing).

Nobody sees a page before logging in; each role gets its own set of pages (docs/board.md,
"Roles"), and every page reads through :mod:`dashboards.data`, which filters rows for the
viewer — a page missing from the menu is not the protection, the data layer is.
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from dashboards.auth import current_viewer, log_out, login_form
from dashboards.i18n import LANGUAGES, default_language, t

st.set_page_config(page_title="Keynode", page_icon="🔑", layout="wide")

if "lang" not in st.session_state:
    st.session_state["lang"] = default_language()

with st.sidebar:
    st.selectbox("语言 / Language", options=list(LANGUAGES), format_func=LANGUAGES.__getitem__, key="lang")

viewer = current_viewer()

PAGES = {
    "overview": ("app_pages/overview.py", "📊"),
    "my_page": ("app_pages/coaching.py", "🏆"),
    "coaching": ("app_pages/coaching.py", "🏆"),
    "conversations": ("app_pages/conversations.py", "🗂️"),
    "conversation": ("app_pages/conversation.py", "💬"),
    "deal_path": ("app_pages/deal.py", "🛤️"),
    "search": ("app_pages/search.py", "🔎"),
    "objection_library": ("app_pages/objections.py", "🧱"),
    "disputes": ("app_pages/disputes.py", "⚖️"),
    "access_log": ("app_pages/access_log.py", "🛡️"),
}
#: Each role's menu, its first page the landing page.
MENUS = {
    "rep": ("my_page", "conversations", "conversation", "deal_path", "search"),
    "manager": ("overview", "conversations", "conversation", "deal_path", "search", "objection_library", "coaching",
                "disputes"),
    "trainer": ("search", "objection_library", "conversations", "conversation", "deal_path", "coaching"),
    "admin": ("overview", "conversations", "conversation", "deal_path", "search", "objection_library", "coaching",
              "disputes", "access_log"),
}


def pages_of(keys: tuple[str, ...]) -> list:
    return [st.Page(PAGES[key][0], title=t(key), icon=PAGES[key][1], default=(n == 0),
                    url_path=PAGES[key][0].removeprefix("app_pages/").removesuffix(".py"))
            for n, key in enumerate(keys)]


if viewer is None:
    # Every page registered but none shown, so the address asked for (say a conversation's
    # link) survives the login and opens once the viewer is known.
    st.navigation(pages_of(MENUS["admin"]), position="hidden")
    login_form()
    st.stop()

with st.sidebar:
    st.caption(f"{viewer.display_name or viewer.username} · {t('role_' + viewer.role)}"
               + (f" · {viewer.team}" if viewer.team else ""))
    if st.button(t("log_out"), key="log_out"):
        log_out()
        st.rerun()

try:
    st.navigation(pages_of(MENUS[viewer.role])).run()
except ScriptControlException:
    raise  # st.stop / st.rerun / st.switch_page
except Exception:
    # A page that fails says so and what to do, never with a traceback (the log keeps it).
    logging.getLogger("keynode.board").exception("page failed")
    st.error(t("page_failed"))
