"""The learned tagger: SOP rules as the first layer, a linear model on top.

Per utterance the model sees
- its text as character n-grams (TF-IDF; no word segmenter needed, robust to ASR errors),
- the previous and next utterance as character n-grams (context: "多少钱？" then "有点贵"),
- speaker role, position in the conversation, question form, and which SOP rules fired on
  it and on its neighbours (so the rules stay the explainable first layer and the model
  learns when to trust them),
- optionally (on by default) multilingual-e5-small sentence embeddings of the utterance and
  its neighbours (:mod:`embeddings`), which carry meaning the n-grams miss.

Two stages per event. The first is a logistic regression (one-vs-rest, balanced class
weights) on the features above. The second, gradient-boosted trees, reads the first stage's
probabilities of every event for the utterance and the five before and after it, who said
each, and the same-speaker run of chat messages it belongs to (stacking), so a turn learns
from what the turns around it are ("七千二" → "隔壁才四千" → "能不能便宜点": an objection makes
the next customer turn more likely one too; the filler between two fragments of one is not). Each event's
decision threshold is chosen by cross-validation on the training dialogues only (grouped by
dialogue), never on dev. SOP speaker rules still apply: a customer cannot open the call.
Traditional characters are folded to Simplified before anything else, so Whisper's
Traditional output tags the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from pipeline.artifacts import drop_pruned_vocabulary, load_artifact, save_artifact
from pipeline.events.corpus import EVENTS, LabelledDialogue
from pipeline.events.rules import RuleTagger
from pipeline.events.trees import FlatForest
from pipeline.models import Conversation, KeyEvent
from pipeline.ngrams import tfidf_transform
from pipeline.sop import Sop
from pipeline.text import normalize

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = 4  # 4: the encoder's differences are 4-bit blocks (3: gradient-boosted second stage)
#: Bumped whenever the features change: part of every model's version, so stored events say
#: which feature set produced them (the artifact's training data hash alone does not).
FEATURES_VERSION = 8  # 8: sticker codes kept in what the models read
#: The kinds of model output the store keeps (:attr:`LearnedTagger.output_caches`).
VECTORS, ENCODER = "vectors", "encoder"
THRESHOLD_GRID = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))  # 0.10 … 0.90


def model_text(text: str, stickers: bool = False) -> str:
    """What a model reads: Simplified characters, normalised (see :func:`pipeline.text.normalize`).

    ``stickers`` keeps WeChat's sticker codes: on a quoted figure, "[捂脸]" or "[流泪]" is the
    evaluation that makes it an objection (docs/labelling.md), and without them "2650[捂脸]" read
    as the bare echo "2650", which is not one. Models trained before features version 8 read
    the text without them."""
    from pipeline.transcribe.segments import to_simplified

    return normalize(to_simplified(text), stickers)


# Money talk, in general terms rather than the SOP's objection cues: indirect objections are
# mostly a number, a comparison and a tone ("隔壁才四千", "一个月八百多？呵呵"), right after
# the rep named a price. Grouped cross-validation on train: price_objection F1 +0.01–0.02.
_AMOUNT = re.compile(r"[0-9]|[一二三四五六七八九十两百千万几]+ ?(万|千|百|块|元|折|个点|w)|[$¥￥]|"
                     r"\b(hundred|thousand|grand|bucks?|k)\b")
_MONEY = re.compile(r"便宜|贵|价|钱|费|预算|报价|优惠|折|成本|划算|值|省|budget|price|cost|cheap|expens|quote|"
                    r"discount|afford|pay|fee|rate")
_COMPARISON = re.compile(r"才|只要|只有|比|差|低|高|多了|最多|超|别家|隔壁|另一家|人家|同款|去年|other|another|"
                         r"less|more|over|than|only|match|beat")
_TONE = re.compile(r"呵呵|哈|lol|wow|哇|捂脸|流泪|？？|\?\?|可真|真是|这么|那么|天哪|oof|yikes|jeez")
# Two combinations a linear model cannot form from single n-grams (labelling guide: budget too
# small; sarcastic approval). Money short: a money word and a shortage word close together,
# whatever hedges sit between ("预算" … "不太够", "经费" … "悬"). Ironic praise: praise in the
# same turn as a new cost or burden ("太好了 又多一笔年费").
_MONEY_SHORT = re.compile(r"(预算|经费|资金|钱|额度|开支|审批|budget|money|funds?|cash)[^。！？!?.]{0,8}?"
                          # …but not negated or asked: 没超, 不超过, 紧不紧, 够不够
                          r"((?<!够)不[太大怎么]{0,2}够(?!不)|不足|(?<![没不未])紧(?!不紧)|有限|(?<![没不未])超(?!不)|"
                          r"撑不住|够呛|悬|批不下|没那么多|tight|short|stretch|not there|can'?t|capped|over)")
_PRAISE = re.compile(r"太好了|真好|真棒|好棒|太棒|棒棒|好极了|厉害|不错嘛|可真行|真行|周到|贴心|真是方便|先进|智能|"
                     r"great|lovely|fantastic|wonderful|love that|perfect|awesome|brilliant")
_BURDEN = re.compile(r"付钱|收费|年费|月费|费用|又多|又要|还得|还要|再交|另收|多花|多出|额外|再买|再学|"
                     r"extra|another|more to pay|fees?\b|charge|pay for|on top")


def _money_talk(texts: list[str], roles: list[str]) -> list[list[float]]:
    rows, rep_named_amount = [], False
    for text, role in zip(texts, roles):
        rows.append([bool(_AMOUNT.search(text)), len(_MONEY.findall(text)), len(_COMPARISON.findall(text)),
                     bool(_TONE.search(text)), rep_named_amount, bool(_MONEY_SHORT.search(text)),
                     bool(_PRAISE.search(text)) and bool(_BURDEN.search(text))])
        if role == "rep":
            rep_named_amount = bool(_AMOUNT.search(text))
    return rows


def _dense(conversation: Conversation, sop: Sop, rule_hits: list[set[str]], texts: list[str]) -> np.ndarray:
    from pipeline.scoring.metrics import is_question

    count = len(conversation.utterances)
    nodes = [sop.node(event) if event in sop.node_ids else None for event in EVENTS]
    money = _money_talk(texts, [u.speaker_role for u in conversation.utterances])
    rows = []
    for i, utterance in enumerate(conversation.utterances):
        previous = rule_hits[i - 1] if i > 0 else set()
        following = rule_hits[i + 1] if i + 1 < count else set()
        text = texts[i]
        rows.append([
            *money[i],
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


@dataclass
class _Features:
    texts: list[str]  # the neighbours' texts are these, shifted (TrainedModel.matrix)
    dense: np.ndarray
    vectors: np.ndarray | None
    new_vectors: dict = field(default_factory=dict)
    #: Per utterance, the index of the rep's turn before and after it (-1: none, or a rep's own).
    rep_before: np.ndarray | None = None
    rep_after: np.ndarray | None = None
    roles: list[str] = field(default_factory=list)


def rep_turns_around(roles: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each customer utterance, the index of the closest rep utterance before and after it
    (-1 where there is none, and for every rep utterance): the price the customer reacts to, and
    how the rep answers, however many chat messages the customer split the reaction into."""
    before, after = np.full(len(roles), -1), np.full(len(roles), -1)
    last = -1
    for i, role in enumerate(roles):
        if role == "rep":
            last = i
        elif role == "customer":
            before[i] = last
    following = -1
    for i in range(len(roles) - 1, -1, -1):
        if roles[i] == "rep":
            following = i
        elif roles[i] == "customer":
            after[i] = following
    return before, after


