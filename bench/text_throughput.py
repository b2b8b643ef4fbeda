"""Text-path throughput: chat conversations tagged, scored and stored per CPU-second.

For each tagger configuration (SOP rules; rules + TF-IDF model; rules + TF-IDF + e5 sentence
embeddings; that and the fine-tuned context encoder, the default), the same chat conversations
(the labelled corpus's chat dialogues) go through what the flow does to each one after reading it: redaction, analysis (tagging, event
tree, node scores, metrics, notes) and the atomic write into a fresh DuckDB file. CPU time is
this process's (``time.process_time``, all threads), so a busy machine slows the wall clock but
hardly the figure. Each configuration first analyses 10 other chats, untimed (one-time loading
is not throughput). Embedding configurations then meet the measured texts new, and are measured
again warm (every text embedded and every context encoded before: what ``keynode retag`` costs).

``--flow`` also times ``keynode process`` end to end on the same chats written as one JSONL
export (Prefect's temporary API, task threads, snapshot publishing included), as CPU seconds of
the child process.

    .venv/bin/python bench/text_throughput.py [--conversations 100] [--flow]

Writes ``bench/results/text_throughput.json`` and prints the table docs/scaling.md quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.analyze import analyze, fingerprint  # noqa: E402
from pipeline.events import load_tagger  # noqa: E402
from pipeline.events.corpus import load_corpus  # noqa: E402
from pipeline.privacy import load_privacy_config, redact_conversation  # noqa: E402
from pipeline.sop import load_sop  # noqa: E402
from pipeline.store import WRITE_BATCH, AnalysisWrite, Store  # noqa: E402

CONFIGURATIONS = {"rules only": "rules", "rules + TF-IDF": str(ROOT / "models" / "tagger-tfidf.pkl"),
                  "rules + TF-IDF + embeddings": f"no-encoder:{ROOT / 'models' / 'tagger.pkl'}",
                  "rules + TF-IDF + embeddings + context encoder (default)": str(ROOT / "models" / "tagger.pkl")}
TARGET_PER_CPU_S = 50
#: Chats analysed before the measured ones, with the configuration's own tagger.
WARM_UP_CONVERSATIONS = 10


def chat_conversations(limit: int):
    """The labelled corpus's chat dialogues, in a stable order."""
    dialogues = load_corpus(sorted((ROOT / "data" / "labelled" / "raw").glob("*.jsonl")))
    chats = [d.conversation for d in dialogues if d.conversation.meta.channel == "chat"]
    return chats[:limit]


def _measure(conversations, tagger, sop, privacy, db: Path, batch: int = WRITE_BATCH) -> dict:
    """CPU and wall seconds to redact, analyse and store each conversation."""
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    with Store(db, publish_interval_s=3600) as store:
        store.begin_run("bench", sop.version, tagger.name, ["bench"])
        # As the flow writes them: the analyses done together in one transaction (WRITE_BATCH at most).
        writes = []
        for conversation in conversations:
            conversation, originals = redact_conversation(conversation, privacy.redaction)
            analysis = analyze(conversation, sop, tagger)
            writes.append(AnalysisWrite(analysis, "bench", fingerprint(conversation, sop, tagger, privacy.fingerprint()),
                                        originals={}, privacy=privacy.fingerprint()))
            if len(writes) == batch:
                store.write_analyses(writes)
                writes = []
        store.write_analyses(writes)
        store.finish_run("bench", len(conversations), 0, 0)
    cpu_s, wall_s = time.process_time() - cpu_start, time.perf_counter() - wall_start
    utterances = sum(len(c.utterances) for c in conversations)
    return {"conversations": len(conversations), "utterances": utterances, "cpu_s": round(cpu_s, 2),
            "wall_s": round(wall_s, 2), "per_cpu_s": round(len(conversations) / cpu_s, 1),
            "utterances_per_cpu_s": round(utterances / cpu_s, 1)}


