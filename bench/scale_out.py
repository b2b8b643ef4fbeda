"""Scale-out: the same batch of call recordings through `keynode process` on Dask, three ways.

1 worker × 1 ASR thread, 2 workers × 1 thread, and 1 worker × 2 threads, each on a fresh
database and an empty transcript cache, so every call is really transcribed. One Prefect
API is started for the whole benchmark (process-based runners need one, see
pipeline/runners.py) so its start-up is not part of any timing. Rounds alternate the order of
the configurations to even out a machine that gets busier or quieter.

    .venv/bin/python bench/scale_out.py [--rounds 1] [--copies 3] [--calls data/samples/calls]

``--copies N`` processes the calls N times over (copies re-encoded as FLAC with a gain a
thousandth lower each, so every copy is new audio to the transcript cache and the store): what
a batch costs beside the fixed start-up of a run (about 25 s: the cluster, the workers' imports
and models), which a batch of 8 calls does not amortise.

Writes ``bench/results/scale_out.json`` and prints the table docs/scaling.md quotes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from pipeline.ingest import AUDIO_EXTENSIONS  # noqa: E402
from pipeline.settings import configure_prefect  # noqa: E402

CONFIGURATIONS = {"1 worker × 1 thread": (1, 1), "2 workers × 1 thread": (2, 1), "1 worker × 2 threads": (1, 2)}


def _audio_minutes(folder: Path) -> float:
    from pipeline.transcribe.audio import probe

    return sum(probe(path).duration_s for path in _recordings(folder)) / 60


def _recordings(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.suffix.lower() in AUDIO_EXTENSIONS]


def _batch(calls: Path, copies: int, folder: Path) -> Path:
    """``calls`` and ``copies - 1`` re-encoded copies of each recording, with their manifest rows."""
    import csv

    from asr_speed import write_audio

    from pipeline.transcribe.audio import decode, probe

    if copies <= 1:
        return calls
    folder.mkdir(parents=True, exist_ok=True)
    with open(calls / "manifest.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out_rows = []
    for row in rows:
        source = calls / row["file"]
        shutil.copy(source, folder / source.name)
        out_rows.append(row)
        stereo = probe(source).channels == 2
        samples = np.stack(decode(source, split_stereo=True)) if stereo else decode(source, split_stereo=False)[None, :]
        for copy in range(1, copies):
            name = f"{source.stem}-copy{copy}.flac"
            write_audio(folder / name, [samples * (1 - copy / 1000)], samples.shape[0], "flac")
            out_rows.append({**row, "file": name})
    with open(folder / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(out_rows)
    return folder


def _run(calls: Path, workers: int, threads: int, scratch: Path) -> dict:
    cache = Path(tempfile.mkdtemp(dir=scratch, prefix="cache-"))
    db = scratch / f"w{workers}t{threads}-{time.monotonic_ns()}.duckdb"
    started = time.perf_counter()
    finished = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "keynode"), "process", str(calls), "--db", str(db), "--runner", "dask",
         "--workers", str(workers), "--threads-per-worker", "1", "--asr-threads", str(threads)],
        env={**os.environ, "KEYNODE_TRANSCRIPT_CACHE": str(cache)}, cwd=ROOT, capture_output=True, text=True)
    wall_s = time.perf_counter() - started
    summary = next((line for line in finished.stdout.splitlines() if line.startswith("run ")), "")
    if finished.returncode != 0 or " 0 failed" not in summary:
        raise RuntimeError(f"keynode process failed ({finished.returncode}):\n{finished.stdout}\n"
                           f"{finished.stderr[-3000:]}")
    return {"wall_s": round(wall_s, 1), "summary": summary}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default=str(ROOT / "data" / "samples" / "calls"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--copies", type=int, default=3, help="process the calls this many times over (default: %(default)s)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale_out.json"))
    args = parser.parse_args()
    batch_folder = tempfile.mkdtemp(prefix="keynode-scale-out-")
    calls = _batch(Path(args.calls).resolve(), args.copies, Path(batch_folder) / "calls")
    minutes = _audio_minutes(calls)
    recordings = len(_recordings(calls))

    load_start = os.getloadavg()
    configure_prefect()
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=120)
    os.environ["PREFECT_API_URL"] = server.api_url
    walls: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for round_number in range(args.rounds):
                names = list(CONFIGURATIONS) if round_number % 2 == 0 else list(reversed(CONFIGURATIONS))
                for name in names:
                    result = _run(calls, *CONFIGURATIONS[name], Path(scratch))
                    walls[name].append(result["wall_s"])
                    print(f"round {round_number + 1}: {name}: {result['wall_s']} s ({result['summary']})", flush=True)
    finally:
        server.stop()
        shutil.rmtree(batch_folder, ignore_errors=True)

    base = statistics.median(walls["1 worker × 1 thread"])
    rows = [{"configuration": name, "workers": CONFIGURATIONS[name][0], "asr_threads": CONFIGURATIONS[name][1],
             "wall_s": walls[name], "median_wall_s": statistics.median(walls[name]),
             "speedup_vs_1x1": round(base / statistics.median(walls[name]), 2),
             "audio_min_per_wall_min": round(minutes / (statistics.median(walls[name]) / 60), 2)}
            for name in CONFIGURATIONS]
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
              "measured_at": time.strftime("%Y-%m-%d %H:%M"), "calls": str(calls),
              "audio_minutes": round(minutes, 1), "recordings": recordings, "copies": args.copies, "rounds": args.rounds,
              "load_average_at_start": [round(x, 2) for x in load_start], "command": " ".join(["bench/scale_out.py", *sys.argv[1:]]),
              "results": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{recordings} recordings, {minutes:.1f} audio minutes; {report['machine']}\n")
    print("| configuration | wall (median) | speed-up vs 1 × 1 | audio min per wall min |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['configuration']} | {row['median_wall_s']} s | {row['speedup_vs_1x1']}× | "
              f"{row['audio_min_per_wall_min']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
