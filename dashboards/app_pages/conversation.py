"""One conversation: the key-event tree beside the transcript (an event's link jumps the
transcript there, and a call's player to its time), node scores with tips and disputes, label
corrections, the auto notes and the interaction metrics."""

import html
import json

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from dashboards import actions, data
from dashboards.graph import tree_dot
from dashboards.i18n import metric_name, node_label, node_order, t, unit_label
from dashboards.ui import conversation_label, page

DIMENSIONS = ("key_points", "communication_skill", "attitude", "customer_feedback")
# The order of docs/scoring.md, "Conversation metrics"; a metric not listed here goes last.
METRICS = ("talk_ratio", "longest_rep_monologue", "longest_customer_story", "interactivity",
           "rep_response_latency_s", "rep_interruptions", "wait_after_question_s", "question_count",
           "question_rate", "speaking_pace", "filler_rate")

viewer = page("conversation")

listing = data.conversations(viewer)
labels = {row.conversation_id: conversation_label(row) for row in listing.itertuples()}
ids = list(labels)
wanted = st.query_params.get("id")
if wanted and wanted not in labels:
    # Unknown, or another rep's/team's: the same answer, so the URL tells nothing.
    st.warning(t("not_found"))
    st.stop()
chosen = st.selectbox(t("pick_conversation"), ids, index=ids.index(wanted) if wanted in ids else 0, key="pick",
                      format_func=labels.__getitem__)
st.query_params["id"] = chosen

info = data.conversation(viewer, chosen)
if info is None:
    st.warning(t("not_found"))
    st.stop()

logged = st.session_state.setdefault("logged_access", set())
if chosen not in logged:
    actions.log_access(viewer, chosen, "conversation")
    logged.add(chosen)

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

transcript = data.utterances(viewer, chosen)
texts = dict(zip(transcript["utterance_index"], transcript["text"]))


