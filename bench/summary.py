"""One table of every figure `make bench` measures (issue #8), from ``bench/results/*.json``.

Reads whichever result files exist and prints one row per quoted figure: the benchmark, what is
compared, the measured value (a ratio, GB, conversations per CPU-second or milliseconds), its
target, whether the target is met, when it was measured and under what load, and the command
that produced it. A missing result file gives a row saying how to measure it.

Writes ``bench/results/summary.md`` and rewrites the block between ``<!-- bench:begin -->`` and
``<!-- bench:end -->`` in ``docs/benchmarks.md``; the rest of that page is left as it is.

    .venv/bin/python bench/summary.py          # or: make bench-summary

The functions that turn result dicts into rows and markdown do no IO, so they can be tested on
hand-written dicts; ``main`` reads and writes the files. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PYTHON = ".venv/bin/python"

# scale_out.py states its target only in prose (issue #8): 2 workers reach 1.7× one worker's speed.
TARGET_SCALE_OUT_SPEEDUP = 1.7
SCALE_OUT_BASE = "1 worker × 1 thread"
SCALE_OUT_TARGETED = "2 workers × 1 thread"
# search_scale.py's default label (this checkout's run) and how it names this checkout's code.
SEARCH_LABEL = "after"
SEARCH_CURRENT_CODE = "this checkout's dashboards/data.py"
# The label `make bench` gives its 2-hour memory run.
MEMORY_LABEL = "current"

# `make bench`'s commands in its order, without the interpreter: the Makefile's recipe lines
# (tests/bench/test_summary.py checks that they match).
OVERHEAD_COMMAND = "bench/asr_speed.py overhead"
BATCHED_COMMAND = "bench/asr_speed.py batched --variants"  # no values: no exploratory clip variants
MEMORY_COMMAND = f"bench/asr_speed.py memory --label {MEMORY_LABEL}"
TEXT_THROUGHPUT_COMMAND = "bench/text_throughput.py"
SEARCH_COMMAND = "bench/search_scale.py --build"
SCALE_OUT_COMMAND = "bench/scale_out.py"
SUMMARY_COMMAND = "bench/summary.py"


@dataclass(frozen=True)
class Row:
    """One quoted figure, its cells rendered as text except ``met`` (None: no target of its
    own). ``command_recorded`` is False where the result file does not say which command
    produced it and ``command`` is the one `make bench` runs."""

    benchmark: str
    compared: str
    measured: str
    target: str
    met: bool | None
    measured_at: str
    command: str
    command_recorded: bool = True


@dataclass(frozen=True)
class Benchmark:
    """A benchmark `make bench` runs: what it measures (for the row of a missing result), its
    result file, its command and the function turning its result dict into rows."""

    name: str
    figure: str
    file: str
    command: str
    rows: Callable[[dict], list[Row]]


# ---------------------------------------------------------------------------------------------
# Shared cell rendering


def python_command(script_and_args: str) -> str:
    """The command line as typed in the project: ``.venv/bin/python bench/…``."""
    return f"{PYTHON} {script_and_args.strip()}"


def command_of(recorded: str | None, usual_command: str) -> tuple[str, bool]:
    """(command, recorded): the command a result file records (asr_speed.py's are without the
    interpreter), or where it records none the one that makes such a result (`make bench`'s)."""
    return (python_command(recorded), True) if recorded else (python_command(usual_command), False)


def when(measured_at: str, load_at_start: Sequence[float] | None) -> str:
    """'2026-12-02 05:04 · load 3.7 / 5.9 / 7.3': the start of a run (ISO or 'YYYY-MM-DD HH:MM')
    and the 1-, 5- and 15-minute load averages at its start, or that the load was not recorded."""
    date = measured_at.replace("T", " ")[:16]
    load = " / ".join(f"{value:.1f}" for value in load_at_start) if load_at_start else "not recorded"
    return f"{date} · load {load}"


def asr_when(machine: dict) -> str:
    """``when`` of an asr_speed.py result, from its ``machine`` dict."""
    return when(machine["date"], machine.get("loadavg_start"))


def missing_row(benchmark: str, compared: str, make_bench_command: str) -> Row:
    """The row of a figure with no result: the command that measures it."""
    command = python_command(make_bench_command)
    return Row(benchmark, compared, f"not measured (run: {command})", "—", None, "—", command)


# ---------------------------------------------------------------------------------------------
# One function per result file: result dict → rows


def overhead_rows(result: dict) -> list[Row]:
    """asr_overhead.json: Keynode's transcription ÷ faster-whisper direct, wall time (the
    target's figure) and CPU time (less disturbed by other work; no target of its own)."""
    calls = f"{len(result['calls'])} sample calls, {result['engine']}"
    target_ratio = result["target_ratio"]
    measured_at, command = asr_when(result["machine"]), command_of(result.get("command"), OVERHEAD_COMMAND)
    wall_ratio, cpu_ratio = result["total_ratio"], result["total_cpu_ratio"]
    return [
        Row("ASR overhead", f"Keynode transcription ÷ faster-whisper direct, wall time ({calls})",
            f"{wall_ratio:.3f}", f"≤ {target_ratio:.2f}", wall_ratio <= target_ratio, measured_at, *command),
        Row("ASR overhead", f"Keynode transcription ÷ faster-whisper direct, CPU time ({calls})",
            f"{cpu_ratio:.3f}", "—", None, measured_at, *command),
    ]


def batched_rows(result: dict) -> list[Row]:
    """asr_batched.json: per batched engine, the four verdicts of asr_speed.py (faster and no
    less accurate, on the long call and on the sample calls one by one) with their figures."""
    measured_at, command = asr_when(result["machine"]), command_of(result.get("command"), BATCHED_COMMAND)
    long_call, short_calls = result["long_call"], result["sample_calls"]
    long_sequential, short_sequential = long_call["modes"]["sequential"], short_calls["sequential"]
    long_what = f"{long_call['audio_s'] / 60:.0f}-min mono Mandarin call"
    short_what = f"the {len(short_sequential.get('calls', []))} sample calls one by one"
    faster_target, accurate_target = "< 1 both", f"≤ +{result['tolerance_points']} points"

    def speed_ratios(mode: dict) -> str:
        return f"{mode['ratio_to_sequential']:.3f} wall, {mode['cpu_ratio_to_sequential']:.3f} CPU"

    def delta_points(mode: dict, sequential: dict, key: str) -> str:
        return f"{(mode[key] - sequential[key]) * 100:+.2f}"

    rows = []
    for engine, mode in long_call["modes"].items():
        if engine == "sequential":
            continue
        verdict = result.get("verdict", {}).get(engine, {})
        rows += [
            Row("ASR batched engine", f"{engine} ÷ sequential, {long_what}: wall and CPU time",
                speed_ratios(mode), faster_target, verdict.get("faster_long"), measured_at, *command),
            Row("ASR batched engine", f"{engine} − sequential, {long_what}: CER",
                f"{delta_points(mode, long_sequential, 'cer')} points (CER {mode['cer']:.4f})", accurate_target,
                verdict.get("accurate_long"), measured_at, *command),
        ]
        short = short_calls.get(engine)
        if short is None:  # a batch size measured on the long call only
            continue
        rows += [
            Row("ASR batched engine", f"{engine} ÷ sequential, {short_what}: wall and CPU time",
                speed_ratios(short), faster_target, verdict.get("faster_short"), measured_at, *command),
            Row("ASR batched engine", f"{engine} − sequential, {short_what}: CER zh / WER en",
                f"{delta_points(short, short_sequential, 'cer_zh')} / "
                f"{delta_points(short, short_sequential, 'wer_en')} points", f"{accurate_target} each",
                verdict.get("accurate_short"), measured_at, *command),
        ]
    return rows


def memory_rows(result: dict) -> list[Row]:
    """asr_memory.json: peak RSS of each run (label and layout), and a row asking for the run
    `make bench` makes where the file has none under its label."""
    target_gb = result["target_gb"]
    rows = []
    for run in result["runs"]:
        peak_rss_gb = run["peak_rss_gb"]
        note = f": {run['note']}" if run.get("note") else ""  # its options are in its command
        rows.append(Row(
            "ASR memory", f"peak RSS, {run['audio_min']:.0f}-min {run['layout']} recording, run '{run['label']}'"
            f"{note}", f"{peak_rss_gb:.2f} GB", f"< {target_gb} GB", peak_rss_gb < target_gb,
            asr_when(run["machine"]), *command_of(run.get("command"), MEMORY_COMMAND)))
    if not any(run["label"] == MEMORY_LABEL for run in result["runs"]):
        rows.append(missing_row("ASR memory", f"peak RSS, 120-min mono recording, run '{MEMORY_LABEL}'",
                                MEMORY_COMMAND))
    return rows


def text_throughput_rows(result: dict) -> list[Row]:
    """text_throughput.json: conversations per CPU-second per tagger configuration with new
    texts (the target's figure), and where measured re-tagging with cached vectors and
    `keynode process` end to end (no target of their own)."""
    target_per_cpu_s = result["target_per_cpu_s"]
    measured_at = when(result["measured_at"], result.get("load_average_at_start"))
    command = command_of(result.get("command"), TEXT_THROUGHPUT_COMMAND)
    sides = (("cold", "new texts", True), ("warm", "re-tagging, vectors cached", False),
             ("flow", "`keynode process` end to end", False))
    rows = []
    for configuration in result["results"]:
        for key, what, targeted in sides:
            if key not in configuration:
                continue
            conversations_per_cpu_s = configuration[key]["per_cpu_s"]
            rows.append(Row(
                "text throughput", f"{configuration['configuration']}: {configuration[key]['conversations']} chat "
                f"conversations, {what}", f"{conversations_per_cpu_s:.1f} conv / CPU-s",
                f"≥ {target_per_cpu_s}" if targeted else "—",
                conversations_per_cpu_s >= target_per_cpu_s if targeted else None, measured_at, *command))
    return rows


def search_rows(result: dict) -> list[Row]:
    """search_scale.json: per run label, the p95 of its slowest board query (the target is
    every query's p95 under it) and how many queries are under it; a row asking for this
    checkout's run where the file has none."""
    rows = []
    for label, run in result["runs"].items():
        target_p95_ms, cases = run["target_p95_ms"], run["results"]
        slowest = max(cases, key=lambda case: case["p95_ms"])
        under_target = sum(case["p95_ms"] < target_p95_ms for case in cases)
        baseline = run.get("code") != SEARCH_CURRENT_CODE  # a version measured beside it with --baseline
        code = f" (code: {run.get('code')})" if baseline else ""
        command = f"bench/search_scale.py --baseline {run.get('code')}" if baseline else SEARCH_COMMAND
        measured_at = when(run["measured_at"], run.get("load_average_at_start")) + "".join(
            f"; cases '{rerun['only']}' re-run {when(rerun['measured_at'], rerun.get('load_average_at_start'))}"
            for rerun in run.get("partial_reruns", []))
        rows.append(Row(
            "board queries at scale", f"run '{label}'{code}, {run['conversations']:,} conversations: p95 of the "
            f"slowest of {len(cases)} board queries ({slowest['case']}, {slowest['role']}); {under_target} of "
            f"{len(cases)} under target", f"{slowest['p95_ms']:.0f} ms", f"p95 < {target_p95_ms} ms, every query",
            under_target == len(cases), measured_at, *command_of(run.get("command"), command)))
    if SEARCH_LABEL not in result["runs"]:
        rows.append(missing_row("board queries at scale", f"run '{SEARCH_LABEL}': p95 per board query",
                                SEARCH_COMMAND))
    return rows


def scale_out_rows(result: dict) -> list[Row]:
    """scale_out.json: each configuration's speed over 1 worker × 1 thread's (median wall time
    of the same calls); the target applies to 2 workers × 1 thread."""
    measured_at = when(result["measured_at"], result.get("load_average_at_start"))
    command = command_of(result.get("command"), SCALE_OUT_COMMAND)
    rows = []
    for configuration in result["results"]:
        name = configuration["configuration"]
        if name == SCALE_OUT_BASE:
            continue
        speedup = configuration["speedup_vs_1x1"]
        targeted = name == SCALE_OUT_TARGETED
        rows.append(Row(
            "scale-out (Dask)", f"speed of {name} ÷ {SCALE_OUT_BASE}: `keynode process` on "
            f"{result['audio_minutes']} audio min, {result['rounds']} round(s)", f"{speedup:.2f}×",
            f"≥ {TARGET_SCALE_OUT_SPEEDUP}×" if targeted else "—",
            speedup >= TARGET_SCALE_OUT_SPEEDUP if targeted else None, measured_at, *command))
    ceiling = result.get("machine_ceiling")
    if ceiling:
        # The machine's own limit for the same work, Keynode aside: what the target is up against.
        rows.append(Row(
            "scale-out (Dask)", "this machine's ceiling: faster-whisper alone, 2 processes at once ÷ 1 process "
            f"(one thread each; CPU per process {ceiling['cpu_s_increase_when_paired']:+.0%} when paired)",
            f"{ceiling['speedup']:.2f}×", "report", None, measured_at, *command))
    return rows


BENCHMARKS = (
    Benchmark("ASR overhead", "Keynode transcription ÷ faster-whisper direct", "asr_overhead.json",
              OVERHEAD_COMMAND, overhead_rows),
    Benchmark("ASR batched engine", "batched ÷ sequential engine: speed and accuracy", "asr_batched.json",
              BATCHED_COMMAND, batched_rows),
    Benchmark("ASR memory", "peak RSS of a 2-hour recording", "asr_memory.json", MEMORY_COMMAND, memory_rows),
    Benchmark("text throughput", "conversations per CPU-second per tagger configuration", "text_throughput.json",
              TEXT_THROUGHPUT_COMMAND, text_throughput_rows),
    Benchmark("board queries at scale", "p95 per board query on 100,000 conversations", "search_scale.json",
              SEARCH_COMMAND, search_rows),
    Benchmark("scale-out (Dask)", "2 workers × 1 thread and 1 worker × 2 threads ÷ 1 worker × 1 thread",
              "scale_out.json", SCALE_OUT_COMMAND, scale_out_rows),
)


# ---------------------------------------------------------------------------------------------
# Rows → markdown


def summary_rows(results: dict[str, dict]) -> list[Row]:
    """Every benchmark's rows in `make bench`'s order, from ``results`` (result file name →
    its loaded dict; a file that does not exist is absent or None)."""
    rows = []
    for benchmark in BENCHMARKS:
        result = results.get(benchmark.file)
        rows += (benchmark.rows(result) if result is not None
                 else [missing_row(benchmark.name, benchmark.figure, benchmark.command)])
    return rows


def _cell(text: str) -> str:
    """A table cell's text with its pipes escaped (``--layout mono|stereo`` stays in its cell)."""
    return text.replace("|", "\\|")


def _met(met: bool | None) -> str:
    return "—" if met is None else "yes" if met else "**no**"


def render_table(rows: list[Row]) -> str:
    """The markdown table of ``rows``; a command not recorded in its result file is marked *."""
    header = ["benchmark", "compared", "measured", "target", "met", "measured at · load (1 / 5 / 15 min)", "command"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        command = f"`{row.command}`" + ("" if row.command_recorded else " \\*")
        cells = [row.benchmark, row.compared, row.measured, row.target, _met(row.met), row.measured_at, command]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines)


def render_summary(rows: list[Row], written_at: str) -> str:
    """The table and the notes needed to read it: the block docs/benchmarks.md shows."""
    notes = [f"Written by `{python_command(SUMMARY_COMMAND)}` on {written_at} from `bench/results/*.json`.",
             "Ratios are of two sides measured alternately in one run, so both saw the same machine; the load is "
             "the 1-, 5- and 15-minute load average when the run started.",
             "met: yes / **no** against the target; — where the figure has no target of its own."]
    if not all(row.command_recorded for row in rows):
        notes.append("\\* the result file does not record its command: shown is the one that makes such a "
                     "result (`make bench`'s; `--baseline FILE` for a version measured beside this checkout's).")
    return render_table(rows) + "\n\n" + "\n".join(f"- {note}" for note in notes) + "\n"


def replace_block(doc: str, block: str) -> str:
    """``doc`` with the text between the begin and end markers replaced by ``block``; the
    markers and everything outside them are kept as they are."""
    start, stop = doc.find(BEGIN), doc.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"no {BEGIN} … {END} block")
    return doc[:start + len(BEGIN)] + "\n" + block.strip("\n") + "\n" + doc[stop:]


# ---------------------------------------------------------------------------------------------
# IO


def load_results(folder: Path) -> dict[str, dict]:
    """The result files of ``BENCHMARKS`` that exist in ``folder``, by file name."""
    return {benchmark.file: json.loads((folder / benchmark.file).read_text(encoding="utf-8"))
            for benchmark in BENCHMARKS if (folder / benchmark.file).exists()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="folder of the result files; summary.md is written there (default: %(default)s)")
    parser.add_argument("--doc", type=Path, default=DOC,
                        help="page whose marked block is rewritten (default: %(default)s)")
    args = parser.parse_args(argv)

    text = render_summary(summary_rows(load_results(args.results)), time.strftime("%Y-%m-%d %H:%M"))
    print(text)
    out = args.results / "summary.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Benchmark summary\n\n" + text, encoding="utf-8")
    print(f"wrote {out}")
    try:
        args.doc.write_text(replace_block(args.doc.read_text(encoding="utf-8"), text), encoding="utf-8")
    except (OSError, ValueError) as error:
        print(f"{args.doc} not updated: {error}", file=sys.stderr)
        return 1
    print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
