"""Search utterances across the viewer's conversations by text, key event, rep, team, outcome,
channel, industry and date; each hit in context (two turns before and after), with how the
rep answered and what happened next."""

import streamlit as st

from dashboards import data
from dashboards.i18n import node_label, node_order, reaction_label, t
from dashboards.ui import conversation_filter, page

#: Hits shown with their context (the count says how many matched).
SHOWN = 50

viewer = page("search")

text = st.text_input(t("search_text"), key="search_text")
nodes = st.multiselect(t("search_events"), node_order(), format_func=node_label, key="search_nodes")
search = data.SearchQuery(text=text, node_ids=tuple(nodes), filters=conversation_filter(viewer, "search"))
if search.is_empty:
    st.caption(t("search_help"))
    st.stop()

hits = data.search_utterances(viewer, search)
if hits.empty:
    st.info(t("no_results"))
    st.stop()
st.caption(f"{len(hits)} {t('results')}" + (f" · {t('showing_first')} {SHOWN}" if len(hits) > SHOWN else ""))
st.download_button(t("export_csv"), hits.drop(columns=["nodes"]).assign(
    nodes=hits["nodes"].map(lambda ids: " ".join(ids))).to_csv(index=False).encode("utf-8-sig"),
    file_name="keynode-search.csv", mime="text/csv", key="export")
context = data.search_context(viewer, hits.head(SHOWN))
for hit in hits.head(SHOWN).itertuples():
    with st.container(border=True):
        when = f"{hit.started_at:%Y-%m-%d}" if hit.started_at is not None and str(hit.started_at) != "NaT" else "—"
        events = "、".join(node_label(n) for n in hit.nodes)
        st.markdown(f"**{hit.rep or '—'}** → {hit.customer or '—'} · {when} · {t('outcome')}: {hit.outcome or '—'}"
                    + (f" · :orange-badge[{events}]" if events else ""))
        around = context[context["conversation_id"].eq(hit.conversation_id)
                         & context["hit_index"].eq(hit.utterance_index)]
        for turn in around.itertuples():
            speaker = t(f"role_{turn.speaker_role}")
            line = f"#{turn.utterance_index} {speaker}: {turn.text}"
            if turn.utterance_index == hit.utterance_index:
                st.markdown(f"**▶ {line}**".replace("\n", " "))
            else:
                st.text(line)
        if isinstance(hit.rep_answer, str) and hit.rep_answer:
            reaction = f" → {reaction_label(hit.objection_outcome)}" if reaction_label(hit.objection_outcome) else ""
            st.caption(f"{t('rep_answer')}: {hit.rep_answer}{reaction}")
        st.page_link("app_pages/conversation.py", label=t("open_in_conversation"), icon="💬",
                     query_params={"id": hit.conversation_id})
