"""Every query the board makes. Pages call these functions and never write SQL themselves.

The board reads the snapshot the pipeline publishes (``pipeline.store.snapshot``), through a
short read-only connection per query, so it never holds DuckDB's file lock while a batch is
being written. Results are cached briefly and keyed by the snapshot's modification time, so
a newly published snapshot shows up at the next rerun.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import streamlit as st

from pipeline.scoring import analytics
from pipeline.store import read_snapshot, snapshot_path

DEFAULT_DB = "data/keynode.duckdb"


def db_path() -> Path:
    """The database the board shows: ``$KEYNODE_DB`` or ``data/keynode.duckdb``."""
    return Path(os.environ.get("KEYNODE_DB", DEFAULT_DB))


def snapshot_version() -> int | None:
    """Modification time of the published snapshot (None when there is none yet)."""
    path = snapshot_path(db_path())
    return path.stat().st_mtime_ns if path.exists() else None


@st.cache_data(ttl=30, show_spinner=False)
def _cached_query(database: str, version: int, sql: str, params: tuple) -> pd.DataFrame:
    with read_snapshot(database) as con:
        return con.execute(sql, list(params)).df()


def query(sql: str, params: tuple = ()) -> pd.DataFrame:
    """Run one read-only query on the snapshot; an empty frame when there is no data yet."""
    version = snapshot_version()
    if version is None:
        return pd.DataFrame()
    return _cached_query(str(db_path()), version, sql, params)


def has_data() -> bool:
    """True once the pipeline has published at least one conversation."""
    frame = query("SELECT count(*) AS n FROM conversations")
    return not frame.empty and int(frame["n"].iloc[0]) > 0


# -- overview ---------------------------------------------------------------------------
def overview_counts() -> dict[str, int]:
    """Headline counts: conversations, utterances, key events, unresolved failures."""
    frame = query("""SELECT (SELECT count(*) FROM conversations) AS conversations,
                            (SELECT count(*) FROM utterances) AS utterances,
                            (SELECT count(*) FROM key_events) AS key_events,
                            (SELECT count(*) FROM failures WHERE resolved_at IS NULL) AS failures""")
    return {name: int(frame[name].iloc[0]) for name in frame.columns} if not frame.empty else {}


def node_coverage() -> pd.DataFrame:
    """Per SOP node: share of conversations where it occurred, and its average node score."""
    return query("""SELECT node_id,
                           avg(CASE WHEN status = 'present' THEN 1.0 ELSE 0.0 END) AS coverage,
                           avg(total) FILTER (WHERE status <> 'not_applicable') AS avg_score,
                           count(*) FILTER (WHERE status = 'missed') AS missed
                    FROM node_scores GROUP BY node_id""")


def open_failures() -> pd.DataFrame:
    """Failures not resolved by a later successful run, newest first."""
    return query("""SELECT occurred_at, source_path, source_key, stage, message
                    FROM failures WHERE resolved_at IS NULL ORDER BY occurred_at DESC""")


def last_run() -> pd.DataFrame:
    """The most recent pipeline run."""
    return query("""SELECT run_id, started_at, finished_at, sop_version, tagger, processed, skipped, failed
                    FROM runs ORDER BY started_at DESC LIMIT 1""")


# -- conversation list ------------------------------------------------------------------
@dataclass(frozen=True)
class ConversationFilter:
    """What the conversation list is narrowed to; empty tuples mean 'any'."""

    reps: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None


def filter_options() -> dict[str, list[str]]:
    """Distinct values for the list filters."""
    options = {}
    for column in ("rep", "team", "channel", "outcome"):
        frame = query(f"SELECT DISTINCT {column} AS v FROM conversations WHERE {column} IS NOT NULL ORDER BY 1")
        options[column] = frame["v"].tolist() if not frame.empty else []
    return options


def _in_clause(column: str, values: tuple[str, ...], clauses: list[str], params: list) -> None:
    if values:
        clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(values)


def conversations(filters: ConversationFilter = ConversationFilter()) -> pd.DataFrame:
    """Conversations with their SOP score, newest first."""
    clauses: list[str] = []
    params: list = []
    _in_clause("c.rep", filters.reps, clauses, params)
    _in_clause("c.team", filters.teams, clauses, params)
    _in_clause("c.channel", filters.channels, clauses, params)
    _in_clause("c.outcome", filters.outcomes, clauses, params)
    if filters.start:
        clauses.append("CAST(c.started_at AS DATE) >= ?")
        params.append(filters.start)
    if filters.end:
        clauses.append("CAST(c.started_at AS DATE) <= ?")
        params.append(filters.end)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return query(f"""SELECT c.conversation_id, c.started_at, c.rep, c.team, c.customer, c.channel,
                            c.industry, c.deal_id, c.stage, c.outcome, c.utterance_count,
                            s.coverage, s.total AS score, s.missing_required
                     FROM conversations c LEFT JOIN conversation_scores s USING (conversation_id)
                     {where} ORDER BY c.started_at DESC NULLS LAST, c.conversation_id""", tuple(params))


# -- one conversation ---------------------------------------------------------------------
def conversation(conversation_id: str) -> dict | None:
    """One conversation's metadata and SOP score, or None if it is not stored."""
    frame = query("""SELECT c.*, s.coverage, s.missing_required, s.order_conformance, s.node_order,
                            s.total AS score
                     FROM conversations c LEFT JOIN conversation_scores s USING (conversation_id)
                     WHERE conversation_id = ?""", (conversation_id,))
    return None if frame.empty else frame.iloc[0].to_dict()


