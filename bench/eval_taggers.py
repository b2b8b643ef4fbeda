"""``make eval``: every tagger configuration on the dev split and on Persuasion for Good.

Writes the tables of docs/tagging.md (between its markers) and bench/results/tagging.json.
Speed is measured on one core (CPU affinity and BLAS/OpenMP threads set to one) while tagging
the dev split, in utterances per second, embedding time included (no vector cache).

    python bench/eval_taggers.py [--persuasion ../shared/data/dialogues/persuasion_for_good.jsonl]
"""

from __future__ import annotations

import os

# One core, set before numpy and the embedding engine load their thread pools.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.events import load_tagger  # noqa: E402
from pipeline.events.corpus import is_dev, load_corpus  # noqa: E402
from pipeline.events.evaluate import evaluate  # noqa: E402
from pipeline.sop import load_sop  # noqa: E402

BEGIN, END = "<!-- eval-tagger:begin -->", "<!-- eval-tagger:end -->"
CONFIGURATIONS = (("rules only", "rules"), ("rules + sklearn (TF-IDF)", "models/tagger-tfidf.pkl"),
                  ("rules + sklearn + embeddings", "no-encoder:models/tagger.pkl"),
                  ("rules + sklearn + embeddings + context encoder (default)", "models/tagger.pkl"))


def _spec(spec: str) -> str:
    """A configuration's ``load_tagger`` spec, its model path made absolute."""
    if spec == "rules":
        return spec
    prefix, _, path = spec.rpartition(":")
    return f"{prefix}:{ROOT / path}" if prefix else str(ROOT / path)


def _table(title: str, reports: list[tuple[str, dict]]) -> str:
    events = list(reports[0][1]["per_event"])
    lines = [f"**{title}** ({reports[0][1]['dialogues']} dialogues, {reports[0][1]['utterances']} utterances)", "",
             "| configuration | " + " | ".join(f"{e} P / R / F1" for e in events) + " | macro-F1 | utt/s (1 core) |",
             "|---|" + "---|" * (len(events) + 2)]
    for name, report in reports:
        cells = [f"{s['precision']:.2f} / {s['recall']:.2f} / **{s['f1']:.2f}**" for s in report["per_event"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | **{report['macro_f1']:.3f}** | "
                     f"{report['utterances_per_second']} |")
    support = " · ".join(f"{e} {s['support']}" for e, s in reports[0][1]["per_event"].items())
    lines += ["", f"Support (gold positives): {support}."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persuasion", default=str(ROOT.parent / "shared" / "data" / "dialogues"
                                                    / "persuasion_for_good.jsonl"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "tagging.md"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "tagging.json"))
    args = parser.parse_args()
    sop = load_sop(ROOT / "configs" / "sop.yaml")
    corpus = load_corpus(sorted(glob.glob(str(ROOT / "data" / "labelled" / "raw" / "*.jsonl"))))
    dev = [d for d in corpus if is_dev(d.dialogue_id)]
    sets = [("Dev split of data/labelled (never used for training or tuning)", dev)]
    if Path(args.persuasion).exists():
        sets.append(("Persuasion for Good, strong label mapping (real English dialogues; not tuned on)",
                     load_corpus([args.persuasion])))
    results: dict = {}
    blocks = []
    for title, dialogues in sets:
        reports = []
        for name, spec in CONFIGURATIONS:
            tagger = load_tagger(_spec(spec))
            report = evaluate(tagger, dialogues, sop)
            reports.append((name, report))
            print(title, name, report["macro_f1"], report["utterances_per_second"], flush=True)
        results[title] = {name: report for name, report in reports}
        blocks.append(_table(title, reports))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    stamp = f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python {platform.python_version()}, by `make eval`."
    document = Path(args.out).read_text(encoding="utf-8")
    start, end = document.index(BEGIN), document.index(END) + len(END)
    block = f"{BEGIN}\n{stamp}\n\n" + "\n\n".join(blocks) + f"\n{END}"
    Path(args.out).write_text(document[:start] + block + document[end:], encoding="utf-8")
    print(f"wrote {args.out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
