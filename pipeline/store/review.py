"""The review board's own small database: label corrections, score disputes and the access log.

The pipeline's writer holds ``keynode.duckdb``'s file lock for a whole batch, and the board
reads only a published snapshot, but these few writes cannot wait for a batch to end. So they
go to a separate file beside the main one (``keynode.review.duckdb``), written only by this
module through short connections: open, write in one transaction, close. Whoever finds the
file locked (the board's other sessions, ``keynode correct``) retries for a few seconds.

The board reads it with ``read_review``, which yields ``None`` until somebody wrote anything,
and the ``fetch_*`` functions, which treat ``None`` as an empty database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from pipeline.models import content_hash
from pipeline.store.migrate import migrate

#: The review database's migrations: ``pipeline/store/review_migrations/NNN_name.sql``.
REVIEW_MIGRATIONS = "review_migrations"


ACTIONS = ("add", "remove")
DISPUTE_STATUSES = ("open", "accepted", "rejected")

# How long to sleep between attempts to open a locked file: short, since writers hold it for
# one transaction.
_RETRY_SLEEP_S = 0.05

# DuckDB lets one process hold a file read-write (or several hold it read-only); another process
# gets "Could not set lock"; and in one process a read-only and a read-write connection to the
# same file refuse each other ("different configuration"). Both pass once the holder closes.
_BUSY_MESSAGES = ("Could not set lock", "different configuration")

# Connections of one process to the same file share one database, in which two transactions can
# both check "no open dispute yet" and then both insert; the file lock only serialises processes.
# Write transactions are tiny, so one lock for every review file costs nothing.
_WRITE_LOCK = threading.Lock()


class ReviewLockTimeout(TimeoutError):
    """The review database stayed locked by another connection for longer than allowed."""


def review_path(db_path: str | Path) -> Path:
    """Where the review database of ``db_path`` lives (``keynode.review.duckdb`` for ``keynode.duckdb``)."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}.review{db_path.suffix or '.duckdb'}")


