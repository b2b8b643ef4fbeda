"""Page scaffolding shared by every board page."""

import streamlit as st

from dashboards import data
from dashboards.auth import current_viewer
from dashboards.i18n import t
from pipeline.access import Viewer


def page(title_key: str, title_for_reps: str | None = None) -> Viewer:
    """Title the page (``title_for_reps`` when a rep views it) and return the logged-in viewer.
    With nothing to show yet — no snapshot published, or none of the viewer's conversations in
    it — say why and which command to run, and stop the page there."""
    viewer = current_viewer()
    if viewer is None:  # pages only run through app.py, which logs in first
        st.stop()
    st.title(t(title_for_reps if title_for_reps and viewer.role == "rep" else title_key))
    if data.snapshot_version() is None:
        st.info(t("being_written") if data.db_path().exists() else t("no_data"))
        st.stop()
    if not data.has_any_data():
        st.info(t("no_data"))
        st.stop()
    if not data.has_data(viewer):
        st.info(t("no_data_for_you"))
        st.stop()
    return viewer


def conversation_label(row) -> str:
    """How a conversation is named in pickers and links: when, who, with whom, the outcome."""
    when = f"{row.started_at:%Y-%m-%d %H:%M} · " if getattr(row, "started_at", None) is not None \
        and str(row.started_at) != "NaT" else ""
    return f"{when}{row.rep or '—'} → {row.customer or '—'} ({row.outcome or '—'})"


def conversation_filter(viewer: Viewer, key: str) -> data.ConversationFilter:
    """The filter row shared by the conversation list and the search: rep, team, outcome,
    channel, industry and a date range, offering only values among the viewer's conversations."""
    options = data.filter_options(viewer)
    columns = st.columns(6)
    chosen = {column: tuple(columns[n].multiselect(t(column), options[column], key=f"{key}_{column}"))
              for n, column in enumerate(("rep", "team", "outcome", "channel", "industry"))}
    dates = columns[5].date_input(t("date_range"), value=(), key=f"{key}_dates")
    start, end = (tuple(dates) + (None, None))[:2] if isinstance(dates, tuple) else (dates, None)
    return data.ConversationFilter(reps=chosen["rep"], teams=chosen["team"], outcomes=chosen["outcome"],
                                   channels=chosen["channel"], industries=chosen["industry"], start=start, end=end)