def _features(conversation: Conversation, sop: Sop, use_embeddings: bool,
              cache: Mapping[str, np.ndarray] | None, rule_events: tuple[KeyEvent, ...] | None = None,
              stickers: bool = True) -> _Features:
    texts = [model_text(u.text, stickers) for u in conversation.utterances]
    rule_hits = [set() for _ in texts]
    if rule_events is None:
        rule_events = RuleTagger().tag(conversation, sop)
    for event in rule_events:
        rule_hits[event.utterance_index].add(event.node_id)
    vectors, new_vectors = None, {}
    if use_embeddings:
        from pipeline.events.embeddings import embed

        own, new_vectors = embed(texts, cache)
        zero = np.zeros((1, own.shape[1]), dtype=np.float32)
        previous = np.vstack([zero, own[:-1]])
        following = np.vstack([own[1:], zero])
        vectors = np.hstack([own, previous, following])
    roles = [u.speaker_role for u in conversation.utterances]
    before, after = rep_turns_around(roles)
    return _Features(texts, _dense(conversation, sop, rule_hits, texts), vectors, new_vectors, before, after, roles)


@dataclass
class TrainedModel:
    """What ``keynode train-tagger`` writes: vectorisers, two stages of one classifier per event
    (logistic regressions, then gradient-boosted trees on their probabilities around each
    utterance, :func:`sequence_features`), and the thresholds (applied to the second stage)."""

    version: str
    use_embeddings: bool
    text_vectorizer: object
    context_vectorizer: object
    dense_scaler: object
    classifiers: dict
    thresholds: dict
    training: dict
    #: Second stage: gradient-boosted trees on :func:`sequence_features`.
    sequence_classifiers: dict = field(default_factory=dict)
    #: Whether the model reads the rep's turns around a customer's (features version 5 on;
    #: artifacts from before lack the attribute and read False from the class).
    rep_turns: bool = False
    #: Whether the model reads WeChat's sticker codes (:func:`model_text`; features version 8 on,
    #: older artifacts read False from the class).
    stickers: bool = False
    #: Weight of the neighbours' e5 vectors beside the utterance's own (features version 6 on;
    #: older artifacts read 1.0 from the class, the weight they were trained with).
    neighbour_vector_weight: float = 1.0
    #: The fine-tuned context encoder (``encoder.py``, ``keynode train-tagger --encoder``), averaged with
    #: the second stage; None in artifacts without one (the class default).
    encoder: object | None = None
    #: Thresholds on that average, chosen on dialogues neither model was trained on.
    encoder_thresholds: dict | None = None

    def without_encoder(self) -> TrainedModel:
        """This model as it was before the encoder was attached: the second stage alone, with
        its own thresholds (about three times faster; ``--tagger no-encoder``)."""
        if self.encoder is None:
            return self
        return replace(self, version=re.sub(r"\.enc\d*(-[0-9a-f]+)?$", "", self.version), encoder=None, encoder_thresholds=None)

    @property
    def active_thresholds(self) -> dict:
        """The thresholds that apply to :meth:`LearnedTagger.probabilities`."""
        return self.encoder_thresholds if self.encoder is not None else self.thresholds

    def matrix(self, features: _Features):
        """The first stage's feature matrix of one conversation (sparse, one row per utterance)."""
        from scipy import sparse

        context = tfidf_transform(self.context_vectorizer, features.texts)
        # The neighbours' rows are the utterances' own, shifted (texts past the ends are
        # empty: no n-grams, an empty row), so each text is transformed once, not three times.
        empty = sparse.csr_matrix((1, context.shape[1]), dtype=context.dtype)
        previous = sparse.vstack([empty, context[:-1]]) if context.shape[0] > 1 else empty
        following = sparse.vstack([context[1:], empty]) if context.shape[0] > 1 else empty
        blocks = [tfidf_transform(self.text_vectorizer, features.texts),
                  # The turns before and after apart: an objection's *answer* ("理解，不过…") says more
                  # about it than its echo one turn later, which is usually something else.
                  0.5 * previous, 0.5 * following,
                  sparse.csr_matrix(self.dense_scaler.transform(features.dense))]
        if self.rep_turns:
            # The rep's turns around a customer's, also rows of ``context`` (the last row,
            # appended empty, stands for "none"). Grouped CV on train: price_objection +0.009.
            padded = sparse.vstack([context, empty]).tocsr()
            blocks += [0.5 * padded[features.rep_before], 0.5 * padded[features.rep_after]]
        if self.use_embeddings:
            vectors = features.vectors
            if self.neighbour_vector_weight != 1.0:
                own = vectors.shape[1] // 3
                vectors = np.hstack([vectors[:, :own], self.neighbour_vector_weight * vectors[:, own:]])
            blocks.append(sparse.csr_matrix(vectors))
        return sparse.hstack(blocks).tocsr()