class ReviewStore:
    """The only writer of the review database. Use as a context manager, briefly: it opens (and
    migrates) the file on entry and closes it on exit, and nobody else can write meanwhile.

    ``db_path`` is the MAIN database's path; the review file beside it is derived. If another
    process holds the file, opening retries for up to ``lock_timeout_s`` seconds, then raises
    ``ReviewLockTimeout`` naming the file.
    """

    def __init__(self, db_path: str | Path, lock_timeout_s: float = 5.0):
        self.db_path = Path(db_path)
        self.path = review_path(db_path)
        self.lock_timeout_s = lock_timeout_s
        self._con: duckdb.DuckDBPyConnection | None = None

    def __enter__(self) -> ReviewStore:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(self.path, read_only=False, lock_timeout_s=self.lock_timeout_s)
        try:
            with _WRITE_LOCK:
                migrate(con, REVIEW_MIGRATIONS)
        except Exception:
            con.close()
            raise
        self._con = con
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.con.close()
        self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("the review store is not open: use `with ReviewStore(path) as review:`")
        return self._con

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction, rolled back if anything in it raises."""
        with _WRITE_LOCK:
            con = self.con
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    # -- corrections --------------------------------------------------------------------
    def add_correction(self, conversation_id: str, utterance_index: int, node_id: str, action: str,
                       author: str, note: str | None = None) -> str:
        """Record that a person added or removed a key-event label on an utterance; return its id.

        The caller checks that the utterance exists: it lives in the main database.
        """
        if action not in ACTIONS:
            raise ValueError(f"action must be 'add' or 'remove', not {action!r}")
        conversation_id = _required("conversation_id", conversation_id)
        node_id = _required("node_id", node_id)
        author = _required("author", author)
        if isinstance(utterance_index, bool) or not isinstance(utterance_index, int) or utterance_index < 0:
            raise ValueError(f"utterance_index must be a non-negative integer, not {utterance_index!r}")
        note = (note.strip() or None) if note is not None else None
        with self._transaction() as con:
            now = _next_timestamp(con, "corrections", "created_at")
            correction_id = content_hash(conversation_id, utterance_index, node_id, action, author, now)
            con.execute("INSERT INTO corrections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [correction_id, conversation_id, utterance_index, node_id, action, author, note, now])
        return correction_id

    def corrections(self, conversation_ids: Sequence[str] | None = None) -> list[dict]:
        """Every correction (of these conversations, if given), oldest first."""
        return fetch_corrections(self.con, conversation_ids)

    def corrected_labels(self, stored_events: Mapping[str, Mapping[int, Iterable[str]]],
                         ) -> dict[str, dict[int, set[str]]]:
        """Per corrected conversation, its labels after applying every correction in time order
        to ``stored_events`` (conversation id → utterance index → node ids, from the main
        database); see ``apply_corrections``."""
        return apply_corrections(self.corrections(), stored_events)

    # -- disputes -----------------------------------------------------------------------
    def open_dispute(self, conversation_id: str, node_id: str, author: str, comment: str) -> str:
        """Record that ``author`` disputes the score of a node in a conversation; return its id.

        An author has at most one open dispute per conversation and node: a second one raises
        ``ValueError`` until the first is resolved.
        """
        conversation_id = _required("conversation_id", conversation_id)
        node_id = _required("node_id", node_id)
        author = _required("author", author)
        comment = _required("comment", comment)
        with self._transaction() as con:
            row = con.execute("SELECT dispute_id FROM disputes WHERE status = 'open' AND conversation_id = ? "
                              "AND node_id = ? AND author = ?", [conversation_id, node_id, author]).fetchone()
            if row:
                raise ValueError(f"{author} already has an open dispute ({row[0]}) on {node_id} in "
                                 f"{conversation_id}: add to it after it is resolved")
            now = _next_timestamp(con, "disputes", "created_at")
            dispute_id = content_hash(conversation_id, node_id, author, now)
            con.execute("INSERT INTO disputes (dispute_id, conversation_id, node_id, author, comment, created_at, "
                        "status) VALUES (?, ?, ?, ?, ?, ?, 'open')",
                        [dispute_id, conversation_id, node_id, author, comment, now])
        return dispute_id

    def resolve_dispute(self, dispute_id: str, resolved_by: str, status: str, resolution: str | None) -> None:
        """Accept or reject an open dispute (``status`` 'accepted' or 'rejected'), with an optional
        explanation. An unknown or already resolved dispute raises ``ValueError``."""
        if status not in ("accepted", "rejected"):
            raise ValueError(f"status must be 'accepted' or 'rejected', not {status!r}")
        resolved_by = _required("resolved_by", resolved_by)
        resolution = (resolution.strip() or None) if resolution is not None else None
        with self._transaction() as con:
            row = con.execute("SELECT status, resolved_by, created_at FROM disputes WHERE dispute_id = ?",
                              [dispute_id]).fetchone()
            if row is None:
                raise ValueError(f"no dispute {dispute_id!r}")
            current, earlier_resolver, created_at = row
            if current != "open":
                raise ValueError(f"dispute {dispute_id} was already {current} by {earlier_resolver}")
            # Never resolved before it was opened, even if the clock was set back in between.
            resolved_at = max(datetime.now(), created_at)
            con.execute("UPDATE disputes SET status = ?, resolved_by = ?, resolution = ?, resolved_at = ? "
                        "WHERE dispute_id = ?", [status, resolved_by, resolution, resolved_at, dispute_id])

    def disputes(self, status: str | None = "open", conversation_ids: Sequence[str] | None = None) -> list[dict]:
        """Disputes with this status (any, if ``None``), of these conversations (any, if ``None``),
        newest first."""
        return fetch_disputes(self.con, status, conversation_ids)

    # -- access log ---------------------------------------------------------------------
    def log_access(self, username: str, role: str, conversation_id: str | None, page: str) -> None:
        """Record that a user opened a page of the board (about one conversation, or ``None``)."""
        username = _required("username", username)
        role = _required("role", role)
        page = _required("page", page)
        with self._transaction() as con:
            now = _next_timestamp(con, "access_log", "accessed_at")
            con.execute("INSERT INTO access_log VALUES (?, ?, ?, ?, ?)", [now, username, role, conversation_id, page])

    def access_log(self, limit: int = 100, username: str | None = None) -> list[dict]:
        """The latest ``limit`` page openings (of one user, if given), newest first."""
        return fetch_access_log(self.con, limit, username)


# -- reading (the board, without taking the write path) ------------------------------------
@contextmanager
def read_review(db_path: str | Path, lock_timeout_s: float = 5.0) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection to the review database of the MAIN database ``db_path``, closed on
    exit; ``None`` while the file does not exist (nobody corrected, disputed or logged anything
    yet), which every ``fetch_*`` function reads as an empty database.

    Retries like ``ReviewStore`` while a writer holds the file, then raises ``ReviewLockTimeout``.
    """
    path = review_path(db_path)
    if not path.exists():
        yield None
        return
    con = _connect(path, read_only=True, lock_timeout_s=lock_timeout_s)
    try:
        yield con
    finally:
        con.close()


