"""The data-access layer called directly, as each role: rows are filtered in the SQL, so what a
page does not show cannot be reached by calling the function either."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest

from dashboards import actions, data
from pipeline.access import Viewer
from pipeline.store import Store, snapshot_path


@pytest.fixture
def board_db(sample_db, monkeypatch):
    monkeypatch.setenv("KEYNODE_DB", str(sample_db))
    return sample_db


def _stored(db, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def _conversation_of(db, rep: str) -> str:
    return _stored(db, "SELECT min(conversation_id) FROM conversations WHERE rep = ?", [rep])[0][0]


@pytest.mark.parametrize(("role", "where", "params"), [
    ("admin", "TRUE", []), ("trainer", "TRUE", []), ("manager", "team = ?", ["华东一组"]),
    ("manager_south", "team = ?", ["华南二组"]), ("rep", "rep = ?", ["王磊"]), ("rep_south", "rep = ?", ["陈晨"])])
def test_each_role_lists_exactly_its_conversations(board_db, viewers, role, where, params):
    expected = {row[0] for row in _stored(board_db, f"SELECT conversation_id FROM conversations WHERE {where}", params)}
    assert set(data.conversations(viewers[role])["conversation_id"]) == expected
    assert data.overview_counts(viewers[role])["conversations"] == len(expected)
    hits = data.search_utterances(viewers[role], data.SearchQuery(node_ids=("opening",)))
    assert set(hits["conversation_id"]) <= expected and len(hits) > 0


@pytest.mark.parametrize("function", [data.utterances, data.key_events, data.event_tree, data.node_scores,
                                      data.conversation_metrics, data.conversation_notes, data.corrections])
def test_a_rep_gets_nothing_of_another_reps_conversation_from_any_function(board_db, viewers, function):
    others = _conversation_of(board_db, "陈晨")
    assert len(function(viewers["admin"], others)) > 0 or function is data.corrections
    assert function(viewers["rep"], others).empty
    assert data.conversation(viewers["rep"], others) is None
    assert data.recording(viewers["rep"], others) is None


def test_reps_and_managers_cannot_reach_other_coaching_pages(board_db, viewers):
    with pytest.raises(PermissionError):
        data.rep_node_table(viewers["rep"], "陈晨")
    with pytest.raises(PermissionError):
        data.weakest_nodes_table(viewers["manager"], "陈晨")
    assert data.visible_reps(viewers["rep"]) == ["王磊"]
    board = data.leaderboard_table(viewers["rep"], "华东一组")
    assert set(board["rep"]) == {"王磊", "张敏", "Emily Carter"}  # the team's ranking, aggregates only
    assert data.leaderboard_table(viewers["rep"], "华南二组").empty


def test_exemplars_from_other_teams_are_quoted_masked_and_not_openable(board_db, viewers):
    examples = data.exemplar_table(viewers["rep"], "next_step", "王磊")
    assert len(examples) > 0
    for example in examples.itertuples():
        mine = data.conversation(viewers["rep"], example.conversation_id) is not None
        assert example.openable == mine and example.quote


def test_a_trainer_sees_no_customer_name_anywhere(board_db, viewers):
    wanted = _stored(board_db, "SELECT conversation_id FROM conversations WHERE customer = '李女士' "
                               "AND source_path LIKE '%d1001_1_discovery%'")[0][0]
    trainer = viewers["trainer"]
    assert data.conversation(trainer, wanted)["customer"] == data.CUSTOMER_PLACEHOLDER
    transcript = data.utterances(trainer, wanted)
    assert not transcript["text"].str.contains("李女士|李姐").any()
    assert set(transcript.loc[transcript["speaker_role"].eq("customer"), "speaker_name"]) == {"[客户]"}
    assert "李女士" not in " ".join(data.conversations(trainer)["customer"].dropna())
    admin_text = " ".join(data.utterances(viewers["admin"], wanted)["text"])
    assert transcript["text"].str.len().sum() > 0 and admin_text  # the admin sees it unmasked


def test_search_with_an_injection_string_is_just_text(board_db, viewers):
    hits = data.search_utterances(viewers["admin"], data.SearchQuery(text="'; DROP TABLE utterances; --"))
    assert hits.empty
    assert _stored(board_db, "SELECT count(*) FROM utterances")[0][0] > 0


def test_search_words_must_all_occur_and_context_surrounds_each_hit(board_db, viewers):
    hits = data.search_utterances(viewers["admin"], data.SearchQuery(text="能不能 优惠"))
    assert len(hits) > 0 and all("能不能" in t and "优惠" in t for t in hits["text"].str.lower())
    context = data.search_context(viewers["admin"], hits.head(3))
    for hit in hits.head(3).itertuples():
        around = context[context["conversation_id"].eq(hit.conversation_id) & context["hit_index"].eq(hit.utterance_index)]
        assert hit.utterance_index in set(around["utterance_index"])
        assert set(around["utterance_index"]) <= set(range(hit.utterance_index - 2, hit.utterance_index + 3))


def test_actions_check_the_role_and_the_conversation(board_db, viewers):
    mine, others = _conversation_of(board_db, "王磊"), _conversation_of(board_db, "陈晨")
    with pytest.raises(PermissionError):
        actions.record_correction(viewers["rep"], mine, 0, "opening", "remove")  # reps dispute, not correct
    with pytest.raises(PermissionError):
        actions.record_correction(viewers["manager"], others, 0, "opening", "remove")  # another team's
    with pytest.raises(PermissionError):
        actions.open_dispute(viewers["rep"], others, "opening", "wrong")
    with pytest.raises(ValueError, match="no utterance #999"):
        actions.record_correction(viewers["manager"], mine, 999, "opening", "add")
    actions.record_correction(viewers["manager"], mine, 0, "opening", "remove", "not an opening")
    made = data.corrections(viewers["manager"], mine)
    assert (made["author"].iloc[-1], made["action"].iloc[-1]) == ("manager.east", "remove")
    assert data.corrections(viewers["rep_south"], mine).empty
    with pytest.raises(PermissionError):
        data.access_log(viewers["manager"])
    assert isinstance(data.access_log(viewers["admin"]), pd.DataFrame)


# -- the objection library ---------------------------------------------------------------------
def _library_texts(library: pd.DataFrame) -> list[str]:
    return [*library["example"], *(quote for members in library["members"] for quote, _ in members),
            *(answer["answer"] for answers in library["best_answers"] for answer in answers)]


def test_a_trainers_objection_library_shows_the_texts_masked_as_everywhere_else(board_db, viewers):
    trainer = viewers["trainer"]
    shown, raw = data.objection_library(trainer), data.objection_library(viewers["admin"])
    assert list(shown["theme"]) == list(raw["theme"]) == ["budget", "price", "competitor", "discount"]
    assert list(shown["objections"]) == list(raw["objections"]) == [5, 4, 3, 2]
    # Every wording and answer exactly as the trainer's conversation page masks it (data._mask).
    notes = pd.concat([data.conversation_notes(trainer, cid).assign(conversation_id=cid) for (cid,) in _stored(
        board_db, "SELECT DISTINCT conversation_id FROM conversation_notes WHERE kind = 'objection'")])
    objections = notes[notes["kind"].eq("objection")]
    assert {quote for members in shown["members"] for quote, _ in members} == set(objections["quote"])
    answers = set(zip(objections["conversation_id"], objections["answer"]))
    assert all((a["conversation_id"], a["answer"]) in answers for best in shown["best_answers"] for a in best)
    discount = shown.set_index("theme").loc["discount", "best_answers"]
    assert "[姓名]，跟经理申请到了，再减两千，另外送您一年的道路救援" in [a["answer"] for a in discount]
    assert not any("黄先生" in text for text in _library_texts(shown))  # the customer of that conversation
    assert any("黄先生" in text for text in _library_texts(raw))        # the admin reads it


@pytest.mark.parametrize(("role", "where", "params"), [
    ("manager", "team = ?", ["华东一组"]), ("rep_south", "rep = ?", ["陈晨"])])
def test_the_objection_library_counts_only_the_viewers_objections(board_db, viewers, role, where, params):
    library = data.objection_library(viewers[role])
    ((objections,),) = _stored(
        board_db, f"SELECT count(*) FROM conversation_notes WHERE kind = 'objection' "
                  f"AND conversation_id IN (SELECT conversation_id FROM conversations WHERE {where})", params)
    assert library["objections"].sum() == objections > 0
    visible = set(data.conversations(viewers[role])["conversation_id"])
    assert {a["conversation_id"] for best in library["best_answers"] for a in best} <= visible


LIBRARY_ROLES = ("admin", "trainer", "manager", "rep")


def _libraries(monkeypatch, db, viewers) -> dict[str, pd.DataFrame]:
    monkeypatch.setenv("KEYNODE_DB", str(db))
    return {role: data.objection_library(viewers[role]) for role in LIBRARY_ROLES}


def _copy(db, target):
    target.parent.mkdir(exist_ok=True)
    shutil.copy(db, target)
    return target


def test_objection_notes_stored_before_migration_008_give_the_same_library(sample_db, tmp_path, monkeypatch,
                                                                           viewers):
    """Notes written before migration 008 have no theme or masked texts: the board computes them
    for those rows in a snapshot published before the migration (no such columns) and beside
    notes written since (some NULL); the writer fills them when it opens the migrated database,
    and the library stays the same."""
    expected = _libraries(monkeypatch, sample_db, viewers)
    db = _copy(sample_db, tmp_path / "old" / "keynode.duckdb")
    with duckdb.connect(str(db)) as con:  # the samples as a database of migration 007 holds them
        for column in ("theme", "quote_masked", "answer_masked"):
            con.execute(f"ALTER TABLE conversation_notes DROP COLUMN {column}")
        con.execute("DELETE FROM schema_migrations WHERE version = 8")
    shutil.copy(db, snapshot_path(db))  # and the snapshot it published
    for role, library in _libraries(monkeypatch, db, viewers).items():
        pd.testing.assert_frame_equal(library, expected[role], obj=f"{role}, a snapshot from before 008")
    with Store(db):  # migrates (008: the columns), fills every objection note's, and publishes
        pass
    assert _stored(db, "SELECT count(*) > 0, count(*) = count(theme), count(*) = count(quote_masked) "
                       "FROM conversation_notes WHERE kind = 'objection'") == [(True, True, True)]
    for role, library in _libraries(monkeypatch, db, viewers).items():
        pd.testing.assert_frame_equal(library, expected[role], obj=f"{role}, migrated from 007")
    mixed = _copy(sample_db, tmp_path / "mixed" / "keynode.duckdb")
    with duckdb.connect(str(mixed)) as con:  # 华东一组's notes from before the migration, the others' since
        con.execute("UPDATE conversation_notes SET theme = NULL, quote_masked = NULL, answer_masked = NULL "
                    "WHERE conversation_id IN (SELECT conversation_id FROM conversations WHERE team = '华东一组')")
    shutil.copy(mixed, snapshot_path(mixed))
    assert _stored(mixed, "SELECT count(theme) > 0 AND count(theme) < count(*) FROM conversation_notes "
                          "WHERE kind = 'objection'") == [(True,)]
    for role, library in _libraries(monkeypatch, mixed, viewers).items():
        pd.testing.assert_frame_equal(library, expected[role], obj=f"{role}, some notes from before 008")


# -- original texts kept before redaction (configs/privacy.yaml keep_original: true) -------------
@pytest.mark.parametrize("role", ["manager", "trainer", "rep"])
def test_only_admins_read_the_original_texts(originals_db, monkeypatch, viewers, role):
    db, conversation_id = originals_db
    monkeypatch.setenv("KEYNODE_DB", str(db))
    with pytest.raises(PermissionError):
        data.original_texts(viewers[role], conversation_id)
    rows = data.original_texts(viewers["admin"], conversation_id)
    assert list(rows.columns) == list(data.ORIGINAL_TEXT_COLUMNS)
    assert rows[["utterance_index", "text", "original"]].values.tolist() == [
        [1, "我手机[手机号]，邮箱[邮箱]", "我手机13812345678，邮箱zhang.san@qq.com"]]
    assert data.original_texts(viewers["admin"], "no-such-conversation").empty


def test_original_texts_are_empty_on_a_snapshot_from_before_migration_7(board_db, viewers):
    assert data.original_texts(viewers["admin"], _conversation_of(board_db, "王磊")).empty