#: Utterances before and after whose first-stage probabilities the second stage reads. Grouped
#: CV on train (parts A–O, e5 model), price objection: ±3 0.871, ±5 0.877.
SEQUENCE_WINDOW = 5


def sequence_features(probabilities: np.ndarray, features: _Features) -> np.ndarray:
    """The second stage's input for one conversation, a row per utterance: the first stage's
    probabilities of every event for the utterance and each one within :data:`SEQUENCE_WINDOW`
    before and after it, with whether that one exists and is the customer's; the run of
    consecutive messages by the same speaker it belongs to (its length, the utterance's place in
    it, the highest probability of each event among the run's other messages); the highest of
    each event on the same speaker's earlier turns; position and length of the conversation; and
    the utterance's own dense features (money talk, rules, cues: :func:`_dense`).

    Trees, not a linear model, read this: whether a short message is a fragment of an objection
    depends on the fragments around it *and* on what it says ("经费这块" / "今年砍得厉害" vs a
    "嗯" between two of them), a combination a linear model cannot form."""
    count, events = probabilities.shape
    customer = np.array([role == "customer" for role in features.roles], dtype=np.float32)
    padded = np.vstack([np.zeros((SEQUENCE_WINDOW, events)), probabilities, np.zeros((SEQUENCE_WINDOW, events))])
    exists = np.concatenate([np.zeros(SEQUENCE_WINDOW), np.ones(count), np.zeros(SEQUENCE_WINDOW)])
    speaker = np.concatenate([np.full(SEQUENCE_WINDOW, -1.0), customer, np.full(SEQUENCE_WINDOW, -1.0)])
    window = []
    for offset in range(2 * SEQUENCE_WINDOW + 1):
        window += [padded[offset:offset + count], exists[offset:offset + count, None],
                   speaker[offset:offset + count, None]]
    run_starts = [0] + [i for i in range(1, count) if features.roles[i] != features.roles[i - 1]]
    run_of = np.searchsorted(run_starts, np.arange(count), side="right") - 1
    run_bounds = list(zip(run_starts, [*run_starts[1:], count]))
    runs = np.zeros((count, 2 + 2 * events), dtype=np.float64)
    earlier_by_role: dict[str, np.ndarray] = {}  # running maximum over each speaker's turns so far
    for i, role in enumerate(features.roles):
        start, end = run_bounds[run_of[i]]
        others = [j for j in range(start, end) if j != i]
        runs[i, 0], runs[i, 1] = end - start, i - start
        if others:
            runs[i, 2:2 + events] = probabilities[others].max(axis=0)
        if role in earlier_by_role:
            runs[i, 2 + events:] = earlier_by_role[role]
        earlier_by_role[role] = np.maximum(earlier_by_role.get(role, 0.0), probabilities[i])
    position = np.column_stack([np.arange(count) / max(1, count - 1), np.full(count, count)])
    return np.hstack([*window, runs, position, features.dense]).astype(np.float32)


