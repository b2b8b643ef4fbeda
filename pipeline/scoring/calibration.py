"""Do node scores agree with a trainer? Spearman correlation against 1–5 ratings per node.

The calibration set (``data/calibration/ratings.jsonl``, see its README) holds dialogues whose
key events are labelled and whose nodes a rater scored 1–5 by the rubric of
shared/KEY_EVENTS.md ("Quality of a node"). It is held out from every choice in the scorer.
Each node is compared where the rater gave a rating: a node the rater scored but Keynode did
not find counts with Keynode's total for it (0 when missed, 0 when an optional node was not
found), because that is what a trainer would see on the board.

Two readings: on the gold events (the scorer alone) and on the default tagger's events (what
the product does end to end).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from pipeline.events import build_event_tree
from pipeline.events.corpus import LabelledDialogue, load_corpus
from pipeline.ingest.errors import IngestError
from pipeline.models import KeyEvent, NodeScore
from pipeline.scoring.conversation import score_conversation
from pipeline.scoring.nodes import score_nodes
from pipeline.scoring.sentiment import customer_polarity
from pipeline.sop import Sop

DEFAULT_SET = Path(__file__).resolve().parents[2] / "data" / "calibration" / "ratings.jsonl"


@dataclass(frozen=True)
class RatedDialogue:
    """A labelled dialogue and the rater's 1–5 per node (None: not rated)."""

    dialogue: LabelledDialogue
    ratings: dict[str, int | None]


def load_ratings(path: str | Path = DEFAULT_SET) -> list[RatedDialogue]:
    """Read the calibration set; a rating outside 1–5 is an error naming file and line."""
    path = Path(path)
    dialogues = {d.dialogue_id: d for d in load_corpus([path])}
    rated = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        ratings = record.get("ratings") or {}
        bad = {node: value for node, value in ratings.items() if value is not None and value not in (1, 2, 3, 4, 5)}
        if bad:
            raise IngestError(str(path), "calibration", f"line {number} has ratings outside 1–5: {bad}",
                              "rate each node 1–5, or null when it is not rated")
        rated.append(RatedDialogue(dialogues[str(record["id"])], ratings))
    return rated


def gold_events(dialogue: LabelledDialogue) -> tuple[KeyEvent, ...]:
    """The dialogue's labels as key events (confidence 1, source ``gold``)."""
    return tuple(KeyEvent(node_id, index, 1.0, dialogue.conversation.utterances[index].text, "gold")
                 for index, labels in enumerate(dialogue.labels) for node_id in sorted(labels))


def node_totals(dialogue: LabelledDialogue, sop: Sop, tagger=None) -> tuple[dict[str, NodeScore], float]:
    """Keynode's node scores and call total for a dialogue, on the gold events or a tagger's."""
    conversation = dialogue.conversation
    events = gold_events(dialogue) if tagger is None else tagger.tag(conversation, sop)
    tree = build_event_tree(conversation, events, sop)
    polarity = customer_polarity(conversation, vector_cache=getattr(tagger, "embedding_cache", None))
    scores = score_nodes(conversation, events, tree, sop, polarity)
    return {s.node_id: s for s in scores}, score_conversation(events, scores, sop).total


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when either side is constant."""
    from scipy.stats import spearmanr

    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    return float(spearmanr(xs, ys).statistic)


def fisher_interval(rho: float, count: int) -> tuple[float, float] | None:
    """An approximate 95% interval for a rank correlation (Fisher z, standard error
    √(1.06 / (n − 3)) as Fieller et al. give for Spearman's rho)."""
    if count <= 3 or abs(rho) >= 1:
        return None
    z, error = math.atanh(rho), math.sqrt(1.06 / (count - 3))
    return round(math.tanh(z - 1.96 * error), 3), round(math.tanh(z + 1.96 * error), 3)


def calibrate(rated: list[RatedDialogue], sop: Sop, tagger=None) -> dict:
    """Per node: how many ratings, Spearman's rho between node total and rating, its interval,
    and the mean node total at each rating (so a reader sees the shape, not only one number)."""
    pairs: dict[str, list[tuple[float, int]]] = {node: [] for node in sop.node_ids}
    for item in rated:
        scores, _ = node_totals(item.dialogue, sop, tagger)
        for node_id, rating in item.ratings.items():
            if rating is None or node_id not in scores:
                continue
            total = scores[node_id].total
            pairs[node_id].append((0.0 if total is None else total, rating))
    report = {}
    for node_id, values in pairs.items():
        if not values:
            continue
        totals, ratings = [v[0] for v in values], [v[1] for v in values]
        rho = spearman(totals, ratings)
        by_rating = {r: round(sum(t for t, g in values if g == r) / ratings.count(r), 1)
                     for r in sorted(set(ratings))}
        report[node_id] = {"rated": len(values), "spearman": None if rho is None else round(rho, 3),
                           "interval_95": None if rho is None else fisher_interval(rho, len(values)),
                           "mean_total_by_rating": by_rating}
    return report
