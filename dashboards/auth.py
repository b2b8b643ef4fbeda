"""Login for the board: who the viewer is, kept in the Streamlit session.

Accounts and their hashed passwords come from ``configs/users.yaml`` (``$KEYNODE_USERS``;
``keynode user add`` writes it; :mod:`pipeline.access` checks passwords). Every page gets the
viewer from :func:`current_viewer` and hands it to the data-access layer, which filters rows.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboards.i18n import t
from pipeline.access import UsersConfigError, Viewer, authenticate, load_users, users_path

#: After this many wrong passwords in one session, each further attempt waits LOCKOUT_S first.
MAX_FAILED_ATTEMPTS = 5
LOCKOUT_S = 30.0


def current_viewer() -> Viewer | None:
    """The logged-in viewer of this session, or None."""
    return st.session_state.get("viewer")


def log_in(viewer: Viewer) -> None:
    """Start the session as ``viewer`` (the UI language follows the account's preference)."""
    st.session_state["viewer"] = viewer
    st.session_state["failed_logins"] = 0
    if viewer.language in ("zh", "en"):
        st.session_state["lang"] = viewer.language


def log_out() -> None:
    """End the session; the language choice stays."""
    for key in [k for k in st.session_state if k not in ("lang",)]:
        del st.session_state[key]


def login_form() -> None:
    """The login page: a form, or the reason nobody can log in (a broken users file)."""
    st.title(t("app_title"))
    try:
        users = load_users(users_path())
    except UsersConfigError as error:
        st.error(f"{t('users_broken')}\n\n{error}")
        return
    failed = st.session_state.get("failed_logins", 0)
    locked_until = st.session_state.get("locked_until", 0.0)
    with st.form("login"):
        st.subheader(t("login"))
        username = st.text_input(t("username"), key="login_username")
        password = st.text_input(t("password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("log_in"))
    if not submitted:
        return
    if time.monotonic() < locked_until:
        st.error(t("login_locked").format(seconds=int(locked_until - time.monotonic()) + 1))
        return
    viewer = authenticate(users, username, password)
    if viewer is None:
        failed += 1
        st.session_state["failed_logins"] = failed
        if failed >= MAX_FAILED_ATTEMPTS:
            st.session_state["locked_until"] = time.monotonic() + LOCKOUT_S
        st.error(t("login_failed"))
        return
    log_in(viewer)
    st.rerun()
