"""bench/summary.py: the rows and markdown of `make bench`'s summary, from hand-written result
dicts in the shapes the benchmark scripts write (bench/asr_speed.py, text_throughput.py,
search_scale.py, scale_out.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import summary  # noqa: E402

ASR_MACHINE = {"date": "2026-12-02 05:04", "cores": 2, "loadavg_start": [3.72, 5.86, 7.29],
               "loadavg_end": [1.57, 2.03, 4.16]}


def overhead_result(total_ratio: float) -> dict:
    """asr_overhead.json as bench/asr_speed.py overhead writes it (two calls)."""
    call = {"file": "call_zh_auto_chenchen_d5003.mp3", "layout": "mono", "channels": 1, "engine": "batched bs=8",
            "keynode_s": [10.2, 10.4], "raw_s": [9.8, 9.9], "keynode_cpu_s": [15.0, 15.1], "raw_cpu_s": [14.8, 14.9],
            "words_raw": 300, "words_keynode": 300, "ratio": total_ratio, "cpu_ratio": 1.01}
    return {"what": "…", "command": "bench/asr_speed.py overhead ", "machine": ASR_MACHINE, "options": {},
            "repeats": 2, "target_ratio": 1.10, "engine": "batched bs=8", "total_ratio": total_ratio,
            "total_cpu_ratio": 1.012, "calls": [call, {**call, "file": "call_en_saas_emily_d5007.opus"}]}


def memory_run(label: str, peak_rss_gb: float) -> dict:
    """One run of asr_memory.json's "runs"."""
    return {"label": label, "note": "", "layout": "mono", "audio_min": 120.0, "options": {},
            "peak_rss_gb": peak_rss_gb, "peak_polled_gb": peak_rss_gb, "rss_after_model_load_gb": 0.342,
            "transcription_s": 1190.3, "rtf": 0.165, "within_target": peak_rss_gb < 2.5,
            "machine": {**ASR_MACHINE, "date": "2026-12-02 02:46", "loadavg_start": [4.96, 3.21, 2.29]},
            "command": f"bench/asr_speed.py memory --label {label}"}


def batched_result() -> dict:
    """asr_batched.json from `batched --variants`: sequential and the default batched engine."""
    def mode(ratio, cpu_ratio, cer):
        return {"runs": [], "seconds": 170.0, "ratio_to_sequential": ratio, "cpu_ratio_to_sequential": cpu_ratio,
                "cer": cer, "rtf": 0.14}

    def short(ratio, cpu_ratio, cer_zh, wer_en):
        return {"seconds": 60.0, "ratio_to_sequential": ratio, "cpu_ratio_to_sequential": cpu_ratio,
                "cer_zh": cer_zh, "wer_en": wer_en, "calls": [{"file": f"call{i}", "error_rate": 0.1, "seconds": 9.0}
                                                               for i in range(8)]}

    return {"command": "bench/asr_speed.py batched --variants", "machine": ASR_MACHINE, "tolerance_points": 0.5,
            "repeats": 2,
            "long_call": {"audio_s": 1262.3, "modes": {"sequential": mode(1.0, 1.0, 0.1865),
                                                       "batched bs=8": mode(0.981, 0.723, 0.15)}},
            "sample_calls": {"sequential": short(1.0, 1.0, 0.1311, 0.1038),
                             "batched bs=8": short(0.629, 0.69, 0.1263, 0.0858)},
            "verdict": {"batched bs=8": {"faster_long": True, "faster_short": True, "accurate_long": True,
                                         "accurate_short": True}}}


def scale_out_result(speedup_2x1: float) -> dict:
    """scale_out.json as bench/scale_out.py writes it (no command or load recorded)."""
    def row(name, workers, threads, speedup):
        return {"configuration": name, "workers": workers, "asr_threads": threads, "wall_s": [100.0],
                "median_wall_s": 100.0, "speedup_vs_1x1": speedup, "audio_min_per_wall_min": 7.0}

    return {"machine": "x86_64, 2 cores, 3.11.7", "measured_at": "2026-12-03 10:00", "calls": "data/samples/calls",
            "audio_minutes": 13.2, "rounds": 1,
            "results": [row("1 worker × 1 thread", 1, 1, 1.0), row("2 workers × 1 thread", 2, 1, speedup_2x1),
                        row("1 worker × 2 threads", 1, 2, 1.3)]}