def utterances(conversation_id: str) -> pd.DataFrame:
    """The transcript, with the node ids tagged on each utterance."""
    return query("""SELECT u.utterance_index, u.speaker_role, u.speaker_name, u.start_s, u.end_s, u.text,
                           u.role_confidence,
                           coalesce(list(e.node_id ORDER BY e.node_id) FILTER (WHERE e.node_id IS NOT NULL),
                                    []::VARCHAR[]) AS nodes
                    FROM utterances u LEFT JOIN key_events e USING (conversation_id, utterance_index)
                    WHERE u.conversation_id = ?
                    GROUP BY ALL ORDER BY u.utterance_index""", (conversation_id,))


# Browsers play these as they are; anything else (AMR from phone systems) is converted.
BROWSER_AUDIO = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac",
                 ".ogg": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac"}


def recording(info: dict) -> Path | None:
    """The call recording of a transcribed conversation, if the file is still there."""
    if info.get("source_format") != "audio":
        return None
    path = Path(info["source_path"])
    return path if path.is_file() else None


@st.cache_data(max_entries=8, show_spinner=False)
def playable_audio(path: str) -> tuple[bytes | str, str]:
    """What ``st.audio`` gets: the file itself when browsers can play it, else a 16 kHz WAV
    decoded in memory (AMR, common for Chinese phone recordings, plays in no browser)."""
    if Path(path).suffix.lower() in BROWSER_AUDIO:
        return path, BROWSER_AUDIO[Path(path).suffix.lower()]
    import io
    import wave

    import numpy as np
    from faster_whisper import decode_audio

    samples = decode_audio(path, sampling_rate=16_000)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue(), "audio/wav"


def key_events(conversation_id: str) -> pd.DataFrame:
    """Key events of one conversation with their evidence and source rule."""
    return query("""SELECT utterance_index, node_id, confidence, source, evidence
                    FROM key_events WHERE conversation_id = ? ORDER BY utterance_index, node_id""",
                 (conversation_id,))


def event_tree(conversation_id: str) -> pd.DataFrame:
    """The stored key-event tree."""
    return query("""SELECT tree_key, parent_key, kind, node_id, speaker_role, first_utterance,
                           last_utterance, depth
                    FROM event_tree WHERE conversation_id = ? ORDER BY tree_key""", (conversation_id,))


