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


def _tree_cpu_s(root, seen: dict[int, float]) -> None:
    """Record the CPU seconds (user + system) of ``root`` and every descendant into ``seen``
    by pid, keeping each process's latest reading (processes that already exited keep theirs)."""
    import psutil

    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in processes:
        try:
            times = process.cpu_times()
            seen[process.pid] = times.user + times.system  # every descendant is read on its own
        except psutil.NoSuchProcess:
            pass


def _run(calls: Path, workers: int, threads: int, scratch: Path, server_pid: int) -> dict:
    """One ``keynode process`` run: its wall time and where the CPU went, sampled every 0.2 s
    (psutil comes with Dask): the flow process, its Dask worker processes, the Prefect API."""
    import psutil

    cache = Path(tempfile.mkdtemp(dir=scratch, prefix="cache-"))
    db = scratch / f"w{workers}t{threads}-{time.monotonic_ns()}.duckdb"
    server = psutil.Process(server_pid)
    server_before: dict[int, float] = {}
    _tree_cpu_s(server, server_before)
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "keynode"), "process", str(calls), "--db", str(db), "--runner", "dask",
         "--workers", str(workers), "--threads-per-worker", "1", "--asr-threads", str(threads)],
        env={**os.environ, "KEYNODE_TRANSCRIPT_CACHE": str(cache)}, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    flow = psutil.Process(child.pid)
    seen: dict[int, float] = {}
    while child.poll() is None:
        _tree_cpu_s(flow, seen)
        time.sleep(0.2)
    stdout, stderr = child.communicate()
    wall_s = time.perf_counter() - started
    server_after: dict[int, float] = {}
    _tree_cpu_s(server, server_after)
    summary = next((line for line in stdout.splitlines() if line.startswith("run ")), "")
    if child.returncode != 0 or " 0 failed" not in summary:
        raise RuntimeError(f"keynode process failed ({child.returncode}):\n{stdout}\n{stderr[-3000:]}")
    flow_s = seen.pop(child.pid, 0.0)
    workers_s = sum(seen.values())  # the Dask worker processes (and anything they started)
    api_s = sum(server_after.values()) - sum(server_before.get(pid, 0.0) for pid in server_after)
    return {"wall_s": round(wall_s, 1), "summary": summary, "cpu_s": {
        "workers": round(workers_s, 1), "flow": round(flow_s, 1), "prefect_api": round(api_s, 1)}}


def raw_child(calls: Path) -> int:
    """In a child process: faster-whisper alone, one CTranslate2 thread, on every recording of
    ``calls`` (Keynode's decoding settings and engine choice, see ``asr_speed.raw_transcribe``);
    prints the transcription's wall and CPU seconds, model loading left out."""
    from asr_speed import _model, raw_transcribe

    from pipeline.transcribe.audio import probe
    from pipeline.transcribe.options import AsrOptions

    options = AsrOptions(cpu_threads=1)
    model = _model(options)
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    for path in sorted(_recordings(calls)):
        info = probe(path)
        raw_transcribe(model, path, None, info.channels, options, options.batch_size_for(info.duration_s, info.channels))
    print(json.dumps({"wall_s": time.perf_counter() - wall_start, "cpu_s": time.process_time() - cpu_start}))
    return 0


