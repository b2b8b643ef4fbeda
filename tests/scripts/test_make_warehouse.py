"""scripts/make_warehouse.py: the synthetic warehouse bench/search_scale.py measures the board on,
built small (200 conversations): the product's schema, rows that hang together, text the
search normalises the way the writer does, and the board's search finding a planted phrase."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.access import Viewer
from pipeline.store import snapshot_path
from pipeline.store.migrate import available_migrations
from pipeline.text import normalize

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from make_warehouse import NODES, PLANTED, build  # noqa: E402

CONVERSATIONS = 200


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Path, dict]:
    db = tmp_path_factory.mktemp("warehouse") / "keynode.duckdb"
    return db, build(db, CONVERSATIONS, planted_every=7, log=lambda *_: None)


def _rows(db: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_the_warehouse_has_the_schema_and_rows_that_hang_together(warehouse):
    db, built = warehouse
    rows = built["rows"]
    assert rows["conversations"] == CONVERSATIONS
    assert rows["conversation_scores"] == CONVERSATIONS and rows["node_scores"] == CONVERSATIONS * len(NODES)
    assert _rows(db, "SELECT max(version) FROM schema_migrations")[0][0] == available_migrations()[-1][0]
    (utterances, stored_counts), = _rows(db, "SELECT (SELECT count(*) FROM utterances), "
                                             "(SELECT sum(utterance_count) FROM conversations)")
    assert utterances == stored_counts == rows["utterances"] and 40 * CONVERSATIONS < utterances < 60 * CONVERSATIONS
    tagged, = _rows(db, "SELECT count(DISTINCT (conversation_id, utterance_index)) / "
                        "(SELECT count(*) FROM utterances) FROM key_events")[0]
    assert 0.2 < tagged < 0.45  # ~30% of utterances carry a key event
    orphans = _rows(db, """SELECT (SELECT count(*) FROM key_events e ANTI JOIN utterances u
                                   USING (conversation_id, utterance_index)),
                                  (SELECT count(*) FROM conversation_notes n ANTI JOIN conversations c
                                   USING (conversation_id)),
                                  (SELECT count(*) FROM node_scores WHERE status = 'present'
                                   AND len(utterance_indexes) = 0)""")[0]
    assert orphans == (0, 0, 0)
    languages = dict(_rows(db, "SELECT language, count(*) FROM conversations GROUP BY 1"))
    assert set(languages) == {"zh", "en"} and languages["zh"] > languages["en"]
    teams, reps = _rows(db, "SELECT count(DISTINCT team), count(DISTINCT rep) FROM conversations")[0]
    assert teams == 10 and reps > 30  # 67 deals of ~100 reps
    assert built["snapshot_bytes"] > 0 and built["planted"] == {"phrase": PLANTED,
                                                                "utterances": CONVERSATIONS // 7}


def test_objection_notes_carry_the_library_fields_the_writer_would_store(warehouse):
    from pipeline.scoring.objections import library_fields

    db, _ = warehouse
    assert _rows(db, "SELECT count(*) FROM conversation_notes WHERE kind <> 'objection' "
                     "AND (theme IS NOT NULL OR quote_masked IS NOT NULL OR answer_masked IS NOT NULL)") == [(0,)]
    # Each conversation's customer names as the board reads them (dashboards.data._customer_names).
    rows = _rows(db, """SELECT n.quote, n.answer, n.theme, n.quote_masked, n.answer_masked,
                               list_distinct(list(u.speaker_name) || [any_value(c.customer)])
                        FROM conversation_notes n JOIN conversations c USING (conversation_id)
                        JOIN utterances u ON u.conversation_id = n.conversation_id AND u.speaker_role = 'customer'
                        WHERE n.kind = 'objection'
                        GROUP BY n.conversation_id, n.note_index, n.quote, n.answer, n.theme, n.quote_masked,
                                 n.answer_masked""")
    assert len(rows) > CONVERSATIONS and {row[2] for row in rows} == {"price", "budget", "discount", "competitor"}
    assert [row[2:5] for row in rows] == [library_fields(quote, answer, names) for quote, answer, *_, names in rows]


def test_stored_text_is_normalised_as_the_writer_normalises_it(warehouse):
    db, _ = warehouse
    pairs = _rows(db, "SELECT text, text_normalized FROM utterances")
    assert all(normalize(text) == normalized for text, normalized in pairs)


def test_the_boards_search_finds_exactly_the_planted_utterances(warehouse, monkeypatch):
    from dashboards import data

    db, _ = warehouse
    monkeypatch.setenv("KEYNODE_DB", str(db))
    planted = _rows(db, "SELECT u.conversation_id, u.utterance_index, c.team FROM utterances u "
                        "JOIN conversations c USING (conversation_id) WHERE contains(u.text, ?)", [PLANTED])
    admin = Viewer("admin", "admin", "admin")
    hits = data.search_utterances(admin, data.SearchQuery(text=PLANTED))
    assert set(zip(hits["conversation_id"], hits["utterance_index"])) == {(c, i) for c, i, _ in planted}
    assert hits["utterance_index"].eq(1).all() and hits["text"].str.contains(PLANTED).all()
    manager = Viewer("manager.east", "manager", "manager", team="华东一组")
    mine = data.search_utterances(manager, data.SearchQuery(text=PLANTED))
    assert set(mine["conversation_id"]) == {c for c, _, team in planted if team == "华东一组"}
