"""The board's test database: the bundled samples processed (without Prefect) into a temporary
file, built once for every board test, and a helper opening one page of the board on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipeline.access import Viewer
from pipeline.analyze import analyze, fingerprint
from pipeline.events import RuleTagger
from pipeline.ingest import TEXT_EXTENSIONS, discover, find_manifest, load_manifest, load_rep_directory, read_source
from pipeline.ingest.metadata import ManifestRow
from pipeline.sop import load_sop
from pipeline.store import Store
from pipeline.transcribe.whisper import transcribe_recording

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboards" / "app.py")


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> Path:
    """The bundled samples processed (without Prefect) into a temporary database: the 26 text
    conversations, one transcribed recording (no team, no outcome) and one open failure."""
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


@pytest.fixture
def chat_db(tmp_path, make_conversation) -> Callable[..., Path]:
    """``chat_db([("rep", "您好"), ("customer", "你好")])``: a database holding that one chat
    (rule tagger, no rep, no team, no outcome)."""
    def build(turns) -> Path:
        db = tmp_path / "keynode.duckdb"
        sop = load_sop(ROOT / "configs" / "sop.yaml")
        chat, tagger = make_conversation(turns), RuleTagger()
        with Store(db) as store:
            store.begin_run("test", sop.version, tagger.name, ["test"])
            store.write_analysis(analyze(chat, sop, tagger), "test", fingerprint(chat, sop, tagger))
            store.finish_run("test", 1, 0, 0)
        return db

    return build


@pytest.fixture
def originals_db(tmp_path, make_conversation) -> tuple[Path, str]:
    """A database holding one chat of 华东一组 redacted before storing with its original texts
    kept (keep_original: true), and the chat's id."""
    from pipeline.privacy import PrivacyConfig, redact_conversation

    db = tmp_path / "keynode.duckdb"
    sop, tagger, privacy = load_sop(ROOT / "configs" / "sop.yaml"), RuleTagger(), PrivacyConfig(keep_original=True)
    chat, originals = redact_conversation(make_conversation(
        [("rep", "您好，我是云启科技的王磊"), ("customer", "我手机13812345678，邮箱zhang.san@qq.com")],
        team="华东一组", rep="王磊"), privacy.redaction)
    with Store(db) as store:
        store.begin_run("test", sop.version, tagger.name, ["test"])
        store.write_analysis(analyze(chat, sop, tagger), "test", fingerprint(chat, sop, tagger, privacy.fingerprint()),
                             originals=originals, privacy=privacy.fingerprint())
        store.finish_run("test", 1, 0, 0)
    return db, chat.conversation_id


#: The demo accounts of configs/users.yaml, one per role (and a second rep and manager).
_VIEWERS = {
    "admin": Viewer("admin", "管理员", "admin"),
    "manager": Viewer("manager.east", "周经理", "manager", team="华东一组"),
    "manager_south": Viewer("manager.south", "吴经理", "manager", team="华南二组"),
    "trainer": Viewer("trainer", "培训师 林老师", "trainer"),
    "rep": Viewer("wang.lei", "王磊", "rep", team="华东一组", rep="王磊"),
    "rep_south": Viewer("chen.chen", "陈晨", "rep", team="华南二组", rep="陈晨"),
}


@pytest.fixture
def viewers() -> dict[str, Viewer]:
    """Viewers by role as in configs/users.yaml: admin, manager (华东一组), manager_south
    (华南二组), trainer, rep (王磊, 华东一组), rep_south (陈晨, 华南二组)."""
    return dict(_VIEWERS)


@pytest.fixture
def open_page(monkeypatch) -> Callable[..., AppTest]:
    """``open_page("coaching", db, lang="en", viewer=VIEWERS["rep"], id=...)``: the board on ``db``
    (``$KEYNODE_DB``) logged in as ``viewer`` (the admin by default), in ``lang``, switched to
    ``app_pages/<page>.py`` with the given query parameters; it fails the test if the page raised."""
    def run(page: str, db: Path, lang: str = "zh", viewer: Viewer = _VIEWERS["admin"], **query: str) -> AppTest:
        monkeypatch.setenv("KEYNODE_DB", str(db))
        monkeypatch.setenv("KEYNODE_SOP", str(ROOT / "configs" / "sop.yaml"))
        monkeypatch.setenv("KEYNODE_USERS", str(ROOT / "configs" / "users.yaml"))
        app = AppTest.from_file(APP, default_timeout=60)
        app.session_state["viewer"] = viewer
        app.run()
        if lang != "zh":
            app.selectbox(key="lang").select(lang).run()
        for key, value in query.items():
            app.query_params[key] = value
        app.switch_page(f"app_pages/{page}.py").run()
        assert not app.exception, [e.value for e in app.exception]
        return app
    return run