def node_scores(conversation_id: str) -> pd.DataFrame:
    """Node scores with explanations and tips."""
    return query("""SELECT node_id, status, key_points, communication_skill, attitude, customer_feedback,
                           total, explanation, tip, utterance_indexes
                    FROM node_scores WHERE conversation_id = ?""", (conversation_id,))


def _has_table(name: str) -> bool:
    """True when the snapshot has table ``name`` (a snapshot published before a migration lacks it)."""
    frame = query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = ?", (name,))
    return not frame.empty and int(frame["n"].iloc[0]) > 0


CONVERSATION_METRIC_COLUMNS = ("name", "value", "unit", "applicable", "explanation", "evidence")
CONVERSATION_NOTE_COLUMNS = ("note_index", "kind", "utterance_indexes", "quote", "answer", "answer_index",
                             "outcome", "line")


def conversation_metrics(conversation_id: str) -> pd.DataFrame:
    """Interaction metrics of one conversation (talk ratio, monologues, questions …; docs/scoring.md,
    "Conversation metrics"). ``value`` is empty when ``applicable`` is false; ``explanation`` says
    why, in the conversation's language. Empty when none are stored (conversations processed
    before metrics existed)."""
    if not _has_table("conversation_metrics"):
        return pd.DataFrame(columns=list(CONVERSATION_METRIC_COLUMNS))
    return query("""SELECT name, value, unit, applicable, explanation, evidence
                    FROM conversation_metrics WHERE conversation_id = ? ORDER BY name""", (conversation_id,))


def conversation_notes(conversation_id: str) -> pd.DataFrame:
    """Auto notes of one conversation in order (needs, objections with the answer and the
    customer's reaction, approvals, next steps; docs/scoring.md, "Auto notes"), each with the
    utterances it quotes and ``line``, the note as one line in the conversation's language."""
    if not _has_table("conversation_notes"):
        return pd.DataFrame(columns=list(CONVERSATION_NOTE_COLUMNS))
    return query("""SELECT note_index, kind, utterance_indexes, quote, answer, answer_index, outcome, line
                    FROM conversation_notes WHERE conversation_id = ? ORDER BY note_index""", (conversation_id,))


# -- search -------------------------------------------------------------------------------
def search_utterances(text: str = "", node_ids: tuple[str, ...] = (), reps: tuple[str, ...] = (),
                      outcomes: tuple[str, ...] = (), limit: int = 200) -> pd.DataFrame:
    """Utterances containing ``text`` (case-insensitive; Chinese substrings work) and/or tagged
    with any of ``node_ids``, with their conversation's rep, customer and outcome."""
    clauses: list[str] = []
    params: list = []
    if text.strip():
        clauses.append("contains(u.text_normalized, ?)")
        params.append(text.strip().lower())
    if node_ids:
        clauses.append(f"""EXISTS (SELECT 1 FROM key_events e WHERE e.conversation_id = u.conversation_id
                           AND e.utterance_index = u.utterance_index
                           AND e.node_id IN ({', '.join('?' for _ in node_ids)}))""")
        params.extend(node_ids)
    _in_clause("c.rep", reps, clauses, params)
    _in_clause("c.outcome", outcomes, clauses, params)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    params.append(limit)
    return query(f"""SELECT u.conversation_id, c.started_at, c.rep, c.customer, c.outcome,
                            u.utterance_index, u.speaker_role, u.text,
                            coalesce((SELECT list(e.node_id ORDER BY e.node_id) FROM key_events e
                                      WHERE e.conversation_id = u.conversation_id
                                        AND e.utterance_index = u.utterance_index), []::VARCHAR[]) AS nodes
                     FROM utterances u JOIN conversations c USING (conversation_id)
                     {where}
                     ORDER BY c.started_at DESC NULLS LAST, u.conversation_id, u.utterance_index
                     LIMIT ?""", tuple(params))


