"""The deal path (业务路径): every conversation of one deal in time order, the SOP nodes each
covered, and the stage the deal reached."""

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.i18n import node_label, node_order, t
from dashboards.ui import page

viewer = page("deal_path")

deals = data.deals(viewer)
if deals.empty:
    st.info(t("no_deals"))
    st.stop()
labels = {row.deal_id: f"{row.deal_id} · {'、'.join(row.customers) if len(row.customers) else '—'} · "
                       f"{row.conversations} {t('conversations_count')} · {row.stage or '—'} · {row.outcome or '—'}"
          for row in deals.itertuples()}
wanted = st.query_params.get("deal")
ids = list(labels)
deal = st.selectbox(t("deal"), ids, index=ids.index(wanted) if wanted in ids else 0, format_func=labels.__getitem__,
                    key="deal_pick")
st.query_params["deal"] = deal

path = data.deal_path(viewer, deal)
summary = deals[deals["deal_id"].eq(deal)].iloc[0]
columns = st.columns(4)
columns[0].metric(t("conversations_count"), int(summary["conversations"]))
columns[1].metric(t("stage_reached"), summary["stage"] or "—")
columns[2].metric(t("outcome"), summary["outcome"] or "—")
columns[3].metric(t("reps"), "、".join(summary["reps"]) if len(summary["reps"]) else "—")

# One column per conversation, one row per SOP node: what each step of the deal covered.
nodes = node_order()
steps = [f"{i + 1}. {row.started_at:%m-%d} {row.stage or ''}".strip() if pd.notna(row.started_at)
         else f"{i + 1}. {row.stage or ''}".strip() for i, row in enumerate(path.itertuples())]
matrix = pd.DataFrame({step: [node in row.covered for node in nodes] for step, row in zip(steps, path.itertuples())},
                      index=[node_label(node) for node in nodes])
st.subheader(t("nodes_per_conversation"))
st.dataframe(matrix, key="deal_matrix",
             column_config={step: st.column_config.CheckboxColumn(step) for step in steps})

st.subheader(t("deal_timeline"))
for step, row in zip(steps, path.itertuples()):
    with st.container(border=True):
        score = "—" if pd.isna(row.score) else f"{row.score:.0f}"
        st.markdown(f"**{step}** · {row.channel} · {row.rep or '—'} · {t('score')} {score} · "
                    f"{t('outcome')}: {row.outcome or '—'}")
        covered = " ".join(f":green-badge[{node_label(n)}]" for n in nodes if n in row.covered)
        missed = " ".join(f":red-badge[{node_label(n)} ✗]" for n in row.missing_required)
        st.markdown(f"{covered} {missed}".strip() or "—")
        st.page_link("app_pages/conversation.py", label=t("open_in_conversation"), icon="💬",
                     query_params={"id": row.conversation_id})