def _fit_vectorizers(features: list[_Features]):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import StandardScaler

    text_vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True,
                                      max_features=60_000)
    context_vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2, sublinear_tf=True,
                                         max_features=30_000)
    text_vectorizer.fit([t for f in features for t in f.texts])
    context_vectorizer.fit([t for f in features for t in f.texts])
    scaler = StandardScaler().fit(np.vstack([f.dense for f in features]))
    return text_vectorizer, context_vectorizer, scaler


# Inverse regularisation strength, chosen by grouped cross-validation on the training split
# (TF-IDF model, mean CV F1: C=1 0.793, 4 0.818, 8 0.825, 16 0.828, 32 0.830; checked again with
# the two-stage model on parts A–G: C=4 0.873, 8 0.876, 16 0.878); dev was not looked at.
REGULARISATION_C = 16.0
# At full weight the neighbours' e5 vectors made the turns right before and after an objection
# look like one ("So for sixty, that's about twenty-five thousand" before "that's not going to
# fly": p = 0.98). Grouped CV on train, first stage, price objection (parts A–M): weight 1.0
# 0.855, 0.5 0.860, 0.25 0.855; the TF-IDF neighbour blocks halved as well 0.852.
NEIGHBOUR_VECTOR_WEIGHT = 0.5


def _classifier():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=REGULARISATION_C, class_weight="balanced", max_iter=3000, solver="liblinear")


def _gold_matrix(dialogues: list[LabelledDialogue]) -> np.ndarray:
    return np.array([[event in labels for event in EVENTS] for d in dialogues for labels in d.labels], dtype=int)


def _sequence_classifier():
    from sklearn.ensemble import HistGradientBoostingClassifier

    # Grouped CV on train (parts A–O, e5 model), price objection: these settings 0.877; 31
    # leaves and 500 rounds 0.874; the neighbours' dense features added 0.875. Early stopping
    # (after 10 rounds without gain on a tenth of the rows held out) is what scikit-learn's
    # "auto" chose for the corpus's 16,885 rows anyway (100–200 rounds per event); explicit, it
    # also keeps a small training set (a test's, a first corrections-only corpus) from running
    # all 300 rounds.
    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0,
                                          early_stopping=True, class_weight="balanced", random_state=0)


def _groups(features: list[_Features], sources: list[int] | None) -> np.ndarray:
    """Per utterance row, the dialogue it comes from (excerpts share their source's)."""
    sources = sources if sources is not None else list(range(len(features)))
    return np.array([sources[n] for n, f in enumerate(features) for _ in f.texts])