def search_result(p95s_ms: list[float]) -> dict:
    """search_scale.json with one run, labelled "after" (this checkout's)."""
    cases = [{"case": f"search: case {i}", "role": "admin", "repetitions": 20, "p50_ms": p95 / 2, "p95_ms": p95,
              "max_ms": p95 * 2, "cpu_p50_ms": p95 / 3, "cpu_p95_ms": p95 / 2, "rows_median": 200}
             for i, p95 in enumerate(p95s_ms)]
    return {"description": "…", "runs": {"after": {
        "label": "after", "measured_at": "2026-12-02T04:18:40", "load_average_at_start": [7.26, 7.68, 7.02],
        "conversations": 100000, "utterances": 5173202, "repetitions": 20, "only": None, "target_p95_ms": 500,
        "results": cases, "code": "this checkout's dashboards/data.py"}}}


def test_a_met_target_says_yes_with_the_ratio_load_and_recorded_command():
    wall, cpu = summary.overhead_rows(overhead_result(1.043))
    assert (wall.measured, wall.target, wall.met) == ("1.043", "≤ 1.10", True)
    assert wall.measured_at == "2026-12-02 05:04 · load 3.7 / 5.9 / 7.3"
    assert wall.command == ".venv/bin/python bench/asr_speed.py overhead" and wall.command_recorded
    assert "2 sample calls" in wall.compared
    assert (cpu.measured, cpu.met) == ("1.012", None)  # no target of its own
    table = summary.render_table([wall, cpu])
    assert "| 1.043 | ≤ 1.10 | yes |" in table and "| 1.012 | — | — |" in table


def test_a_missed_target_says_no():
    (wall, _cpu) = summary.overhead_rows(overhead_result(1.25))
    assert wall.met is False
    assert "| 1.250 | ≤ 1.10 | **no** |" in summary.render_table([wall])

    before, current = summary.memory_rows({"target_gb": 2.5, "runs": [memory_run("before", 7.771),
                                                                       memory_run("current", 1.417)]})
    assert (before.measured, before.target, before.met) == ("7.77 GB", "< 2.5 GB", False)
    assert (current.measured, current.met) == ("1.42 GB", True)
    assert before.measured_at == "2026-12-02 02:46 · load 5.0 / 3.2 / 2.3"


def test_scale_out_target_applies_to_two_workers_only():
    two_workers, two_threads = summary.scale_out_rows(scale_out_result(1.55))
    assert (two_workers.measured, two_workers.target, two_workers.met) == ("1.55×", "≥ 1.7×", False)
    assert (two_threads.measured, two_threads.target, two_threads.met) == ("1.30×", "—", None)
    assert summary.scale_out_rows(scale_out_result(1.8))[0].met is True
    # scale_out.py records neither its command nor the load: make bench's command, marked
    assert not two_workers.command_recorded and two_workers.command == ".venv/bin/python bench/scale_out.py"
    assert two_workers.measured_at == "2026-12-03 10:00 · load not recorded"
    text = summary.render_summary([two_workers], "2026-12-03 12:00")
    assert "`.venv/bin/python bench/scale_out.py` \\* |" in text and "\\* the result file does not record" in text


def test_batched_rows_follow_the_scripts_verdict():
    rows = summary.batched_rows(batched_result())
    assert [row.met for row in rows] == [True, True, True, True]
    faster_long, accurate_long, faster_short, accurate_short = rows
    assert faster_long.measured == "0.981 wall, 0.723 CPU" and "21-min" in faster_long.compared
    assert accurate_long.measured == "-3.65 points (CER 0.1500)" and accurate_long.target == "≤ +0.5 points"
    assert "the 8 sample calls" in faster_short.compared
    assert accurate_short.measured == "-0.48 / -1.80 points"


