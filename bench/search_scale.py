"""Latency of the board's search and overview queries on a synthetic 100,000-conversation warehouse.

Calls the board's own functions (``dashboards/data.py``) as each role would — admin, manager,
rep and trainer — on the warehouse that ``scripts/make_warehouse.py`` builds, with Streamlit's
result cache cleared before every call, so each figure is a query as the board runs it on a
snapshot it has not cached yet (a new snapshot, or parameters not asked for in the last 30 s).
Every case runs ``--repetitions`` times (default 20) cycling through varied parameters (words,
teams, reps, deals); p50, p95 and max are reported per case. Also measured: the snapshot
publish (the writer's own copy) and the database's size.

With ``--baseline FILE`` (another version of dashboards/data.py), both versions are measured
call for call in one run — each repetition calls one, then the other — so both see the same
machine, and their results are checked to be the same. Times are wall clock and this
process's CPU time (all threads), which other work on a shared machine disturbs less.

Writes ``bench/results/search_scale.json`` (each version's run under its label) and prints a
markdown table.

    .venv/bin/python bench/search_scale.py --build                     # build 100k, then measure
    .venv/bin/python bench/search_scale.py --db /tmp/wh/keynode.duckdb --conversations 10000 --build
    git show HEAD~1:dashboards/data.py > /tmp/data_before.py           # a version to compare with
    .venv/bin/python bench/search_scale.py --baseline /tmp/data_before.py --only search
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

TARGET_P95_MS = 500

#: Searches by selectivity on the 100k warehouse (share of its 5.2M utterances): rare 0.018–0.041%,
#: common 1.3–4.1%.
RARE_WORDS = ("退款", "发票", "refund", "增值税", "不满意")
COMMON_WORDS = ("价格", "预算", "competitor", "老板", "price")
TWO_WORDS = ("能不能 优惠", "预算 老板", "too expensive", "价格 低一些", "budget around")
OBJECTION_WORDS = ("太贵", "便宜", "优惠", "expensive", "quoted")


def _viewers():
    from pipeline.access import Viewer

    return {
        "admin": Viewer("admin", "管理员", "admin"),
        "manager": Viewer("manager.east", "周经理", "manager", team="华东一组"),
        "rep": Viewer("wang.lei", "王磊", "rep", team="华东一组", rep="王磊"),
        "trainer": Viewer("trainer", "培训师 林老师", "trainer"),
    }


def _cases(con: duckdb.DuckDBPyConnection, data) -> list[tuple[str, str, Callable[[int], object]]]:
    """(name, role, call(repetition)) for every measured query of ``data`` (dashboards.data, or
    a baseline version of it); each call varies its parameters with the repetition number."""
    viewers = _viewers()
    admin, manager, rep, trainer = (viewers[r] for r in ("admin", "manager", "rep", "trainer"))
    teams = [row[0] for row in con.execute("SELECT DISTINCT team FROM conversations ORDER BY 1").fetchall()]
    east_reps = [row[0] for row in con.execute("SELECT DISTINCT rep FROM conversations WHERE team = ? ORDER BY 1",
                                               [manager.team]).fetchall()]
    months = [(date(2025, m, 1), date(2025, m, 28)) for m in range(1, 13)]
    deal_ids = {role: [row[0] for row in con.execute(
        f"SELECT deal_id FROM conversations c WHERE deal_id IS NOT NULL AND {where} "
        "GROUP BY deal_id ORDER BY hash(deal_id) LIMIT 40", params).fetchall()]
        for role, where, params in (("admin", "TRUE", []), ("manager", "team = ?", [manager.team]),
                                    ("rep", "rep = ?", [rep.rep]))}

    def pick(values, k):
        return values[k % len(values)]

    def search(viewer, **query):
        return lambda k: data.search_utterances(viewer, data.SearchQuery(**{
            key: (value(k) if callable(value) else value) for key, value in query.items()}))

    def context(viewer, words):
        hits = {}

        def call(k):
            if not hits:  # the first (untimed warm-up) call: the hits of the page's searches
                hits.update({word: data.search_utterances(viewer, data.SearchQuery(text=word)).head(50)
                             for word in words})
                _clear(data)
            return data.search_context(viewer, hits[pick(words, k)])
        return call

    cases: list[tuple[str, str, Callable[[int], object]]] = []
    for role, viewer in viewers.items():
        cases += [
            ("search: rare word", role, search(viewer, text=lambda k: pick(RARE_WORDS, k))),
            ("search: common word", role, search(viewer, text=lambda k: pick(COMMON_WORDS, k))),
            ("search: two words", role, search(viewer, text=lambda k: pick(TWO_WORDS, k))),
            ("search: node price_objection, from a month", role,
             search(viewer, node_ids=("price_objection",),
                    filters=lambda k: data.ConversationFilter(start=pick(months, k)[0]))),
            ("search: word + node price_objection", role,
             search(viewer, text=lambda k: pick(OBJECTION_WORDS, k), node_ids=("price_objection",))),
        ]
    cases += [
        ("search: common word, team filter", "admin",
         search(admin, text=lambda k: pick(COMMON_WORDS, k),
                filters=lambda k: data.ConversationFilter(teams=(pick(teams, k),)))),
        ("search: common word, rep filter", "manager",
         search(manager, text=lambda k: pick(COMMON_WORDS, k),
                filters=lambda k: data.ConversationFilter(reps=(pick(east_reps, k),)))),
        ("search: rare word, month filter", "admin",
         search(admin, text=lambda k: pick(RARE_WORDS, k),
                filters=lambda k: data.ConversationFilter(start=pick(months, k)[0], end=pick(months, k)[1]))),
    ]
    for role, viewer in viewers.items():
        cases.append(("search_context (50 hits)", role, context(viewer, COMMON_WORDS)))
    for role, viewer in viewers.items():
        team_of = (lambda k: pick([None, *teams], k)) if viewer.sees_all_teams else (lambda k: None)
        cases += [
            ("overview_counts", role, lambda k, v=viewer, t=team_of: data.overview_counts(v, t(k))),
            ("node_coverage", role, lambda k, v=viewer, t=team_of: data.node_coverage(v, t(k))),
            ("weekly_trend", role, lambda k, v=viewer, t=team_of: data.weekly_trend(v, t(k))),
            ("compliance_matrix", role, lambda k, v=viewer, t=team_of: data.compliance_matrix(v, t(k))),
            ("filter_options", role, lambda k, v=viewer: data.filter_options(v)),
        ]
    cases += [
        ("conversations: all", "admin", lambda k: data.conversations(admin)),
        ("conversations: all", "trainer", lambda k: data.conversations(trainer)),
        ("conversations: all", "manager", lambda k: data.conversations(manager)),
        ("conversations: all", "rep", lambda k: data.conversations(rep)),
        ("conversations: team + outcome + month", "admin", lambda k: data.conversations(admin, data.ConversationFilter(
            teams=(pick(teams, k),), outcomes=("won",), start=pick(months, k)[0], end=pick(months, k)[1]))),
        ("conversations: rep + channel", "manager", lambda k: data.conversations(manager, data.ConversationFilter(
            reps=(pick(east_reps, k),), channels=("phone",)))),
    ]
    for role in ("admin", "manager", "rep"):
        viewer = viewers[role]
        cases += [
            ("deals", role, lambda k, v=viewer: data.deals(v)),
            ("deal_path", role, lambda k, v=viewer, ids=deal_ids[role]: data.deal_path(v, pick(ids, k))),
        ]
    cases += [
        ("leaderboard_table: all teams", "admin", lambda k: data.leaderboard_table(admin, None)),
        ("leaderboard_table: one team", "admin", lambda k: data.leaderboard_table(admin, pick(teams, k))),
        ("leaderboard_table", "manager", lambda k: data.leaderboard_table(manager, manager.team)),
        ("leaderboard_table", "rep", lambda k: data.leaderboard_table(rep, rep.team)),
    ]
    for role, viewer in viewers.items():
        cases.append(("objection_library", role, lambda k, v=viewer: _objection_library(data, v)))

    # The first query after a publish: the snapshot's modification time moved (untimed) before
    # each call, as a new publish moves it, so the board opens the snapshot anew.
    def after_publish(call):
        call.new_snapshot_first = True  # measure() moves the snapshot's time before each call
        return call

    cases += [
        ("after a publish: overview_counts", "admin", after_publish(lambda k: data.overview_counts(admin))),
        ("after a publish: search common word", "admin",
         after_publish(lambda k: data.search_utterances(admin, data.SearchQuery(text=pick(COMMON_WORDS, k))))),
    ]
    return cases


def _objection_library(data, viewer):
    """The objection library's data as ``data`` gets it: ``objection_library``, or in a version
    from before it (a baseline), every objection read by ``objection_answers`` (masked in Python
    for a trainer) and grouped by this checkout's ``library`` on an in-memory DuckDB. (The
    ``library`` of that version would be slower still: its typical wording compared every pair
    of a theme's quotes.)"""
    if hasattr(data, "objection_library"):
        return data.objection_library(viewer)
    from pipeline.scoring.objections import library

    return library(data.objection_answers(viewer))


