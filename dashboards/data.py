"""The board's data-access layer: every query the board makes, each filtered for the viewer.

Pages call these functions and never write SQL themselves. Every public function takes the
:class:`~pipeline.access.Viewer` first and only returns rows that viewer may see (docs/board.md,
"Roles"): a rep their own conversations, a manager their team's, a trainer and an admin every
conversation — the trainer's with personal data masked (:mod:`pipeline.privacy`). The filter is
part of each SQL statement, so a page cannot forget it, and a conversation id typed into the URL
of a conversation the viewer may not see returns nothing, exactly like an unknown one.

The board reads the snapshot the pipeline publishes (``pipeline.store.snapshot``), never the
database a batch is being written to. Each published snapshot is opened once, read-only, and
kept open while it is the current one (queries run on cursors of it, so DuckDB's buffer pool
stays warm between queries); when a newer snapshot is published, the next query opens that
one and the old one is closed as soon as no query uses it any more (the writer replaces the
file by an atomic rename, so the file an open snapshot reads is never changed underneath it).
Results are cached briefly and keyed by the snapshot's modification time, so a newly
published snapshot shows up at the next rerun. What people add on the board
(corrections, disputes, the access log) lives in the review database
(``pipeline.store.review``); its reads are here too, its writes in :mod:`dashboards.actions`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from pipeline.access import Viewer
from pipeline.scoring import analytics
from pipeline.store import snapshot_path

DEFAULT_DB = "data/keynode.duckdb"


def db_path() -> Path:
    """The database the board shows: ``$KEYNODE_DB`` or ``data/keynode.duckdb``."""
    return Path(os.environ.get("KEYNODE_DB", DEFAULT_DB))


def snapshot_version() -> int | None:
    """Modification time of the published snapshot (None when there is none yet)."""
    path = snapshot_path(db_path())
    return path.stat().st_mtime_ns if path.exists() else None


class _OpenSnapshot:
    """One published snapshot, attached read-only to an in-memory DuckDB of its own, and how
    many queries are using it. (Attached rather than opened with ``duckdb.connect(path)``:
    DuckDB hands every ``connect`` of an open path the instance already open, which after a
    publish would still be the replaced file.)"""

    def __init__(self, path: Path):
        self.con = duckdb.connect(":memory:")
        try:
            self.con.execute("ATTACH ? AS snapshot (READ_ONLY)", [str(path)])
        except BaseException:
            self.con.close()
            raise
        self.users = 0
        self.retired = False


_OPEN: dict[str, tuple[int, _OpenSnapshot]] = {}  # database → (snapshot version, its open snapshot)
_OPEN_LOCK = threading.Lock()


def _acquire(database: str, version: int) -> _OpenSnapshot:
    """The open snapshot of ``database`` at ``version``, opened now if need be (and the one open
    before retired); the caller must :func:`_release` it."""
    with _OPEN_LOCK:
        current = _OPEN.get(database)
        if current is None or current[0] != version:
            if not Path(snapshot_path(database)).exists():
                raise FileNotFoundError(f"{snapshot_path(database)} does not exist yet: run `keynode process "
                                        f"data/samples` (or `make demo`) to create it")
            opened = _OpenSnapshot(snapshot_path(database))
            if current is not None:
                _retire(current[1])
            current = _OPEN[database] = (version, opened)
        current[1].users += 1
        return current[1]


def _retire(snapshot: _OpenSnapshot) -> None:
    """Close a snapshot that is no longer current once no query uses it (holding _OPEN_LOCK)."""
    snapshot.retired = True
    if snapshot.users == 0:
        snapshot.con.close()


def _release(snapshot: _OpenSnapshot) -> None:
    with _OPEN_LOCK:
        snapshot.users -= 1
        if snapshot.retired and snapshot.users == 0:
            snapshot.con.close()


# A resource cache rather than st.cache_data: cache_data pickles every result it stores and
# unpickles it on every hit, which for the large frames of a 100,000-conversation warehouse
# (lists in every row) took several times longer than the query. _query hands out copies.
@st.cache_resource(ttl=30, show_spinner=False)
def _cached_query(database: str, version: int, sql: str, params: tuple) -> pd.DataFrame:
    snapshot = _acquire(database, version)
    try:
        cursor = snapshot.con.cursor()  # a connection of its own: sessions query concurrently
        try:
            cursor.execute("USE snapshot")
            return cursor.execute(sql, list(params)).df()
        finally:
            cursor.close()
    finally:
        _release(snapshot)


def _query(sql: str, params: Sequence = ()) -> pd.DataFrame:
    """Run one read-only query on the snapshot; an empty frame when there is no data yet."""
    version = snapshot_version()
    if version is None:
        return pd.DataFrame()
    return _cached_query(str(db_path()), version, sql, tuple(params)).copy()


# -- who sees what ------------------------------------------------------------------------
def _scope(viewer: Viewer, alias: str = "c") -> tuple[str, list]:
    """The SQL condition (on ``conversations AS alias``) and its parameters selecting the
    conversations ``viewer`` may see."""
    if viewer.role in ("admin", "trainer"):
        return "TRUE", []
    if viewer.role == "manager" and viewer.team:
        return f"{alias}.team = ?", [viewer.team]
    if viewer.role == "rep" and viewer.rep:
        return f"{alias}.rep = ?", [viewer.rep]
    return "FALSE", []  # a manager without a team or a rep without a name sees nothing


def _visible(viewer: Viewer, conversation_id: str) -> bool:
    condition, params = _scope(viewer)
    frame = _query(f"SELECT count(*) AS n FROM conversations c WHERE c.conversation_id = ? AND {condition}",
                   [conversation_id, *params])
    return not frame.empty and int(frame["n"].iloc[0]) > 0


def _customer_names(conversation_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per conversation, the names that identify its customer: the metadata's customer and the
    customer speakers' names (what a trainer's view masks besides numbers and addresses)."""
    if not conversation_ids:
        return {}
    # The ids as one list parameter: a semi-join DuckDB filters the scans with, where an IN
    # list of one placeholder per id took seconds for the 100,000 of a large warehouse.
    ids = list(conversation_ids)
    frame = _query("""SELECT conversation_id, list(DISTINCT name) AS names FROM (
                          SELECT conversation_id, customer AS name FROM conversations
                          WHERE conversation_id IN (SELECT unnest(?::VARCHAR[])) AND customer IS NOT NULL
                          UNION ALL
                          SELECT conversation_id, speaker_name FROM utterances
                          WHERE conversation_id IN (SELECT unnest(?::VARCHAR[])) AND speaker_role = 'customer')
                      GROUP BY conversation_id""", [ids, ids])
    return {row.conversation_id: [n for n in row.names if n] for row in frame.itertuples()}