def out_of_fold_probabilities(features: list[_Features], gold: np.ndarray, use_embeddings: bool,
                              folds: int = 5, sources: list[int] | None = None) -> np.ndarray:
    """Per utterance and event, the first stage's probability from a model that never saw its
    dialogue (cross-validation grouped by dialogue): what the second stage learns from, as it
    will see at run time probabilities from a model that never saw the conversation. ``sources``
    names each conversation's source dialogue, so excerpts stay in its fold."""
    from scipy import sparse
    from sklearn.model_selection import GroupKFold

    groups = _groups(features, sources)
    conversation_of_row = np.array([n for n, f in enumerate(features) for _ in f.texts])
    out_of_fold = np.zeros(gold.shape)
    for train_index, test_index in GroupKFold(n_splits=folds).split(gold, groups=groups):
        train_conversations = sorted(set(conversation_of_row[train_index]))
        test_conversations = sorted(set(conversation_of_row[test_index]))
        fold_model = TrainedModel("fold", use_embeddings,
                                  *_fit_vectorizers([features[i] for i in train_conversations]), {}, {}, {},
                                  rep_turns=True, neighbour_vector_weight=NEIGHBOUR_VECTOR_WEIGHT)

        def assemble(subset: list[int]):
            return sparse.vstack([fold_model.matrix(features[i]) for i in subset]).tocsr()

        x_train, x_test = assemble(train_conversations), assemble(test_conversations)
        rows_test = np.concatenate([np.where(conversation_of_row == i)[0] for i in test_conversations])
        rows_train = np.concatenate([np.where(conversation_of_row == i)[0] for i in train_conversations])
        for column in range(len(EVENTS)):
            classifier = _classifier().fit(x_train, gold[rows_train, column])
            out_of_fold[rows_test, column] = classifier.predict_proba(x_test)[:, 1]
    return out_of_fold


def sequence_out_of_fold(x_sequence: np.ndarray, gold: np.ndarray, groups: np.ndarray, folds: int = 5) -> np.ndarray:
    """The second stage's out-of-fold probabilities (grouped by dialogue, as the first's): they
    choose the thresholds and give the cross-validated F1 the artifact reports."""
    from sklearn.model_selection import GroupKFold

    out_of_fold = np.zeros(gold.shape)
    for train_index, test_index in GroupKFold(n_splits=folds).split(x_sequence, groups=groups):
        for column in range(len(EVENTS)):
            classifier = _sequence_classifier().fit(x_sequence[train_index], gold[train_index, column])
            out_of_fold[test_index, column] = classifier.predict_proba(x_sequence[test_index])[:, 1]
    return out_of_fold


def _per_dialogue(rows: np.ndarray, features: list[_Features]) -> list[np.ndarray]:
    bounds = np.cumsum([0] + [len(f.texts) for f in features])
    return [rows[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


#: Excerpts added per training dialogue, and their length in utterances. The corpus holds whole
#: conversations of 12–32 turns, so without excerpts the model learns that "three turns before
#: the end" means "goodbye" and misses "有点贵" in a five-message chat.
EXCERPTS_PER_DIALOGUE = 2
EXCERPT_LENGTH = (3, 8)


def excerpts(dialogue: LabelledDialogue) -> list[LabelledDialogue]:
    """Short runs of consecutive utterances cut from a dialogue (same labels), chosen by a
    seed from the dialogue id so training is repeatable."""
    from dataclasses import replace

    count = len(dialogue.labels)
    if count <= EXCERPT_LENGTH[1]:
        return []
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(dialogue.dialogue_id.encode()).digest()[:4], "big"))
    cut = []
    for n in range(EXCERPTS_PER_DIALOGUE):
        length = int(rng.integers(EXCERPT_LENGTH[0], EXCERPT_LENGTH[1] + 1))
        start = int(rng.integers(0, count - length + 1))
        utterances = tuple(replace(u, index=i) for i, u in
                           enumerate(dialogue.conversation.utterances[start:start + length]))
        conversation = replace(dialogue.conversation, conversation_id=f"{dialogue.dialogue_id}#{n}",
                               utterances=utterances)
        cut.append(LabelledDialogue(f"{dialogue.dialogue_id}#{n}", conversation,
                                    dialogue.labels[start:start + length]))
    return cut


