"""What dashboards/data.py does to stay fast on a large warehouse (docs/scaling.md, "Search and
overview at 100,000 conversations") returns what the plain queries return: search in two steps
(the hits, then their details) against the same search in one statement; the leaderboard
reading only what its metric needs against the analytics on every score; and the snapshot kept
open between queries, replaced by a newer one without breaking a query still running on it."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dashboards import data
from pipeline.scoring import analytics
from pipeline.store import snapshot_path

SEARCHES = [data.SearchQuery(text="价格"), data.SearchQuery(text="能不能 优惠"), data.SearchQuery(text="the"),
            data.SearchQuery(text="没有这个词"), data.SearchQuery(node_ids=("price_objection",)),
            data.SearchQuery(node_ids=("opening", "next_step"), limit=7),
            data.SearchQuery(text="您", node_ids=("customer_needs",)),
            data.SearchQuery(filters=data.ConversationFilter(outcomes=("won",))),
            data.SearchQuery(node_ids=("next_step",), filters=data.ConversationFilter(teams=("华南二组",))),
            data.SearchQuery(text="价格", limit=3)]


@pytest.fixture
def board_db(sample_db, monkeypatch):
    monkeypatch.setenv("KEYNODE_DB", str(sample_db))
    return sample_db


def _one_statement(monkeypatch, viewer, search) -> pd.DataFrame:
    """The search as one statement: the path search_utterances falls back to."""
    with monkeypatch.context() as patched:
        patched.setattr(data, "_hits", lambda keys: None)
        return data.search_utterances(viewer, search)


@pytest.mark.parametrize("role", ["admin", "manager", "trainer", "rep"])
def test_search_in_two_steps_returns_what_one_statement_returns(board_db, viewers, monkeypatch, role):
    for search in SEARCHES:
        two_steps = data.search_utterances(viewers[role], search)
        pd.testing.assert_frame_equal(two_steps, _one_statement(monkeypatch, viewers[role], search), check_exact=True)
    assert len(data.search_utterances(viewers[role], SEARCHES[4])) > 0


def test_a_key_event_without_its_utterance_falls_back_to_one_statement(chat_db, viewers, monkeypatch):
    db = chat_db([("rep", "您好，我是云启科技的王磊，现在方便吗？"), ("customer", "方便，你说。")])
    monkeypatch.setenv("KEYNODE_DB", str(db))
    with duckdb.connect(str(snapshot_path(db))) as con:  # an event the writer never writes: no utterance 99
        con.execute("""INSERT INTO key_events (conversation_id, utterance_index, node_id, confidence, evidence,
                                               source, sop_version)
                       SELECT conversation_id, 99, 'opening', 1.0, '', 'test', sop_version FROM conversations""")
    search = data.SearchQuery(node_ids=("opening",))
    hits = data.search_utterances(viewers["admin"], search)
    assert hits["utterance_index"].tolist() == [0]
    pd.testing.assert_frame_equal(hits, _one_statement(monkeypatch, viewers["admin"], search), check_exact=True)


@pytest.mark.parametrize("role", ["admin", "manager", "rep", "trainer"])
def test_the_leaderboard_ranks_as_the_analytics_do_on_every_score(board_db, viewers, role):
    viewer = viewers[role]
    every = data._score_tables(*data._team_scope(viewer))  # conversations, node scores, conversation scores
    for team in (None, "华东一组", "华南二组", "no such team"):
        for metric in ("total", "coverage", "order_conformance", "node:price_objection", "node:opening"):
            expected = analytics.leaderboard(every[2], every[1], every[0], team=team, metric=metric,
                                             min_conversations=data.MIN_RANKED_CONVERSATIONS)
            pd.testing.assert_frame_equal(data.leaderboard_table(viewer, team, metric), expected, check_exact=True)
    with pytest.raises(ValueError, match="metric"):
        data.leaderboard_table(viewer, None, "speed")


def test_a_newer_snapshot_is_read_at_once_and_the_older_closed(chat_db, make_conversation, sop_path, viewers,
                                                                 monkeypatch):
    from pipeline.analyze import analyze, fingerprint
    from pipeline.events import RuleTagger
    from pipeline.sop import load_sop
    from pipeline.store import Store

    db = chat_db([("rep", "您好"), ("customer", "你好")])
    monkeypatch.setenv("KEYNODE_DB", str(db))
    assert data.overview_counts(viewers["admin"])["conversations"] == 1
    first = data._OPEN[str(db)][1]
    sop, tagger, chat = load_sop(sop_path), RuleTagger(), make_conversation([("rep", "报价发您了"), ("customer", "收到")],
                                                                        conversation_id="conv-second")
    with Store(db) as store:  # a second conversation, published on close
        store.begin_run("second", sop.version, tagger.name, ["test"])
        store.write_analysis(analyze(chat, sop, tagger), "second", fingerprint(chat, sop, tagger))
        store.finish_run("second", 1, 0, 0)
    assert data.overview_counts(viewers["admin"])["conversations"] == 2
    second = data._OPEN[str(db)][1]
    assert second is not first and first.retired
    with pytest.raises(duckdb.ConnectionException):
        first.con.execute("SELECT 1")  # closed: nothing was using it


def test_a_query_still_running_on_the_older_snapshot_keeps_it_open(chat_db, monkeypatch):
    db = chat_db([("rep", "您好"), ("customer", "你好")])
    monkeypatch.setenv("KEYNODE_DB", str(db))  # not the demo database, which a fresh clone lacks
    version = data.snapshot_version()
    running = data._acquire(str(db), version)  # a query of another session, still reading
    newer = data._acquire(str(db), version + 1)  # meanwhile a newer snapshot is opened
    try:
        assert running.retired and running.con.execute("SELECT count(*) FROM snapshot.conversations").fetchone() == (1,)
    finally:
        data._release(running)
        data._release(newer)
    with pytest.raises(duckdb.ConnectionException):
        running.con.execute("SELECT 1")
