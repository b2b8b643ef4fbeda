"""Numbered migrations: a blank database gets the whole schema once; migrating again is a no-op."""

from __future__ import annotations

import importlib

import duckdb
import pytest

from pipeline.store import migrate

# pipeline.store re-exports the function under the module's name; this is the module.
migrate_module = importlib.import_module("pipeline.store.migrate")

TABLES = ["conversation_metrics", "conversation_notes", "conversation_scores", "conversations", "corrections",
          "embeddings", "encoder_outputs", "event_tree", "failures", "key_events", "node_score_history", "node_scores",
          "run_inputs", "runs",
          "schema_migrations", "utterance_originals", "utterances"]


def _tables(con) -> list[str]:
    return [row[0] for row in con.execute(
        "SELECT table_name FROM information_schema.tables ORDER BY table_name").fetchall()]


def _columns(con, table: str) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = ? ORDER BY ordinal_position", [table]).fetchall()


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "blank.duckdb"))
    yield connection
    connection.close()


def test_bundled_migrations_are_numbered_in_order():
    assert [(version, name) for version, name, _sql in migrate_module.available_migrations()] == [
        (1, "initial"), (2, "audio"), (3, "tagger_version"), (4, "corrections_embeddings"),
        (5, "metrics_notes_history"), (6, "run_inputs"), (7, "utterance_originals"), (8, "objection_library"),
        (9, "encoder_outputs")]


def test_blank_database_gets_every_table(con):
    assert migrate(con) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert _tables(con) == TABLES
    assert con.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall() == [
        (1, "initial"), (2, "audio"), (3, "tagger_version"), (4, "corrections_embeddings"),
        (5, "metrics_notes_history"), (6, "run_inputs"), (7, "utterance_originals"), (8, "objection_library"),
        (9, "encoder_outputs")]


def test_columns_of_the_conversation_tables(con):
    migrate(con)
    assert _columns(con, "conversations") == [
        ("conversation_id", "VARCHAR"), ("source_path", "VARCHAR"), ("source_key", "VARCHAR"),
        ("source_format", "VARCHAR"), ("channel", "VARCHAR"), ("language", "VARCHAR"),
        ("industry", "VARCHAR"), ("rep", "VARCHAR"), ("team", "VARCHAR"), ("customer", "VARCHAR"),
        ("deal_id", "VARCHAR"), ("stage", "VARCHAR"), ("outcome", "VARCHAR"), ("started_at", "TIMESTAMP"),
        ("utterance_count", "INTEGER"), ("duration_s", "DOUBLE"), ("fingerprint", "VARCHAR"),
        ("sop_version", "VARCHAR"), ("tagger", "VARCHAR"), ("run_id", "VARCHAR"),
        ("processed_at", "TIMESTAMP"), ("transcript", "JSON"),   # transcript: migration 002
        ("privacy", "JSON"),                                     # migration 007
    ]
    assert _columns(con, "utterances") == [
        ("conversation_id", "VARCHAR"), ("utterance_index", "INTEGER"), ("speaker_role", "VARCHAR"),
        ("speaker_name", "VARCHAR"), ("start_s", "DOUBLE"), ("end_s", "DOUBLE"), ("text", "VARCHAR"),
        ("text_normalized", "VARCHAR"), ("role_confidence", "DOUBLE"), ("words", "JSON"),
    ]
    assert _columns(con, "utterance_originals") == [
        ("conversation_id", "VARCHAR"), ("utterance_index", "INTEGER"), ("text", "VARCHAR"),
    ]
    assert _columns(con, "key_events") == [
        ("conversation_id", "VARCHAR"), ("utterance_index", "INTEGER"), ("node_id", "VARCHAR"),
        ("confidence", "DOUBLE"), ("evidence", "VARCHAR"), ("source", "VARCHAR"), ("sop_version", "VARCHAR"),
        ("tagger", "VARCHAR"),  # migration 003
    ]
    assert _columns(con, "node_scores") == [
        ("conversation_id", "VARCHAR"), ("node_id", "VARCHAR"), ("status", "VARCHAR"),
        ("key_points", "DOUBLE"), ("communication_skill", "DOUBLE"), ("attitude", "DOUBLE"),
        ("customer_feedback", "DOUBLE"), ("total", "DOUBLE"), ("explanation", "JSON"), ("evidence", "JSON"),
        ("tip", "VARCHAR"), ("utterance_indexes", "INTEGER[]"), ("sop_version", "VARCHAR"),
    ]
    assert _columns(con, "conversation_notes") == [
        ("conversation_id", "VARCHAR"), ("note_index", "INTEGER"), ("kind", "VARCHAR"),
        ("utterance_indexes", "INTEGER[]"), ("quote", "VARCHAR"), ("answer", "VARCHAR"), ("answer_index", "INTEGER"),
        ("outcome", "VARCHAR"), ("details", "JSON"), ("line", "VARCHAR"),
        ("theme", "VARCHAR"), ("quote_masked", "VARCHAR"), ("answer_masked", "VARCHAR"),  # migration 008
    ]
    assert _columns(con, "failures") == [
        ("failure_id", "VARCHAR"), ("run_id", "VARCHAR"), ("source_path", "VARCHAR"), ("source_key", "VARCHAR"),
        ("stage", "VARCHAR"), ("error_type", "VARCHAR"), ("message", "VARCHAR"), ("occurred_at", "TIMESTAMP"),
        ("resolved_at", "TIMESTAMP"),
    ]


def test_primary_keys_refuse_duplicate_rows(con):
    migrate(con)
    con.execute("INSERT INTO utterances (conversation_id, utterance_index, speaker_role, speaker_name, text, "
                "text_normalized) VALUES ('c', 0, 'rep', '王磊', '您好', '您好')")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO utterances (conversation_id, utterance_index, speaker_role, speaker_name, "
                    "text, text_normalized) VALUES ('c', 0, 'rep', '王磊', '再见', '再见')")


def test_migrating_twice_is_a_no_op(con):
    migrate(con)
    con.execute("INSERT INTO runs (run_id, started_at, sop_version, tagger, inputs) "
                "VALUES ('r1', now(), 'v', 'rules.v1', ['data'])")
    before = {table: _columns(con, table) for table in TABLES}
    assert migrate(con) == []
    assert {table: _columns(con, table) for table in TABLES} == before
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (9,)
    assert con.execute("SELECT run_id FROM runs").fetchall() == [("r1",)]


def test_a_failing_migration_is_rolled_back_and_not_recorded(con, monkeypatch):
    migrate(con)
    broken = [(99, "broken", "CREATE TABLE half_done (a INTEGER); SELECT * FROM no_such_table;")]
    monkeypatch.setattr(migrate_module, "available_migrations", lambda folder="migrations": broken)
    with pytest.raises(duckdb.CatalogException):
        migrate(con)
    assert "half_done" not in _tables(con)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (9,)