# -- coaching: pipeline.scoring.analytics over the stored scores ----------------------------
#: Reps with fewer conversations than this are listed on the leaderboard without a rank.
MIN_RANKED_CONVERSATIONS = 3


def _score_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rows the analytics functions work on: ``conversations``, ``node_scores`` and
    ``conversation_scores`` (empty frames when there is no data yet)."""
    conversations = query("SELECT conversation_id, rep, team, outcome, started_at FROM conversations")
    node_scores = query("""SELECT conversation_id, node_id, status, key_points, communication_skill, attitude,
                                  customer_feedback, total, utterance_indexes
                           FROM node_scores""")
    conversation_scores = query("SELECT conversation_id, total, coverage, order_conformance FROM conversation_scores")
    return conversations, node_scores, conversation_scores


def leaderboard_table(team: str | None, metric: str = "total",
                      min_conversations: int = MIN_RANKED_CONVERSATIONS) -> pd.DataFrame:
    """排行榜 of ``team`` (every team when None): reps ranked by the mean per conversation of
    ``metric`` — ``"total"``, ``"coverage"``, ``"order_conformance"`` or ``"node:<node_id>"``.
    Reps with fewer than ``min_conversations`` conversations come last, without a rank, with
    ``reason`` = ``analytics.TOO_FEW_CONVERSATIONS``. Columns: ``analytics.LEADERBOARD_COLUMNS``."""
    conversations, node_scores, conversation_scores = _score_tables()
    return analytics.leaderboard(conversation_scores, node_scores, conversations, team=team, metric=metric,
                                 min_conversations=min_conversations)


def rep_node_table() -> pd.DataFrame:
    """Per rep and SOP node: coverage share, mean total (missed as 0), mean total when present and
    the four dimension means. Columns: ``analytics.REP_NODE_AVERAGE_COLUMNS``."""
    conversations, node_scores, _ = _score_tables()
    return analytics.rep_node_averages(node_scores, conversations)


def rep_trend_table(rep: str, freq: str = "W") -> tuple[pd.DataFrame, analytics.TrendNote]:
    """One rep's mean node total per node and ISO week (``freq="M"``: month), and a note counting
    the rep's conversations left out for having no start time. Columns:
    ``analytics.REP_TREND_COLUMNS``."""
    conversations, node_scores, _ = _score_tables()
    own = conversations[conversations["rep"].eq(rep)] if not conversations.empty else conversations
    return analytics.rep_trends(node_scores, own, freq=freq)


def weakest_nodes_table(rep: str, top: int = 3, min_count: int = 2) -> pd.DataFrame:
    """The rep's ``top`` lowest-scoring nodes (scored in at least ``min_count`` conversations),
    with the team's mean on the same node and the gap (rep − team; negative is below the team).
    Columns: ``analytics.WEAKEST_NODE_COLUMNS``."""
    conversations, node_scores, _ = _score_tables()
    return analytics.weakest_nodes(node_scores, conversations, rep, top=top, min_count=min_count)


def exemplar_table(node_id: str, rep: str, limit: int = 3) -> pd.DataFrame:
    """Other reps' best conversations for ``node_id`` (won deals first, then the highest node
    total), for ``rep`` to listen to, with the utterances where the node happens.
    Columns: ``analytics.EXEMPLAR_COLUMNS``."""
    conversations, node_scores, _ = _score_tables()
    return analytics.exemplars(node_scores, conversations, node_id, rep=rep, limit=limit)


def outcome_table(min_per_class: int = 10) -> tuple[pd.DataFrame, analytics.OutcomeSummary]:
    """What separates won from lost deals: one row per call score, node total and node presence
    (``analytics.OUTCOME_COLUMNS``), and the summary saying whether there are enough won and
    lost conversations (``min_per_class`` of each) to conclude anything, with its message in
    Chinese and English."""
    conversations, node_scores, conversation_scores = _score_tables()
    return analytics.outcome_analysis(conversation_scores, node_scores, conversations,
                                      min_per_class=min_per_class)