CUSTOMER_PLACEHOLDER = "[客户]"


def _redact(viewer: Viewer, frame: pd.DataFrame, text_columns: Sequence[str] = (),
            customer_columns: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` as ``viewer`` may see it: masked (:func:`_mask`) for a trainer, else unchanged."""
    return _mask(frame, text_columns, customer_columns) if viewer.redacted else frame


def _mask(frame: pd.DataFrame, text_columns: Sequence[str] = (), customer_columns: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` with personal data in ``text_columns`` masked (numbers, addresses and the
    conversation's customer names) and ``customer_columns`` replaced. Needs a
    ``conversation_id`` column to know whose names to mask."""
    if frame.empty:
        return frame
    from pipeline.privacy import redact

    # Names are only needed to mask text: a list that masks only its customer column (100,000
    # conversations for a trainer) need not look them up.
    names = _customer_names(frame["conversation_id"].unique().tolist()) if text_columns else {}
    frame = frame.copy()
    for column in text_columns:
        frame[column] = [value if not isinstance(value, str) else redact(value, "mask", names.get(cid, ()))
                         for cid, value in zip(frame["conversation_id"], frame[column])]
    for column in customer_columns:
        frame[column] = frame[column].map(lambda value: value if pd.isna(value) else CUSTOMER_PLACEHOLDER)
    return frame


def _in_clause(column: str, values: Sequence, clauses: list[str], params: list) -> None:
    if values:
        clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(values)


# -- overview ---------------------------------------------------------------------------
def has_data(viewer: Viewer) -> bool:
    """True once the pipeline has published at least one conversation the viewer may see."""
    condition, params = _scope(viewer)
    frame = _query(f"SELECT count(*) AS n FROM conversations c WHERE {condition}", params)
    return not frame.empty and int(frame["n"].iloc[0]) > 0


def has_any_data() -> bool:
    """True once anything was published (to tell 'run the pipeline' from 'nothing of yours')."""
    frame = _query("SELECT count(*) AS n FROM conversations")
    return not frame.empty and int(frame["n"].iloc[0]) > 0


def overview_counts(viewer: Viewer, team: str | None = None) -> dict[str, int]:
    """Headline counts of the viewer's conversations (of ``team`` if given): conversations,
    utterances, key events; and unresolved failures (admins and managers only: a failed file has
    no team yet)."""
    condition, params = _scope(viewer)
    team_clause = " AND c.team = ?" if team else ""
    params = [*params, *([team] if team else [])]
    frame = _query(f"""WITH mine AS (SELECT conversation_id FROM conversations c WHERE {condition}{team_clause})
                       SELECT (SELECT count(*) FROM mine) AS conversations,
                              (SELECT count(*) FROM utterances JOIN mine USING (conversation_id)) AS utterances,
                              (SELECT count(*) FROM key_events JOIN mine USING (conversation_id)) AS key_events,
                              (SELECT count(*) FROM failures WHERE resolved_at IS NULL AND ?) AS failures""",
                   [*params, viewer.role in ("admin", "manager")])
    return {name: int(frame[name].iloc[0]) for name in frame.columns} if not frame.empty else {}


def node_coverage(viewer: Viewer, team: str | None = None) -> pd.DataFrame:
    """Per SOP node: share of the viewer's conversations where it occurred, and its average
    node score."""
    condition, params = _scope(viewer)
    team_clause = " AND c.team = ?" if team else ""
    return _query(f"""SELECT n.node_id,
                             avg(CASE WHEN n.status = 'present' THEN 1.0 ELSE 0.0 END) AS coverage,
                             avg(n.total) FILTER (WHERE n.status <> 'not_applicable') AS avg_score,
                             count(*) FILTER (WHERE n.status = 'missed') AS missed
                      FROM node_scores n JOIN conversations c USING (conversation_id)
                      WHERE {condition}{team_clause} GROUP BY n.node_id""", [*params, *([team] if team else [])])


def weekly_trend(viewer: Viewer, team: str | None = None) -> pd.DataFrame:
    """Per ISO week (Monday): conversations, mean call score and mean SOP coverage of the
    viewer's conversations; conversations without a start time are left out."""
    condition, params = _scope(viewer)
    team_clause = " AND c.team = ?" if team else ""
    return _query(f"""SELECT date_trunc('week', c.started_at) AS week, count(*) AS conversations,
                             avg(s.total) AS mean_score, avg(s.coverage) AS mean_coverage
                      FROM conversations c JOIN conversation_scores s USING (conversation_id)
                      WHERE c.started_at IS NOT NULL AND {condition}{team_clause}
                      GROUP BY 1 ORDER BY 1""", [*params, *([team] if team else [])])


def compliance_matrix(viewer: Viewer, team: str | None = None) -> pd.DataFrame:
    """SOP compliance per rep and node (the heatmap): the share of the rep's conversations where
    the node happened, and the rep's conversation count. Columns: rep, node_id, coverage,
    conversations."""
    condition, params = _scope(viewer)
    team_clause = " AND c.team = ?" if team else ""
    return _query(f"""SELECT c.rep, n.node_id,
                             avg(CASE WHEN n.status = 'present' THEN 1.0 ELSE 0.0 END) AS coverage,
                             count(DISTINCT c.conversation_id) AS conversations
                      FROM node_scores n JOIN conversations c USING (conversation_id)
                      WHERE c.rep IS NOT NULL AND n.status <> 'not_applicable' AND {condition}{team_clause}
                      GROUP BY ALL ORDER BY c.rep, n.node_id""", [*params, *([team] if team else [])])


def open_failures(viewer: Viewer) -> pd.DataFrame:
    """Failures not resolved by a later successful run, newest first (admins and managers)."""
    if viewer.role not in ("admin", "manager"):
        return pd.DataFrame(columns=["occurred_at", "source_path", "source_key", "stage", "message"])
    return _query("""SELECT occurred_at, source_path, source_key, stage, message
                     FROM failures WHERE resolved_at IS NULL ORDER BY occurred_at DESC""")


def last_run() -> pd.DataFrame:
    """The most recent pipeline run (no conversation data in it)."""
    return _query("""SELECT run_id, started_at, finished_at, sop_version, tagger, processed, skipped, failed
                     FROM runs ORDER BY started_at DESC LIMIT 1""")


# -- conversation list ------------------------------------------------------------------
@dataclass(frozen=True)
class ConversationFilter:
    """What a conversation list or a search is narrowed to; empty tuples mean 'any'."""

    reps: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None

    def clauses(self, clauses: list[str], params: list) -> None:
        """Add this filter's conditions on ``conversations AS c``."""
        _in_clause("c.rep", self.reps, clauses, params)
        _in_clause("c.team", self.teams, clauses, params)
        _in_clause("c.channel", self.channels, clauses, params)
        _in_clause("c.outcome", self.outcomes, clauses, params)
        _in_clause("c.industry", self.industries, clauses, params)
        if self.start:
            clauses.append("CAST(c.started_at AS DATE) >= ?")
            params.append(self.start)
        if self.end:
            clauses.append("CAST(c.started_at AS DATE) <= ?")
            params.append(self.end)


FILTER_COLUMNS = ("rep", "team", "channel", "outcome", "industry")


def filter_options(viewer: Viewer) -> dict[str, list[str]]:
    """Distinct values of the list filters among the viewer's conversations."""
    condition, params = _scope(viewer)
    options = {}
    for column in FILTER_COLUMNS:  # fixed column names, never user input
        frame = _query(f"SELECT DISTINCT c.{column} AS v FROM conversations c "
                       f"WHERE c.{column} IS NOT NULL AND {condition} ORDER BY 1", params)
        options[column] = frame["v"].tolist() if not frame.empty else []
    return options


def conversations(viewer: Viewer, filters: ConversationFilter = ConversationFilter()) -> pd.DataFrame:
    """The viewer's conversations with their SOP score, newest first."""
    condition, params = _scope(viewer)
    clauses = [condition]
    filters.clauses(clauses, params)
    frame = _query(f"""SELECT c.conversation_id, c.started_at, c.rep, c.team, c.customer, c.channel,
                              c.industry, c.deal_id, c.stage, c.outcome, c.utterance_count,
                              s.coverage, s.total AS score, s.missing_required
                       FROM conversations c LEFT JOIN conversation_scores s USING (conversation_id)
                       WHERE {' AND '.join(clauses)}
                       ORDER BY c.started_at DESC NULLS LAST, c.conversation_id""", params)
    return _redact(viewer, frame, customer_columns=("customer",))


# -- one conversation ---------------------------------------------------------------------
def conversation(viewer: Viewer, conversation_id: str) -> dict | None:
    """One conversation's metadata and SOP score; None if it is not stored or not the viewer's."""
    condition, params = _scope(viewer)
    frame = _query(f"""SELECT c.*, s.coverage, s.missing_required, s.order_conformance, s.node_order,
                              s.total AS score
                       FROM conversations c LEFT JOIN conversation_scores s USING (conversation_id)
                       WHERE c.conversation_id = ? AND {condition}""", [conversation_id, *params])
    if frame.empty:
        return None
    frame = _redact(viewer, frame, customer_columns=("customer",))
    info = frame.iloc[0].to_dict()
    if viewer.redacted:
        info["source_path"] = Path(info["source_path"]).name  # folder names often carry customer names
    return info


def _scoped(viewer: Viewer, conversation_id: str, sql: str, params: Sequence = ()) -> pd.DataFrame:
    """Run ``sql`` (about one conversation, its first parameter) only if the viewer may see that
    conversation; else the same columns with no rows."""
    frame = _query(sql, [conversation_id, *params])
    return frame if _visible(viewer, conversation_id) else frame.iloc[0:0]


def utterances(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """The transcript, with the node ids tagged on each utterance."""
    frame = _scoped(viewer, conversation_id, """
        SELECT u.conversation_id, u.utterance_index, u.speaker_role, u.speaker_name, u.start_s, u.end_s, u.text,
               u.role_confidence,
               coalesce(list(e.node_id ORDER BY e.node_id) FILTER (WHERE e.node_id IS NOT NULL),
                        []::VARCHAR[]) AS nodes
        FROM utterances u LEFT JOIN key_events e USING (conversation_id, utterance_index)
        WHERE u.conversation_id = ?
        GROUP BY ALL ORDER BY u.utterance_index""")
    frame = _redact(viewer, frame, text_columns=("text",))
    if viewer.redacted and not frame.empty:
        frame["speaker_name"] = frame["speaker_name"].where(frame["speaker_role"].ne("customer"),
                                                            CUSTOMER_PLACEHOLDER)
    return frame


# Browsers play these as they are; anything else (AMR from phone systems) is converted.
BROWSER_AUDIO = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac",
                 ".ogg": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac"}


def recording(viewer: Viewer, conversation_id: str) -> Path | None:
    """The call recording of a transcribed conversation, if the file is still there and the
    viewer may hear it (not trainers: a voice is personal data that masking cannot remove)."""
    if viewer.redacted:
        return None
    frame = _scoped(viewer, conversation_id, """SELECT source_format, source_path FROM conversations
                                                 WHERE conversation_id = ?""")
    if frame.empty or frame["source_format"].iloc[0] != "audio":
        return None
    path = Path(frame["source_path"].iloc[0])
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


def key_events(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """Key events of one conversation with their evidence and source rule."""
    frame = _scoped(viewer, conversation_id, """
        SELECT conversation_id, utterance_index, node_id, confidence, source, evidence
        FROM key_events WHERE conversation_id = ? ORDER BY utterance_index, node_id""")
    return _redact(viewer, frame, text_columns=("evidence",))


def event_tree(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """The stored key-event tree."""
    return _scoped(viewer, conversation_id, """
        SELECT tree_key, parent_key, kind, node_id, speaker_role, first_utterance, last_utterance, depth
        FROM event_tree WHERE conversation_id = ? ORDER BY tree_key""")


def node_scores(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """Node scores with explanations and tips."""
    frame = _scoped(viewer, conversation_id, """
        SELECT conversation_id, node_id, status, key_points, communication_skill, attitude, customer_feedback,
               total, explanation, tip, utterance_indexes
        FROM node_scores WHERE conversation_id = ?""")
    return _redact(viewer, frame, text_columns=("explanation", "tip"))


def _has_table(name: str) -> bool:
    """True when the snapshot has table ``name`` (a snapshot published before a migration lacks it)."""
    frame = _query("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = ?", (name,))
    return not frame.empty and int(frame["n"].iloc[0]) > 0


def _columns_of(table: str) -> set[str]:
    """The columns of ``table`` in the snapshot (empty: no such table; a snapshot published
    before a migration lacks what it adds)."""
    frame = _query("SELECT column_name FROM duckdb_columns() WHERE table_name = ?", (table,))
    return set() if frame.empty else set(frame["column_name"])


CONVERSATION_METRIC_COLUMNS = ("name", "value", "unit", "applicable", "explanation", "evidence")
CONVERSATION_NOTE_COLUMNS = ("note_index", "kind", "utterance_indexes", "quote", "answer", "answer_index",
                             "outcome", "line")


def conversation_metrics(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """Interaction metrics of one conversation (talk ratio, monologues, questions …; docs/scoring.md,
    "Conversation metrics"). ``value`` is empty when ``applicable`` is false; ``explanation`` says
    why, in the conversation's language. Empty when none are stored (conversations processed
    before metrics existed)."""
    if not _has_table("conversation_metrics"):
        return pd.DataFrame(columns=list(CONVERSATION_METRIC_COLUMNS))
    return _scoped(viewer, conversation_id, """
        SELECT name, value, unit, applicable, explanation, evidence
        FROM conversation_metrics WHERE conversation_id = ? ORDER BY name""")


def conversation_notes(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """Auto notes of one conversation in order (needs, objections with the answer and the
    customer's reaction, approvals, next steps; docs/scoring.md, "Auto notes"), each with the
    utterances it quotes and ``line``, the note as one line in the conversation's language."""
    if not _has_table("conversation_notes"):
        return pd.DataFrame(columns=["conversation_id", *CONVERSATION_NOTE_COLUMNS])
    frame = _scoped(viewer, conversation_id, """
        SELECT conversation_id, note_index, kind, utterance_indexes, quote, answer, answer_index, outcome, line
        FROM conversation_notes WHERE conversation_id = ? ORDER BY note_index""")
    return _redact(viewer, frame, text_columns=("quote", "answer", "line"))


ORIGINAL_TEXT_COLUMNS = ("conversation_id", "utterance_index", "speaker_name", "text", "original")


def original_texts(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """The original text of each utterance that personal-data redaction changed before storing,
    kept only when ``configs/privacy.yaml`` says ``keep_original: true``: ``original`` beside the
    stored (redacted) ``text``, by utterance. Admins only: anyone else gets a PermissionError."""
    if viewer.role != "admin":
        raise PermissionError("only admins read the original texts of redacted utterances")
    if not _has_table("utterance_originals"):  # a snapshot published before migration 007
        return pd.DataFrame(columns=list(ORIGINAL_TEXT_COLUMNS))
    return _scoped(viewer, conversation_id, """
        SELECT o.conversation_id, o.utterance_index, u.speaker_name, u.text, o.text AS original
        FROM utterance_originals o LEFT JOIN utterances u USING (conversation_id, utterance_index)
        WHERE o.conversation_id = ? ORDER BY o.utterance_index""")


# -- deals (业务路径) ------------------------------------------------------------------------
def deals(viewer: Viewer) -> pd.DataFrame:
    """The viewer's deals: conversations, first and last contact, the latest stage and outcome,
    the reps involved. Newest activity first."""
    condition, params = _scope(viewer)
    return _query(f"""SELECT c.deal_id, count(*) AS conversations, min(c.started_at) AS first_contact,
                             max(c.started_at) AS last_contact,
                             arg_max(c.stage, coalesce(c.started_at, TIMESTAMP '1970-01-01')) AS stage,
                             arg_max(c.outcome, coalesce(c.started_at, TIMESTAMP '1970-01-01')) AS outcome,
                             list(DISTINCT c.rep ORDER BY c.rep) FILTER (WHERE c.rep IS NOT NULL) AS reps,
                             list(DISTINCT c.customer ORDER BY c.customer)
                                 FILTER (WHERE c.customer IS NOT NULL) AS customers
                      FROM conversations c WHERE c.deal_id IS NOT NULL AND {condition}
                      GROUP BY c.deal_id ORDER BY last_contact DESC NULLS LAST, c.deal_id""", params)


def deal_path(viewer: Viewer, deal_id: str) -> pd.DataFrame:
    """One deal's conversations in time order (the 业务路径): when, channel, stage, rep, outcome,
    call score and coverage, and the SOP nodes each covered and missed."""
    condition, params = _scope(viewer)
    frame = _query(f"""SELECT c.conversation_id, c.started_at, c.channel, c.stage, c.rep, c.customer, c.outcome,
                              s.total AS score, s.coverage, s.missing_required,
                              coalesce(list(n.node_id) FILTER (WHERE n.status = 'present'), []::VARCHAR[]) AS covered
                       FROM conversations c LEFT JOIN conversation_scores s USING (conversation_id)
                       LEFT JOIN node_scores n ON n.conversation_id = c.conversation_id
                       WHERE c.deal_id = ? AND {condition}
                       GROUP BY ALL ORDER BY c.started_at NULLS LAST, c.conversation_id""", [deal_id, *params])
    return _redact(viewer, frame, customer_columns=("customer",))


# -- search -------------------------------------------------------------------------------
#: Utterances shown before and after each search hit.
CONTEXT_TURNS = 2


@dataclass(frozen=True)
class SearchQuery:
    """A search across conversations: free text (a case-insensitive substring, so Chinese works
    without a segmenter; several words separated by spaces must all occur) and/or key events,
    within the conversations ``filters`` selects."""

    text: str = ""
    node_ids: tuple[str, ...] = ()
    filters: ConversationFilter = ConversationFilter()
    limit: int = 200

    @property
    def is_empty(self) -> bool:
        return not (self.text.strip() or self.node_ids or self.filters != ConversationFilter())


def search_utterances(viewer: Viewer, search: SearchQuery) -> pd.DataFrame:
    """Utterances matching ``search`` among the viewer's conversations, newest conversation first,
    each with its conversation's rep, team, customer and outcome, its key events, and what
    followed: the rep's answer and the customer's reaction when the auto notes recorded them
    (objections), else the next rep and customer turns."""
    condition, params = _scope(viewer)
    scope_params = list(params)
    clauses = [condition]
    for word in search.text.lower().split():
        clauses.append("contains(u.text_normalized, ?)")
        params.append(word)
    if search.node_ids:
        clauses.append(f"""EXISTS (SELECT 1 FROM key_events e WHERE e.conversation_id = u.conversation_id
                           AND e.utterance_index = u.utterance_index
                           AND e.node_id IN ({', '.join('?' for _ in search.node_ids)}))""")
        params.extend(search.node_ids)
    search.filters.clauses(clauses, params)
    # In one statement (as _search_in_one_statement), DuckDB computed each hit's key events,
    # answer and reaction for every matching utterance before the LIMIT: 200,000 of them for a
    # common word in 100,000 conversations. So, two steps: which utterances are the hits (their
    # keys, ordered and limited), then those utterances with what they show.
    if search.node_ids and not search.text.split():
        # Key events only: from the (far fewer) key events of those nodes, not every utterance.
        conversation_clauses, conversation_params = [condition], scope_params
        search.filters.clauses(conversation_clauses, conversation_params)
        keys = _query(f"""
            SELECT e.conversation_id, e.utterance_index
            FROM (SELECT DISTINCT conversation_id, utterance_index FROM key_events
                  WHERE node_id IN ({', '.join('?' for _ in search.node_ids)})) e
            JOIN conversations c USING (conversation_id)
            WHERE {' AND '.join(conversation_clauses)}
            ORDER BY c.started_at DESC NULLS LAST, e.conversation_id, e.utterance_index
            LIMIT ?""", [*search.node_ids, *conversation_params, search.limit])
    else:
        keys = _query(f"""
            SELECT u.conversation_id, u.utterance_index
            FROM utterances u JOIN conversations c USING (conversation_id)
            WHERE {' AND '.join(clauses)}
            ORDER BY c.started_at DESC NULLS LAST, u.conversation_id, u.utterance_index
            LIMIT ?""", [*params, search.limit])
    frame = _hits(keys)
    if frame is None:  # a key event without its utterance (never written so): the one statement
        frame = _search_in_one_statement(clauses, params, search.limit)
    return _redact(viewer, frame, text_columns=("text", "rep_answer"), customer_columns=("customer",))


def _hit_details_sql(hit: str) -> tuple[str, str, str]:
    """SQL of ``nodes``, ``rep_answer`` and ``objection_outcome`` of the utterance ``hit`` (an
    alias with conversation_id, utterance_index, speaker_role), read from the tables or CTEs
    ``events``, ``notes`` and ``later`` (utterances)."""
    has_notes = _has_table("conversation_notes")
    notes = (f"""(SELECT first(n.answer ORDER BY n.note_index) FROM notes n
                  WHERE n.conversation_id = {hit}.conversation_id
                    AND list_contains(n.utterance_indexes, {hit}.utterance_index) AND n.answer IS NOT NULL)"""
             if has_notes else "NULL")
    outcome = (f"""(SELECT first(n.outcome ORDER BY n.note_index) FROM notes n
                    WHERE n.conversation_id = {hit}.conversation_id
                      AND list_contains(n.utterance_indexes, {hit}.utterance_index) AND n.kind = 'objection')"""
               if has_notes else "NULL")
    nodes = f"""coalesce((SELECT list(e.node_id ORDER BY e.node_id) FROM events e
                         WHERE e.conversation_id = {hit}.conversation_id
                           AND e.utterance_index = {hit}.utterance_index), []::VARCHAR[])"""
    answer = f"""coalesce({notes}, (SELECT first(x.text ORDER BY x.utterance_index) FROM later x
                                  WHERE x.conversation_id = {hit}.conversation_id
                                    AND x.utterance_index > {hit}.utterance_index AND x.speaker_role = 'rep'
                                    AND {hit}.speaker_role = 'customer'))"""
    return nodes, answer, outcome


_HIT_COLUMNS = """u.conversation_id, c.started_at, c.rep, c.team, c.customer, c.outcome, c.channel, c.industry,
               u.utterance_index, u.speaker_role, u.text"""


def _hits(keys: pd.DataFrame) -> pd.DataFrame | None:
    """The rows :func:`search_utterances` returns for the utterances ``keys`` (conversation_id,
    utterance_index; in this order), reading only the rows of their conversations; None if
    an utterance of ``keys`` is not stored."""
    if "conversation_id" not in keys.columns:  # nothing published yet
        return keys
    nodes, answer, outcome = _hit_details_sql("u")
    notes = ("SELECT * FROM conversation_notes WHERE conversation_id IN (SELECT conversation_id FROM ids)"
             if _has_table("conversation_notes") else "SELECT NULL")
    # Each table is read once, filtered on the hits' conversations while it is scanned (a
    # semi-join on the materialized ids): joining the hits to the whole utterances table
    # instead took three times as long.
    frame = _query(f"""
        WITH k AS (SELECT unnest(?::VARCHAR[]) AS conversation_id, unnest(?::INTEGER[]) AS utterance_index,
                          unnest(range(?)) AS k),
             ids AS MATERIALIZED (SELECT DISTINCT conversation_id FROM k),
             later AS MATERIALIZED (SELECT conversation_id, utterance_index, speaker_role, text FROM utterances
                                    WHERE conversation_id IN (SELECT conversation_id FROM ids)),
             events AS MATERIALIZED (SELECT conversation_id, utterance_index, node_id FROM key_events
                                     WHERE conversation_id IN (SELECT conversation_id FROM ids)),
             notes AS MATERIALIZED ({notes})
        SELECT {_HIT_COLUMNS},
               {nodes} AS nodes,
               {answer} AS rep_answer,
               {outcome} AS objection_outcome
        FROM k JOIN later u USING (conversation_id, utterance_index) JOIN conversations c USING (conversation_id)
        ORDER BY k.k""", [keys["conversation_id"].tolist(), [int(i) for i in keys["utterance_index"]], len(keys)])
    return frame if len(frame) == len(keys) else None


def _search_in_one_statement(clauses: list[str], params: list, limit: int) -> pd.DataFrame:
    """:func:`search_utterances` as one statement (the hits' details computed for every match)."""
    nodes, answer, outcome = _hit_details_sql("u")
    notes = "SELECT * FROM conversation_notes" if _has_table("conversation_notes") else "SELECT NULL"
    return _query(f"""
        WITH events AS (SELECT * FROM key_events), notes AS ({notes}), later AS (SELECT * FROM utterances)
        SELECT {_HIT_COLUMNS},
               {nodes} AS nodes,
               {answer} AS rep_answer,
               {outcome} AS objection_outcome
        FROM utterances u JOIN conversations c USING (conversation_id)
        WHERE {' AND '.join(clauses)}
        ORDER BY c.started_at DESC NULLS LAST, u.conversation_id, u.utterance_index
        LIMIT ?""", [*params, limit])


def search_context(viewer: Viewer, hits: pd.DataFrame, turns: int = CONTEXT_TURNS) -> pd.DataFrame:
    """The ``turns`` utterances before and after each hit of :func:`search_utterances`.
    Columns: conversation_id, hit_index, utterance_index, speaker_role, speaker_name, text."""
    if hits.empty:
        return pd.DataFrame(columns=["conversation_id", "hit_index", "utterance_index", "speaker_role",
                                     "speaker_name", "text"])
    condition, params = _scope(viewer)
    pairs = list(dict.fromkeys(zip(hits["conversation_id"], hits["utterance_index"].astype(int))))
    values = ", ".join("(?, ?)" for _ in pairs)
    # The hits' conversations as a list too: DuckDB then filters the utterances while scanning
    # them, instead of joining every utterance to the hits.
    frame = _query(f"""
        WITH hits(conversation_id, hit_index) AS (VALUES {values})
        SELECT h.conversation_id, h.hit_index, u.utterance_index, u.speaker_role, u.speaker_name, u.text
        FROM hits h JOIN utterances u ON u.conversation_id = h.conversation_id
             AND u.utterance_index BETWEEN h.hit_index - ? AND h.hit_index + ?
        JOIN conversations c ON c.conversation_id = h.conversation_id
        WHERE u.conversation_id IN (SELECT unnest(?::VARCHAR[])) AND {condition}
        ORDER BY h.conversation_id, h.hit_index, u.utterance_index""",
                   [*[v for pair in pairs for v in pair], turns, turns,
                    list(dict.fromkeys(str(cid) for cid, _ in pairs)), *params])
    frame = _redact(viewer, frame, text_columns=("text",))
    if viewer.redacted and not frame.empty:
        frame["speaker_name"] = frame["speaker_name"].where(frame["speaker_role"].ne("customer"),
                                                            CUSTOMER_PLACEHOLDER)
    return frame


def objection_library(viewer: Viewer, node_id: str = "price_objection", answers_per_group: int = 3,
                      wordings_per_theme: int = 50) -> pd.DataFrame:
    """The objection library of the viewer's conversations: the objections the auto notes
    recorded, grouped by theme, each theme with its counts, its most frequent wordings and the
    rep's answers that worked best (the customer's reaction, then the conversation's ``node_id``
    total). Columns and ranking: :func:`pipeline.scoring.objections.library`. Grouped in DuckDB
    (:func:`pipeline.scoring.objections.library_sql`): only a row per theme leaves the query.
    A trainer's library is grouped and shown on the masked quote and answer stored with each
    note, never on the raw ones, so wordings that differ only by a masked name or number are one."""
    from pipeline.scoring import objections

    columns = _columns_of("conversation_notes")
    if not columns:
        return pd.DataFrame(columns=list(objections.LIBRARY_COLUMNS))
    stored = {"theme", "quote_masked", "answer_masked"} <= columns  # a snapshot from before migration 008: none
    condition, params = _scope(viewer)
    patch = _objection_patch(viewer, condition, params, stored)

    def field(name: str) -> str:
        own = f"n.{name}" if stored else "NULL::VARCHAR"
        return f"coalesce({own}, p.{name})" if patch else own

    patched = ("""LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS conversation_id, unnest(?::INTEGER[]) AS note_index,
                                unnest(?::VARCHAR[]) AS theme, unnest(?::VARCHAR[]) AS quote_masked,
                                unnest(?::VARCHAR[]) AS answer_masked) p
                  ON p.conversation_id = n.conversation_id AND p.note_index = n.note_index""" if patch else "")
    source = f"""
        SELECT n.conversation_id, n.note_index AS ordinal, c.rep, n.outcome, s.total AS node_total,
               {field('theme')} AS theme, n.quote, n.answer, {field('quote_masked')} AS quote_masked,
               {field('answer_masked')} AS answer_masked
        FROM conversation_notes n JOIN conversations c USING (conversation_id)
        LEFT JOIN node_scores s ON s.conversation_id = n.conversation_id AND s.node_id = ?
        {patched}
        WHERE n.kind = 'objection' AND {condition}"""
    aggregates = _query(objections.library_sql(source, redacted=viewer.redacted, answers_per_group=answers_per_group,
                                               wordings_per_theme=wordings_per_theme),
                        [node_id, *(patch or []), *params])
    return objections.library_frame(aggregates)


def _objection_patch(viewer: Viewer, condition: str, params: Sequence, stored: bool) -> list[list] | None:
    """For the viewer's objection notes stored without what the library needs (written before
    migration 008, or a snapshot from before it), that computed now: the theme and, for a
    trainer, the masked quote and answer, exactly as :func:`_mask` masks them. Returned as the
    parameters of the patch in :func:`objection_library` (conversation ids, note indexes,
    themes, masked quotes, masked answers), or None when every note has them (every note
    written since the migration does)."""
    from pipeline.scoring.objections import objection_theme

    missing = "TRUE" if not stored else \
        ("(n.theme IS NULL OR n.quote_masked IS NULL)" if viewer.redacted else "n.theme IS NULL")
    rows = _query(f"""SELECT n.conversation_id, n.note_index, n.quote, n.answer
                      FROM conversation_notes n JOIN conversations c USING (conversation_id)
                      WHERE n.kind = 'objection' AND {missing} AND {condition}
                      ORDER BY n.conversation_id, n.note_index""", params)
    if rows.empty:
        return None
    themes = {quote: objection_theme(quote) for quote in rows["quote"].fillna("").unique()}
    shown = _mask(rows, text_columns=("quote", "answer")) if viewer.redacted else None

    def texts(column: str) -> list[str | None]:
        return [None] * len(rows) if shown is None else [v if isinstance(v, str) else None for v in shown[column]]

    return [rows["conversation_id"].tolist(), [int(i) for i in rows["note_index"]],
            rows["quote"].fillna("").map(themes).tolist(), texts("quote"), texts("answer")]


# -- coaching: pipeline.scoring.analytics over the stored scores ----------------------------
#: Reps with fewer conversations than this are listed on the leaderboard without a rank.
MIN_RANKED_CONVERSATIONS = 3


def _score_tables(condition: str, params: Sequence, *, node_scores: bool = True, node_id: str | None = None,
                  conversation_scores: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The rows the analytics functions work on — ``conversations``, ``node_scores`` and
    ``conversation_scores`` — of the conversations ``condition`` selects (empty frames when
    there is no data yet). A caller that needs no node scores (or only ``node_id``'s), or no
    conversation scores, says so: the node scores of 100,000 conversations are 600,000 rows."""
    conversations = _query(f"SELECT conversation_id, rep, team, outcome, started_at FROM conversations c "
                           f"WHERE {condition}", params)
    nodes = _query(f"""SELECT n.conversation_id, n.node_id, n.status, n.key_points, n.communication_skill,
                              n.attitude, n.customer_feedback, n.total, n.utterance_indexes
                       FROM node_scores n JOIN conversations c USING (conversation_id)
                       WHERE {condition}{' AND n.node_id = ?' if node_id is not None else ''}""",
                   [*params, *([node_id] if node_id is not None else [])]) if node_scores else pd.DataFrame()
    calls = _query(f"""SELECT s.conversation_id, s.total, s.coverage, s.order_conformance
                       FROM conversation_scores s JOIN conversations c USING (conversation_id)
                       WHERE {condition}""", params) if conversation_scores else pd.DataFrame()
    return conversations, nodes, calls


def _team_scope(viewer: Viewer) -> tuple[str, list]:
    """Rankings and team means compare a rep with the whole team: reps see their team's
    aggregate scores (never its conversations); everyone else their usual scope."""
    if viewer.role == "rep":
        return ("c.team = ?", [viewer.team]) if viewer.team else ("FALSE", [])
    return _scope(viewer)


def leaderboard_table(viewer: Viewer, team: str | None, metric: str = "total",
                      min_conversations: int = MIN_RANKED_CONVERSATIONS) -> pd.DataFrame:
    """排行榜 of ``team`` (every team the viewer sees when None): reps ranked by the mean per
    conversation of ``metric`` — ``"total"``, ``"coverage"``, ``"order_conformance"`` or
    ``"node:<node_id>"``. Reps with fewer than ``min_conversations`` conversations come last,
    without a rank, with ``reason`` = ``analytics.TOO_FEW_CONVERSATIONS``. Columns:
    ``analytics.LEADERBOARD_COLUMNS``."""
    condition, params = _team_scope(viewer)
    if team is not None:  # only the team's conversations count (analytics.leaderboard filters them the same way)
        condition, params = f"({condition}) AND c.team = ?", [*params, team]
    # What the metric needs: call metrics read conversation_scores only, node:<id> that node's scores only.
    node = metric.removeprefix("node:") if metric.startswith("node:") and len(metric) > len("node:") else None
    conversations, node_scores, conversation_scores = _score_tables(
        condition, params, node_scores=node is not None, node_id=node,
        conversation_scores=metric in analytics.CALL_METRICS)
    return analytics.leaderboard(conversation_scores, node_scores, conversations, team=team, metric=metric,
                                 min_conversations=min_conversations)


def visible_teams(viewer: Viewer) -> list[str]:
    """Teams on the viewer's leaderboard: their own for reps and managers, all for the others."""
    if viewer.role in ("rep", "manager"):
        return [viewer.team] if viewer.team else []
    return filter_options(viewer)["team"]


def visible_reps(viewer: Viewer) -> list[str]:
    """Reps whose coaching pages the viewer may open."""
    if viewer.role == "rep":
        return [viewer.rep] if viewer.rep else []
    return filter_options(viewer)["rep"]


def _check_rep(viewer: Viewer, rep: str) -> None:
    if rep not in visible_reps(viewer):
        raise PermissionError(f"{viewer.username} may not see {rep}'s coaching scores")


def rep_node_table(viewer: Viewer, rep: str) -> pd.DataFrame:
    """Per SOP node of ``rep``: coverage share, mean total (missed as 0), mean total when present
    and the four dimension means. Columns: ``analytics.REP_NODE_AVERAGE_COLUMNS``."""
    _check_rep(viewer, rep)
    conversations, node_scores, _ = _score_tables("c.rep = ?", [rep])
    return analytics.rep_node_averages(node_scores, conversations)


def rep_trend_table(viewer: Viewer, rep: str, freq: str = "W") -> tuple[pd.DataFrame, analytics.TrendNote]:
    """One rep's mean node total per node and ISO week (``freq="M"``: month), and a note counting
    the rep's conversations left out for having no start time. Columns:
    ``analytics.REP_TREND_COLUMNS``."""
    _check_rep(viewer, rep)
    conversations, node_scores, _ = _score_tables("c.rep = ?", [rep])
    return analytics.rep_trends(node_scores, conversations, freq=freq)


def weakest_nodes_table(viewer: Viewer, rep: str, top: int = 3, min_count: int = 2) -> pd.DataFrame:
    """The rep's ``top`` lowest-scoring nodes (scored in at least ``min_count`` conversations),
    with the team's mean on the same node and the gap (rep − team; negative is below the team).
    Columns: ``analytics.WEAKEST_NODE_COLUMNS``."""
    _check_rep(viewer, rep)
    team = _query("SELECT first(team) AS team FROM conversations WHERE rep = ? AND team IS NOT NULL", [rep])
    home = None if team.empty else team["team"].iloc[0]
    condition, params = ("c.rep = ? OR c.team = ?", [rep, home]) if home is not None else ("c.rep = ?", [rep])
    conversations, node_scores, _ = _score_tables(condition, params)
    return analytics.weakest_nodes(node_scores, conversations, rep, top=top, min_count=min_count)


def exemplar_table(viewer: Viewer, node_id: str, rep: str, limit: int = 3) -> pd.DataFrame:
    """Other reps' best conversations for ``node_id`` (won deals first, then the highest node
    total), for ``rep`` to learn from, with the utterances where the node happens (``quote``,
    personal data masked when the viewer may not open that conversation) and ``openable``.
    Columns: ``analytics.EXEMPLAR_COLUMNS`` + quote, openable."""
    _check_rep(viewer, rep)
    conversations, node_scores, _ = _score_tables("TRUE", [])
    best = analytics.exemplars(node_scores, conversations, node_id, rep=rep, limit=limit)
    quotes, openable = [], []
    for row in best.itertuples():
        mine = _visible(viewer, row.conversation_id)
        texts = _query("""SELECT conversation_id, text FROM utterances WHERE conversation_id = ?
                          AND list_contains(?, utterance_index) ORDER BY utterance_index""",
                       [row.conversation_id, list(row.utterance_indexes)])
        if not mine or viewer.redacted:
            texts = _mask(texts, text_columns=("text",))
        quotes.append(" / ".join(texts["text"]) if not texts.empty else "")
        openable.append(mine)
    return best.assign(quote=quotes, openable=openable)


def outcome_table(viewer: Viewer, min_per_class: int = 10) -> tuple[pd.DataFrame, analytics.OutcomeSummary]:
    """What separates won from lost deals among the viewer's conversations: one row per call
    score, node total and node presence (``analytics.OUTCOME_COLUMNS``), and the summary saying
    whether there are enough won and lost conversations (``min_per_class`` of each) to conclude
    anything, with its message in Chinese and English."""
    conversations, node_scores, conversation_scores = _score_tables(*_scope(viewer))
    return analytics.outcome_analysis(conversation_scores, node_scores, conversations,
                                      min_per_class=min_per_class)


# -- what people added on the board (review database) ----------------------------------------
def _review(fetch: Callable, *args) -> list[dict]:
    from pipeline.store.review import read_review

    with read_review(db_path()) as con:
        return fetch(con, *args)


CORRECTION_COLUMNS = ("created_at", "author", "utterance_index", "node_id", "action", "note")
DISPUTE_COLUMNS = ("dispute_id", "conversation_id", "node_id", "author", "comment", "created_at", "status",
                   "resolved_by", "resolution", "resolved_at")
ACCESS_COLUMNS = ("accessed_at", "username", "role", "conversation_id", "page")


def corrections(viewer: Viewer, conversation_id: str) -> pd.DataFrame:
    """Label corrections people made on one of the viewer's conversations, oldest first."""
    from pipeline.store.review import fetch_corrections

    rows = _review(fetch_corrections, [conversation_id]) if _visible(viewer, conversation_id) else []
    return pd.DataFrame(rows, columns=list(CORRECTION_COLUMNS))


def disputes(viewer: Viewer, status: str | None = "open", conversation_id: str | None = None) -> pd.DataFrame:
    """Node-score disputes on the viewer's conversations (``status`` None: any status; of one
    conversation if given), newest first."""
    from pipeline.store.review import fetch_disputes

    rows = _review(fetch_disputes, status, [conversation_id] if conversation_id else None)
    frame = pd.DataFrame(rows, columns=list(DISPUTE_COLUMNS))
    if frame.empty:
        return frame
    return frame[[_visible(viewer, cid) for cid in frame["conversation_id"]]].reset_index(drop=True)


def access_log(viewer: Viewer, limit: int = 200) -> pd.DataFrame:
    """Who opened which conversation, newest first (admins only)."""
    from pipeline.store.review import fetch_access_log

    if viewer.role != "admin":
        raise PermissionError("only admins read the access log")
    return pd.DataFrame(_review(fetch_access_log, limit), columns=list(ACCESS_COLUMNS))
