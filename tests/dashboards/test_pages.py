"""Every board page renders on a real (temporary) database, and shows what is stored there."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.graph import tree_dot

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboards" / "app.py")
PAGES = ("overview", "conversations", "conversation", "search", "coaching")


def _page(page: str, db: Path, monkeypatch, **query) -> AppTest:
    monkeypatch.setenv("KEYNODE_DB", str(db))
    monkeypatch.setenv("KEYNODE_SOP", str(ROOT / "configs" / "sop.yaml"))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    for key, value in query.items():
        app.query_params[key] = value
    app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_what_to_run_when_there_is_no_data(page, tmp_path, monkeypatch):
    app = _page(page, tmp_path / "empty.duckdb", monkeypatch)
    assert "make demo" in app.info[0].value


def test_overview_counts_the_stored_rows_and_lists_open_failures(sample_db, monkeypatch):
    app = _page("overview", sample_db, monkeypatch)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["会话数"] == "27"
    assert metrics["未解决的失败"] == "1"
    coverage, failures = app.dataframe[0].value, app.dataframe[1].value
    assert list(coverage["节点"]) == ["开场白", "客户需求", "产品介绍", "客户认可", "价格异议", "下一步约定"]
    assert list(failures["source_path"]) == ["broken.json"]


def test_conversation_list_filters_by_rep(sample_db, monkeypatch):
    app = _page("conversations", sample_db, monkeypatch)
    assert len(app.dataframe[0].value) == 27
    app.multiselect[0].select("David Lin").run()
    reps = set(app.dataframe[0].value["rep"])
    assert reps == {"David Lin"}


def test_conversation_page_opens_the_conversation_named_in_the_url(sample_db, monkeypatch):
    import duckdb

    from pipeline.store import snapshot_path

    with duckdb.connect(str(snapshot_path(sample_db)), read_only=True) as con:
        wanted, utterance_count = con.execute(
            "SELECT conversation_id, utterance_count FROM conversations "
            "WHERE source_path LIKE '%wechat_saas_d1001_1_discovery.txt'").fetchone()
    app = _page("conversation", sample_db, monkeypatch, id=wanted)
    assert app.selectbox(key="pick").value == wanted
    metrics = {metric.label: metric.value for metric in app.metric}
    assert (metrics["销售"], metrics["客户"], metrics["结果"]) == ("王磊", "李女士", "won")
    assert len(app.chat_message) == utterance_count
    assert len(app.get("graphviz_chart")) == 1
    scores = app.dataframe[1].value
    assert list(scores["node_id"]) == ["开场白", "客户需求", "产品介绍", "客户认可", "价格异议", "下一步约定"]


def _sample_conversation(db: Path, file_name: str) -> str:
    import duckdb

    from pipeline.store import snapshot_path

    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        (conversation_id,) = con.execute("SELECT conversation_id FROM conversations WHERE source_path LIKE ?",
                                         [f"%{file_name}"]).fetchone()
    return conversation_id


def test_conversation_page_lists_the_auto_notes_with_their_utterances(sample_db, open_page):
    wanted = _sample_conversation(sample_db, "wechat_saas_d1001_1_discovery.txt")
    app = open_page("conversation", sample_db, id=wanted)
    notes_tab = next(tab for tab in app.tabs if tab.label == "会话笔记")
    lines = [text.value for text in notes_tab.text]
    assert "客户需求：「预算还没细算，最后肯定要赵总点头，我先筛一轮」" in lines
    assert len(lines) == 7  # 3 needs, 2 approvals, 2 next steps (a proposal and its confirmations are one)
    where = [caption.value for caption in notes_tab.caption]
    assert where[lines.index("客户需求：「预算还没细算，最后肯定要赵总点头，我先筛一轮」")] == "#12"


@pytest.mark.parametrize(("lang", "tab", "talk_ratio", "pace", "not_applicable"), [
    ("zh", "会话指标", "销售说话占比", "语速", "不适用"),
    ("en", "Conversation metrics", "Rep talk ratio", "Speaking pace", "not applicable")])
def test_conversation_page_shows_the_conversation_metrics(sample_db, open_page, lang, tab, talk_ratio, pace,
                                                          not_applicable):
    wanted = _sample_conversation(sample_db, "wechat_saas_d1001_1_discovery.txt")
    app = open_page("conversation", sample_db, lang=lang, id=wanted)
    metrics_tab = next(element for element in app.tabs if element.label == tab)
    table = metrics_tab.dataframe[0].value.set_index("metric")
    assert len(table) == 11
    assert table.index[0] == talk_ratio  # the order of docs/scoring.md
    assert table.loc[talk_ratio, "value"] == "70%"
    assert table.loc[talk_ratio, "explanation"] == "销售文字量占 70%（按字数 437/622，聊天没有语音时长）"
    assert table.loc[pace, "value"] == not_applicable  # a chat is typed: no speaking pace
    assert table.loc[pace, "explanation"] == "聊天是打字，不计算语速"  # in the conversation's language


def test_conversation_page_explains_notes_and_metrics_missing_from_an_older_snapshot(open_page, chat_db):
    import duckdb

    from pipeline.store import snapshot_path

    db = chat_db([("rep", "您好，我是云启科技的王磊"), ("customer", "你好")])
    with duckdb.connect(str(snapshot_path(db))) as con:  # as published before migration 005
        con.execute("DROP TABLE conversation_metrics")
        con.execute("DROP TABLE conversation_notes")
    app = open_page("conversation", db)
    infos = [info.value for info in app.info]
    assert any(info.startswith("这个会话还没有笔记") for info in infos)
    assert any(info.startswith("这个会话还没有指标") for info in infos)


def test_search_finds_chinese_substrings_and_filters_by_event(sample_db, monkeypatch):
    app = _page("search", sample_db, monkeypatch)
    app.text_input(key="search_text").input("太贵").run()
    hits = app.dataframe[0].value
    assert len(hits) > 0 and all("太贵" in text for text in hits["text"])
    app.text_input(key="search_text").input("").run()
    app.multiselect(key="search_nodes").select("price_objection").run()
    hits = app.dataframe[0].value
    assert len(hits) > 0 and all("价格异议" in nodes for nodes in hits["nodes"])


def test_english_interface(sample_db, monkeypatch):
    app = _page("overview", sample_db, monkeypatch)
    app.selectbox(key="lang").select("en").run()
    assert app.title[0].value == "Keynode conversation insights"
    assert list(app.dataframe[0].value["Node"])[0] == "Opening"


def test_tree_dot_nests_answers_and_marks_missed_nodes():
    import pandas as pd

    tree = pd.DataFrame([
        {"tree_key": 0, "parent_key": None, "kind": "occurrence", "node_id": "price_objection",
         "speaker_role": "customer", "first_utterance": 3, "last_utterance": 3, "depth": 0},
        {"tree_key": 1, "parent_key": 0, "kind": "reply", "node_id": None,
         "speaker_role": "rep", "first_utterance": 4, "last_utterance": 4, "depth": 1},
    ])
    dot = tree_dot(tree, {3: '太贵了 "真的"', 4: "理解"}, lambda node: node or "reply", ["next_step"])
    assert 'n0 [label="price_objection #3\\n太贵了 \\"真的\\""' in dot
    assert "n0 -> n1 [style=dashed];" in dot
    assert 'missing0 [label="next_step ✗"' in dot and "n1 -> missing0" not in dot and "n0 -> missing0" in dot


def test_a_call_recording_plays_from_a_key_event(sample_db, monkeypatch):
    import duckdb

    from pipeline.store import snapshot_path

    with duckdb.connect(str(snapshot_path(sample_db)), read_only=True) as con:
        (wanted,) = con.execute("SELECT conversation_id FROM conversations WHERE source_format = 'audio'").fetchone()
    app = _page("conversation", sample_db, monkeypatch, id=wanted)
    audio = app.get("audio")
    assert len(audio) == 1
    assert audio[0].proto.start_time == 0
    names = [message.name for message in app.chat_message]
    assert names == ["user", "assistant"]  # the customer's turn starts first, then the rep's


def test_amr_recordings_are_converted_for_the_browser(tmp_path):
    import io
    import wave

    from dashboards.data import playable_audio

    amr = ROOT / "data" / "samples" / "calls" / "call_zh_education_zhangmin_d5004.amr"
    content, mime = playable_audio(str(amr))
    assert mime == "audio/wav"
    with wave.open(io.BytesIO(content)) as decoded:
        assert (decoded.getnchannels(), decoded.getframerate()) == (1, 16_000)
        assert 80 < decoded.getnframes() / 16_000 < 90  # the call is 83.6 s long
    mp3 = ROOT / "data" / "samples" / "calls" / "call_zh_b2b_liuyang_d5006.mp3"
    assert playable_audio(str(mp3)) == (str(mp3), "audio/mpeg")
