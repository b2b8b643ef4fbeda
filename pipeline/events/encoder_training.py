"""Fine-tune the context encoder (``encoder.py``) on labelled dialogues. Needs torch.

torch is only for training (the ``transformers`` extra, torch 2.13.0 CPU); the result is stored
as numpy arrays and run with numpy. The network here is the numpy one in torch form, with the
same tensor names, so what it learns maps back one to one; the word and position embeddings
stay frozen (a quarter of a billion numbers the corpus could not teach), everything above them
is trained.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np

from pipeline.events.encoder import BaseModel, FineTunedEncoder, pad_batch, utterance_inputs

#: Settings of the measured run (docs/tagging.md): two passes over the training utterances,
#: batches of 16, AdamW with a one-cycle schedule peaking at 5e-5 (the new head at 1e-3).
EPOCHS = 2.0
BATCH_SIZE = 16
ENCODER_LEARNING_RATE = 5e-5
HEAD_LEARNING_RATE = 1e-3


def _require_torch():
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError("fine-tuning the encoder needs torch: pip install -e '.[transformers]' "
                           "(torch 2.13.0 CPU), or train without it: keynode train-tagger") from exc
    return torch


def _network(base: BaseModel, events: int):
    torch = _require_torch()
    nn = torch.nn
    config = base.config

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            self.tuned = nn.ParameterDict({name.replace(".", "__"): nn.Parameter(torch.tensor(tensor))
                                           for name, tensor in base.tensors.items()
                                           if name not in ("emb.pos", "emb.type")})
            self.positions = torch.tensor(base.tensors["emb.pos"]).reshape(-1, config.hidden)
            self.token_type = torch.tensor(base.tensors["emb.type"]).reshape(-1, config.hidden)[0]
            self.head = nn.Linear(config.hidden, events)

        def weight(self, name: str):
            return self.tuned[name.replace(".", "__")]

        def forward(self, words, attention, pooling):
            rows, length, _ = words.shape
            heads, head_size = config.heads, config.hidden // config.heads
            norm = torch.nn.functional.layer_norm
            x = norm(words + self.positions[:length] + self.token_type, (config.hidden,),
                     self.weight("emb.ln.w"), self.weight("emb.ln.b"), config.layer_norm_eps)
            mask = (1.0 - attention[:, None, None, :]) * -1e9
            for layer in range(config.layers):
                def linear(t, name, layer=layer):
                    return t @ self.weight(f"l{layer}.{name}.w").T + self.weight(f"l{layer}.{name}.b")

                def split(t):
                    return t.reshape(rows, length, heads, head_size).transpose(1, 2)

                q, k, v = split(linear(x, "q")), split(linear(x, "k")), split(linear(x, "v"))
                scores = (q @ k.transpose(-1, -2)) / head_size ** 0.5 + mask
                context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(rows, length, config.hidden)
                x = norm(x + linear(context, "ao"), (config.hidden,), self.weight(f"l{layer}.aln.w"),
                         self.weight(f"l{layer}.aln.b"), config.layer_norm_eps)
                hidden = torch.nn.functional.gelu(linear(x, "fi"))
                x = norm(x + linear(hidden, "fo"), (config.hidden,), self.weight(f"l{layer}.oln.w"),
                         self.weight(f"l{layer}.oln.b"), config.layer_norm_eps)
            pooling = pooling[..., None]
            return self.head((x * pooling).sum(1) / pooling.sum(1).clamp(min=1.0))

    return Network()


def _batches(count: int, batch_size: int, steps: int, seed: int) -> Iterator[list[int]]:
    shuffler = random.Random(seed)
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            fresh = list(range(count))
            shuffler.shuffle(fresh)
            order += fresh
        yield order[:batch_size]
        del order[:batch_size]


def fine_tune(base: BaseModel, base_sha256: str, conversations: Sequence[tuple[list[str], list[str]]],
              targets: np.ndarray, epochs: float = EPOCHS, batch_size: int = BATCH_SIZE, seed: int = 0,
              max_steps: int | None = None, progress=None) -> FineTunedEncoder:
    """Train on every utterance of ``conversations`` (each: texts already passed through
    ``model_text``, and roles) against ``targets`` (utterances × events, 0/1, in order).

    Positive utterances weigh more in the loss (the square root of the negatives-per-positive
    ratio, capped at √10), as the learned tagger's classes are balanced.
    """
    torch = _require_torch()
    torch.manual_seed(seed)
    inputs = [item for texts, roles in conversations for item in utterance_inputs(base.tokenizer, texts, roles)]
    if len(inputs) != len(targets):
        raise ValueError(f"{len(inputs)} utterances but {len(targets)} target rows")
    network = _network(base, targets.shape[1])
    steps = max(1, int(epochs * len(inputs) / batch_size))
    if max_steps is not None:
        steps = min(steps, max_steps)
    optimizer = torch.optim.AdamW([{"params": list(network.tuned.parameters()), "lr": ENCODER_LEARNING_RATE},
                                   {"params": list(network.head.parameters()), "lr": HEAD_LEARNING_RATE}],
                                  weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[ENCODER_LEARNING_RATE, HEAD_LEARNING_RATE],
                                                   total_steps=steps, pct_start=0.1)
    positives = targets.sum(axis=0)
    weight = np.sqrt(np.clip((len(targets) - positives) / np.maximum(positives, 1), 1, 10))
    loss_function = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(weight, dtype=torch.float32))
    target_tensor = torch.tensor(targets, dtype=torch.float32)
    network.train()
    for step, rows in enumerate(_batches(len(inputs), batch_size, steps, seed), start=1):
        batch = pad_batch([inputs[n] for n in rows], base.tokenizer.pad)
        words = torch.tensor(base.word_vectors(batch.ids))
        logits = network(words, torch.tensor(batch.attention), torch.tensor(batch.pooling))
        loss = loss_function(logits, target_tensor[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None and step % 50 == 0:
            progress(step, steps, loss.item())
    tuned = {name.replace("__", "."): parameter.detach().numpy().copy()
             for name, parameter in network.tuned.items()}
    return FineTunedEncoder.from_tensors(tuned, base, network.head.weight.detach().numpy(),
                                         network.head.bias.detach().numpy(), base_sha256)