def machine_ceiling(calls: Path) -> dict:
    """What this machine gives two independent transcriptions at once, Keynode aside: the same
    faster-whisper work in one process alone, then in two processes started together. Two
    processes finish two batches in the time of the slower one; the ratio of throughputs is the
    speed-up any scale-out of this work can reach here (2.0 on two truly independent cores)."""
    def start():
        return subprocess.Popen([sys.executable, __file__, "--raw-child", str(calls)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)

    def result(child) -> dict:
        stdout, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"raw faster-whisper child failed ({child.returncode})")
        return json.loads(stdout.strip().splitlines()[-1])

    alone = result(start())
    pair = [result(child) for child in [start(), start()]]
    slower_s = max(run["wall_s"] for run in pair)
    return {"alone": {k: round(v, 1) for k, v in alone.items()},
            "two_at_once": [{k: round(v, 1) for k, v in run.items()} for run in pair],
            "cpu_s_increase_when_paired": round(statistics.mean(run["cpu_s"] for run in pair) / alone["cpu_s"] - 1, 3),
            "speedup": round(2 * alone["wall_s"] / slower_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default=str(ROOT / "data" / "samples" / "calls"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--copies", type=int, default=3, help="process the calls this many times over (default: %(default)s)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scale_out.json"))
    parser.add_argument("--raw-child", help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-only", action="store_true",
                        help="only measure the machine's own ceiling (two faster-whisper processes at once)")
    args = parser.parse_args()
    if args.raw_child:
        return raw_child(Path(args.raw_child))
    if args.ceiling_only:
        print(json.dumps(machine_ceiling(Path(args.calls).resolve()), indent=2))
        return 0
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
    cpus: dict[str, list[dict]] = {name: [] for name in CONFIGURATIONS}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for round_number in range(args.rounds):
                names = list(CONFIGURATIONS) if round_number % 2 == 0 else list(reversed(CONFIGURATIONS))
                for name in names:
                    result = _run(calls, *CONFIGURATIONS[name], Path(scratch), server.server_process.pid)
                    walls[name].append(result["wall_s"])
                    cpus[name].append(result["cpu_s"])
                    print(f"round {round_number + 1}: {name}: {result['wall_s']} s, CPU {result['cpu_s']} "
                          f"({result['summary']})", flush=True)
    finally:
        server.stop()
        shutil.rmtree(batch_folder, ignore_errors=True)
    ceiling = machine_ceiling(Path(args.calls).resolve())
    print(f"machine ceiling, faster-whisper alone: {ceiling}", flush=True)

    base = statistics.median(walls["1 worker × 1 thread"])
    cores = os.cpu_count() or 1
    rows = []
    for name in CONFIGURATIONS:
        cpu_s = {part: round(statistics.median(run[part] for run in cpus[name]), 1) for part in cpus[name][0]}
        total_cpu_s = sum(cpu_s.values())
        rows.append({"configuration": name, "workers": CONFIGURATIONS[name][0], "asr_threads": CONFIGURATIONS[name][1],
                     "wall_s": walls[name], "median_wall_s": round(statistics.median(walls[name]), 1),
                     "speedup_vs_1x1": round(base / statistics.median(walls[name]), 2),
                     "audio_min_per_wall_min": round(minutes / (statistics.median(walls[name]) / 60), 2),
                     "cpu_s": cpu_s, "cpu_s_total": round(total_cpu_s, 1),
                     # No schedule on this machine can finish the run's CPU work faster than
                     # spread evenly over every core: the best speed-up this run's work allows.
                     "ceiling_vs_1x1": round(base / (total_cpu_s / cores), 2)})
    report = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
              "measured_at": time.strftime("%Y-%m-%d %H:%M"), "calls": str(calls),
              "audio_minutes": round(minutes, 1), "recordings": recordings, "copies": args.copies, "rounds": args.rounds,
              "load_average_at_start": [round(x, 2) for x in load_start], "command": " ".join(["bench/scale_out.py", *sys.argv[1:]]),
              "results": rows, "machine_ceiling": ceiling}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{recordings} recordings, {minutes:.1f} audio minutes; {report['machine']}\n")
    print("| configuration | wall (median) | speed-up vs 1 × 1 | audio min per wall min | CPU s: workers / flow / "
          f"Prefect API | ceiling on {cores} cores |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        cpu_s = row["cpu_s"]
        print(f"| {row['configuration']} | {row['median_wall_s']} s | {row['speedup_vs_1x1']}× | "
              f"{row['audio_min_per_wall_min']} | {cpu_s['workers']} / {cpu_s['flow']} / {cpu_s['prefect_api']} | "
              f"{row['ceiling_vs_1x1']}× |")
    print(f"\nfaster-whisper alone, one thread, on {args.calls}: one process {ceiling['alone']['wall_s']} s; two at once "
          f"{max(run['wall_s'] for run in ceiling['two_at_once'])} s (CPU per process "
          f"{ceiling['cpu_s_increase_when_paired']:+.0%}): {ceiling['speedup']}× for two processes on this machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
