"""Corrections feed training; re-tagging reuses stored sentence vectors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.analyze import analyze, fingerprint
from pipeline.cli import corrected_dialogues, main
from pipeline.events import RuleTagger
from pipeline.events import embeddings as embeddings_module
from pipeline.store import Store
from pipeline.store.review import review_path

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def db(tmp_path, sales_chat, sop):
    path = tmp_path / "k.duckdb"
    with Store(path) as store:
        store.write_analysis(analyze(sales_chat, sop, RuleTagger()), "run", fingerprint(sales_chat, sop, RuleTagger()))
    return path


def test_corrections_change_the_labels_training_sees(db, sales_chat, capsys):
    # The rules tag utterance 5 as approval; a trainer removes it and adds a price objection to 9.
    assert main(["correct", "--db", str(db), "--conversation", sales_chat.conversation_id, "--utterance", "5",
                 "--node", "customer_approval", "--remove", "--author", "trainer-li"]) == 0
    assert main(["correct", "--db", str(db), "--conversation", sales_chat.conversation_id, "--utterance", "9",
                 "--node", "price_objection", "--author", "trainer-li", "--note", "indirect"]) == 0
    (dialogue,) = corrected_dialogues(str(db))
    assert dialogue.dialogue_id == f"correction:{sales_chat.conversation_id}"
    assert dialogue.labels[5] == frozenset() and dialogue.labels[9] == frozenset({"price_objection"})
    assert dialogue.labels[0] == frozenset({"opening"})  # untouched labels stay
    # Recorded in the review database beside the pipeline's (the board writes there too).
    with duckdb.connect(str(review_path(db)), read_only=True) as con:
        assert con.execute("SELECT author, action, note FROM corrections ORDER BY created_at").fetchall() == [
            ("trainer-li", "remove", None), ("trainer-li", "add", "indirect")]


def test_corrections_made_before_the_review_database_still_count(db, sales_chat):
    # Corrections stored in the main database's old table (before 2026-12) are not lost.
    with Store(db) as store:
        store.con.execute("INSERT INTO corrections VALUES ('old', ?, 9, 'price_objection', 'add', 'li', NULL, "
                          "TIMESTAMP '2026-11-30 10:00:00')", [sales_chat.conversation_id])
    (dialogue,) = corrected_dialogues(str(db))
    assert dialogue.labels[9] == frozenset({"price_objection"})


def test_bad_corrections_are_refused(db, sales_chat, capsys):
    assert main(["correct", "--db", str(db), "--conversation", sales_chat.conversation_id, "--utterance", "99",
                 "--node", "opening", "--author", "x"]) == 2
    assert "no utterance 99" in capsys.readouterr().err
    assert main(["correct", "--db", str(db), "--conversation", sales_chat.conversation_id, "--utterance", "1",
                 "--node", "greeting", "--author", "x"]) == 2
    assert "unknown key event 'greeting'" in capsys.readouterr().err


def test_retag_with_the_learned_model_caches_vectors_and_never_embeds_twice(db, sop_path, tmp_path, monkeypatch,
                                                                             capsys):
    from pipeline.events import _learned

    _learned.cache_clear()  # a tagger other tests used holds vectors of their texts, not taken yet
    model = str(ROOT / "models" / "tagger.pkl")
    assert main(["retag", "--db", str(db), "--sop", str(sop_path), "--tagger", model]) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        cached = con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        taggers = con.execute("SELECT DISTINCT tagger FROM key_events").fetchall()
    assert cached == 12 and taggers[0][0].startswith("learned.e5.")
    _learned.cache_clear()  # a new process: nothing in memory, only the store's cache

    def no_embedding():
        raise AssertionError("a text was embedded again")

    monkeypatch.setattr(embeddings_module, "_model", no_embedding)
    edited = tmp_path / "sop.yaml"  # any SOP edit forces re-tagging
    edited.write_text(sop_path.read_text(encoding="utf-8").replace('version: "', 'version: "edited-', 1),
                      encoding="utf-8")
    assert main(["retag", "--db", str(db), "--sop", str(edited), "--tagger", model]) == 0
    assert "1 conversations re-tagged" in capsys.readouterr().out
    _learned.cache_clear()


def test_retag_with_an_encoder_keeps_its_outputs_and_never_runs_it_twice(db, sop_path, tmp_path, monkeypatch,
                                                                          capsys, encoder_factory):
    from pipeline.events import _learned
    from pipeline.events import encoder as encoder_module
    from pipeline.events.learned import load, save

    # The TF-IDF model with a stand-in encoder attached: the encoder's cache alone is tested.
    model = load(ROOT / "models" / "tagger-tfidf.pkl")
    model.encoder, model.encoder_thresholds, model.version = encoder_factory(), dict(model.thresholds), \
        model.version + ".enc"
    path = str(save(model, tmp_path / "tagger-enc.pkl"))
    assert main(["retag", "--db", str(db), "--sop", str(sop_path), "--tagger", path]) == 0
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT encoder, len(probabilities) FROM encoder_outputs").fetchall()
        utterances = con.execute("SELECT count(*) FROM utterances").fetchone()[0]
        taggers = con.execute("SELECT DISTINCT tagger FROM key_events").fetchall()
    assert stored == [(model.encoder.name, 6)] * utterances and taggers == [(model.version,)]
    _learned.cache_clear()  # a new process: nothing in memory, only the store's cache

    def no_encoding(*args):
        raise AssertionError("a context was encoded again")

    monkeypatch.setattr(encoder_module, "forward", no_encoding)
    edited = tmp_path / "sop.yaml"
    edited.write_text(sop_path.read_text(encoding="utf-8").replace('version: "', 'version: "edited-', 1),
                      encoding="utf-8")
    assert main(["retag", "--db", str(db), "--sop", str(edited), "--tagger", path]) == 0
    assert "1 conversations re-tagged" in capsys.readouterr().out
    _learned.cache_clear()
