"""The labelled corpus (data/labelled/) and the per-utterance evaluation of a tagger.

Format (also the input of ``keynode eval-tagger``): JSON Lines, one dialogue per line,
``{"id", "lang": "zh"|"en", "channel": "call"|"chat", "turns": [{"speaker", "role", "text",
"labels": [event ids]}]}``, optionally per turn ``start_s``/``end_s`` (calls) or ``time``
(chats); other fields are ignored. docs/labelling.md is the labelling guide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingest.errors import IngestError
from pipeline.models import Conversation, ConversationMeta, Utterance

EVENTS: tuple[str, ...] = ("opening", "product_intro", "customer_needs", "customer_approval",
                           "price_objection", "next_step")
#: Share of dialogues in the dev split (by a hash of the dialogue id, never by utterance).
DEV_SHARE = 0.2


@dataclass(frozen=True)
class LabelledDialogue:
    """A dialogue of the corpus: the conversation, and the gold labels of each utterance."""

    dialogue_id: str
    conversation: Conversation
    labels: tuple[frozenset[str], ...]


def load_corpus(paths: Iterable[str | Path]) -> list[LabelledDialogue]:
    """Read labelled JSONL files; a malformed line is an error naming file and line."""
    dialogues: list[LabelledDialogue] = []
    for path in map(Path, paths):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                turns = record["turns"]
                times = _turn_times(turns)
                utterances = tuple(Utterance(index=i, speaker_role=turn["role"], speaker_name=turn.get("speaker", ""),
                                             text=turn["text"], start_s=times[i][0], end_s=times[i][1])
                                   for i, turn in enumerate(turns))
                labels = tuple(frozenset(turn.get("labels", [])) for turn in turns)
                dialogue_id = str(record["id"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise IngestError(str(path), "corpus", f"line {number} is not a labelled dialogue ({exc})",
                                  "see the format in docs/labelling.md") from exc
            unknown = {label for turn_labels in labels for label in turn_labels} - set(EVENTS)
            if unknown:
                raise IngestError(str(path), "corpus", f"line {number} has unknown labels {sorted(unknown)}",
                                  f"use only {', '.join(EVENTS)}")
            conversation = Conversation(
                conversation_id=dialogue_id, source_path=str(path), source_key=dialogue_id, source_format="corpus",
                # The corpus says "call" for a phone call; the pipeline's channel names are CHANNELS.
                meta=ConversationMeta(channel={"call": "phone"}.get(record.get("channel"), record.get("channel", "chat")),
                                      language=record.get("lang", "zh"),
                                      industry=record.get("industry"), rep=record.get("rep"),
                                      outcome=record.get("outcome")),
                utterances=utterances)
            dialogues.append(LabelledDialogue(dialogue_id, conversation, labels))
    return dialogues


def _turn_times(turns: list[dict]) -> list[tuple[float | None, float | None]]:
    """Optional timing per turn: ``start_s``/``end_s`` (calls), or a chat message's ``time``
    ("2026-09-22 20:14:05") as seconds since the first message."""
    from datetime import datetime

    stamps = [datetime.fromisoformat(t["time"]) if t.get("time") else None for t in turns]
    first = next((stamp for stamp in stamps if stamp), None)
    times = []
    for turn, stamp in zip(turns, stamps):
        if stamp is not None:
            times.append(((stamp - first).total_seconds(), None))
        else:
            start, end = turn.get("start_s"), turn.get("end_s")
            times.append((None if start is None else float(start), None if end is None else float(end)))
    return times


def is_dev(dialogue_id: str) -> bool:
    """Whether a dialogue belongs to the dev split: a stable hash of its id, so the split never
    changes when dialogues are added and never cuts a dialogue in two."""
    digest = hashlib.sha256(dialogue_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < DEV_SHARE


@dataclass(frozen=True)
class EventScores:
    """Precision, recall and F1 of one event over utterances."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


def score_predictions(gold: list[frozenset[str]], predicted: list[frozenset[str]]) -> dict[str, EventScores]:
    """Per-event scores; every utterance counts once per label."""
    scores = {}
    for event in EVENTS:
        true_positive = sum(1 for g, p in zip(gold, predicted) if event in g and event in p)
        support = sum(1 for g in gold if event in g)
        predicted_count = sum(1 for p in predicted if event in p)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[event] = EventScores(round(precision, 3), round(recall, 3), round(f1, 3), support, predicted_count)
    return scores


def macro_f1(scores: dict[str, EventScores]) -> float:
    """Mean F1 over the events that occur in the gold labels (an event with no gold positive
    has no defined F1: e.g. Persuasion for Good's mapping has no price objection)."""
    present = [score.f1 for score in scores.values() if score.support]
    return round(sum(present) / len(present), 3) if present else 0.0
