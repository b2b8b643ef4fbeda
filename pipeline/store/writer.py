"""The single writer of the Keynode database. No other module writes DuckDB.

Every conversation is replaced as a whole inside one transaction (delete its rows, insert the
new ones), so a reader or a crash never sees half a conversation, and writing the same
analysis twice leaves the same rows. After writing, the store publishes a snapshot for readers
(see ``snapshot.py``).

Crash safety (docs/architecture.md, "Crash safety and resume"): the main database is the truth.
A run records the inputs it discovered (``run_inputs``) and the process that runs it; when a
store opens, runs left unfinished by a dead process are marked interrupted, leftovers of a
killed snapshot publish are removed, and the snapshot is republished if it is older than the
database, so nothing written before a crash is missing from what readers see.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from pipeline.models import (
    Analysis,
    Conversation,
    ConversationMeta,
    KeyEvent,
    TranscriptInfo,
    Utterance,
    Word,
    content_hash,
)
from pipeline.store.migrate import migrate
from pipeline.store.snapshot import snapshot_path
from pipeline.text import normalize

log = logging.getLogger(__name__)

# Child tables first: they are deleted before, and inserted after, the conversation row.
#: ``failures.stage`` of a configuration file (sop.yaml, privacy.yaml) that stopped a run.
CONFIG_STAGE = "config"

#: Analyses done together are written in one transaction (:meth:`Store.write_analyses`), up to
#: this many: groups of 16 cost 1.8 CPU-s per 100 chats against 3.6 for one transaction each
#: (bench/text_throughput.py; 64 gained nothing more). A crash loses none of a group: it is all
#: stored or all redone.
WRITE_BATCH = 16
#: Where model outputs are kept, by kind (``LearnedTagger.output_caches``): table, key column,
#: model column, value column.
_OUTPUT_TABLES = {"vectors": ("embeddings", "text_key", "embedder", "vector"),
                  "encoder": ("encoder_outputs", "context_key", "encoder", "probabilities")}

_CONVERSATION_TABLES = ("utterances", "key_events", "event_tree", "node_scores", "conversation_scores",
                        "conversation_metrics", "conversation_notes")


class Store:
    """Owns the read-write connection. Use as a context manager; it migrates on open and
    publishes a snapshot on close.

    ``publish_interval_s`` bounds how stale the board's snapshot gets during a long batch.
    """

    def __init__(self, db_path: str | Path, publish_interval_s: float = 10.0):
        self.db_path = Path(db_path)
        self.publish_interval_s = publish_interval_s
        self._con: duckdb.DuckDBPyConnection | None = None
        # "Never published": time.monotonic() starts at an arbitrary point (the machine's uptime
        # on Linux), so 0.0 would hold back the first snapshot on a machine up for less than
        # one interval.
        self._last_publish = float("-inf")
        self._publish_s = 0.0  # how long the last copy took

    def __enter__(self) -> Store:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(self.db_path))
        try:
            migrate(self._con)
            filled = self._fill_objection_library_fields()
            self._recover(republish=filled > 0)
        except BaseException:
            self._con.close()
            self._con = None
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.publish_snapshot(force=True)
        finally:
            self.con.close()
            self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("the store is not open: use `with Store(path) as store:`")
        return self._con

    # -- recovery after a crash -----------------------------------------------------------
    def _fill_objection_library_fields(self) -> int:
        """Give objection notes stored before migration 008 their theme and masked quote and
        answer (what the writer now stores with every new one), once, so the board groups old
        and new notes alike in SQL. Returns how many notes were filled."""
        from pipeline.scoring.objections import library_fields

        con = self.con
        # A column scan on every open; the names query below only when there is something to fill.
        if not con.execute("SELECT count(*) FROM conversation_notes WHERE kind = 'objection' AND theme IS NULL"
                           ).fetchone()[0]:
            return 0
        rows = con.execute("""
            SELECT n.conversation_id, n.note_index, n.quote, n.answer,
                   list_distinct(list_filter([c.customer] || coalesce(s.names, []), lambda x: x IS NOT NULL AND x <> ''))
            FROM conversation_notes n JOIN conversations c USING (conversation_id)
            LEFT JOIN (SELECT conversation_id, list(DISTINCT speaker_name) AS names FROM utterances
                       WHERE speaker_role = 'customer' AND conversation_id IN (
                           SELECT conversation_id FROM conversation_notes WHERE kind = 'objection' AND theme IS NULL)
                       GROUP BY conversation_id) s USING (conversation_id)
            WHERE n.kind = 'objection' AND n.theme IS NULL""").fetchall()
        log.info("filling the objection library fields of %d notes stored before migration 008", len(rows))
        filled = [(cid, index, *library_fields(quote, answer, names)) for cid, index, quote, answer, names in rows]
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("CREATE TEMP TABLE library_fields (conversation_id VARCHAR, note_index INTEGER, "
                        "theme VARCHAR, quote_masked VARCHAR, answer_masked VARCHAR)")
            _insert(con, "library_fields", [dict(zip(("conversation_id", "note_index", "theme", "quote_masked",
                                                     "answer_masked"), row)) for row in filled])
            con.execute("""UPDATE conversation_notes n SET theme = f.theme, quote_masked = f.quote_masked,
                                  answer_masked = f.answer_masked
                           FROM library_fields f
                           WHERE n.conversation_id = f.conversation_id AND n.note_index = f.note_index""")
            con.execute("DROP TABLE library_fields")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(filled)

    def _recover(self, republish: bool = False) -> None:
        """Called on open, holding DuckDB's write lock, so no other process is writing: mark
        runs a dead process left unfinished as interrupted, remove what a killed publish left,
        and republish the snapshot when it is missing or older than the database (or
        ``republish``: rows were changed on open)."""
        interrupted = self.interrupt_unfinished_runs()
        target = snapshot_path(self.db_path)
        for leftover in target.parent.glob(f".{target.name}.*.tmp*"):
            if not leftover.name.startswith(f".{target.name}.{os.getpid()}.tmp"):
                leftover.unlink(missing_ok=True)
        if interrupted or republish or not self._snapshot_is_current():
            self.publish_snapshot(force=True)
            # The first write of this session still publishes at once (the board shows progress).
            self._last_publish = float("-inf")

    def _snapshot_is_current(self) -> bool:
        """True when the snapshot shows the database as it stands: the same latest run (in the
        same state), the same conversations written last, the same failures. A crash between a
        write and the next publish leaves a snapshot that differs in one of these."""
        target = snapshot_path(self.db_path)
        if not target.exists():
            return False
        marks = ("SELECT (SELECT list((run_id, finished_at, interrupted_at)) FROM (SELECT * FROM runs "
                 "ORDER BY started_at DESC, run_id DESC LIMIT 1)), "
                 "(SELECT (count(*), max(processed_at)) FROM conversations), "
                 "(SELECT (count(*), count(resolved_at), max(occurred_at)) FROM failures)")
        try:
            with duckdb.connect(str(target), read_only=True) as snapshot:
                published = snapshot.execute(marks).fetchall()
        except duckdb.Error:  # unreadable, or from before a migration: publish again
            return False
        return published == self.con.execute(marks).fetchall()

    def interrupt_unfinished_runs(self, reason: str = "the process ended before the run finished") -> list[str]:
        """Mark runs that never finished, and whose process is not this one, as interrupted;
        return their ids. Safe because only the process holding the write lock gets here: any
        other process that began a run is gone."""
        rows = self.con.execute(
            "SELECT run_id FROM runs WHERE finished_at IS NULL AND interrupted_at IS NULL "
            "AND (pid IS DISTINCT FROM ? OR host IS DISTINCT FROM ?)", [os.getpid(), socket.gethostname()]).fetchall()
        ids = [row[0] for row in rows]
        for run_id in ids:
            self.interrupt_run(run_id, reason)
        if ids:
            log.warning("runs %s did not finish: marked interrupted", ", ".join(ids))
        return ids

    # -- runs ---------------------------------------------------------------------------
    def begin_run(self, run_id: str, sop_version: str, tagger: str, inputs: list[str],
                  files: Mapping[str, str | None] | None = None) -> None:
        """Record the start of a run (its counts start at 0 and grow as it goes), and the files
        it discovered (``files``: path → digest of the content, see
        :func:`pipeline.store.snapshot.file_digest`), all queued."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("INSERT INTO runs (run_id, started_at, sop_version, tagger, inputs, processed, skipped, "
                        "failed, pid, host) VALUES (?, ?, ?, ?, ?, 0, 0, 0, ?, ?)",
                        [run_id, datetime.now(), sop_version, tagger, inputs, os.getpid(), socket.gethostname()])
            if files:
                con.execute("INSERT INTO run_inputs SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), 'queued', ?",
                            [run_id, list(files), list(files.values()), datetime.now()])
            con.execute("COMMIT")
        except BaseException:  # Ctrl-C included: never leave the transaction open
            con.execute("ROLLBACK")
            raise

    def finish_run(self, run_id: str, processed: int, skipped: int, failed: int) -> None:
        """Record a run's counts when it ends. The inputs of earlier *finished* runs that this
        run took up again are forgotten (this run's rows say the same, newer); those of
        interrupted runs stay, so ``keynode status`` can still tell what they got done."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("UPDATE runs SET finished_at = ?, processed = ?, skipped = ?, failed = ? WHERE run_id = ?",
                        [datetime.now(), processed, skipped, failed, run_id])
            con.execute("DELETE FROM run_inputs WHERE run_id <> ? "
                        "AND run_id IN (SELECT run_id FROM runs WHERE finished_at IS NOT NULL) "
                        "AND source_path IN (SELECT source_path FROM run_inputs WHERE run_id = ?)", [run_id, run_id])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def interrupt_run(self, run_id: str, reason: str) -> None:
        """Record that a run ended without finishing (killed, or stopped by an error). Its counts
        are what it got done; its inputs still queued stay pending until a later run takes them."""
        self.con.execute("UPDATE runs SET interrupted_at = ?, interrupted_reason = ?, "
                         "processed = coalesce(processed, 0), skipped = coalesce(skipped, 0), "
                         "failed = coalesce(failed, 0) WHERE run_id = ? AND finished_at IS NULL",
                         [datetime.now(), reason, run_id])

    def finish_inputs(self, run_id: str, states: Mapping[str, str], skipped: Iterable[tuple[str, str | None]] = ()
                      ) -> None:
        """In one transaction: set inputs of a run to ``done`` or ``failed``, count and resolve
        the conversations skipped as unchanged (their stored version is current, so they went
        through), and resolve every earlier failure of each input now done."""
        skipped = list(skipped)
        if not states and not skipped:
            return
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            self._set_input_states(run_id, states)
            for source_path, source_key in skipped:
                self.resolve_failures(source_path, source_key, run_id)
            if skipped:
                con.execute("UPDATE runs SET skipped = coalesce(skipped, 0) + ? WHERE run_id = ?",
                            [len(skipped), run_id])
            con.execute("COMMIT")
        except BaseException:  # Ctrl-C included: never leave the transaction open
            con.execute("ROLLBACK")
            raise

    def _set_input_states(self, run_id: str, states: Mapping[str, str]) -> None:
        for source_path, state in states.items():
            if state not in ("done", "failed"):
                raise ValueError(f"unknown input state {state!r}")
            self.con.execute("UPDATE run_inputs SET state = ?, updated_at = ? WHERE run_id = ? AND source_path = ?",
                             [state, datetime.now(), run_id, source_path])
            if state == "done":  # the whole file went through: nothing of it is failing any more
                self.con.execute("UPDATE failures SET resolved_at = now() WHERE resolved_at IS NULL "
                                 "AND source_path = ? AND run_id <> ?", [source_path, run_id])

    # -- conversations ------------------------------------------------------------------
    def stored_fingerprint(self, conversation_id: str) -> str | None:
        """The fingerprint the stored version of a conversation was made from, if any."""
        row = self.con.execute("SELECT fingerprint FROM conversations WHERE conversation_id = ?",
                               [conversation_id]).fetchone()
        return row[0] if row else None

    def write_analysis(self, analysis: Analysis, run_id: str, fingerprint: str,
                       input_states: Mapping[str, str] | None = None, *,
                       originals: Mapping[int, str] | None = None, privacy: Mapping | None = None) -> None:
        """Replace every row of one conversation atomically. In the same transaction: resolve
        the earlier failures of its source, count it in its run, and set ``input_states``
        (:meth:`finish_inputs`; the flow passes its file's state with its last conversation), so a
        crash never leaves a conversation stored but its file pending, or the reverse.

        ``originals`` (utterance index → text before redaction, :func:`pipeline.privacy.redact_conversation`)
        replace the conversation's ``utterance_originals`` rows (empty: none kept); None leaves
        them as they are (re-tagging stored text). ``privacy`` is the redaction the conversation
        went through (part of ``fingerprint``), stored so re-tagging can compute the same one."""
        self.write_analyses([AnalysisWrite(analysis, run_id, fingerprint, input_states, originals, privacy)])

    def write_analyses(self, writes: Sequence[AnalysisWrite]) -> None:
        """:meth:`write_analysis` for several conversations, in as few transactions as possible:
        one statement per table for all of them instead of one per conversation (the
        statements, not the rows, were most of the text path's CPU: docs/scaling.md). Each
        conversation is still all or nothing; so is the group. A conversation written twice
        (one exported twice) starts a new transaction, so the last write wins as it would one
        at a time."""
        if not writes:
            return
        group: list[AnalysisWrite] = []
        for write in writes:
            if any(w.analysis.conversation.conversation_id == write.analysis.conversation.conversation_id
                   for w in group):
                self._write_group(group)
                group = []
            group.append(write)
        if group:
            self._write_group(group)
        self.publish_snapshot()

    def _write_group(self, writes: Sequence[AnalysisWrite]) -> None:
        """One transaction replacing the rows of ``writes``' conversations (distinct ids)."""
        con = self.con
        ids = [w.analysis.conversation.conversation_id for w in writes]
        rows: dict[str, list[dict]] = {table: [] for table in (
            "conversations", "utterance_originals", "utterances", "key_events", "event_tree", "node_scores",
            "conversation_scores", "conversation_metrics", "conversation_notes", "node_score_history")}
        for write in writes:
            for table, table_rows in _analysis_rows(write).items():
                rows[table] += table_rows
        con.execute("BEGIN TRANSACTION")
        try:
            # New conversations have no rows to replace (each DELETE would still search its table).
            stored = [cid for (cid,) in con.execute(
                "SELECT conversation_id FROM conversations WHERE conversation_id IN (SELECT unnest(?::VARCHAR[]))",
                [ids]).fetchall()]
            if stored:
                for table in (*_CONVERSATION_TABLES, "conversations"):
                    con.execute(f"DELETE FROM {table} WHERE conversation_id IN (SELECT unnest(?::VARCHAR[]))", [stored])
            replaced_originals = [w.analysis.conversation.conversation_id for w in writes if w.originals is not None]
            if replaced_originals:
                con.execute("DELETE FROM utterance_originals WHERE conversation_id IN (SELECT unnest(?::VARCHAR[]))",
                            [replaced_originals])
            for version in {w.analysis.sop_version for w in writes}:
                con.execute("DELETE FROM node_score_history WHERE sop_version = ? "
                            "AND conversation_id IN (SELECT unnest(?::VARCHAR[]))",
                            [version, [w.analysis.conversation.conversation_id for w in writes
                                       if w.analysis.sop_version == version]])
            for table, table_rows in rows.items():  # the conversation row before its children
                _insert(con, table, table_rows)
            # Most groups have no open failure to resolve: one look instead of an UPDATE each.
            if con.execute("SELECT 1 FROM failures WHERE resolved_at IS NULL LIMIT 1").fetchone():
                for write in writes:
                    conversation = write.analysis.conversation
                    self.resolve_failures(conversation.source_path, conversation.source_key, write.run_id)
            for run_id in dict.fromkeys(w.run_id for w in writes):
                con.execute("UPDATE runs SET processed = coalesce(processed, 0) + ? WHERE run_id = ?",
                            [sum(w.run_id == run_id for w in writes), run_id])
            for write in writes:
                if write.input_states:
                    self._set_input_states(write.run_id, write.input_states)
            con.execute("COMMIT")
        except BaseException:  # Ctrl-C included: never leave the transaction open
            con.execute("ROLLBACK")
            raise

    def stored_privacy(self, conversation_id: str) -> dict | None:
        """The privacy settings a stored conversation was redacted with (None: stored before
        redaction existed, or not stored)."""
        row = self.con.execute("SELECT privacy FROM conversations WHERE conversation_id = ?",
                               [conversation_id]).fetchone()
        return json.loads(row[0]) if row and row[0] is not None else None

    def drop_originals(self) -> int:
        """Delete every kept original text (``keep_original: false`` keeps none anywhere);
        returns how many there were."""
        return self.con.execute("DELETE FROM utterance_originals").fetchone()[0]

    def stored_conversations(self) -> Iterator[Conversation]:
        """Every stored conversation rebuilt as a record (for re-tagging and re-scoring
        without re-ingesting or re-transcribing)."""
        ids = [row[0] for row in self.con.execute("SELECT conversation_id FROM conversations ORDER BY 1").fetchall()]
        for cid in ids:
            yield self._conversation(cid)

    def _conversation(self, cid: str) -> Conversation:
        names = ("source_path", "source_key", "source_format", "channel", "language", "industry", "rep", "team",
                 "customer", "deal_id", "stage", "outcome", "started_at", "transcript")
        row = dict(zip(names, self.con.execute(f"SELECT {', '.join(names)} FROM conversations "
                                               "WHERE conversation_id = ?", [cid]).fetchone()))
        utterances = tuple(
            Utterance(index=index, speaker_role=role, speaker_name=name, text=text, start_s=start_s, end_s=end_s,
                      role_confidence=confidence,
                      words=tuple(Word(*word) for word in json.loads(words)) if words else ())
            for index, role, name, text, start_s, end_s, confidence, words in self.con.execute(
                "SELECT utterance_index, speaker_role, speaker_name, text, start_s, end_s, role_confidence, words "
                "FROM utterances WHERE conversation_id = ? ORDER BY utterance_index", [cid]).fetchall())
        transcript = None
        if row["transcript"]:
            info = json.loads(row["transcript"])
            info["options"] = tuple(tuple(pair) for pair in info["options"])
            transcript = TranscriptInfo(**info)
        meta = ConversationMeta(**{name: row[name] for name in ("channel", "language", "industry", "rep", "team",
                                                                  "customer", "deal_id", "stage", "outcome",
                                                                  "started_at")})
        return Conversation(conversation_id=cid, source_path=row["source_path"], source_key=row["source_key"],
                            source_format=row["source_format"], meta=meta, utterances=utterances,
                            transcript=transcript)

    def stored_events(self, conversation_id: str) -> tuple[str, tuple[KeyEvent, ...]]:
        """The tagger name and the key events stored for a conversation (for re-scoring
        without re-tagging)."""
        tagger = self.con.execute("SELECT tagger FROM conversations WHERE conversation_id = ?",
                                  [conversation_id]).fetchone()[0]
        events = tuple(KeyEvent(*row) for row in self.con.execute(
            "SELECT node_id, utterance_index, confidence, evidence, source FROM key_events WHERE conversation_id = ? "
            "ORDER BY utterance_index, node_id", [conversation_id]).fetchall())
        return tagger, events

    # -- what corrections apply to, and the embedding cache ---------------------------------
    def has_utterance(self, conversation_id: str, utterance_index: int) -> bool:
        """True when the conversation is stored and has that utterance (checked before a
        correction is recorded in the review database, :mod:`pipeline.store.review`)."""
        return bool(self.con.execute("SELECT count(*) FROM utterances WHERE conversation_id = ? "
                                     "AND utterance_index = ?", [conversation_id, utterance_index]).fetchone()[0])

    def stored_labels(self, conversation_ids: list[str]) -> dict[str, dict[int, set[str]]]:
        """Per conversation, per utterance index, the key events stored (what corrections change)."""
        labels: dict[str, dict[int, set[str]]] = {cid: {} for cid in conversation_ids}
        if conversation_ids:
            marks = ", ".join("?" for _ in conversation_ids)
            for cid, index, node_id in self.con.execute(
                    f"SELECT conversation_id, utterance_index, node_id FROM key_events "
                    f"WHERE conversation_id IN ({marks})", conversation_ids).fetchall():
                labels[cid].setdefault(index, set()).add(node_id)
        return labels

    def legacy_corrections(self) -> list[dict]:
        """Corrections recorded in this database before they moved to the review database
        (2026-12): still read by ``keynode train-tagger --db``, so none is lost."""
        columns = ("correction_id", "conversation_id", "utterance_index", "node_id", "action", "author", "note",
                   "created_at")
        return [dict(zip(columns, row)) for row in self.con.execute(
            f"SELECT {', '.join(columns)} FROM corrections ORDER BY created_at").fetchall()]

    def cached_outputs(self, models: Mapping[str, str], keys: Mapping[str, list[str]]) -> dict[str, dict]:
        """What a tagger's models computed before (its ``output_caches``: kind → model name), for
        these keys by kind: e5 vectors by text key, encoder probabilities by context key."""
        import numpy as np

        found: dict[str, dict] = {}
        for kind, model in models.items():
            table, key_column, model_column, value_column = _OUTPUT_TABLES[kind]
            wanted = list(set(keys.get(kind, ())))
            found[kind] = {key: np.asarray(value, dtype=np.float32) for key, value in self.con.execute(
                f"SELECT {key_column}, {value_column} FROM {table} "
                f"WHERE {model_column} = ? AND list_contains(?, {key_column})", [model, wanted]).fetchall()
            } if wanted else {}
        return found

    def store_outputs(self, models: Mapping[str, str], outputs: Mapping[str, Mapping]) -> None:
        """Keep newly computed model outputs (by kind and key, as :meth:`cached_outputs` reads them)."""
        for kind, computed in outputs.items():
            if computed:
                table = _OUTPUT_TABLES[kind][0]
                self.con.executemany(f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?)",
                                     [[key, models[kind], [float(x) for x in value]] for key, value in computed.items()])

    # -- failures -----------------------------------------------------------------------
    def record_failure(self, run_id: str, source_path: str, source_key: str | None, stage: str,
                       error_type: str, message: str) -> None:
        """Record why a file or conversation could not be processed (shown on the board)."""
        failure_id = content_hash(run_id, source_path, source_key, stage, message)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            known = con.execute("DELETE FROM failures WHERE failure_id = ?", [failure_id]).fetchone()[0]
            con.execute("INSERT INTO failures VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        [failure_id, run_id, source_path, source_key, stage, error_type, message, datetime.now()])
            if not known:
                con.execute("UPDATE runs SET failed = coalesce(failed, 0) + 1 WHERE run_id = ?", [run_id])
            con.execute("COMMIT")
        except BaseException:  # Ctrl-C included: never leave the transaction open
            con.execute("ROLLBACK")
            raise

    def resolve_failures(self, source_path: str, source_key: str | None, run_id: str | None = None) -> None:
        """Mark earlier failures of this source as resolved, since it now went through (a
        conversation resolves its own and its file's; failures of run ``run_id`` itself stay)."""
        self.con.execute(
            "UPDATE failures SET resolved_at = now() WHERE resolved_at IS NULL AND source_path = ? "
            "AND (source_key IS NULL OR source_key = ?) AND run_id IS DISTINCT FROM ?",
            [source_path, source_key, run_id])

    def resolve_config_failures(self, run_id: str) -> None:
        """Mark the configuration failures of earlier runs resolved: run ``run_id`` loaded its
        configuration, so runs are no longer stopped."""
        self.con.execute("UPDATE failures SET resolved_at = now() WHERE resolved_at IS NULL AND stage = ? "
                         "AND run_id <> ?", [CONFIG_STAGE, run_id])

    def run_inputs(self, run_id: str) -> list[str]:
        """The paths a run was given (what ``keynode process`` was called with)."""
        row = self.con.execute("SELECT inputs FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return list(row[0]) if row and row[0] else []

    def unresolved_failures(self) -> list[dict]:
        """Failures no later success resolved, oldest first (what ``keynode retry-failed`` retries)."""
        columns = ("failure_id", "run_id", "source_path", "source_key", "stage", "error_type", "message",
                   "occurred_at")
        return [dict(zip(columns, row)) for row in self.con.execute(
            f"SELECT {', '.join(columns)} FROM failures WHERE resolved_at IS NULL "
            "ORDER BY occurred_at, source_path, source_key NULLS FIRST").fetchall()]

    # -- snapshot -----------------------------------------------------------------------
    def publish_snapshot(self, force: bool = False) -> Path | None:
        """Copy the database to its snapshot path atomically (at most every ``publish_interval_s``)."""
        started = time.monotonic()
        # The interval counts from the end of the last copy and, once a copy takes seconds, is
        # never shorter than ten copies: on a large database (a copy of 100,000 conversations
        # takes 15-30 s) the batch would otherwise spend its time copying, one conversation each.
        floor_s = 10 * self._publish_s if self._publish_s >= 1.0 else 0.0
        if not force and started - self._last_publish < max(self.publish_interval_s, floor_s):
            return None
        target = snapshot_path(self.db_path)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        database = self.con.execute("SELECT current_database()").fetchone()[0]
        self.con.execute("CHECKPOINT")
        quoted = str(temporary).replace("'", "''")  # a path is SQL text here: escape quotes
        self.con.execute(f"ATTACH '{quoted}' AS keynode_snapshot")
        try:
            self.con.execute(f'COPY FROM DATABASE "{database}" TO keynode_snapshot')
        finally:
            self.con.execute("DETACH keynode_snapshot")
        _fsync(temporary)
        # Atomic: a reader opens either the previous snapshot or this one, never a partial copy.
        os.replace(temporary, target)
        _fsync(target.parent)
        self._last_publish = time.monotonic()
        self._publish_s = self._last_publish - started
        log.debug("published snapshot %s in %.1f s", target, self._publish_s)
        return target


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk (so a power cut cannot leave an empty snapshot behind)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a folder
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class AnalysisWrite:
    """One conversation's analysis to write, with what :meth:`Store.write_analysis` takes beside it."""

    analysis: Analysis
    run_id: str
    fingerprint: str
    input_states: Mapping[str, str] | None = None
    originals: Mapping[int, str] | None = None
    privacy: Mapping | None = None


def _analysis_rows(write: AnalysisWrite) -> dict[str, list[dict]]:
    """The rows of one conversation's analysis, per table (``utterance_originals`` only when
    ``write.originals`` is given)."""
    analysis = write.analysis
    conversation = analysis.conversation
    cid = conversation.conversation_id
    meta = conversation.meta
    times = [u.end_s if u.end_s is not None else u.start_s for u in conversation.utterances]
    known_times = [t for t in times if t is not None]
    score = analysis.conversation_score
    return {
        "conversations": [{
            "conversation_id": cid, "source_path": conversation.source_path,
            "source_key": conversation.source_key, "source_format": conversation.source_format,
            "channel": meta.channel, "language": conversation.language, "industry": meta.industry,
            "rep": meta.rep, "team": meta.team, "customer": meta.customer, "deal_id": meta.deal_id,
            "stage": meta.stage, "outcome": meta.outcome, "started_at": meta.started_at,
            "utterance_count": len(conversation.utterances),
            "duration_s": max(known_times) if known_times else None, "fingerprint": write.fingerprint,
            "sop_version": analysis.sop_version, "tagger": analysis.tagger_name, "run_id": write.run_id,
            "processed_at": datetime.now(),
            "transcript": json.dumps(asdict(conversation.transcript), ensure_ascii=False)
            if conversation.transcript else None,
            "privacy": json.dumps(write.privacy, ensure_ascii=False) if write.privacy is not None else None,
        }],
        "utterance_originals": [{"conversation_id": cid, "utterance_index": index, "text": text}
                                for index, text in sorted((write.originals or {}).items())],
        "utterances": [{
            "conversation_id": cid, "utterance_index": u.index, "speaker_role": u.speaker_role,
            "speaker_name": u.speaker_name, "start_s": u.start_s, "end_s": u.end_s, "text": u.text,
            "text_normalized": normalize(u.text), "role_confidence": u.role_confidence,
            "words": json.dumps([[w.start_s, w.end_s, w.text, w.probability] for w in u.words],
                                ensure_ascii=False) if u.words else None,
        } for u in conversation.utterances],
        "key_events": [{
            "conversation_id": cid, "utterance_index": e.utterance_index, "node_id": e.node_id,
            "confidence": e.confidence, "evidence": e.evidence, "source": e.source,
            "sop_version": analysis.sop_version, "tagger": analysis.tagger_name} for e in analysis.events],
        "event_tree": [{
            "conversation_id": cid, "tree_key": t.key, "parent_key": t.parent, "kind": t.kind,
            "node_id": t.node_id, "speaker_role": t.speaker_role, "first_utterance": t.first_utterance,
            "last_utterance": t.last_utterance, "depth": t.depth} for t in analysis.tree],
        "node_scores": [{
            "conversation_id": cid, "node_id": s.node_id, "status": s.status,
            **_dimension_values(s), "total": s.total,
            "explanation": json.dumps({d.dimension: d.explanation for d in s.dimensions}, ensure_ascii=False),
            "evidence": json.dumps({d.dimension: d.evidence for d in s.dimensions}, ensure_ascii=False),
            "tip": s.tip, "utterance_indexes": list(s.utterance_indexes),
            "sop_version": analysis.sop_version} for s in analysis.node_scores],
        "conversation_scores": [{
            "conversation_id": cid, "coverage": score.coverage,
            "missing_required": list(score.missing_required), "order_conformance": score.order_conformance,
            "node_order": list(score.node_order), "total": score.total,
            "sop_version": analysis.sop_version}],
        "conversation_metrics": [{
            "conversation_id": cid, "name": m.name, "value": m.value, "unit": m.unit, "applicable": m.applicable,
            "explanation": m.explanation, "evidence": json.dumps(m.evidence, ensure_ascii=False)}
            for m in analysis.metrics],
        "conversation_notes": [{
            "conversation_id": cid, "note_index": n, "kind": item.kind,
            "utterance_indexes": list(item.utterance_indexes), "quote": item.quote, "answer": item.answer,
            "answer_index": item.answer_index, "outcome": item.outcome,
            "details": json.dumps(item.details, ensure_ascii=False), "line": line, "theme": item.theme,
            "quote_masked": item.quote_masked, "answer_masked": item.answer_masked}
            for n, (item, line) in enumerate(zip(analysis.notes.items, analysis.notes.lines()))]
        if analysis.notes is not None else [],
        "node_score_history": [{
            "conversation_id": cid, "node_id": s.node_id, "sop_version": analysis.sop_version,
            "status": s.status, "total": s.total, "scored_at": datetime.now()} for s in analysis.node_scores],
    }


def _dimension_values(score) -> dict[str, float | None]:
    by_name = {d.dimension: d.score for d in score.dimensions}
    return {name: by_name.get(name) for name in ("key_points", "communication_skill", "attitude", "customer_feedback")}


#: Rows per INSERT statement: DuckDB runs ``executemany`` one row at a time, which made writing
#: the rows cost more than analysing the conversation; one multi-row VALUES per chunk does not.
_INSERT_CHUNK_ROWS = 256


#: From this many rows on, rows go to DuckDB as one Arrow table instead of VALUES parameters,
#: whose binding cost grows with every parameter (a group's utterances are thousands of them):
#: 100 chats took 1.73 CPU-s to analyse and store instead of 2.3–2.7, with identical rows in
#: every table (bench/text_throughput.py).
_ARROW_MIN_ROWS = 64


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Insert rows given as dicts, naming the columns (tables grow by migrations)."""
    if not rows:
        return
    columns = list(rows[0])
    if len(rows) >= _ARROW_MIN_ROWS:
        import pyarrow as pa

        try:
            arrow_rows = pa.Table.from_pylist(rows)  # noqa: F841  (read by name by the statement below)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # values Arrow cannot put in one column type (DuckDB's casts can): VALUES below
        else:
            names = ", ".join(columns)
            con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM arrow_rows")
            return
    placeholders = f"({', '.join('?' for _ in columns)})"
    for start in range(0, len(rows), _INSERT_CHUNK_ROWS):
        chunk = rows[start:start + _INSERT_CHUNK_ROWS]
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(placeholders for _ in chunk)}",
                    [row[column] for row in chunk for column in columns])