def train(dialogues: list[LabelledDialogue], sop: Sop, use_embeddings: bool = True, folds: int = 5,
          embedding_cache: Mapping[str, np.ndarray] | None = None, encoder: bool = False,
          progress=None, encoder_seeds: int = 1) -> TrainedModel:
    """Train on labelled dialogues (the train split plus stored corrections) and short excerpts
    of them; thresholds and the reported F1 come from the whole dialogues' out-of-fold rows.

    ``encoder``: also fine-tune the context encoder twice (``encoder_training.py``, needs torch;
    about 30 and 36 minutes on two cores for the corpus), see :func:`_attach_encoder`;
    ``encoder_seeds``: how many times (seeds 0, 1, …), their outputs averaged."""
    from scipy import sparse

    examples, sources = [], []
    for n, dialogue in enumerate(dialogues):
        for example in [dialogue, *excerpts(dialogue)]:
            examples.append(example)
            sources.append(n)
    features = [_features(d.conversation, sop, use_embeddings, embedding_cache) for d in examples]
    gold = _gold_matrix(examples)
    first_stage = _per_dialogue(out_of_fold_probabilities(features, gold, use_embeddings, folds, sources),
                                features)
    x_sequence = np.vstack([sequence_features(p, f) for p, f in zip(first_stage, features)])
    out_of_fold = sequence_out_of_fold(x_sequence, gold, _groups(features, sources), folds)
    whole = np.concatenate([np.full(len(e.labels), "#" not in e.dialogue_id) for e in examples])
    whole_gold, whole_out_of_fold = gold[whole], out_of_fold[whole]
    thresholds = {}
    for column, event in enumerate(EVENTS):
        thresholds[event] = max(THRESHOLD_GRID, key=lambda t: _f1(whole_gold[:, column],
                                                                   whole_out_of_fold[:, column] >= t))

    text_vectorizer, context_vectorizer, scaler = _fit_vectorizers(features)
    digest = training_digest(dialogues)
    kind = "e5" if use_embeddings else "tfidf"
    model = TrainedModel(
        version=f"learned.{kind}.f{FEATURES_VERSION}.{datetime.now():%Y%m%d}.{digest}", use_embeddings=use_embeddings,
        text_vectorizer=text_vectorizer, context_vectorizer=context_vectorizer, dense_scaler=scaler,
        classifiers={}, thresholds=thresholds, rep_turns=True, stickers=True,
        neighbour_vector_weight=NEIGHBOUR_VECTOR_WEIGHT,
        training={"dialogues": len(dialogues), "utterances": int(whole_gold.shape[0]),
                  "excerpts": len(examples) - len(dialogues), "sop_version": sop.version,
                  "positives": {event: int(whole_gold[:, c].sum()) for c, event in enumerate(EVENTS)},
                  "cv_f1": {event: round(_f1(whole_gold[:, c], whole_out_of_fold[:, c] >= thresholds[event]), 3)
                            for c, event in enumerate(EVENTS)}})
    x_all = sparse.vstack([model.matrix(f) for f in features]).tocsr()
    model.classifiers = {event: _classifier().fit(x_all, gold[:, c]) for c, event in enumerate(EVENTS)}
    # The second stage learns from the out-of-fold first-stage probabilities (x_sequence).
    model.sequence_classifiers = {event: _sequence_classifier().fit(x_sequence, gold[:, c])
                                  for c, event in enumerate(EVENTS)}
    if encoder:
        _attach_encoder(model, examples, features, gold, out_of_fold, _groups(features, sources), folds, progress,
                        seeds=tuple(range(encoder_seeds)))
    return model


def training_digest(dialogues: Sequence[LabelledDialogue]) -> str:
    """Eight hex digits of what a model learns from: ids, texts and labels (corrections
    included), so a retraining on changed data the same day is a new version and
    ``keynode retag`` re-tags with it (the stored fingerprint holds the version)."""
    learned_from = [[d.dialogue_id, [u.text for u in d.conversation.utterances], [sorted(labels) for labels in d.labels]]
                    for d in dialogues]
    return hashlib.sha256(json.dumps(learned_from, ensure_ascii=False).encode()).hexdigest()[:8]


def _attach_encoder(model: TrainedModel, examples: list[LabelledDialogue], features: list[_Features],
                    gold: np.ndarray, out_of_fold: np.ndarray, groups: np.ndarray, folds: int,
                    progress=None, seeds: Sequence[int] = (0,)) -> None:
    """Fine-tune the context encoder on the whole training dialogues and store it in ``model``.

    The thresholds of the average (second stage + encoder) must come from dialogues neither saw:
    the first of the cross-validation folds. Its dialogues' second-stage probabilities are
    already out of fold; an encoder fine-tuned on the other folds scores them, and each event's
    threshold is the one that gives the average the best F1 there. Then the encoder is
    fine-tuned again on every training dialogue, and that one is stored. With several
    ``seeds``, each step is done once per seed and the encoders' outputs are averaged
    (:class:`~pipeline.events.encoder.EncoderEnsemble`).
    """
    from sklearn.model_selection import GroupKFold

    from pipeline.events.embeddings import MODEL_SHA256
    from pipeline.events.encoder import EncoderEnsemble, base_model
    from pipeline.events.encoder_training import fine_tune

    base = base_model()
    bounds = np.cumsum([0] + [len(f.texts) for f in features])
    _, held_out_rows = next(iter(GroupKFold(n_splits=folds).split(gold, groups=groups)))
    held_out = set(groups[held_out_rows])
    whole_conversations = [n for n, e in enumerate(examples) if "#" not in e.dialogue_id]

    def data(conversations: list[int]):
        rows = np.concatenate([np.arange(bounds[n], bounds[n + 1]) for n in conversations])
        return [(features[n].texts, features[n].roles) for n in conversations], gold[rows], rows

    def fine_tuned(conversations: list[int], seed: int):
        fitting, targets, _ = data(conversations)
        return fine_tune(base, MODEL_SHA256, fitting, targets, seed=seed, progress=progress)

    fitting = [n for n in whole_conversations if groups[bounds[n]] not in held_out]
    fold_encoders = [fine_tuned(fitting, seed) for seed in seeds]
    scoring = [n for n in whole_conversations if groups[bounds[n]] in held_out]
    conversations, held_out_gold, held_out_rows = data(scoring)
    encoded = np.mean([np.vstack([e.probabilities(*c) for c in conversations]) for e in fold_encoders], axis=0)
    thresholds, model.training["held_out_f1"] = encoder_thresholds(out_of_fold[held_out_rows], encoded,
                                                                   held_out_gold)
    model.training["held_out_f1"]["dialogues"] = len(scoring)
    model.training["encoder_seeds"] = list(seeds)
    model.encoder_thresholds = thresholds
    finals = [fine_tuned(whole_conversations, seed) for seed in seeds]
    model.encoder = finals[0] if len(finals) == 1 else EncoderEnsemble(tuple(finals))
    # The encoder's own digest too: re-fine-tuning it alone (another seed) is another version.
    model.version += f".enc{len(finals) if len(finals) > 1 else ''}-{model.encoder.name.rsplit('-', 1)[1][:8]}"


