"""One conversation: transcript with key events, the key-event tree, node scores and tips, the
auto notes and the interaction metrics."""

import json

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards.graph import tree_dot
from dashboards.i18n import metric_name, node_label, node_order, t, unit_label
from dashboards.ui import page

DIMENSIONS = ("key_points", "communication_skill", "attitude", "customer_feedback")
# The order of docs/scoring.md, "Conversation metrics"; a metric not listed here goes last.
METRICS = ("talk_ratio", "longest_rep_monologue", "longest_customer_story", "interactivity",
           "rep_response_latency_s", "rep_interruptions", "wait_after_question_s", "question_count",
           "question_rate", "speaking_pace", "filler_rate")

page("conversation")

listing = data.conversations()
labels = {row.conversation_id: f"{row.started_at:%Y-%m-%d %H:%M} · {row.rep} → {row.customer} ({row.outcome})"
          if pd.notna(row.started_at) else f"{row.rep} → {row.customer}"
          for row in listing.itertuples()}
ids = list(labels)
wanted = st.query_params.get("id")
chosen = st.selectbox(t("pick_conversation"), ids, index=ids.index(wanted) if wanted in ids else 0, key="pick",
                      format_func=labels.__getitem__)
st.query_params["id"] = chosen

info = data.conversation(chosen)
if info is None:
    st.warning(t("not_found"))
    st.stop()

columns = st.columns(6)
columns[0].metric(t("rep"), info["rep"] or "—")
columns[1].metric(t("customer"), info["customer"] or "—")
columns[2].metric(t("outcome"), info["outcome"] or "—")
columns[3].metric(t("score"), f"{info['score']:.1f}")
columns[4].metric(t("coverage"), f"{info['coverage']:.0%}")
conformance = info["order_conformance"]
columns[5].metric(t("order_conformance"), "—" if pd.isna(conformance) else f"{conformance:.0%}")
missing = list(info["missing_required"])
if missing:
    st.warning(f"{t('missing')}: " + "、".join(node_label(node_id) for node_id in missing))
st.caption(" · ".join(str(v) for v in (info["channel"], info["industry"], info["team"], info["deal_id"],
                                         info["stage"], info["source_path"]) if v and not pd.isna(v)))

transcript_tab, tree_tab, scores_tab, notes_tab, metrics_tab = st.tabs(
    [t("transcript"), t("tree"), t("node_scores"), t("notes"), t("metrics")])

transcript = data.utterances(chosen)


def clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


with transcript_tab:
    audio = data.recording(info)
    if audio is not None:
        tagged = transcript[transcript["nodes"].map(len) > 0]
        starts = {f"#{r.utterance_index} {clock(r.start_s)} " + "、".join(node_label(n) for n in r.nodes): r.start_s
                  for r in tagged.itertuples() if not pd.isna(r.start_s)}
        jump = st.selectbox(t("play_from"), [t("play_start"), *starts], key="play_from")
        source, mime = data.playable_audio(str(audio))
        st.audio(source, format=mime, start_time=int(starts.get(jump, 0)))
    for row in transcript.itertuples():
        avatar = {"rep": "🧑‍💼", "customer": "🙂"}.get(row.speaker_role, "⚙️")
        with st.chat_message(name="assistant" if row.speaker_role == "rep" else "user", avatar=avatar):
            when = "" if pd.isna(row.start_s) else f" · {clock(row.start_s)}"
            badges = " ".join(f":orange-badge[{node_label(node_id)}]" for node_id in row.nodes)
            unsure = ("" if pd.isna(row.role_confidence) else
                      f" :gray-badge[{t('role_confidence')} {row.role_confidence:.0%}]")
            st.markdown(f"**{row.speaker_name}** · #{row.utterance_index}{when} {badges}{unsure}")
            st.text(row.text)
    with st.expander(t("evidence")):
        events = data.key_events(chosen)
        events["node_id"] = events["node_id"].map(node_label)
        st.dataframe(events, hide_index=True)

with tree_tab:
    tree = data.event_tree(chosen)
    if tree.empty:
        st.info(t("no_events"))
    else:
        texts = dict(zip(transcript["utterance_index"], transcript["text"]))
        st.graphviz_chart(tree_dot(tree, texts, node_label, missing), width="stretch")

with scores_tab:
    scores = data.node_scores(chosen)
    order = {node_id: position for position, node_id in enumerate(node_order())}
    scores = scores.assign(position=scores["node_id"].map(order)).sort_values("position")
    table = scores[["node_id", "status", *DIMENSIONS, "total"]].copy()
    table["node_id"] = table["node_id"].map(node_label)
    table["status"] = table["status"].map(lambda status: t(f"status_{status}"))
    st.dataframe(table, hide_index=True, column_config={
        "node_id": t("node"), "status": "",
        **{name: st.column_config.NumberColumn(t(name), format="%.0f") for name in (*DIMENSIONS, "total")},
    })
    for row in scores.itertuples():
        if row.status == "not_applicable":
            continue
        with st.expander(f"{node_label(row.node_id)} · {t('total')} {row.total:.0f}"):
            explanation = json.loads(row.explanation) if row.explanation else {}
            for name in DIMENSIONS:
                value = getattr(row, name)
                shown = "—" if pd.isna(value) else f"{value:.0f}"
                st.markdown(f"**{t(name)} {shown}** — {explanation.get(name, '')}")
            st.info(f"{t('tip')}: {row.tip}")

with notes_tab:
    notes = data.conversation_notes(chosen)
    if notes.empty:
        st.info(t("no_notes") if len(data.conversation_metrics(chosen)) else t("no_notes_stored"))
    for note in notes.itertuples():
        where, line = st.columns([1, 11])
        where.caption(" ".join(f"#{index}" for index in note.utterance_indexes))
        line.text(note.line)


def metric_value(value: float, unit: str, applicable: bool) -> str:
    if not applicable or pd.isna(value):
        return t("not_applicable")
    if unit == "ratio":
        return f"{value:.0%}"
    shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{shown} {unit_label(unit)}".strip()


with metrics_tab:
    metrics = data.conversation_metrics(chosen)
    if metrics.empty:
        st.info(t("no_metrics_stored"))
    else:
        position = {name: index for index, name in enumerate(METRICS)}
        metrics = metrics.assign(position=metrics["name"].map(position).fillna(len(METRICS))).sort_values(
            ["position", "name"])
        table = pd.DataFrame({
            "metric": metrics["name"].map(metric_name),
            "value": [metric_value(row.value, row.unit, row.applicable) for row in metrics.itertuples()],
            "explanation": metrics["explanation"]})
        st.dataframe(table, hide_index=True, key="metrics", column_config={
            "metric": t("metric"), "value": t("value"),
            "explanation": st.column_config.TextColumn(t("explanation"), width="large")})