def _clear(data=None) -> None:
    if data is None:
        from dashboards import data
    data._cached_query.clear()


def _percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(share * len(sorted_values)) - 1)]


def _load_baseline(path: str):
    """A data.py of another version (e.g. ``git show HEAD~1:dashboards/data.py > before.py``),
    imported beside this checkout's as a module of its own."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("keynode_baseline_data", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _same(a, b) -> bool:
    """Whether two results are equal: frames cell by cell with their dtypes, floats to 1e-9
    (DuckDB's parallel sums and means are not reproducible to the last bit), and as sets of rows
    when the query has no ORDER BY and the rows came in another order; dicts key by key."""
    import pandas as pd

    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
            return True
        except AssertionError:
            keys = [c for c in a.columns if a[c].dtype.kind not in "fc"
                    and a[c].map(lambda v: isinstance(v, (str, int, type(None)))).all()]
            try:
                pd.testing.assert_frame_equal(a.sort_values(keys).reset_index(drop=True),
                                              b.sort_values(keys).reset_index(drop=True), check_exact=False, rtol=1e-9)
                return True
            except (AssertionError, KeyError, TypeError, ValueError):
                return False
    return a == b


def _summary(name: str, role: str, wall: list[float], cpu: list[float], rows: list) -> dict:
    wall, cpu = sorted(wall), sorted(cpu)
    counted = [r for r in rows if r is not None]
    return {"case": name, "role": role, "repetitions": len(wall),
            "p50_ms": round(statistics.median(wall), 1), "p95_ms": round(_percentile(wall, 0.95), 1),
            "max_ms": round(wall[-1], 1), "cpu_p50_ms": round(statistics.median(cpu), 1),
            "cpu_p95_ms": round(_percentile(cpu, 0.95), 1),
            "rows_median": statistics.median(counted) if counted else None}


def measure(db: Path, repetitions: int, only: str | None, baseline=None, log=print) -> dict[str, list[dict]]:
    """Time every case ``repetitions`` times (after one untimed warm-up call each), wall clock
    and this process's CPU time (all threads: less disturbed by other work on the machine).
    With a ``baseline`` module, each repetition calls both versions one after the other (in
    alternating order), so both see the same machine, and checks that they return the same."""
    import logging

    from dashboards import data

    os.environ["KEYNODE_DB"] = str(db)
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime" warnings outside `streamlit run`
    from pipeline.store import snapshot_path

    snapshot = snapshot_path(db)
    modules = {"current": data, **({"baseline": baseline} if baseline is not None else {})}
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        cases = {label: _cases(con, module) for label, module in modules.items()}
    results: dict[str, list[dict]] = {label: [] for label in modules}
    for index, (name, role, _) in enumerate(cases["current"]):
        if only and only not in name:
            continue
        timings = {label: ([], [], []) for label in modules}
        identical = True
        for label, module in modules.items():
            _clear(module)
            cases[label][index][2](repetitions)  # warm-up: imports, the OS file cache, the open snapshot
        for k in range(repetitions):
            values = {}
            order = list(modules) if k % 2 == 0 else list(reversed(modules))
            for label in order:
                module, call = modules[label], cases[label][index][2]
                _clear(module)
                if getattr(call, "new_snapshot_first", False):  # untimed: a new snapshot version
                    os.utime(snapshot, ns=(time.time_ns(), time.time_ns()))
                cpu_started, started = time.process_time(), time.perf_counter()
                values[label] = call(k)
                wall, cpu, rows = timings[label]
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                rows.append(len(values[label]) if hasattr(values[label], "__len__") else None)
            if baseline is not None:
                identical = identical and _same(values["baseline"], values["current"])
        line = f"  {name:<38} {role:<8}"
        for label in modules:
            result = _summary(name, role, *timings[label])
            if baseline is not None:
                result["identical_to_baseline"] = identical
            results[label].append(result)
            line += (f" | {label} p50 {result['p50_ms']:>7.1f} p95 {result['p95_ms']:>7.1f} ms "
                     f"(cpu p50 {result['cpu_p50_ms']:>7.1f})")
        log(line + (f" | rows~{result['rows_median']}" + ("" if identical else "  RESULTS DIFFER")))
    return results


def publish_time(db: Path, repetitions: int = 3) -> list[float]:
    """Seconds the writer's ``Store.publish_snapshot`` takes to copy this database (and build what
    the snapshot adds), ``repetitions`` times."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_warehouse import publish

    return [round(publish(db), 2) for _ in range(repetitions)]


