"""The coaching page (leaderboard, one rep, won vs lost) and the data-layer functions behind it,
on the samples' temporary database (tests/dashboards/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboards import data
from pipeline.access import Viewer
from pipeline.scoring import analytics
from pipeline.store import snapshot_path

ADMIN = Viewer("admin", "管理员", "admin")
TEAMS = {"华东一组": {"张敏", "王磊", "Emily Carter"}, "华南二组": {"陈晨", "刘洋", "David Lin"}}
INCONCLUSIVE_ZH = ("会话太少，无法得出任何结论：赢单 9 个、丢单 8 个，每类至少需要 10 个。下表仅供参考。"
                   "另有 10 个进行中或没有结果的会话未计入。")
INCONCLUSIVE_EN = ("Too few conversations to conclude anything: 9 won and 8 lost, at least 10 of each are needed. "
                   "The table is for reference only. 10 open conversation(s) or conversation(s) without an "
                   "outcome were left out.")


def _raw_tables(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """conversations, node_scores and conversation_scores as stored, without the data layer."""
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        return tuple(con.execute(f"SELECT * FROM {table}").df()
                     for table in ("conversations", "node_scores", "conversation_scores"))


def _leaderboards(app) -> dict[str, pd.DataFrame]:
    return {tab.label: tab.dataframe[0].value for tab in app.tabs}


# -- the page ---------------------------------------------------------------------------------
def test_the_samples_have_too_few_won_and_lost_deals_to_conclude_anything(sample_db):
    conversations, _, _ = _raw_tables(sample_db)
    outcomes = conversations["outcome"].value_counts(dropna=False).to_dict()
    # 26 sample chats: 9 won, 8 lost, 9 open; plus the transcribed call, which has no outcome.
    assert (outcomes["won"], outcomes["lost"], outcomes["open"], len(conversations)) == (9, 8, 9, 27)


@pytest.mark.parametrize(("lang", "title", "message"), [("zh", "辅导", INCONCLUSIVE_ZH),
                                                       ("en", "Coaching", INCONCLUSIVE_EN)])
def test_coaching_page_ranks_each_team_and_warns_that_won_vs_lost_is_inconclusive(
        sample_db, open_page, lang, title, message):
    app = open_page("coaching", sample_db, lang=lang)
    assert app.title[0].value == title
    boards = _leaderboards(app)
    assert set(boards) == set(TEAMS)
    for team, board in boards.items():
        assert set(board["rep"]) == TEAMS[team]
        assert list(board["rank"]) == [1, 2, 3]
        assert board["value"].is_monotonic_decreasing
        assert list(board["rep"]) == list(data.leaderboard_table(ADMIN, team)["rep"])
    assert [warning.value for warning in app.warning] == [message]
    first = app.dataframe[-1].value.iloc[0]
    assert (first["won_count"], first["lost_count"]) == (9, 8)
    assert not app.dataframe[-1].value["significant"].any()  # never significant when inconclusive


def test_leaderboard_ranks_by_the_chosen_metric_and_leaves_reps_with_too_few_calls_unranked(sample_db, open_page):
    app = open_page("coaching", sample_db)
    assert "节点得分：价格异议" in app.selectbox(key="rank_by").options
    app.selectbox(key="rank_by").select("coverage").run()
    app.number_input(key="min_conversations").set_value(5).run()
    board = _leaderboards(app)["华东一组"]
    expected = data.leaderboard_table(ADMIN, "华东一组", "coverage", 5)
    assert list(board["rep"]) == list(expected["rep"])
    ranked = board[board["rank"].notna()]
    assert set(ranked["rep"]) == {"张敏", "王磊"}  # five conversations each in the team
    assert list(ranked["rank"]) == [1, 2] and ranked["value"].is_monotonic_decreasing
    unranked = board[board["rank"].isna()]
    assert list(unranked["rep"]) == ["Emily Carter"]  # four conversations in the team
    assert list(unranked["reason"]) == ["会话少于 5 个，不排名"]
    assert set(ranked["reason"]) == {""}


def test_one_rep_shows_node_averages_weakest_nodes_trend_and_peer_exemplars(sample_db, open_page):
    app = open_page("coaching", sample_db, lang="en")
    app.selectbox(key="coaching_rep").select("David Lin").run()
    averages = app.dataframe[2].value
    assert list(averages["node_id"]) == ["Opening", "Customer needs", "Product introduction", "Customer approval",
                                         "Price objection", "Next-step agreement"]
    assert set(averages["rep"]) == {"David Lin"}
    weakest = app.dataframe[3].value
    expected = data.weakest_nodes_table(ADMIN, "David Lin")
    assert len(weakest) == len(expected) > 0
    assert list(weakest["gap_to_team"]) == pytest.approx(list(expected["gap_to_team"]))
    assert len(app.get("vega_lite_chart")) == 1  # David Lin's calls fall in three different weeks
    weakest_label = weakest["node_id"].iloc[0]
    assert f"Peer exemplars: {weakest_label}" in [subheader.value for subheader in app.subheader]
    exemplars = data.exemplar_table(ADMIN, expected["node_id"].iloc[0], "David Lin")
    links = app.get("page_link")
    assert len(links) == len(exemplars) > 0
    assert [link.proto.query_string for link in links] == [f"id={cid}" for cid in exemplars["conversation_id"]]
    assert {link.proto.page for link in links} == {"conversation"}  # the conversation page, url_path "conversation"
    assert "David Lin" not in " ".join(link.proto.label for link in links)  # peers only


def test_a_rep_with_an_undated_call_is_told_it_is_left_out_of_the_trend(sample_db, open_page):
    app = open_page("coaching", sample_db, lang="en")
    app.selectbox(key="coaching_rep").select("Emily Carter").run()
    captions = [caption.value for caption in app.caption]
    assert "1 conversation(s) without a start time are left out of the trends." in captions


def test_a_conclusive_comparison_is_shown_as_information_with_the_association_coefficients(
        sample_db, open_page, monkeypatch):
    # With 5 per class required, the samples' 9 won and 8 lost deals are enough to conclude.
    outcome_table = data.outcome_table
    monkeypatch.setattr(data, "outcome_table", lambda viewer: outcome_table(viewer, min_per_class=5))
    app = open_page("coaching", sample_db, lang="en")
    assert not app.warning
    assert app.info[-1].value.startswith("Compared 9 won and 8 lost conversations. Differences are associations")
    table = app.dataframe[-1].value
    node_totals = table[table["feature"].str.endswith(" · score") & ~table["feature"].eq("Call score")]
    assert node_totals["coefficient"].notna().any()


def test_coaching_without_reps_or_teams_explains_itself(open_page, chat_db):
    db = chat_db([("rep", "您好，我是云启科技的王磊"), ("customer", "你好，你们多少钱？")])
    app = open_page("coaching", db)
    infos = [info.value for info in app.info]
    assert "会话没有团队信息，下面是全部销售的排名。" in infos
    assert "这个团队还没有可排名的会话。" in infos
    assert any(info.startswith("会话都没有销售信息") for info in infos)
    assert [warning.value for warning in app.warning] == [
        "会话太少，无法得出任何结论：赢单 0 个、丢单 0 个，每类至少需要 10 个。下表仅供参考。"
        "另有 1 个进行中或没有结果的会话未计入。"]


# -- the data layer ---------------------------------------------------------------------------
@pytest.fixture
def board_db(sample_db, monkeypatch) -> Path:
    """The data layer pointed at the samples' database."""
    monkeypatch.setenv("KEYNODE_DB", str(sample_db))
    return sample_db


