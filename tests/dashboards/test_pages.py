"""Every board page renders on a real (temporary) database, and shows what is stored there."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.graph import tree_dot
from pipeline.analyze import analyze, fingerprint
from pipeline.events import RuleTagger
from pipeline.ingest import TEXT_EXTENSIONS, discover, find_manifest, load_manifest, load_rep_directory, read_source
from pipeline.ingest.metadata import ManifestRow
from pipeline.sop import load_sop
from pipeline.store import Store
from pipeline.transcribe.whisper import transcribe_recording

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboards" / "app.py")
PAGES = ("overview", "conversations", "conversation", "search")


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    """The bundled samples processed (without Prefect) into a temporary database."""
    db = tmp_path_factory.mktemp("board") / "keynode.duckdb"
    samples = ROOT / "data" / "samples"
    sop = load_sop(ROOT / "configs" / "sop.yaml")
    tagger = RuleTagger()
    manifest = load_manifest(find_manifest(samples))
    reps = load_rep_directory(ROOT / "configs" / "reps.yaml")
    with Store(db) as store:
        store.begin_run("test", sop.version, tagger.name, [str(samples)])
        for path in discover([samples]):
            if path.suffix not in TEXT_EXTENSIONS:
                continue  # sample calls: one transcribed recording below is enough here
            for conversation in read_source(path, manifest, reps).conversations:
                store.write_analysis(analyze(conversation, sop, tagger), "test",
                                     fingerprint(conversation, sop, tagger))
        call = transcribe_recording(ROOT / "tests" / "data" / "audio" / "en_stereo_2spk.wav",
                                    ManifestRow(file="call", language="en", rep="Emily Carter", customer="Sam"),
                                    sop, cache_dir=tmp_path_factory.mktemp("transcripts"))
        store.write_analysis(analyze(call, sop, tagger), "test", fingerprint(call, sop, tagger))
        store.record_failure("test", "broken.json", None, "parse", "IngestError",
                             "broken.json: invalid JSON at line 1. Fix: fix the JSON syntax.")
        store.finish_run("test", 27, 0, 1)
    return db


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