def _flow(conversations, tagger_spec: str, db: Path) -> dict:
    """``keynode process`` on the chats as one JSONL export: CPU seconds of the child process."""
    export = db.with_suffix(".jsonl")
    export.write_text("\n".join(json.dumps({"conversation_key": c.conversation_id, "metadata": {
        "language": c.meta.language, "channel": "chat"}, "messages": [
        {"speaker": u.speaker_name or u.speaker_role, "role": u.speaker_role, "text": u.text}
        for u in c.utterances]}, ensure_ascii=False) for c in conversations) + "\n", encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    finished = subprocess.run([str(ROOT / ".venv" / "bin" / "keynode"), "process", str(export),
                               "--db", str(db)],
                              env={**os.environ, "KEYNODE_TAGGER": tagger_spec}, cwd=ROOT,
                              capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode != 0:
        raise RuntimeError(f"keynode process failed:\n{finished.stdout}\n{finished.stderr[-3000:]}")
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"conversations": len(conversations), "cpu_s": round(cpu_s, 2), "wall_s": round(wall_s, 2),
            "per_cpu_s": round(len(conversations) / cpu_s, 1), "summary": finished.stdout.splitlines()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--flow", action="store_true", help="also time `keynode process` end to end")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "text_throughput.json"))
    args = parser.parse_args()

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    chats = chat_conversations(args.conversations + WARM_UP_CONVERSATIONS)
    conversations, warm_up = chats[:args.conversations], chats[args.conversations:]
    sop = load_sop(ROOT / "configs" / "sop.yaml")
    privacy = load_privacy_config(ROOT / "configs" / "privacy.yaml")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, spec in CONFIGURATIONS.items():
            tagger = load_tagger(spec)
            # Untimed: the first conversations pay for loading spaCy, jieba, the sentiment model,
            # DuckDB's migrations and the tagger's own lookup tables. Other chats than the measured
            # ones, so no cache of the measured texts is warm (an embedding cache, cue matches).
            _measure(warm_up, tagger, sop, privacy, Path(scratch) / f"{len(results)}-warm-up.duckdb")
            row = {"configuration": name, "tagger": tagger.name,
                   "cold": _measure(conversations, tagger, sop, privacy, Path(scratch) / f"{len(results)}-cold.duckdb")}
            if spec == "rules":  # side by side: what writing in groups (store.WRITE_BATCH) changed
                row["one_transaction_each"] = _measure(conversations, tagger, sop, privacy,
                                                       Path(scratch) / f"{len(results)}-single.duckdb", batch=1)
            if getattr(tagger, "output_caches", None):  # every output now in its cache: re-tagging
                row["warm"] = _measure(conversations, tagger, sop, privacy, Path(scratch) / f"{len(results)}-warm.duckdb")
            if args.flow:
                row["flow"] = _flow(conversations, spec, Path(scratch) / f"{len(results)}-flow.duckdb")
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)

    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
              "measured_at": time.strftime("%Y-%m-%d %H:%M"), "load_average_at_start": load_at_start,
              "target_per_cpu_s": TARGET_PER_CPU_S,
              "mean_utterances": round(sum(len(c.utterances) for c in conversations) / len(conversations), 1),
              "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{len(conversations)} chat conversations, {report['mean_utterances']} utterances on average; "
          f"{report['machine']}\n")
    print("| configuration | conversations / CPU-s (new texts) | re-tagging (model outputs cached) | `keynode process` "
          "end to end | target ≥ 50 |")
    print("|---|---|---|---|---|")
    for row in results:
        warm = f"{row['warm']['per_cpu_s']}" if "warm" in row else "same"
        flow = f"{row['flow']['per_cpu_s']}" if "flow" in row else "–"
        met = "met" if row["cold"]["per_cpu_s"] >= TARGET_PER_CPU_S else "not met"
        print(f"| {row['configuration']} | {row['cold']['per_cpu_s']} | {warm} | {flow} | {met} |")
        if "one_transaction_each" in row:
            print(f"| {row['configuration']}, one transaction per conversation | "
                  f"{row['one_transaction_each']['per_cpu_s']} | same | – | – |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