def encoder_thresholds(second_stage: np.ndarray, encoded: np.ndarray, gold: np.ndarray) -> tuple[dict, dict]:
    """Each event's threshold on the average of the second stage's and the encoder's held-out
    probabilities: the one with the best F1 on them. Also returns F1 there, the second stage
    alone (at its own best threshold) and the average, for the training report."""
    average = (second_stage + encoded) / 2

    def best_threshold(probabilities: np.ndarray, column: int) -> float:
        return max(THRESHOLD_GRID, key=lambda t: _f1(gold[:, column], probabilities[:, column] >= t))

    thresholds = {event: best_threshold(average, c) for c, event in enumerate(EVENTS)}
    report = {
        "utterances": int(len(gold)),
        "second_stage": {event: round(_f1(gold[:, c], second_stage[:, c] >= best_threshold(second_stage, c)), 3)
                         for c, event in enumerate(EVENTS)},
        "average": {event: round(_f1(gold[:, c], average[:, c] >= thresholds[event]), 3)
                    for c, event in enumerate(EVENTS)}}
    return thresholds, report


def _f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    true_positive = float(np.sum(gold & predicted))
    denominator = float(np.sum(gold) + np.sum(predicted))
    return 2 * true_positive / denominator if denominator else 0.0


def save(model: TrainedModel, path: str | Path) -> Path:
    """Write the artifact (pickle of the fitted objects plus metadata) atomically."""
    drop_pruned_vocabulary(model.text_vectorizer, model.context_vectorizer)
    for classifier in model.classifiers.values():
        # Single precision halves the artifact; probabilities change in the 7th decimal.
        classifier.coef_ = classifier.coef_.astype(np.float32)
    return save_artifact(model, path, ARTIFACT_FORMAT)


def load(path: str | Path) -> TrainedModel:
    """Read an artifact written by :func:`save`; refuse one from another format or sklearn."""
    return load_artifact(path, ARTIFACT_FORMAT, "keynode train-tagger")


def _stacked(classifiers: dict) -> tuple[np.ndarray, np.ndarray]:
    """The events' binary logistic regressions as one coefficient matrix (features × events)
    and intercept row: one product per conversation instead of six scikit-learn calls, whose
    input checks cost more than the arithmetic on a 25-utterance chat. Same numbers as
    ``predict_proba(x)[:, 1]``, which is the logistic function of ``x @ coef.T + intercept``."""
    # Contiguous float64 once: scipy would otherwise copy (and upcast) it on every product.
    coef = np.ascontiguousarray(np.vstack([classifiers[event].coef_ for event in EVENTS]).T, dtype=np.float64)
    intercept = np.array([classifiers[event].intercept_[0] for event in EVENTS])
    return coef, intercept


