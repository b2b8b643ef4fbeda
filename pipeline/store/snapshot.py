"""The read side of the store: a snapshot of the database that readers open briefly.

DuckDB lets one process hold a file for writing, and while it does no other process can open
it, not even read-only. So the writer *publishes* a copy (``keynode.snapshot.duckdb`` beside
``keynode.duckdb``) after each batch and every few seconds during one, via a temporary file
and an atomic rename; the board and ``keynode status`` read only that copy, with short
read-only connections. Readers therefore never block the pipeline, and see data at most one
publish interval old.

:func:`read_status` computes what ``keynode status`` prints (stored, failed, pending, runs that
did not finish) from the snapshot alone.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb


def snapshot_path(db_path: str | Path) -> Path:
    """Where the snapshot of ``db_path`` is published."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}.snapshot{db_path.suffix or '.duckdb'}")


@contextmanager
def read_snapshot(db_path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published snapshot, closed on exit.

    Raises ``FileNotFoundError`` naming the command to run when nothing was published yet.
    """
    path = snapshot_path(db_path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist yet: run `keynode process data/samples` "
                                f"(or `make demo`) to create it")
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


# -- what the pipeline got done: `keynode status` -------------------------------------------

def file_digest(path: str | Path) -> str | None:
    """sha256 of a file's bytes (what ``run_inputs.digest`` holds); None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def process_alive(pid: int | None, host: str | None, started_at: datetime | None = None) -> bool | None:
    """Whether the process that began a run still runs: True or False on this machine, None
    (unknown) for a run begun on another one. On Linux a process that started after the run
    began has only reused the number (a container restarted), and a zombie is dead."""
    if pid is None or host != socket.gethostname():
        return None if pid is not None else False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    stat = Path(f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, IndexError, StopIteration, ValueError):
        return True  # no /proc: the number answers
    if fields[0] == "Z":
        return False
    process_start = datetime.fromtimestamp(boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    return started_at is None or process_start <= started_at + timedelta(seconds=2)


@dataclass(frozen=True)
class RunState:
    """One run as ``keynode status`` reports it."""

    run_id: str
    started_at: datetime
    inputs: tuple[str, ...]      # the paths given to the command
    state: str                   # finished | running | interrupted | unknown (begun on another machine)
    processed: int | None        # conversations written (so far)
    skipped: int | None          # conversations skipped as unchanged (so far)
    failed: int | None           # failures recorded (so far)
    input_files: int             # files it discovered (kept while it has not been superseded)
    done_files: int              # of those, done in this run (every conversation stored or current)
    failed_files: int            # of those, failed in this run (a failure recorded for the file)
    pending_files: int           # of those, still waiting: neither this run nor a later one settled them
    reason: str | None = None    # why it was interrupted, when known
    pid: int | None = None
    host: str | None = None


@dataclass(frozen=True)
class FileCounts:
    """``keynode status PATHS``: the files found under the paths, by what became of their content."""

    files: int
    processed: int               # this content went through (every conversation stored or current)
    failed: int                  # this content has an unresolved failure
    pending: int                 # this content was not processed yet (new, changed, or left by a killed run)
    conversations: int           # conversations stored from these files
    pending_paths: tuple[str, ...] = ()
    failed_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreStatus:
    """What ``keynode status`` prints, read from the snapshot alone (never the locked database)."""

    published_at: datetime       # when the snapshot was published: the counts are as of then
    conversations: int           # stored
    failed: int                  # sources (file, conversation key) with an unresolved failure
    pending: int                 # files a running or interrupted run has not settled, no later run took up
    pending_gone: int            # of the pending files, those not found from the current folder
    last_run: RunState | None
    unfinished: tuple[RunState, ...]   # runs running now, or interrupted with files still pending
    files: FileCounts | None = None


_LATEST_INPUT = """SELECT i.source_path, i.run_id, i.state, i.digest,
                          row_number() OVER (PARTITION BY i.source_path
                                             ORDER BY r.started_at DESC, r.run_id DESC) AS recency
                   FROM run_inputs i JOIN runs r USING (run_id)"""


def _run_states(con: duckdb.DuckDBPyConnection, where: str, params: list) -> list[RunState]:
    rows = con.execute(f"""
        WITH latest AS ({_LATEST_INPUT}),
             counts AS (SELECT run_id, count(*) AS input_files,
                               count(*) FILTER (WHERE state = 'done') AS done_files,
                               count(*) FILTER (WHERE state = 'failed') AS failed_files
                        FROM run_inputs GROUP BY run_id),
             pending AS (SELECT run_id, count(*) AS pending_files FROM latest
                         WHERE recency = 1 AND state = 'queued' GROUP BY run_id)
        SELECT r.run_id, r.started_at, r.inputs, r.finished_at, r.interrupted_at, r.interrupted_reason,
               r.processed, r.skipped, r.failed, r.pid, r.host, coalesce(c.input_files, 0),
               coalesce(c.done_files, 0), coalesce(c.failed_files, 0), coalesce(p.pending_files, 0)
        FROM runs r LEFT JOIN counts c USING (run_id) LEFT JOIN pending p USING (run_id)
        WHERE {where} ORDER BY r.started_at DESC, r.run_id DESC""", params).fetchall()
    states = []
    for (run_id, started_at, inputs, finished_at, interrupted_at, reason, processed, skipped, failed, pid, host,
         input_files, done_files, failed_files, pending_files) in rows:
        if finished_at is not None:
            state = "finished"
        elif interrupted_at is not None:
            state = "interrupted"
        else:
            alive = process_alive(pid, host, started_at)
            state = {True: "running", False: "interrupted", None: "unknown"}[alive]
        states.append(RunState(run_id, started_at, tuple(inputs), state, processed, skipped, failed, input_files,
                               done_files, failed_files, pending_files, reason, pid, host))
    return states


def _file_counts(con: duckdb.DuckDBPyConnection, paths: list[str | Path]) -> FileCounts:
    from pipeline.ingest import discover  # only for PATHS: the board never needs it

    def key(path: str) -> str:  # stored paths are as the run was given them, relative to where it ran
        return os.path.realpath(path)

    files = discover(paths)
    done = {(key(path), digest) for path, digest in con.execute(
        "SELECT source_path, digest FROM run_inputs WHERE state = 'done'").fetchall()}
    known = {key(row[0]) for row in con.execute("SELECT DISTINCT source_path FROM run_inputs").fetchall()}
    failing: dict[str, set[str | None]] = {}
    for path, digest in con.execute(
            "SELECT f.source_path, i.digest FROM failures f LEFT JOIN run_inputs i "
            "ON i.run_id = f.run_id AND i.source_path = f.source_path WHERE f.resolved_at IS NULL").fetchall():
        failing.setdefault(key(path), set()).add(digest)
    stored: dict[str, int] = {}
    for path, count in con.execute("SELECT source_path, count(*) FROM conversations GROUP BY 1").fetchall():
        stored[key(path)] = stored.get(key(path), 0) + count
    processed, failed, pending = [], [], []
    for path in files:
        name, digest = key(str(path)), file_digest(path)
        if name in failing and (None in failing[name] or digest in failing[name]):
            failed.append(str(path))    # this very content failed (or the failure predates digests)
        elif (name, digest) in done or (name not in known and name in stored):
            processed.append(str(path))  # (files stored before runs recorded their inputs count by path)
        else:
            pending.append(str(path))
    return FileCounts(len(files), len(processed), len(failed), len(pending),
                      sum(stored.get(key(str(path)), 0) for path in files), tuple(pending), tuple(failed))


def read_status(db_path: str | Path, paths: list[str | Path] | None = None) -> StoreStatus:
    """Counts for ``keynode status`` from the published snapshot, so they never wait for, or
    block, a batch being written (and are as old as the last publish).

    - stored: conversations in the database;
    - failed: distinct (file, conversation key) with a failure no later success resolved;
    - pending: files whose most recent run is running or was interrupted before settling them
      (no later run has taken them up); running ``keynode process`` again over the same paths
      processes them;
    - with ``paths``: the files found there counted by content (sha256): processed when a run
      went through this content, failed when this content has an unresolved failure, pending
      otherwise (new, changed since, or left by an interrupted run).
    """
    published_at = datetime.fromtimestamp(snapshot_path(db_path).stat().st_mtime) \
        if snapshot_path(db_path).exists() else None
    with read_snapshot(db_path) as con:
        conversations = con.execute("SELECT count(*) FROM conversations").fetchone()[0]
        failed = con.execute("SELECT count(*) FROM (SELECT DISTINCT source_path, source_key FROM failures "
                             "WHERE resolved_at IS NULL)").fetchone()[0]
        has_inputs = con.execute("SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_name = 'run_inputs'").fetchone()[0] > 0
        if not has_inputs:  # published by a version before run inputs were recorded
            last = con.execute("SELECT run_id, started_at, inputs, finished_at, processed, skipped, failed "
                               "FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
            last_run = RunState(last[0], last[1], tuple(last[2]), "finished" if last[3] else "unknown", *last[4:],
                                0, 0, 0, 0) if last else None
            return StoreStatus(published_at, conversations, failed, 0, 0, last_run, ())
        pending_paths = [row[0] for row in con.execute(
            f"SELECT source_path FROM ({_LATEST_INPUT}) WHERE recency = 1 AND state = 'queued'").fetchall()]
        latest = _run_states(con, "r.run_id = (SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC "
                                  "LIMIT 1)", [])
        unfinished = [run for run in _run_states(con, "r.finished_at IS NULL", [])
                      if run.state in ("running", "unknown") or run.pending_files]
        files = _file_counts(con, paths) if paths else None
    gone = sum(1 for path in pending_paths if not os.path.exists(path))
    return StoreStatus(published_at, conversations, failed, len(pending_paths), gone,
                       latest[0] if latest else None, tuple(unfinished), files)
