"""Numbered SQL migrations (``migrations/NNN_name.sql``), applied once each, in order.

Applied versions are recorded in ``schema_migrations``, so migrating an up-to-date database
is a no-op, and a new release only has to add a file.
"""

from __future__ import annotations

import re
from importlib import resources

import duckdb

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


def available_migrations(folder: str = "migrations") -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` of every migration bundled in ``pipeline/store/<folder>``, by version."""
    found = []
    for entry in resources.files("pipeline.store").joinpath(folder).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection, folder: str = "migrations") -> list[int]:
    """Apply the migrations of ``folder`` this database lacks; return the versions applied now.
    (The main database's are in ``migrations/``, the review database's in ``review_migrations/``.)"""
    con.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                       version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)""")
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, sql in available_migrations(folder):
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