@pytest.mark.parametrize("team", ["华东一组", "华南二组", None])
@pytest.mark.parametrize("metric", ["total", "coverage", "order_conformance", "node:price_objection"])
def test_leaderboard_table_is_analytics_leaderboard_on_the_stored_tables(board_db, team, metric):
    conversations, node_scores, conversation_scores = _raw_tables(board_db)
    expected = analytics.leaderboard(conversation_scores, node_scores, conversations, team=team, metric=metric,
                                     min_conversations=data.MIN_RANKED_CONVERSATIONS)
    board = data.leaderboard_table(ADMIN, team, metric)
    pd.testing.assert_frame_equal(board, expected)
    assert len(board) > 0


def test_rep_tables_are_the_analytics_of_the_stored_tables(board_db):
    conversations, node_scores, conversation_scores = _raw_tables(board_db)
    everyone = analytics.rep_node_averages(node_scores, conversations)
    pd.testing.assert_frame_equal(data.rep_node_table(ADMIN, "王磊"),
                                  everyone[everyone["rep"].eq("王磊")].reset_index(drop=True))
    pd.testing.assert_frame_equal(data.weakest_nodes_table(ADMIN, "王磊"),
                                  analytics.weakest_nodes(node_scores, conversations, "王磊"))
    trend, note = data.rep_trend_table(ADMIN, "王磊")
    expected, _ = analytics.rep_trends(node_scores, conversations)
    pd.testing.assert_frame_equal(trend, expected[expected["rep"].eq("王磊")].reset_index(drop=True))
    assert note.undated_conversations == 0
    pd.testing.assert_frame_equal(data.exemplar_table(ADMIN, "next_step", "王磊")[list(analytics.EXEMPLAR_COLUMNS)],
                                  analytics.exemplars(node_scores, conversations, "next_step", rep="王磊"))
    table, summary = data.outcome_table(ADMIN)
    expected_table, expected_summary = analytics.outcome_analysis(conversation_scores, node_scores, conversations)
    pd.testing.assert_frame_equal(table, expected_table)
    assert summary == expected_summary
    assert (summary.conclusive, summary.won_conversations, summary.lost_conversations) == (False, 9, 8)


def test_conversation_metrics_and_notes_read_the_new_tables(board_db):
    with duckdb.connect(str(snapshot_path(board_db)), read_only=True) as con:
        (wanted,) = con.execute("SELECT conversation_id FROM conversations "
                                "WHERE source_path LIKE '%wechat_saas_d1001_1_discovery.txt'").fetchone()
    metrics = data.conversation_metrics(ADMIN, wanted).set_index("name")
    assert len(metrics) == 11
    assert metrics.loc["talk_ratio", "unit"] == "ratio" and metrics.loc["talk_ratio", "applicable"]
    assert not metrics.loc["speaking_pace", "applicable"] and pd.isna(metrics.loc["speaking_pace", "value"])
    notes = data.conversation_notes(ADMIN, wanted)
    assert list(notes["note_index"]) == list(range(len(notes)))
    need = notes[notes["line"].eq("客户需求：「预算还没细算，最后肯定要赵总点头，我先筛一轮」")]
    assert list(need["kind"]) == ["need"] and list(need["utterance_indexes"].iloc[0]) == [12]
    assert data.conversation_notes(ADMIN, "no-such-conversation").empty
