"""``make eval-scores``: do node scores agree with a trainer, and how well is the customer read?

1. Calibration: Spearman's rho between Keynode's node totals and 1–5 ratings per node on the
   held-out calibration set (data/calibration/), on the gold events (the scorer alone) and on
   the default tagger's events (end to end).
2. The customer-reaction model (pipeline/scoring/sentiment.py) on its held-out 20%.

Writes the tables of docs/scoring.md (between its markers) and bench/results/scores.json.

    python bench/eval_scores.py
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.events import load_tagger  # noqa: E402
from pipeline.scoring import sentiment  # noqa: E402
from pipeline.scoring.calibration import calibrate, load_ratings  # noqa: E402
from pipeline.sop import load_sop  # noqa: E402

BEGIN, END = "<!-- eval-scores:begin -->", "<!-- eval-scores:end -->"


def _calibration_table(gold: dict, tagged: dict) -> str:
    lines = ["| node | rated | Spearman ρ, gold events (95% interval) | mean total at rating 1 / 2 / 3 / 4 / 5 "
             "| Spearman ρ, default tagger |", "|---|---|---|---|---|"]
    for node_id, row in gold.items():
        interval = row["interval_95"]
        rho = "–" if row["spearman"] is None else f"**{row['spearman']:.2f}**"
        span = f" ({interval[0]:.2f} – {interval[1]:.2f})" if interval else ""
        means = " / ".join(str(row["mean_total_by_rating"].get(r, "–")) for r in range(1, 6))
        end_to_end = tagged.get(node_id, {}).get("spearman")
        lines.append(f"| {node_id} | {row['rated']} | {rho}{span} | {means} | "
                     f"{'–' if end_to_end is None else f'{end_to_end:.2f}'} |")
    return "\n".join(lines)


def _sentiment_table(report: dict, plain: dict) -> str:
    lines = ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for label, row in report["per_label"].items():
        lines.append(f"| {label} | {row['precision']:.2f} | {row['recall']:.2f} | {row['f1']:.2f} | {row['support']} |")
    lines += ["", f"Accuracy **{report['accuracy']:.3f}**, macro-F1 **{report['macro_f1']:.3f}** with the sentence "
              f"vectors (what the default pipeline uses); TF-IDF classifier alone: accuracy {plain['accuracy']:.3f}, "
              f"macro-F1 {plain['macro_f1']:.3f}."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "scoring.md"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "scores.json"))
    args = parser.parse_args()

    sop = load_sop(ROOT / "configs" / "sop.yaml")
    rated = load_ratings()
    gold = calibrate(rated, sop)
    tagged = calibrate(rated, sop, load_tagger(str(ROOT / "models" / "tagger.pkl")))
    model = sentiment.default_sentiment()
    held_out = [i for i in sentiment.load_feedback() if sentiment.is_held_out(i.item_id)]
    reaction = sentiment.evaluate_sentiment(model, held_out)
    reaction_plain = sentiment.evaluate_sentiment(model, held_out, use_embeddings=False)

    machine = f"{platform.machine()}, Python {platform.python_version()}"
    text = "\n".join([
        f"Measured {date.today():%Y-%m-%d} on {machine}, by `make eval-scores`.", "",
        f"**Calibration against a trainer's 1–5 ratings** ({len(rated)} dialogues of data/calibration/, never used "
        "to tune the scorer; a rated node Keynode missed counts with its total 0)", "",
        _calibration_table(gold, tagged), "",
        f"**Customer-reaction model** (held-out 20% of data/labelled/sentiment/, {reaction['items']} customer "
        f"utterances, model `{model.version}`)", "",
        _sentiment_table(reaction, reaction_plain),
    ])
    out = Path(args.out)
    document = out.read_text(encoding="utf-8")
    if BEGIN not in document:
        raise SystemExit(f"{out} has no {BEGIN} … {END} markers")
    head, rest = document.split(BEGIN, 1)
    out.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"date": f"{date.today():%Y-%m-%d}", "machine": machine,
                                           "calibration_gold_events": gold, "calibration_default_tagger": tagged,
                                           "sentiment_held_out": reaction, "sentiment_held_out_tfidf": reaction_plain},
                                          ensure_ascii=False, indent=2), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
