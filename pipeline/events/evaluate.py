"""Per-utterance evaluation of a tagger on labelled dialogues (``keynode eval-tagger``).

Each dialogue is tagged as a whole, in order, so a tagger may use context; then every
utterance counts once per label. The report has per-event precision, recall, F1 and
support, macro-F1, and a confusion summary: for each event, the gold labels of its false
positives and what its missed utterances were predicted as instead.
"""

from __future__ import annotations

import time
from collections import Counter

from pipeline.events.corpus import EVENTS, LabelledDialogue, macro_f1, score_predictions
from pipeline.events.tagger import Tagger
from pipeline.sop import Sop


def evaluate(tagger: Tagger, dialogues: list[LabelledDialogue], sop: Sop) -> dict:
    """Tag every dialogue and score the predictions; the JSON ``keynode eval-tagger`` writes."""
    gold: list[frozenset[str]] = []
    predicted: list[frozenset[str]] = []
    started = time.perf_counter()
    for dialogue in dialogues:
        found: list[set[str]] = [set() for _ in dialogue.labels]
        for event in tagger.tag(dialogue.conversation, sop):
            found[event.utterance_index].add(event.node_id)
        gold.extend(dialogue.labels)
        predicted.extend(frozenset(labels) for labels in found)
    elapsed = time.perf_counter() - started
    scores = score_predictions(gold, predicted)
    confusion = {}
    for event in EVENTS:
        false_positive_gold = Counter(label for g, p in zip(gold, predicted) if event in p and event not in g
                                      for label in (g or {"none"}))
        missed_as = Counter(label for g, p in zip(gold, predicted) if event in g and event not in p
                            for label in ((p - {event}) or {"none"}))
        confusion[event] = {"false_positives_were": dict(false_positive_gold.most_common(4)),
                            "misses_predicted_as": dict(missed_as.most_common(4))}
    return {
        "tagger_version": tagger.name,
        "dialogues": len(dialogues),
        "utterances": len(gold),
        "macro_f1": macro_f1(scores),
        "per_event": {event: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
                      for event, s in scores.items()},
        "confusion": confusion,
        "utterances_per_second": round(len(gold) / elapsed, 1) if elapsed else None,
    }


def report_table(report: dict) -> str:
    """The report as a Markdown table."""
    lines = [f"tagger `{report['tagger_version']}` on {report['dialogues']} dialogues / "
             f"{report['utterances']} utterances: **macro-F1 {report['macro_f1']:.3f}**", "",
             "| event | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for event, s in report["per_event"].items():
        lines.append(f"| {event} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |")
    return "\n".join(lines)
