"""A ``transformers`` sequence classifier as tagger, from a model directory the user supplies.

No model hub is reachable where Keynode runs, so nothing is downloaded: the user points
``KEYNODE_TRANSFORMER_DIR`` (or ``keynode train-tagger --transformer DIR``) at a local
encoder checkpoint (for example a Chinese BERT they have on disk). ``train`` fine-tunes it
as a multi-label classifier of the six events on the labelled corpus, reading each
utterance with its role and neighbours, and saves the result; ``TransformerTagger`` runs it.
Needs the ``transformers`` extra (``pip install -e '.[transformers]'``, torch 2.13.0 CPU).
The tests exercise the real training and inference code on a tiny randomly initialised BERT:
that proves the code path, not an accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.events.corpus import EVENTS, LabelledDialogue
from pipeline.events.learned import model_text
from pipeline.models import Conversation, KeyEvent
from pipeline.sop import Sop

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
MAX_LENGTH = 128
THRESHOLD = 0.5


def _inputs(conversation: Conversation) -> list[str]:
    """What the encoder reads per utterance: the role, the text, then its neighbours."""
    texts = [model_text(u.text) for u in conversation.utterances]
    return [f"{u.speaker_role}: {texts[i]} [SEP] {texts[i - 1] if i else ''} [SEP] "
            f"{texts[i + 1] if i + 1 < len(texts) else ''}" for i, u in enumerate(conversation.utterances)]


def _require_transformers():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("the transformers tagger needs the transformers extra: "
                           "pip install -e '.[transformers]' (torch 2.13.0 CPU)") from exc


def train(dialogues: list[LabelledDialogue], base_dir: str | Path, out_dir: str | Path, epochs: int = 2,
          batch_size: int = 16, learning_rate: float = 3e-5, max_steps: int | None = None) -> Path:
    """Fine-tune the encoder in ``base_dir`` on the dialogues; save model and tokenizer to ``out_dir``."""
    _require_transformers()
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base_dir), local_files_only=True, num_labels=len(EVENTS), problem_type="multi_label_classification",
        ignore_mismatched_sizes=True,  # a checkpoint's own classifier head is replaced by ours
        id2label=dict(enumerate(EVENTS)), label2id={e: i for i, e in enumerate(EVENTS)})
    texts = [text for d in dialogues for text in _inputs(d.conversation)]
    targets = torch.tensor([[float(e in labels) for e in EVENTS] for d in dialogues for labels in d.labels])
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(0)
    model.train()
    steps = 0
    for _epoch in range(epochs):
        for batch in torch.randperm(len(texts), generator=generator).split(batch_size):
            encoded = tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                                max_length=MAX_LENGTH, return_tensors="pt")
            loss = model(**encoded, labels=targets[batch]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        if max_steps is not None and steps >= max_steps:
            break
    out_dir = Path(out_dir)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return out_dir


class TransformerTagger:
    """A fine-tuned sequence classifier behind the tagger interface."""

    def __init__(self, model_dir: str | Path | None = None):
        _require_transformers()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model_dir = model_dir or os.environ.get("KEYNODE_TRANSFORMER_DIR")
        if not model_dir or not Path(model_dir).is_dir():
            raise FileNotFoundError(f"no transformer model directory at {model_dir!r}: set KEYNODE_TRANSFORMER_DIR "
                                    "to a local checkpoint fine-tuned with `keynode train-tagger --transformer`")
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), local_files_only=True)
        self.model.eval()
        self.name = f"transformer:{Path(model_dir).name}"

    def probabilities(self, conversation: Conversation):
        """Per utterance and event, the classifier's sigmoid output."""
        import torch

        with torch.no_grad():
            encoded = self.tokenizer(_inputs(conversation), padding=True, truncation=True, max_length=MAX_LENGTH,
                                     return_tensors="pt")
            return torch.sigmoid(self.model(**encoded).logits).numpy()

    def tag(self, conversation: Conversation, sop: Sop) -> tuple[KeyEvent, ...]:
        """Events above the threshold whose speaker fits the SOP."""
        if not conversation.utterances:
            return ()
        events = []
        for utterance, row in zip(conversation.utterances, self.probabilities(conversation)):
            for column, event in enumerate(EVENTS):
                if event not in sop.node_ids or row[column] < THRESHOLD:
                    continue
                node = sop.node(event)
                if node.speaker != "any" and node.speaker != utterance.speaker_role:
                    continue
                events.append(KeyEvent(event, utterance.index, round(float(row[column]), 3), utterance.text,
                                       f"{self.name} p={row[column]:.2f}"))
        return tuple(events)
