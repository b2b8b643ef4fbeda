"""The read side of the store: a snapshot of the database that readers open briefly.

DuckDB lets one process hold a file for writing, and while it does no other process can open
it, not even read-only. So the writer *publishes* a copy (``keynode.snapshot.duckdb`` beside
``keynode.duckdb``) after each batch and every few seconds during one, via a temporary file
and an atomic rename; the board and ``keynode status`` read only that copy, with short
read-only connections. Readers therefore never block the pipeline, and see data at most one
publish interval old.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