def table(runs: dict[str, dict]) -> str:
    """Markdown: one row per case and role; wall-clock p50/p95 and CPU p50 per run label."""
    labels = list(runs)
    keys = list(dict.fromkeys((r["case"], r["role"]) for run in runs.values() for r in run["results"]))
    by = {label: {(r["case"], r["role"]): r for r in run["results"]} for label, run in runs.items()}
    head = "| query | role | " + " | ".join(f"{label} p50 | {label} p95 | {label} CPU p50" for label in labels) + " |"
    lines = [head, "|---|---|" + "---:|" * (3 * len(labels))]
    for case, role in keys:
        cells = []
        for label in labels:
            r = by[label].get((case, role))
            cells += [f"{r['p50_ms']:.0f}", (f"**{r['p95_ms']:.0f}**" if r["p95_ms"] >= TARGET_P95_MS
                                             else f"{r['p95_ms']:.0f}"), f"{r.get('cpu_p50_ms', 0):.0f}"] \
                if r else ["", "", ""]
        lines.append(f"| {case} | {role} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Milliseconds per call; **bold**: p95 at or above the target of "
                 f"{TARGET_P95_MS} ms. CPU: this process's CPU time, all threads.")
    for label, run in runs.items():
        differ = [f"{r['case']} ({r['role']})" for r in run["results"] if r.get("identical_to_baseline") is False]
        lines.append(f"- {label}: {run['code']}; {run['conversations']:,} conversations, {run['utterances']:,} "
                     f"utterances; snapshot {run['snapshot_bytes'] / 1e6:,.0f} MB; "
                     f"publish {run.get('publish_s')} s; measured {run['measured_at']}, load average at start "
                     f"{', '.join(f'{x:.1f}' for x in run['load_average_at_start'])} "
                     f"({run['repetitions']} repetitions per case, result cache cleared before each)"
                     + "".join(f"; cases with '{rerun['only']}' measured again {rerun['measured_at']}, load average "
                               f"{', '.join(f'{x:.1f}' for x in rerun['load_average_at_start'])}"
                               for rerun in run.get("partial_reruns", []))
                     + (f"; results differ from the baseline: {'; '.join(differ)}" if differ else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(ROOT / "data" / "warehouse" / "keynode.duckdb"))
    parser.add_argument("--conversations", type=int, default=100_000, help="with --build: how many")
    parser.add_argument("--build", action="store_true", help="(re)build the warehouse first")
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--publish-repetitions", type=int, default=3, help="0: skip timing the publish")
    parser.add_argument("--only", help="measure only the cases whose name contains this")
    parser.add_argument("--label", default="after", help="name of this checkout's run in the results file")
    parser.add_argument("--baseline", help="a data.py to measure beside this checkout's, call for call "
                                           "(git show REV:dashboards/data.py > FILE), checking the results match")
    parser.add_argument("--baseline-label", default="before")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "search_scale.json"))
    args = parser.parse_args(argv)
    from pipeline.store import snapshot_path

    db = Path(args.db)
    built = None
    if args.build:
        sys.path.insert(0, str(ROOT / "scripts"))
        from make_warehouse import build

        built = build(db, args.conversations)
    if not snapshot_path(db).exists():
        raise SystemExit(f"{snapshot_path(db)} does not exist: run with --build (or scripts/make_warehouse.py)")
    with duckdb.connect(str(snapshot_path(db)), read_only=True) as con:
        conversations, utterances = con.execute(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM utterances)").fetchone()
    print(f"measuring {args.db}: {conversations:,} conversations, {utterances:,} utterances")
    publishes = publish_time(db, args.publish_repetitions) if args.publish_repetitions else []
    if publishes:
        print(f"  snapshot publish: {publishes} s")
    load, started = os.getloadavg(), datetime.now()
    results = measure(db, args.repetitions, args.only, _load_baseline(args.baseline) if args.baseline else None)
    common = {"measured_at": started.isoformat(timespec="seconds"),
              "finished_at": datetime.now().isoformat(timespec="seconds"),
              "machine": f"{platform.platform()}, {os.cpu_count()} cpus, "
                         f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
              "load_average_at_start": load, "load_average_at_end": os.getloadavg(), "database": str(db),
              "conversations": conversations, "utterances": utterances, "db_bytes": db.stat().st_size,
              "snapshot_bytes": snapshot_path(db).stat().st_size,
              "publish_s": statistics.median(publishes) if publishes else None, "publish_runs_s": publishes,
              "build": built, "repetitions": args.repetitions, "only": args.only, "target_p95_ms": TARGET_P95_MS}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    runs = saved.get("runs", {})
    labels = {"current": args.label, "baseline": args.baseline_label}
    for which, measured in results.items():
        label = labels[which]
        run = {"label": label, **common, "results": measured,
               "code": "this checkout's dashboards/data.py" if which == "current" else f"{args.baseline}"}
        if args.only and label in runs:  # a partial run replaces only its cases, and is noted as such
            earlier = runs[label]
            replaced = {(r["case"], r["role"]) for r in measured}
            earlier["results"] = [r if (r["case"], r["role"]) not in replaced
                                  else next(m for m in measured if (m["case"], m["role"]) == (r["case"], r["role"]))
                                  for r in earlier["results"]] + [
                m for m in measured if (m["case"], m["role"]) not in {(r["case"], r["role"])
                                                                      for r in earlier["results"]}]
            earlier.setdefault("partial_reruns", []).append(
                {key: common[key] for key in ("measured_at", "finished_at", "load_average_at_start",
                                              "load_average_at_end", "only", "repetitions")})
            run = earlier
        runs[label] = run
    saved = {"description": "p50/p95/max wall-clock latency and CPU time (ms) of dashboards/data.py functions on a "
                            "synthetic warehouse, the board's result cache cleared before every call "
                            "(bench/search_scale.py)", "runs": runs}
    out.write_text(json.dumps(saved, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print()
    print(table({label: runs[label] for label in runs if label in (args.label, args.baseline_label)}))
    slow = [f"{r['case']} ({r['role']})" for r in results["current"] if r["p95_ms"] >= TARGET_P95_MS]
    print(f"\n{len(slow)} of {len(results['current'])} cases at or above the p95 target of {TARGET_P95_MS} ms"
          + (": " + "; ".join(slow) if slow else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
