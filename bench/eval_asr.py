"""Measure transcription accuracy and speed: ``make eval-asr`` (writes docs/asr.md's table).

For every sample call (data/samples/calls/references.jsonl) and every shared real-speech clip
(tests/data/audio/refs.jsonl), at beam 1 and beam 5, with the packaged base model and any
model directory given with --model: CER (Mandarin) or WER (English) of the whole transcript,
the real-time factor (transcription seconds / audio seconds, no cache) and, for mono calls,
role attribution accuracy (each recognised utterance against the reference turn it overlaps
most in time).

    python bench/eval_asr.py [--model DIR ...] [--beams 1 5] [--out docs/asr.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.ingest.metadata import ManifestRow  # noqa: E402
from pipeline.sop import load_sop  # noqa: E402
from pipeline.transcribe.accuracy import cer, wer  # noqa: E402
from pipeline.transcribe.options import AsrOptions  # noqa: E402
from pipeline.transcribe.whisper import transcribe_recording  # noqa: E402

BEGIN, END = "<!-- eval-asr:begin -->", "<!-- eval-asr:end -->"


def _items() -> list[dict]:
    """Every evaluated recording with its reference text, language and (calls) turns."""
    items = []
    calls = ROOT / "data" / "samples" / "calls" / "references.jsonl"
    if calls.exists():
        for line in calls.read_text(encoding="utf-8").splitlines():
            ref = json.loads(line)
            items.append({"path": calls.parent / ref["file"], "name": ref["file"], "language": ref["language"],
                          "layout": ref["layout"], "rep_channel": ref.get("rep_channel"),
                          "reference": " ".join(turn["text"] for turn in ref["turns"]), "turns": ref["turns"],
                          "rep": next((t["speaker"] for t in ref["turns"] if t["role"] == "rep"), None),
                          "customer": next((t["speaker"] for t in ref["turns"] if t["role"] == "customer"), None)})
    clips = ROOT / "tests" / "data" / "audio" / "refs.jsonl"
    for line in clips.read_text(encoding="utf-8").splitlines():
        ref = json.loads(line)
        by_channel = ref.get("reference_by_channel")
        # The two-speaker file has one reference per channel: compare rep (left) then customer
        # (right) text, since interleaving overlapping speech has no single right order.
        reference = f"{by_channel['left']} {by_channel['right']}" if by_channel else ref["reference"]
        items.append({"path": clips.parent / ref["file"], "name": ref["file"], "language": ref["lang"],
                      "layout": "stereo" if ref["channels"] == 2 else "mono",
                      "rep_channel": "left" if by_channel else None, "by_channel": bool(by_channel),
                      "reference": reference, "turns": None, "rep": None, "customer": None})
    return items


def _role_accuracy(utterances, turns) -> float | None:
    if not turns:
        return None
    correct = 0
    for utterance in utterances:
        overlaps = [(min(utterance.end_s, t["end_s"]) - max(utterance.start_s, t["start_s"]), t["role"]) for t in turns]
        best_overlap, role = max(overlaps)
        correct += best_overlap > 0 and role == utterance.speaker_role
    return correct / max(1, len(utterances))


def evaluate(models: list[str], beams: list[int]) -> list[dict]:
    sop = load_sop(ROOT / "configs" / "sop.yaml")
    rows = []
    # Load the model once before timing anything: the first file should not pay for it.
    from pipeline.transcribe.model import resolve_model
    from pipeline.transcribe.whisper import load_model

    for model in models:
        load_model(str(resolve_model(model).path), AsrOptions().compute_type, AsrOptions().cpu_threads)
        for beam in beams:
            options = AsrOptions(model=model, beam_size=beam)
            for item in _items():
                row = ManifestRow(file=item["name"], language=item["language"], rep=item["rep"],
                                  customer=item["customer"], rep_channel=item["rep_channel"])
                with tempfile.TemporaryDirectory() as cache:  # measure real work, not the cache
                    started = time.perf_counter()
                    conversation = transcribe_recording(item["path"], row, sop, options, cache_dir=Path(cache))
                    elapsed = time.perf_counter() - started
                utterances = conversation.utterances
                if item.get("by_channel"):
                    utterances = sorted(utterances, key=lambda u: u.speaker_role != "rep")
                text = " ".join(u.text for u in utterances)
                metric = cer if item["language"] == "zh" else wer
                rows.append({
                    "model": model, "beam": beam, "file": item["name"], "language": item["language"],
                    "layout": item["layout"], "duration_s": conversation.transcript.duration_s,
                    "metric": "CER" if item["language"] == "zh" else "WER",
                    "error_rate": round(metric(item["reference"], text), 3),
                    "seconds": round(elapsed, 2), "rtf": round(elapsed / conversation.transcript.duration_s, 3),
                    "role_accuracy": (round(acc, 3) if (acc := _role_accuracy(conversation.utterances, item["turns"]))
                                      is not None and conversation.transcript.role_method == "mono_cues" else None),
                })
                print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def _table(rows: list[dict]) -> str:
    lines = ["| model | beam | file | lang | layout | audio s | metric | error | RTF | mono role accuracy |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        role = "" if r["role_accuracy"] is None else f"{r['role_accuracy']:.0%}"
        lines.append(f"| {r['model']} | {r['beam']} | {r['file']} | {r['language']} | {r['layout']} | "
                     f"{r['duration_s']:.1f} | {r['metric']} | {r['error_rate']:.3f} | {r['rtf']:.3f} | {role} |")
    lines.append("")
    lines.append("| model | beam | mean CER (zh) | mean WER (en) | RTF (total time / total audio) | mono role accuracy |")
    lines.append("|---|---|---|---|---|---|")
    for (model, beam) in dict.fromkeys((r["model"], r["beam"]) for r in rows):
        group = [r for r in rows if r["model"] == model and r["beam"] == beam]
        mean = lambda values: f"{sum(values) / len(values):.3f}" if values else "—"  # noqa: E731
        roles = [r["role_accuracy"] for r in group if r["role_accuracy"] is not None]
        lines.append(f"| {model} | {beam} | {mean([r['error_rate'] for r in group if r['metric'] == 'CER'])} | "
                     f"{mean([r['error_rate'] for r in group if r['metric'] == 'WER'])} | "
                     f"{sum(r['seconds'] for r in group) / sum(r['duration_s'] for r in group):.3f} | "
                     f"{mean(roles) if roles else '—'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="extra local CTranslate2 model directory")
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--out", default=str(ROOT / "docs" / "asr.md"))
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "asr.json"))
    args = parser.parse_args()
    rows = evaluate(["base", *args.model], args.beams)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    out = Path(args.out)
    document = out.read_text(encoding="utf-8")
    stamp = f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {platform.python_version()}, by `make eval-asr`."
    block = f"{BEGIN}\n{stamp}\n\n{_table(rows)}\n{END}"
    start, end = document.index(BEGIN), document.index(END) + len(END)
    out.write_text(document[:start] + block + document[end:], encoding="utf-8")
    print(f"wrote {out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