def fetch_corrections(con: duckdb.DuckDBPyConnection | None,
                      conversation_ids: Sequence[str] | None = None) -> list[dict]:
    """Every correction (of these conversations, if given), oldest first, as dicts by column."""
    if con is None:
        return []
    where, params = _conversation_filter(conversation_ids)
    return _rows(con, f"SELECT * FROM corrections {where} ORDER BY created_at", params)


def fetch_disputes(con: duckdb.DuckDBPyConnection | None, status: str | None = "open",
                   conversation_ids: Sequence[str] | None = None) -> list[dict]:
    """Disputes with this status (any, if ``None``), of these conversations (any, if ``None``),
    newest first, as dicts by column."""
    if status is not None and status not in DISPUTE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(DISPUTE_STATUSES)} or None, not {status!r}")
    if con is None:
        return []
    where, params = _conversation_filter(conversation_ids)
    if status is not None:
        where = f"{where} AND status = ?" if where else "WHERE status = ?"
        params.append(status)
    return _rows(con, f"SELECT * FROM disputes {where} ORDER BY created_at DESC", params)


def fetch_access_log(con: duckdb.DuckDBPyConnection | None, limit: int = 100,
                     username: str | None = None) -> list[dict]:
    """The latest ``limit`` page openings (of one user, if given), newest first, as dicts by column."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, not {limit!r}")
    if con is None:
        return []
    where, params = ("WHERE username = ?", [username]) if username is not None else ("", [])
    return _rows(con, f"SELECT * FROM access_log {where} ORDER BY accessed_at DESC LIMIT ?", [*params, limit])


def apply_corrections(corrections: Iterable[Mapping], stored_events: Mapping[str, Mapping[int, Iterable[str]]],
                      ) -> dict[str, dict[int, set[str]]]:
    """Per corrected conversation, its labels after corrections: the stored labels with every
    correction applied in the given (time) order, so the latest word on an utterance and node
    wins. Conversations nobody corrected are left out; ``stored_events`` is not modified.

    The same semantics as ``Store.corrected_labels``, with the stored labels passed in because
    they live in the main database.
    """
    corrected: dict[str, dict[int, set[str]]] = {}
    for correction in corrections:
        cid = correction["conversation_id"]
        if cid not in corrected:
            corrected[cid] = {index: set(labels) for index, labels in stored_events.get(cid, {}).items()}
        labels = corrected[cid].setdefault(correction["utterance_index"], set())
        (labels.add if correction["action"] == "add" else labels.discard)(correction["node_id"])
    return corrected


# -- helpers --------------------------------------------------------------------------------
def _connect(path: Path, read_only: bool, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open ``path``, retrying while another connection holds its lock, for up to ``lock_timeout_s``."""
    deadline_s = time.monotonic() + lock_timeout_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            if not any(message in str(exc) for message in _BUSY_MESSAGES):
                raise
            left_s = deadline_s - time.monotonic()
            if left_s <= 0:
                raise ReviewLockTimeout(f"{path} stayed locked by another connection for {lock_timeout_s:g} s; "
                                        f"try again in a moment ({exc})") from exc
            time.sleep(min(_RETRY_SLEEP_S, left_s))


def _next_timestamp(con: duckdb.DuckDBPyConnection, table: str, column: str) -> datetime:
    """Now (naive local time, like the main database), but strictly after the table's latest
    timestamp: rows are read back in time order, and two writes within one clock tick (or a
    clock set back) must keep the order they were written in."""
    latest = con.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]
    now = datetime.now()
    return now if latest is None or now > latest else latest + timedelta(microseconds=1)


def _required(name: str, value: str) -> str:
    """``value`` without surrounding blanks; ``ValueError`` naming the field if nothing is left."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is required (got {value!r})")
    return value.strip()


def _conversation_filter(conversation_ids: Sequence[str] | None) -> tuple[str, list]:
    """A WHERE clause (and its parameters) keeping these conversations, or none if ``None``."""
    if conversation_ids is None:
        return "", []
    if isinstance(conversation_ids, str):
        # A lone id would otherwise be read as a sequence of one-letter ids.
        raise TypeError("conversation_ids must be a sequence of ids, not one string")
    if not conversation_ids:
        return "WHERE false", []
    return "WHERE list_contains(?, conversation_id)", [list(conversation_ids)]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    """The query's rows as dicts by column name."""
    cursor = con.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
