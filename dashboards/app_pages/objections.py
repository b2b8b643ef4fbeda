"""The objection library: the objections in the viewer's conversations grouped by theme, each
with its most typical wording, its most frequent wordings and the answers that worked best
(pipeline/scoring/objections.py; a trainer's masked)."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.i18n import reaction_label, t
from dashboards.ui import page

viewer = page("objection_library")

themes = data.objection_library(viewer)
if themes.empty:
    st.info(t("no_objections"))
    st.stop()
st.caption(t("objection_library_help"))
for theme in themes.itertuples():
    accepted = "—" if pd.isna(theme.accepted_share) else f"{theme.accepted_share:.0%}"
    with st.expander(f"{t('theme_' + theme.theme)} · {theme.objections} {t('objections_count')} · "
                     f"{t('accepted_share')} {accepted}", expanded=theme.Index == 0):
        st.markdown(f"**{t('typical_wording')}**")
        st.text(theme.example)
        st.markdown(f"**{t('best_answers')}**")
        if not theme.best_answers:
            st.caption(t("no_answers"))
        for answer in theme.best_answers:
            score = "" if answer["node_total"] is None else f" · {t('total')} {answer['node_total']:.0f}"
            st.text(f"{answer['answer']}")
            st.caption(f"{answer['rep'] or '—'} · {reaction_label(answer['outcome'])}{score}")
            st.page_link("app_pages/conversation.py", label=t("open_in_conversation"), icon="💬",
                         query_params={"id": answer["conversation_id"]})
        shown = len(theme.members)
        label = t("all_wordings").format(n=shown) if shown == theme.wordings else \
            t("top_wordings").format(shown=shown, n=theme.wordings)
        with st.popover(label):
            for quote, count in theme.members:
                st.text(f"{quote}  ×{count}")
