"""Customer reaction (客户反馈) as a trained classifier: negative / neutral / positive.

General-purpose review sentiment gets sales talk wrong in predictable ways: "这个价格太贵了"
reads positive because of 太…了, "现在那家挺好的" (defending the status quo) reads positive,
"两点不行 四点吧" (accepting a visit) reads negative. So Keynode trains its own small model on
its own labelled customer utterances (``data/labelled/sentiment/feedback.jsonl``, labelled by
the customer's stance toward the offer, with the rep's previous utterance as context).

The model: character n-gram TF-IDF of the utterance (Simplified, normalised) and, at half
weight, of the rep's previous utterance, into one multinomial logistic regression; a second
classifier adds the utterance's multilingual-e5 sentence vector (cross-validated macro-F1 on
the training items 0.71 → 0.76) and is used whenever the vectors are already at hand — the
default tagger computes and caches them for every utterance, so reading the customer's
reaction costs no extra embedding. It needs no word segmenter and no download; it trains in
seconds and the artifact is committed (``models/sentiment.pkl``). Held-out figures are in
docs/scoring.md (``make eval-scores``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.artifacts import drop_pruned_vocabulary, load_artifact, save_artifact
from pipeline.ingest.errors import IngestError
from pipeline.ngrams import tfidf_transform

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = ROOT / "data" / "labelled" / "sentiment" / "feedback.jsonl"
DEFAULT_MODEL = ROOT / "models" / "sentiment.pkl"
ARTIFACT_FORMAT = 1
#: Regularisation chosen by 5-fold cross-validation on the training items, TF-IDF model
#: (macro-F1 C=1 0.699, 4 0.708, 10 0.707, 30 0.700, 100 0.706); with embeddings C=1 0.759,
#: 4 0.756, 10 0.751. The held-out items were not looked at.
REGULARISATION_C = 4.0
EMBEDDING_REGULARISATION_C = 1.0


@dataclass(frozen=True)
class FeedbackItem:
    """One labelled customer utterance and what the rep had just said."""

    item_id: str
    language: str
    context: str
    text: str
    label: str


def load_feedback(path: str | Path = DEFAULT_CORPUS) -> list[FeedbackItem]:
    """Read the sentiment corpus; a malformed line is an error naming file and line."""
    path = Path(path)
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            item = FeedbackItem(str(record["id"]), record.get("lang", "zh"), record.get("context", ""),
                                record["text"], record["label"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise IngestError(str(path), "corpus", f"line {number} is not a feedback item ({exc})",
                              "see data/labelled/sentiment/README.md") from exc
        if item.label not in LABELS:
            raise IngestError(str(path), "corpus", f"line {number} has label {item.label!r}",
                              f"use one of {', '.join(LABELS)}")
        items.append(item)
    return items


def is_held_out(item_id: str) -> bool:
    """The held-out 20%, by a hash of the id (the same rule as the key-event corpus's dev split)."""
    from pipeline.events.corpus import is_dev

    return is_dev(item_id)


def _prepare(texts: list[str]) -> list[str]:
    from pipeline.events.learned import model_text

    return [model_text(text) for text in texts]


@dataclass
class SentimentModel:
    """The fitted vectorisers and classifiers, with what they were trained on."""

    version: str
    text_vectorizer: object
    context_vectorizer: object
    classifier: object
    embedding_classifier: object
    training: dict

    def _matrix(self, texts: list[str], contexts: list[str], vectors: np.ndarray | None = None):
        from scipy import sparse

        blocks = [tfidf_transform(self.text_vectorizer, _prepare(texts)),
                  0.5 * tfidf_transform(self.context_vectorizer, _prepare(contexts))]
        if vectors is not None:
            blocks.append(sparse.csr_matrix(vectors))
        return sparse.hstack(blocks).tocsr()

    def probabilities(self, texts: list[str], contexts: list[str] | None = None,
                      vectors: np.ndarray | None = None) -> np.ndarray:
        """Rows of P(negative), P(neutral), P(positive), one per text (order of :data:`LABELS`).
        With ``vectors`` (the texts' e5 embeddings) the more accurate classifier answers."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        contexts = contexts if contexts is not None else [""] * len(texts)
        classifier = self.embedding_classifier if vectors is not None else self.classifier
        probabilities = classifier.predict_proba(self._matrix(list(texts), list(contexts), vectors))
        order = [list(classifier.classes_).index(label) for label in LABELS]
        return probabilities[:, order]

    def polarity(self, texts: list[str], contexts: list[str] | None = None,
                 vectors: np.ndarray | None = None) -> np.ndarray:
        """P(positive) − P(negative) per text, in [−1, 1]."""
        probabilities = self.probabilities(texts, contexts, vectors)
        return probabilities[:, 2] - probabilities[:, 0]

    def predict(self, texts: list[str], contexts: list[str] | None = None,
                vectors: np.ndarray | None = None) -> list[str]:
        """The most probable label per text."""
        return [LABELS[i] for i in self.probabilities(texts, contexts, vectors).argmax(axis=1)]


def _vectors(texts: list[str]) -> np.ndarray:
    from pipeline.events.embeddings import embed

    return embed(_prepare(texts))[0]


def _fit(items: list[FeedbackItem], vectors: np.ndarray) -> tuple[object, object, object, object]:
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    text_vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=1, sublinear_tf=True)
    context_vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    texts = _prepare([i.text for i in items])
    contexts = _prepare([i.context for i in items])
    x = sparse.hstack([text_vectorizer.fit_transform(texts), 0.5 * context_vectorizer.fit_transform(contexts)]).tocsr()
    labels = [i.label for i in items]
    classifier = LogisticRegression(C=REGULARISATION_C, max_iter=3000, class_weight="balanced").fit(x, labels)
    with_vectors = sparse.hstack([x, sparse.csr_matrix(vectors)]).tocsr()
    embedding_classifier = LogisticRegression(C=EMBEDDING_REGULARISATION_C, max_iter=3000,
                                              class_weight="balanced").fit(with_vectors, labels)
    return text_vectorizer, context_vectorizer, classifier, embedding_classifier


def train_sentiment(items: list[FeedbackItem]) -> SentimentModel:
    """Fit the model on labelled items (the caller leaves the held-out ones out)."""
    digest = hashlib.sha256("".join(i.item_id for i in items).encode()).hexdigest()[:8]
    model = SentimentModel(f"sentiment.{datetime.now():%Y%m%d}.{digest}", *_fit(items, _vectors([i.text for i in items])),
                           training={"items": len(items),
                                     "labels": {label: sum(i.label == label for i in items) for label in LABELS}})
    return model


def save_sentiment(model: SentimentModel, path: str | Path = DEFAULT_MODEL) -> Path:
    """Write the artifact atomically."""
    drop_pruned_vocabulary(model.text_vectorizer, model.context_vectorizer)
    return save_artifact(model, path, ARTIFACT_FORMAT)


class SentimentModelError(RuntimeError):
    """The sentiment artifact is missing or was written by another scikit-learn."""


def load_sentiment(path: str | Path = DEFAULT_MODEL) -> SentimentModel:
    """Read an artifact written by :func:`save_sentiment`; refuse one from another sklearn."""
    path = Path(path)
    if not path.exists():
        raise SentimentModelError(f"{path} is missing: run `keynode train-sentiment` to create it")
    return load_artifact(path, ARTIFACT_FORMAT, "keynode train-sentiment", SentimentModelError)


@lru_cache(maxsize=1)
def default_sentiment() -> SentimentModel:
    """The committed model, loaded once per process."""
    return load_sentiment(DEFAULT_MODEL)


def evaluate_sentiment(model: SentimentModel, items: list[FeedbackItem], use_embeddings: bool = True) -> dict:
    """Accuracy, per-label precision/recall/F1 and macro-F1 on labelled items."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    texts = [i.text for i in items]
    vectors = _vectors(texts) if use_embeddings and items else None
    predicted = model.predict(texts, [i.context for i in items], vectors)
    gold = [i.label for i in items]
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=list(LABELS),
                                                                     zero_division=0)
    per_label = {label: {"precision": round(float(p), 3), "recall": round(float(r), 3), "f1": round(float(f), 3),
                         "support": int(n)} for label, p, r, f, n in zip(LABELS, precision, recall, f1, support)}
    accuracy = accuracy_score(gold, predicted) if gold else 0.0
    return {"items": len(items), "embeddings": vectors is not None, "accuracy": round(float(accuracy), 3),
            "per_label": per_label, "macro_f1": round(float(sum(f1)) / len(LABELS), 3)}


