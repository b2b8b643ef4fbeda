"""The review board's own database: corrections, disputes and the access log in a file beside the
main one, written through short connections that wait for each other's locks."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.analyze import analyze
from pipeline.events import RuleTagger
from pipeline.store import Store, migrate
from pipeline.store.migrate import available_migrations
from pipeline.store.review import (
    ReviewLockTimeout,
    ReviewStore,
    apply_corrections,
    fetch_access_log,
    fetch_corrections,
    fetch_disputes,
    read_review,
    review_path,
)

review_module = importlib.import_module("pipeline.store.review")


@pytest.fixture
def db(tmp_path) -> Path:
    """The MAIN database's path; the tests never create it, only the review file beside it."""
    return tmp_path / "data" / "keynode.duckdb"


def _columns(con, table: str) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = ? ORDER BY ordinal_position", [table]).fetchall()


def _hold_lock(path: Path, hold_s: float) -> subprocess.Popen:
    """Another process that opens ``path`` read-write and keeps it for ``hold_s`` seconds;
    returns once it holds the lock."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(float(sys.argv[2]))", str(path), str(hold_s)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    return holder


# -- the file and its schema ---------------------------------------------------------------
def test_review_path_sits_beside_the_main_database():
    assert review_path("data/keynode.duckdb") == Path("data/keynode.review.duckdb")
    assert review_path(Path("/srv/k/other.db")) == Path("/srv/k/other.review.db")
    assert review_path("data/keynode") == Path("data/keynode.review.duckdb")


def test_migrations_are_applied_once(db):
    with ReviewStore(db) as review:
        tables = [row[0] for row in review.con.execute(
            "SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()]
        first = review.con.execute("SELECT version, name, applied_at FROM schema_migrations").fetchall()
    assert tables == ["access_log", "corrections", "disputes", "schema_migrations"]
    assert [(version, name) for version, name, _at in first] == [(1, "review")]
    assert review_path(db).exists() and not db.exists()  # the main database is not touched

    with ReviewStore(db) as review:  # reopening applies nothing
        assert review.con.execute("SELECT version, name, applied_at FROM schema_migrations").fetchall() == first
        assert migrate(review.con, review_module.REVIEW_MIGRATIONS) == []


def test_bundled_review_migrations_are_numbered_in_order():
    assert [(version, name) for version, name, _sql in available_migrations(review_module.REVIEW_MIGRATIONS)] == [
        (1, "review")]


def test_corrections_have_the_main_databases_columns(db, tmp_path):
    main = duckdb.connect(str(tmp_path / "main.duckdb"))
    try:
        migrate(main)
        expected = _columns(main, "corrections")
    finally:
        main.close()
    with ReviewStore(db) as review:
        assert _columns(review.con, "corrections") == expected


def test_the_store_must_be_open(db):
    with pytest.raises(RuntimeError, match="not open"):
        ReviewStore(db).corrections()


# -- corrections ---------------------------------------------------------------------------
def test_corrections_round_trip(db):
    with ReviewStore(db) as review:
        first = review.add_correction("c1", 3, "needs_discovery", "add", "alice", note="  asked about Excel ")
        second = review.add_correction("c2", 0, "opening", "remove", " bob ")
        third = review.add_correction("c1", 4, "price_objection", "add", "alice", note="   ")
        rows = review.corrections()
        assert [row["correction_id"] for row in rows] == [first, second, third]
        assert {key: rows[0][key] for key in rows[0] if key != "created_at"} == {
            "correction_id": first, "conversation_id": "c1", "utterance_index": 3, "node_id": "needs_discovery",
            "action": "add", "author": "alice", "note": "asked about Excel"}
        assert (rows[1]["author"], rows[1]["note"], rows[2]["note"]) == ("bob", None, None)
        assert isinstance(rows[0]["created_at"], datetime)
        assert rows[0]["created_at"] < rows[1]["created_at"] < rows[2]["created_at"]
        assert [row["correction_id"] for row in review.corrections(["c1"])] == [first, third]
        assert [row["correction_id"] for row in review.corrections(["c2", "missing"])] == [second]
        assert review.corrections([]) == []
        with pytest.raises(TypeError, match="not one string"):
            review.corrections("c1")


def test_corrections_keep_their_order_within_one_clock_tick(db, monkeypatch):
    """Two corrections in the same microsecond (or after the clock was set back) still read back,
    and apply, in the order they were written."""
    frozen_at = datetime(2024, 5, 1, 9, 30)

    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen_at

    monkeypatch.setattr(review_module, "datetime", FrozenClock)
    with ReviewStore(db) as review:
        ids = [review.add_correction("c1", 0, "opening", action, "alice") for action in ("add", "remove", "add")]
        ids.append(review.add_correction("c1", 0, "opening", "remove", "alice"))
        rows = review.corrections()
        assert [row["correction_id"] for row in rows] == ids
        assert len(set(ids)) == 4
        assert [row["created_at"] for row in rows] == [
            datetime(2024, 5, 1, 9, 30, 0, microsecond) for microsecond in range(4)]
        assert review.corrected_labels({"c1": {0: {"opening"}}}) == {"c1": {0: set()}}


def test_corrected_labels_apply_every_correction_in_time_order(db):
    stored = {"c1": {0: {"opening"}, 1: {"needs_discovery", "pain_point"}},
              "c2": {0: {"opening"}},                      # nobody corrected it
              "c4": {2: {"close"}}}
    with ReviewStore(db) as review:
        assert review.corrected_labels(stored) == {}
        review.add_correction("c1", 0, "price_objection", "add", "alice")
        review.add_correction("c1", 0, "price_objection", "remove", "bob")   # add then remove: gone
        review.add_correction("c1", 1, "pain_point", "remove", "alice")      # a stored label removed
        review.add_correction("c1", 2, "next_step", "add", "alice")          # an utterance with no stored label
        review.add_correction("c1", 1, "next_step", "remove", "alice")       # removing what is not there
        review.add_correction("c3", 5, "close", "remove", "bob")             # nothing stored at all
        review.add_correction("c3", 5, "close", "add", "bob")                # ...and the later word wins
        labels = review.corrected_labels(stored)
    assert labels == {"c1": {0: {"opening"}, 1: {"needs_discovery"}, 2: {"next_step"}},
                      "c3": {5: {"close"}}}
    assert stored["c1"] == {0: {"opening"}, 1: {"needs_discovery", "pain_point"}}  # the argument is not modified


def test_corrected_labels_apply_to_the_main_stores_events(tmp_path, db, sales_chat, sop):
    """Corrections in the review database change the labels stored in the main database."""
    corrections = [("sales-chat", 3, "pain_point", "remove"), ("sales-chat", 3, "budget", "add"),
                   ("sales-chat", 10, "next_step", "remove"), ("sales-chat", 10, "next_step", "add"),
                   ("sales-chat", 11, "opening", "add"), ("sales-chat", 11, "opening", "remove")]
    with Store(tmp_path / "main.duckdb", publish_interval_s=3600) as store:
        store.write_analysis(analyze(sales_chat, sop, RuleTagger()), "run-1", "fp-1")
        stored = store.stored_labels(["sales-chat"])
    with ReviewStore(db) as review:
        for cid, index, node_id, action in corrections:
            review.add_correction(cid, index, node_id, action, "alice")
        corrected = review.corrected_labels(stored)
    expected = {index: set(labels) for index, labels in stored["sales-chat"].items()}
    expected[3] = (expected.get(3, set()) - {"pain_point"}) | {"budget"}
    expected[10] = expected.get(10, set()) | {"next_step"}
    expected[11] = expected.get(11, set()) - {"opening"}
    assert corrected == {"sales-chat": expected}
    assert corrected["sales-chat"] != stored["sales-chat"]  # the corrections did change something


@pytest.mark.parametrize(("arguments", "message"), [
    (("c1", 0, "opening", "delete", "alice"), "action must be 'add' or 'remove', not 'delete'"),
    (("c1", 0, "", "add", "alice"), "node_id is required"),
    (("c1", 0, "opening", "add", "  "), "author is required"),
    (("c1", 0, "opening", "add", None), "author is required"),
    (("", 0, "opening", "add", "alice"), "conversation_id is required"),
    (("c1", -1, "opening", "add", "alice"), "utterance_index must be a non-negative integer"),
    (("c1", "3", "opening", "add", "alice"), "utterance_index must be a non-negative integer"),
])
def test_invalid_corrections_are_refused(db, arguments, message):
    with ReviewStore(db) as review:
        with pytest.raises(ValueError, match=message):
            review.add_correction(*arguments)
        assert review.corrections() == []


# -- disputes ------------------------------------------------------------------------------
def test_a_dispute_is_opened_once_and_resolved_once(db):
    with ReviewStore(db) as review:
        dispute_id = review.open_dispute("c1", "opening", "alice", "  I did introduce myself  ")
        with pytest.raises(ValueError, match=rf"alice already has an open dispute \({dispute_id}\) on opening in c1"):
            review.open_dispute("c1", "opening", "alice", "really")
        other = review.open_dispute("c1", "opening", "bob", "me too")  # another author may
        [row] = [row for row in review.disputes() if row["dispute_id"] == dispute_id]
        assert {key: row[key] for key in row if key != "created_at"} == {
            "dispute_id": dispute_id, "conversation_id": "c1", "node_id": "opening", "author": "alice",
            "comment": "I did introduce myself", "status": "open", "resolved_by": None, "resolution": None,
            "resolved_at": None}

        review.resolve_dispute(dispute_id, "manager", "accepted", "  right, re-scored  ")
        [row] = review.disputes(status="accepted")
        assert (row["dispute_id"], row["status"], row["resolved_by"], row["resolution"]) == (
            dispute_id, "accepted", "manager", "right, re-scored")
        assert row["resolved_at"] >= row["created_at"]
        with pytest.raises(ValueError, match=f"dispute {dispute_id} was already accepted by manager"):
            review.resolve_dispute(dispute_id, "manager", "rejected", "changed my mind")
        review.resolve_dispute(other, "manager", "rejected", None)
        assert review.disputes(status="rejected")[0]["resolution"] is None

        again = review.open_dispute("c1", "opening", "alice", "and once more")  # the first was resolved
        assert [row["dispute_id"] for row in review.disputes()] == [again]


@pytest.mark.parametrize(("method", "arguments", "message"), [
    ("open_dispute", ("c1", "opening", "alice", "   "), "comment is required"),
    ("open_dispute", ("c1", "opening", "alice", None), "comment is required"),
    ("open_dispute", ("c1", "", "alice", "why"), "node_id is required"),
    ("open_dispute", ("c1", "opening", "", "why"), "author is required"),
    ("resolve_dispute", ("no-such-id", "manager", "accepted", "ok"), "no dispute 'no-such-id'"),
    ("resolve_dispute", ("no-such-id", "manager", "open", "ok"), "status must be 'accepted' or 'rejected'"),
    ("resolve_dispute", ("no-such-id", " ", "accepted", "ok"), "resolved_by is required"),
])
def test_invalid_disputes_are_refused(db, method, arguments, message):
    with ReviewStore(db) as review:
        with pytest.raises(ValueError, match=message):
            getattr(review, method)(*arguments)
        assert review.disputes(status=None) == []


def test_disputes_are_filtered_by_status_and_conversation_newest_first(db):
    with ReviewStore(db) as review:
        a = review.open_dispute("c1", "opening", "alice", "one")
        b = review.open_dispute("c2", "opening", "alice", "two")
        c = review.open_dispute("c1", "close", "bob", "three")
        d = review.open_dispute("c3", "close", "bob", "four")
        review.resolve_dispute(b, "manager", "rejected", "no")
        review.resolve_dispute(d, "manager", "accepted", "yes")

        def ids(**filters) -> list[str]:
            return [row["dispute_id"] for row in review.disputes(**filters)]

        assert ids() == [c, a]
        assert ids(status=None) == [d, c, b, a]
        assert ids(status="rejected") == [b]
        assert ids(status=None, conversation_ids=["c1", "c2"]) == [c, b, a]
        assert ids(status="open", conversation_ids=("c2", "c3")) == []
        assert ids(status=None, conversation_ids=[]) == []
        with pytest.raises(ValueError, match="status must be one of open, accepted, rejected or None"):
            review.disputes(status="closed")


# -- access log ----------------------------------------------------------------------------
def test_access_log_round_trip_newest_first(db):
    with ReviewStore(db) as review:
        review.log_access("alice", "rep", "c1", "conversation")
        review.log_access("boss", "manager", None, "overview")
        review.log_access("alice", "rep", "c2", "conversation")
        rows = review.access_log()
        assert [(row["username"], row["role"], row["conversation_id"], row["page"]) for row in rows] == [
            ("alice", "rep", "c2", "conversation"), ("boss", "manager", None, "overview"),
            ("alice", "rep", "c1", "conversation")]
        assert rows[0]["accessed_at"] > rows[1]["accessed_at"] > rows[2]["accessed_at"]
        assert [row["conversation_id"] for row in review.access_log(limit=2)] == ["c2", None]
        assert [row["conversation_id"] for row in review.access_log(username="alice")] == ["c2", "c1"]
        assert [row["conversation_id"] for row in review.access_log(limit=1, username="alice")] == ["c2"]
        assert review.access_log(limit=0) == []
        assert review.access_log(username="nobody") == []
        with pytest.raises(ValueError, match="limit must be a non-negative integer"):
            review.access_log(limit=-1)
        with pytest.raises(ValueError, match="username is required"):
            review.log_access("", "rep", "c1", "conversation")
        with pytest.raises(ValueError, match="page is required"):
            review.log_access("alice", "rep", "c1", " ")


# -- the board's read side -----------------------------------------------------------------
def test_read_review_before_anything_was_written(db):
    with read_review(db) as con:
        assert con is None
        assert fetch_corrections(con) == []
        assert fetch_disputes(con, status=None) == []
        assert fetch_access_log(con) == []
        assert apply_corrections(fetch_corrections(con), {"c1": {0: {"opening"}}}) == {}
    assert not review_path(db).exists()  # reading does not create the file


def test_read_review_reads_what_was_written_read_only(db):
    with ReviewStore(db) as review:
        correction = review.add_correction("c1", 0, "opening", "remove", "alice")
        dispute = review.open_dispute("c1", "opening", "alice", "why")
        review.log_access("alice", "rep", "c1", "conversation")
    with read_review(db) as con:
        assert [row["correction_id"] for row in fetch_corrections(con, ["c1"])] == [correction]
        assert apply_corrections(fetch_corrections(con), {"c1": {0: {"opening"}}}) == {"c1": {0: set()}}
        assert [row["dispute_id"] for row in fetch_disputes(con)] == [dispute]
        assert [row["username"] for row in fetch_access_log(con, limit=5)] == ["alice"]
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("DELETE FROM access_log")


# -- locks ---------------------------------------------------------------------------------
def test_opening_waits_for_another_process_to_release_the_file(db):
    path = review_path(db)
    path.parent.mkdir(parents=True)
    holder = _hold_lock(path, hold_s=1.0)
    try:
        started_s = time.monotonic()
        with ReviewStore(db, lock_timeout_s=5.0) as review:
            review.add_correction("c1", 0, "opening", "add", "alice")
        # Got in only once the holder let go, about its 1 s later. (Not `holder.poll()`: an
        # exiting process releases its locks a moment before it can be waited for.)
        assert time.monotonic() - started_s > 0.5
        with read_review(db) as con:
            assert len(fetch_corrections(con)) == 1
    finally:
        holder.kill()
        holder.wait()


def test_opening_gives_up_after_the_lock_timeout_naming_the_file(db):
    path = review_path(db)
    path.parent.mkdir(parents=True)
    holder = _hold_lock(path, hold_s=60.0)
    try:
        started_s = time.monotonic()
        message = rf"{re.escape(str(path))} stayed locked by another connection for 0.2 s"
        with pytest.raises(ReviewLockTimeout, match=message):
            with ReviewStore(db, lock_timeout_s=0.2):
                pass
        assert 0.2 <= time.monotonic() - started_s < 3.0
        with pytest.raises(ReviewLockTimeout, match=re.escape(str(path))):  # readers wait, and give up, the same way
            with read_review(db, lock_timeout_s=0.1):
                pass
        assert holder.poll() is None  # the holder was still there all along
    finally:
        holder.kill()
        holder.wait()
