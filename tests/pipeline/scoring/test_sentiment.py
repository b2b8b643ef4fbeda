"""The customer-reaction model: its held-out accuracy, the cases general-purpose sentiment gets
wrong, the artifact round trip, and how the scorer reads it."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from pipeline.events.embeddings import text_key
from pipeline.events.learned import model_text
from pipeline.ingest import IngestError
from pipeline.scoring import sentiment


@pytest.fixture(scope="module")
def model():
    return sentiment.default_sentiment()


def test_held_out_accuracy_of_the_committed_model(model):
    held_out = [i for i in sentiment.load_feedback() if sentiment.is_held_out(i.item_id)]
    report = sentiment.evaluate_sentiment(model, held_out)
    # Measured 2026-12-01: 176 items, accuracy 0.744, macro-F1 0.745 (docs/scoring.md).
    assert report["items"] == 176 and report["embeddings"]
    assert report["accuracy"] >= 0.70 and report["macro_f1"] >= 0.70


def test_held_out_items_never_train_the_committed_model(model):
    items = sentiment.load_feedback()
    assert model.training["items"] == sum(not sentiment.is_held_out(i.item_id) for i in items) == 724


@pytest.mark.parametrize(("text", "expected"), [
    ("这个价格太贵了", "negative"),          # 太…了 about a drawback (review sentiment: positive)
    ("你们这个比别家贵太多了", "negative"),
    ("太方便了", "positive"),                 # 太…了 about a benefit
    ("我再考虑考虑", "negative"),             # a brush-off
    ("不需要，谢谢", "negative"),             # a polite refusal
    ("两点不行 四点吧", "positive"),          # a counter-proposal accepts the visit
    ("行，那就周四下午吧", "positive"),
    ("多少钱", "neutral"),                    # a question
    ("that is way too expensive for us", "negative"),
    ("sounds good, send me the contract", "positive"),
])
def test_reactions_review_sentiment_gets_wrong(model, text, expected):
    """None of these texts is in the corpus; both classifiers must agree with the label."""
    assert sentiment.load_feedback() and text not in {i.text for i in sentiment.load_feedback()}
    assert model.predict([text]) == [expected]
    assert model.predict([text], vectors=sentiment._vectors([text])) == [expected]


def test_customer_polarity_uses_the_taggers_vectors_when_it_has_them(model, make_conversation):
    conversation = make_conversation([("rep", "一年九千八"), ("customer", "这个价格太贵了"), ("rep", "安装我们上门做"),
                                      ("customer", "太方便了")])
    plain = sentiment.customer_polarity(conversation, model)
    assert plain[0] is None and plain[2] is None
    assert plain[1] < -0.3 and plain[3] > 0
    texts = ["这个价格太贵了", "太方便了"]
    cache = {text_key(model_text(t)): v for t, v in zip(texts, sentiment._vectors(texts))}
    with_vectors = sentiment.customer_polarity(conversation, model, cache)
    expected = model.polarity(texts, ["一年九千八", "安装我们上门做"], sentiment._vectors(texts))
    np.testing.assert_allclose([with_vectors[1], with_vectors[3]], expected, atol=1e-3)
    assert with_vectors != plain  # the other classifier answered


def test_artifact_round_trip_and_refusals(model, tmp_path):
    path = sentiment.save_sentiment(model, tmp_path / "sentiment.pkl")
    again = sentiment.load_sentiment(path)
    assert again.version == model.version
    np.testing.assert_allclose(again.polarity(["太贵了"]), model.polarity(["太贵了"]))
    payload = pickle.loads(gzip.decompress(path.read_bytes()))
    payload["sklearn"] = "0.0"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(sentiment.SentimentModelError, match="retrain with `keynode train-sentiment`"):
        sentiment.load_sentiment(path)
    with pytest.raises(sentiment.SentimentModelError, match="missing: run `keynode train-sentiment`"):
        sentiment.load_sentiment(tmp_path / "absent.pkl")


def test_a_malformed_corpus_line_names_file_and_line(tmp_path):
    path = tmp_path / "feedback.jsonl"
    path.write_text('{"id": "s-1", "text": "好的", "label": "happy"}\n', encoding="utf-8")
    with pytest.raises(IngestError, match=r"feedback.jsonl: line 1 has label 'happy'"):
        sentiment.load_feedback(path)