def customer_polarity(conversation, model: SentimentModel | None = None,
                      vector_cache: dict | None = None) -> tuple[float | None, ...]:
    """Per utterance: the customer's reaction P(positive) − P(negative), None for the rep's.

    The context of each customer utterance is the rep's last utterance before it. When every
    customer utterance's vector is in ``vector_cache`` (the tagger's cache, keyed by
    :func:`pipeline.events.embeddings.text_key`), the embedding classifier answers; otherwise the
    TF-IDF one does, so scoring never pays for embeddings on its own.
    """
    from pipeline.events.embeddings import text_key

    model = model or default_sentiment()
    customer, texts, contexts, last_rep = [], [], [], ""
    for utterance in conversation.utterances:
        if utterance.speaker_role == "rep":
            last_rep = utterance.text
        elif utterance.speaker_role == "customer":
            customer.append(utterance.index)
            texts.append(utterance.text)
            contexts.append(last_rep)
    values: list[float | None] = [None] * len(conversation.utterances)
    if not texts:
        return tuple(values)
    vectors = None
    if vector_cache:
        keys = [text_key(text) for text in _prepare(texts)]
        if all(key in vector_cache for key in keys):
            vectors = np.vstack([vector_cache[key] for key in keys])
    for index, value in zip(customer, model.polarity(texts, contexts, vectors)):
        values[index] = round(float(value), 3)
    return tuple(values)