def test_search_is_met_only_when_every_query_is_under_the_target():
    (missed,) = summary.search_rows(search_result([120.0, 480.0, 1166.8]))
    assert (missed.measured, missed.met) == ("1167 ms", False)
    assert "2 of 3 under target" in missed.compared and "(search: case 2, admin)" in missed.compared
    assert missed.measured_at == "2026-12-02 04:18 · load 7.3 / 7.7 / 7.0"
    assert missed.command == ".venv/bin/python bench/search_scale.py --build" and not missed.command_recorded
    result = search_result([120.0, 480.0])
    result["runs"]["before"] = {**result["runs"]["after"], "label": "before", "code": "/tmp/data_before.py",
                                "results": search_result([900.0])["runs"]["after"]["results"]}
    met, baseline = summary.search_rows(result)
    assert met.met is True and baseline.met is False
    assert "run 'before' (code: /tmp/data_before.py)" in baseline.compared
    assert baseline.command == ".venv/bin/python bench/search_scale.py --baseline /tmp/data_before.py"
    # without this checkout's run, a row asks for it
    del result["runs"]["after"]
    assert summary.search_rows(result)[-1].measured == (
        "not measured (run: .venv/bin/python bench/search_scale.py --build)")


def test_missing_files_and_runs_say_how_to_measure_them():
    rows = summary.summary_rows({"asr_overhead.json": overhead_result(1.043)})
    assert [row.benchmark for row in rows] == ["ASR overhead", "ASR overhead", "ASR batched engine", "ASR memory",
                                               "text throughput", "board queries at scale", "scale-out (Dask)"]
    memory = rows[3]
    assert memory.measured == "not measured (run: .venv/bin/python bench/asr_speed.py memory --label current)"
    assert (memory.target, memory.met, memory.measured_at) == ("—", None, "—")
    assert "| not measured (run: .venv/bin/python bench/scale_out.py) | — | — | — |" in summary.render_table(rows)

    # a results file without make bench's own run asks for it, beside the runs it has
    rows = summary.memory_rows({"target_gb": 2.5, "runs": [memory_run("before", 7.771)]})
    assert [row.measured for row in rows] == [
        "7.77 GB", "not measured (run: .venv/bin/python bench/asr_speed.py memory --label current)"]


def test_the_docs_block_is_replaced_between_the_markers_and_nothing_else():
    before = "# Benchmarks\n\nIntro | with a pipe.\n\n## Latest results\n\n"
    after = "\nText after the block.\n"
    doc = before + summary.BEGIN + "\nold table\nold notes\n" + summary.END + after
    updated = summary.replace_block(doc, "new table\n")
    assert updated == before + summary.BEGIN + "\nnew table\n" + summary.END + after
    assert summary.replace_block(updated, "new table\n") == updated  # running it again changes nothing
    empty = before + summary.BEGIN + "\n" + summary.END + after  # as docs/benchmarks.md starts out
    assert summary.replace_block(empty, "new table") == updated
    with pytest.raises(ValueError):
        summary.replace_block(before + after, "new table")
    with pytest.raises(ValueError):
        summary.replace_block(summary.END + summary.BEGIN, "new table")


def test_the_committed_doc_has_the_markers():
    doc = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert doc.count(summary.BEGIN) == 1 and doc.count(summary.END) == 1


def test_make_bench_runs_the_commands_the_summary_names_in_order():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = makefile.index("bench: install-test") + 1
    recipe = []
    for line in makefile[start:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip().removeprefix("$(BIN)/python "))
    assert recipe == [benchmark.command for benchmark in summary.BENCHMARKS] + [summary.SUMMARY_COMMAND]


def test_scale_out_reports_the_machines_own_ceiling_beside_the_target():
    result = {**scale_out_result(1.49), "machine_ceiling": {
        "alone": {"wall_s": 50.0, "cpu_s": 50.0}, "two_at_once": [{"wall_s": 64.0, "cpu_s": 62.0}],
        "cpu_s_increase_when_paired": 0.24, "speedup": 1.56}}
    rows = summary.scale_out_rows(result)
    assert len(rows) == 3
    ceiling = rows[-1]
    assert (ceiling.measured, ceiling.target, ceiling.met) == ("1.56×", "report", None)
    assert "2 processes at once ÷ 1 process" in ceiling.compared and "+24% when paired" in ceiling.compared
