"""The learned tagger: SOP rules as the first layer, a linear model on top.

Per utterance the model sees
- its text as character n-grams (TF-IDF; no word segmenter needed, robust to ASR errors),
- the previous and next utterance as character n-grams (context: "多少钱？" then "有点贵"),
- speaker role, position in the conversation, question form, and which SOP rules fired on
  it and on its neighbours (so the rules stay the explainable first layer and the model
  learns when to trust them),
- optionally (on by default) multilingual-e5-small sentence embeddings of the utterance and
  its neighbours (:mod:`embeddings`), which carry meaning the n-grams miss.

One logistic regression per event (one-vs-rest, balanced class weights). Each event's
decision threshold is chosen by cross-validation on the training dialogues only (grouped by
dialogue), never on dev. SOP speaker rules still apply: a customer cannot open the call.
Traditional characters are folded to Simplified before anything else, so Whisper's
Traditional output tags the same.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from pipeline.events.corpus import EVENTS, LabelledDialogue
from pipeline.events.rules import RuleTagger
from pipeline.models import Conversation, KeyEvent
from pipeline.sop import Sop
from pipeline.text import normalize

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = 1
#: Bumped whenever the features change: part of every model's version, so stored events say
#: which feature set produced them (the artifact's training data hash alone does not).
FEATURES_VERSION = 2
THRESHOLD_GRID = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))  # 0.10 … 0.90


def model_text(text: str) -> str:
    """What the model reads: Simplified characters, normalised (see :func:`pipeline.text.normalize`)."""
    from pipeline.transcribe.segments import to_simplified

    return normalize(to_simplified(text))


def _dense(conversation: Conversation, sop: Sop, rule_hits: list[set[str]]) -> np.ndarray:
    from pipeline.scoring.metrics import is_question

    count = len(conversation.utterances)
    nodes = [sop.node(event) if event in sop.node_ids else None for event in EVENTS]
    rows = []
    for i, utterance in enumerate(conversation.utterances):
        previous = rule_hits[i - 1] if i > 0 else set()
        following = rule_hits[i + 1] if i + 1 < count else set()
        text = model_text(utterance.text)
        rows.append([
            utterance.speaker_role == "rep", utterance.speaker_role == "customer",
            i / max(1, count - 1), i < 3, i >= count - 3, is_question(utterance.text),
            np.log1p(len(utterance.text)),
            *(node in rule_hits[i] for node in EVENTS),
            *(node in previous for node in EVENTS),
            *(node in following for node in EVENTS),
            # The SOP's cues and negative cues on their own, before the rules combine them with
            # speaker and position: "价格倒不是问题" carries a price cue *and* a negation.
            *(len(node.cues.match(text)) if node else 0 for node in nodes),
            *(bool(node.negative_cues.match(text)) if node else 0 for node in nodes),
        ])
    return np.asarray(rows, dtype=np.float32)


def _contexts(texts: list[str]) -> list[str]:
    return [f"{texts[i - 1] if i else ''} ‖ {texts[i + 1] if i + 1 < len(texts) else ''}" for i in range(len(texts))]


@dataclass
class _Features:
    texts: list[str]
    contexts: list[str]
    dense: np.ndarray
    vectors: np.ndarray | None
    new_vectors: dict = field(default_factory=dict)


def _features(conversation: Conversation, sop: Sop, use_embeddings: bool,
              cache: Mapping[str, np.ndarray] | None) -> _Features:
    texts = [model_text(u.text) for u in conversation.utterances]
    rule_hits = [set() for _ in texts]
    for event in RuleTagger().tag(conversation, sop):
        rule_hits[event.utterance_index].add(event.node_id)
    vectors, new_vectors = None, {}
    if use_embeddings:
        from pipeline.events.embeddings import embed

        own, new_vectors = embed(texts, cache)
        zero = np.zeros((1, own.shape[1]), dtype=np.float32)
        previous = np.vstack([zero, own[:-1]])
        following = np.vstack([own[1:], zero])
        vectors = np.hstack([own, (previous + following) / 2])
    return _Features(texts, _contexts(texts), _dense(conversation, sop, rule_hits), vectors, new_vectors)


@dataclass
class TrainedModel:
    """What ``keynode train-tagger`` writes: vectorisers, one classifier per event, thresholds."""

    version: str
    use_embeddings: bool
    text_vectorizer: object
    context_vectorizer: object
    dense_scaler: object
    classifiers: dict
    thresholds: dict
    training: dict

    def matrix(self, features: _Features):
        from scipy import sparse

        blocks = [self.text_vectorizer.transform(features.texts),
                  0.5 * self.context_vectorizer.transform(features.contexts),
                  sparse.csr_matrix(self.dense_scaler.transform(features.dense))]
        if self.use_embeddings:
            blocks.append(sparse.csr_matrix(features.vectors))
        return sparse.hstack(blocks).tocsr()


def _fit_vectorizers(features: list[_Features]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import StandardScaler

    text_vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True,
                                      max_features=60_000)
    context_vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                                         max_features=30_000)
    text_vectorizer.fit([t for f in features for t in f.texts])
    context_vectorizer.fit([c for f in features for c in f.contexts])
    scaler = StandardScaler().fit(np.vstack([f.dense for f in features]))
    return text_vectorizer, context_vectorizer, scaler


# Inverse regularisation strength, chosen by grouped cross-validation on the training split
# (TF-IDF model, mean CV F1: C=1 0.793, 4 0.818, 8 0.825, 16 0.828, 32 0.830); dev was not looked at.
REGULARISATION_C = 16.0


def _classifier():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=REGULARISATION_C, class_weight="balanced", max_iter=3000, solver="liblinear")


def _gold_matrix(dialogues: list[LabelledDialogue]) -> np.ndarray:
    return np.array([[event in labels for event in EVENTS] for d in dialogues for labels in d.labels], dtype=int)


def train(dialogues: list[LabelledDialogue], sop: Sop, use_embeddings: bool = True, folds: int = 5,
          embedding_cache: Mapping[str, np.ndarray] | None = None) -> TrainedModel:
    """Train on labelled dialogues (the train split plus stored corrections)."""
    from scipy import sparse
    from sklearn.model_selection import GroupKFold

    features = [_features(d.conversation, sop, use_embeddings, embedding_cache) for d in dialogues]
    gold = _gold_matrix(dialogues)
    groups = np.array([n for n, d in enumerate(dialogues) for _ in d.labels])

    def assemble(model: TrainedModel, subset: list[int]):
        return sparse.vstack([model.matrix(features[i]) for i in subset]).tocsr()

    # Out-of-fold probabilities on the training dialogues choose each event's threshold.
    out_of_fold = np.zeros(gold.shape)
    for train_index, test_index in GroupKFold(n_splits=folds).split(gold, groups=groups):
        train_dialogues = sorted(set(groups[train_index]))
        test_dialogues = sorted(set(groups[test_index]))
        fold_model = TrainedModel("fold", use_embeddings, *_fit_vectorizers([features[i] for i in train_dialogues]),
                                  {}, {}, {})
        x_train, x_test = assemble(fold_model, train_dialogues), assemble(fold_model, test_dialogues)
        rows_test = np.concatenate([np.where(groups == i)[0] for i in test_dialogues])
        rows_train = np.concatenate([np.where(groups == i)[0] for i in train_dialogues])
        for column, event in enumerate(EVENTS):
            classifier = _classifier().fit(x_train, gold[rows_train, column])
            out_of_fold[rows_test, column] = classifier.predict_proba(x_test)[:, 1]
    thresholds = {}
    for column, event in enumerate(EVENTS):
        thresholds[event] = max(THRESHOLD_GRID, key=lambda t: _f1(gold[:, column], out_of_fold[:, column] >= t))

    text_vectorizer, context_vectorizer, scaler = _fit_vectorizers(features)
    digest = hashlib.sha256("".join(d.dialogue_id for d in dialogues).encode()).hexdigest()[:8]
    kind = "e5" if use_embeddings else "tfidf"
    model = TrainedModel(
        version=f"learned.{kind}.f{FEATURES_VERSION}.{datetime.now():%Y%m%d}.{digest}", use_embeddings=use_embeddings,
        text_vectorizer=text_vectorizer, context_vectorizer=context_vectorizer, dense_scaler=scaler,
        classifiers={}, thresholds=thresholds,
        training={"dialogues": len(dialogues), "utterances": int(gold.shape[0]), "sop_version": sop.version,
                  "positives": {event: int(gold[:, c].sum()) for c, event in enumerate(EVENTS)},
                  "cv_f1": {event: round(_f1(gold[:, c], out_of_fold[:, c] >= thresholds[event]), 3)
                            for c, event in enumerate(EVENTS)}})
    x_all = assemble(model, list(range(len(dialogues))))
    model.classifiers = {event: _classifier().fit(x_all, gold[:, c]) for c, event in enumerate(EVENTS)}
    return model


def _f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    true_positive = float(np.sum(gold & predicted))
    denominator = float(np.sum(gold) + np.sum(predicted))
    return 2 * true_positive / denominator if denominator else 0.0


def save(model: TrainedModel, path: str | Path) -> Path:
    """Write the artifact (pickle of the fitted objects plus metadata) atomically."""
    import sklearn

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pickle.dump({"format": ARTIFACT_FORMAT, "sklearn": sklearn.__version__, "model": model}, buffer)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(path)
    return path


def load(path: str | Path) -> TrainedModel:
    """Read an artifact written by :func:`save`; refuse one from another format or sklearn."""
    import sklearn

    with open(path, "rb") as handle:
        payload = pickle.load(handle)  # our own artifact, from the project's models/ folder
    if payload.get("format") != ARTIFACT_FORMAT or payload.get("sklearn") != sklearn.__version__:
        raise ValueError(f"{path} was written by format {payload.get('format')} / scikit-learn "
                         f"{payload.get('sklearn')}; this is {ARTIFACT_FORMAT} / {sklearn.__version__}: "
                         "retrain with `keynode train-tagger`")
    return payload["model"]


class LearnedTagger:
    """A trained model behind the :class:`~pipeline.events.tagger.Tagger` interface."""

    def __init__(self, model: TrainedModel):
        self.model = model
        self.name = model.version
        #: Sentence vectors by text key: filled from the store by the flow, and by every call.
        self.embedding_cache: dict[str, np.ndarray] = {}
        self.new_vectors: dict[str, np.ndarray] = {}

    @property
    def embedder(self) -> str | None:
        """The embedding model this tagger needs vectors of (None for TF-IDF only)."""
        from pipeline.events.embeddings import EMBEDDER_NAME

        return EMBEDDER_NAME if self.model.use_embeddings else None

    def text_keys(self, conversation: Conversation) -> list[str]:
        """The cache keys of the texts this tagger embeds for a conversation."""
        from pipeline.events.embeddings import text_key

        return [text_key(model_text(u.text)) for u in conversation.utterances]

    def take_new_vectors(self) -> dict[str, np.ndarray]:
        """Vectors computed since the last call, for the store to cache."""
        new, self.new_vectors = self.new_vectors, {}
        return new

    def probabilities(self, conversation: Conversation, sop: Sop) -> np.ndarray:
        """Per utterance and event (SOP order of :data:`EVENTS`), the model's probability."""
        if not conversation.utterances:
            return np.zeros((0, len(EVENTS)))
        features = _features(conversation, sop, self.model.use_embeddings, self.embedding_cache)
        self.new_vectors.update(features.new_vectors)
        self.embedding_cache.update(features.new_vectors)
        x = self.model.matrix(features)
        return np.column_stack([self.model.classifiers[event].predict_proba(x)[:, 1] for event in EVENTS])

    def tag(self, conversation: Conversation, sop: Sop) -> tuple[KeyEvent, ...]:
        """Events whose probability passes the event's threshold and whose speaker fits the SOP."""
        probabilities = self.probabilities(conversation, sop)
        rules = {(e.utterance_index, e.node_id): e.source for e in RuleTagger().tag(conversation, sop)}
        events = []
        for utterance, row in zip(conversation.utterances, probabilities):
            for column, event in enumerate(EVENTS):
                if event not in sop.node_ids:
                    continue
                node = sop.node(event)
                if node.speaker != "any" and node.speaker != utterance.speaker_role:
                    continue
                if row[column] < self.model.thresholds[event]:
                    continue
                rule = rules.get((utterance.index, event))
                source = f"model:{self.name} p={row[column]:.2f}" + (f" + {rule}" if rule else "")
                events.append(KeyEvent(event, utterance.index, round(float(row[column]), 3), utterance.text, source))
        order = {node_id: i for i, node_id in enumerate(sop.node_ids)}
        return tuple(sorted(events, key=lambda e: (e.utterance_index, order.get(e.node_id, 99))))