def clock(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{int(seconds % 60):02d}"


tree_column, transcript_column = st.columns([2, 3])
tagged = transcript[transcript["nodes"].map(len) > 0]

with tree_column:
    st.subheader(t("tree"))
    tree = data.event_tree(viewer, chosen)
    if tree.empty:
        st.info(t("no_events"))
    else:
        st.graphviz_chart(tree_dot(tree, texts, node_label, missing), width="stretch")
    events = {f"#{row.utterance_index} " + "、".join(node_label(n) for n in row.nodes): row.utterance_index
              for row in tagged.itertuples()}
    picked = st.pills(t("jump_to_event"), list(events), key=f"jump_{chosen}")
focus = events.get(picked)

with transcript_column:
    st.subheader(t("transcript"))
    audio = data.recording(viewer, chosen)
    if audio is not None:
        start_s = transcript.set_index("utterance_index")["start_s"].get(focus) if focus is not None else None
        source, mime = data.playable_audio(str(audio))
        st.audio(source, format=mime, start_time=0 if start_s is None or pd.isna(start_s) else int(start_s),
                 autoplay=focus is not None)
    with st.container(height=640, key="transcript"):
        for row in transcript.itertuples():
            avatar = {"rep": "🧑‍💼", "customer": "🙂"}.get(row.speaker_role, "⚙️")
            with st.chat_message(name="assistant" if row.speaker_role == "rep" else "user", avatar=avatar):
                when = "" if pd.isna(row.start_s) else f" · {clock(row.start_s)}"
                badges = " ".join(f":orange-badge[{node_label(node_id)}]" for node_id in row.nodes)
                unsure = ("" if pd.isna(row.role_confidence) else
                          f" :gray-badge[{t('role_confidence')} {row.role_confidence:.0%}]")
                here = " :blue-badge[▶]" if row.utterance_index == focus else ""
                # The anchor links (notes) and the event picker jump to; names are escaped since
                # HTML is allowed in this line.
                st.markdown(f'<span id="u-{row.utterance_index}"></span>**{html.escape(row.speaker_name)}** · '
                            f"#{row.utterance_index}{when} {badges}{unsure}{here}", unsafe_allow_html=True)
                st.text(row.text)
    if focus is not None:
        # Streamlit cannot scroll; a zero-height component scrolls its parent page's transcript.
        components.html(f"""<script>const target = window.parent.document.getElementById("u-{int(focus)}");
                            if (target) target.scrollIntoView({{block: "center"}});</script>""", height=0)

if viewer.role == "admin":  # texts before redaction, kept only with keep_original: true (configs/privacy.yaml)
    originals = data.original_texts(viewer, chosen)
    if not originals.empty:
        with st.expander(t("original_texts")):
            st.caption(t("original_texts_help"))
            st.dataframe(originals[["utterance_index", "speaker_name", "original", "text"]], hide_index=True,
                         key="original_texts", column_config={
                             "utterance_index": "#", "speaker_name": t("speaker"),
                             "original": st.column_config.TextColumn(t("original"), width="large"),
                             "text": st.column_config.TextColumn(t("redacted"), width="large")})

scores_tab, notes_tab, metrics_tab, evidence_tab, corrections_tab = st.tabs(
    [t("node_scores"), t("notes"), t("metrics"), t("evidence"), t("corrections")])

with scores_tab:
    scores = data.node_scores(viewer, chosen)
    order = {node_id: position for position, node_id in enumerate(node_order())}
    scores = scores.assign(position=scores["node_id"].map(order)).sort_values("position")
    table = scores[["node_id", "status", *DIMENSIONS, "total"]].copy()
    table["node_id"] = table["node_id"].map(node_label)
    table["status"] = table["status"].map(lambda status: t(f"status_{status}"))
    st.dataframe(table, hide_index=True, column_config={
        "node_id": t("node"), "status": "",
        **{name: st.column_config.NumberColumn(t(name), format="%.0f") for name in (*DIMENSIONS, "total")},
    })
    open_disputes = data.disputes(viewer, status=None, conversation_id=chosen)
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
            for dispute in open_disputes[open_disputes["node_id"].eq(row.node_id)].itertuples():
                st.caption(f"{t('dispute')} · {dispute.author} · {t('dispute_' + dispute.status)}: {dispute.comment}"
                           + (f" → {dispute.resolution}" if dispute.resolution else ""))
            if viewer.can_dispute:
                with st.form(f"dispute_{row.node_id}", clear_on_submit=True):
                    comment = st.text_area(t("dispute_comment"), key=f"dispute_comment_{row.node_id}")
                    if st.form_submit_button(t("dispute_submit")):
                        try:
                            actions.open_dispute(viewer, chosen, row.node_id, comment)
                            st.success(t("dispute_saved"))
                        except ValueError as error:
                            st.error(str(error))

with notes_tab:
    notes = data.conversation_notes(viewer, chosen)
    if notes.empty:
        st.info(t("no_notes") if len(data.conversation_metrics(viewer, chosen)) else t("no_notes_stored"))
    for note in notes.itertuples():
        where, line = st.columns([1, 11])
        where.markdown(" ".join(f"[#{index}](#u-{index})" for index in note.utterance_indexes))
        line.text(note.line)


def metric_value(value: float, unit: str, applicable: bool) -> str:
    if not applicable or pd.isna(value):
        return t("not_applicable")
    if unit == "ratio":
        return f"{value:.0%}"
    shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{shown} {unit_label(unit)}".strip()


with metrics_tab:
    metrics = data.conversation_metrics(viewer, chosen)
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

with evidence_tab:
    events = data.key_events(viewer, chosen).drop(columns=["conversation_id"])
    events["node_id"] = events["node_id"].map(node_label)
    st.dataframe(events, hide_index=True)

with corrections_tab:
    if viewer.can_correct_labels:
        with st.form("correction", clear_on_submit=True):
            st.caption(t("correction_help"))
            utterance = st.selectbox(t("utterance"), list(transcript["utterance_index"]), key="correct_utterance",
                                     format_func=lambda i: f"#{i} {texts.get(i, '')[:40]}")
            node = st.selectbox(t("node"), node_order(), format_func=node_label, key="correct_node")
            action = st.radio(t("correction_action"), ["add", "remove"], horizontal=True, key="correct_action",
                              format_func=lambda a: t(f"correction_{a}"))
            note = st.text_input(t("correction_note"), key="correct_note")
            if st.form_submit_button(t("correction_submit")):
                actions.record_correction(viewer, chosen, int(utterance), node, action, note or None)
                st.success(t("correction_saved"))
    made = data.corrections(viewer, chosen)
    if made.empty:
        st.caption(t("no_corrections"))
    else:
        made["node_id"] = made["node_id"].map(node_label)
        made["action"] = made["action"].map(lambda a: t(f"correction_{a}"))
        st.dataframe(made, hide_index=True, key="corrections_table")
