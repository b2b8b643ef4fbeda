"""The data-access layer called directly, as each role: rows are filtered in the SQL, so what a
page does not show cannot be reached by calling the function either."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from dashboards import actions, data
from pipeline.access import Viewer
from pipeline.store import snapshot_path


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