def _predict(x, stacked: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    from scipy.special import expit

    coef, intercept = stacked
    return expit(np.asarray(x @ coef) + intercept)


class LearnedTagger:
    """A trained model behind the :class:`~pipeline.events.tagger.Tagger` interface."""

    def __init__(self, model: TrainedModel):
        self.model = model
        self.name = model.version
        self._first_stage = _stacked(model.classifiers)
        self._second_stage = FlatForest({event: model.sequence_classifiers[event] for event in EVENTS})
        #: What the models computed before, by kind (:attr:`output_caches`) and key: filled from
        #: the store by the flow and ``keynode retag``, and by every call.
        self.caches: dict[str, dict[str, np.ndarray]] = {VECTORS: {}, ENCODER: {}}
        #: Sentence vectors by text key (the customer-reaction model reads them too).
        self.embedding_cache = self.caches[VECTORS]
        self.new_outputs: dict[str, dict[str, np.ndarray]] = {VECTORS: {}, ENCODER: {}}

    @property
    def output_caches(self) -> dict[str, str]:
        """What the store keeps of this tagger's work, by kind: the e5 model's name for sentence
        vectors (``vectors``), the encoder's (:attr:`FineTunedEncoder.name`) for its
        probabilities (``encoder``). Empty for a TF-IDF-only model."""
        from pipeline.events.embeddings import EMBEDDER_NAME

        caches = {VECTORS: EMBEDDER_NAME} if self.model.use_embeddings else {}
        if self.model.encoder is not None:
            caches[ENCODER] = self.model.encoder.name
        return caches

    def cache_keys(self, conversation: Conversation) -> dict[str, list[str]]:
        """The keys of what the tagger computes for a conversation, by kind (as :attr:`output_caches`)."""
        from pipeline.events.embeddings import text_key

        texts = [model_text(u.text, self.model.stickers) for u in conversation.utterances]
        keys = {VECTORS: [text_key(text) for text in texts]} if self.model.use_embeddings else {}
        if self.model.encoder is not None:
            keys[ENCODER] = self.model.encoder.context_keys(texts, [u.speaker_role for u in conversation.utterances])
        return keys

    def remember(self, known: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Take outputs the store kept (by kind and key), so they are not computed again."""
        for kind, outputs in known.items():
            self.caches[kind].update(outputs)

    def outputs_of(self, conversation: Conversation, known: Mapping[str, Mapping[str, np.ndarray]]
                   ) -> dict[str, dict[str, np.ndarray]]:
        """What was computed for ``conversation`` and is not in ``known``, by kind, for the store
        to keep (by its keys, not :meth:`take_new_outputs`: the flow's task threads share the tagger)."""
        return {kind: {key: self.caches[kind][key] for key in keys
                       if key not in known.get(kind, {}) and key in self.caches[kind]}
                for kind, keys in self.cache_keys(conversation).items()}

    def take_new_outputs(self) -> dict[str, dict[str, np.ndarray]]:
        """Outputs computed since the last call, by kind, for the store to keep."""
        new, self.new_outputs = self.new_outputs, {VECTORS: {}, ENCODER: {}}
        return new

    def probabilities(self, conversation: Conversation, sop: Sop,
                      rule_events: tuple[KeyEvent, ...] | None = None) -> np.ndarray:
        """Per utterance and event (SOP order of :data:`EVENTS`), the model's probability.
        ``rule_events``: the SOP rules' events for the conversation, if already found."""
        if not conversation.utterances:
            return np.zeros((0, len(EVENTS)))
        features = _features(conversation, sop, self.model.use_embeddings, self.embedding_cache, rule_events,
                             self.model.stickers)
        self._keep(VECTORS, features.new_vectors)
        first_stage = _predict(self.model.matrix(features), self._first_stage)
        second_stage = self._second_stage.predict_proba(sequence_features(first_stage, features))
        if self.model.encoder is None:
            return second_stage
        # The plain average: on held-out training dialogues it beat either model alone on every
        # event (docs/tagging.md); its thresholds are the artifact's encoder_thresholds.
        encoded, computed = self.model.encoder.cached_probabilities(features.texts, features.roles,
                                                                    self.caches[ENCODER])
        self._keep(ENCODER, computed)
        return (second_stage + encoded) / 2

    def _keep(self, kind: str, computed: dict[str, np.ndarray]) -> None:
        self.caches[kind].update(computed)
        self.new_outputs[kind].update(computed)

    def tag(self, conversation: Conversation, sop: Sop) -> tuple[KeyEvent, ...]:
        """Events whose probability passes the event's threshold and whose speaker fits the SOP."""
        rule_events = RuleTagger().tag(conversation, sop)
        probabilities = self.probabilities(conversation, sop, rule_events)
        rules = {(e.utterance_index, e.node_id): e.source for e in rule_events}
        events = []
        for utterance, row in zip(conversation.utterances, probabilities):
            for column, event in enumerate(EVENTS):
                if event not in sop.node_ids:
                    continue
                node = sop.node(event)
                if node.speaker != "any" and node.speaker != utterance.speaker_role:
                    continue
                if row[column] < self.model.active_thresholds[event]:
                    continue
                rule = rules.get((utterance.index, event))
                source = f"model:{self.name} p={row[column]:.2f}" + (f" + {rule}" if rule else "")
                events.append(KeyEvent(event, utterance.index, round(float(row[column]), 3), utterance.text, source))
        order = {node_id: i for i, node_id in enumerate(sop.node_ids)}
        return tuple(sorted(events, key=lambda e: (e.utterance_index, order.get(e.node_id, 99))))
