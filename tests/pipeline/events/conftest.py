"""Fixtures of the key-event tests: stand-in fine-tuned encoders (the real one takes an hour to train)."""

import numpy as np
import pytest

from pipeline.events.encoder import FineTunedEncoder, base_model


def perturb(base, seed=0, size=0.01) -> dict[str, np.ndarray]:
    """The base network's trainable tensors, each moved a little, as fine-tuning moves them."""
    rng = np.random.default_rng(seed)
    return {name: (tensor + size * rng.standard_normal(tensor.shape) * np.abs(tensor).mean()).astype(np.float32)
            for name, tensor in base.tensors.items() if name not in ("emb.pos", "emb.type")}


def stand_in_encoder(seed=0) -> FineTunedEncoder:
    """A fine-tuned encoder as the artifact stores it, with random moves and a random head."""
    base = base_model()
    head = np.random.default_rng(seed + 1).standard_normal((6, base.config.hidden)).astype(np.float32) * 0.1
    return FineTunedEncoder.from_tensors(perturb(base, seed), base, head, np.zeros(6, dtype=np.float32), "sha")


@pytest.fixture
def perturbed():
    return perturb


@pytest.fixture
def encoder_factory():
    return stand_in_encoder
