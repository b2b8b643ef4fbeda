"""Where the flow's tasks run (pipeline/runners.py): threads by default, or a Dask cluster."""

from __future__ import annotations

import re
import shutil
import sys
import types
from pathlib import Path

import duckdb
import pytest

import pipeline.flows  # noqa: F401  (Prefect's log handlers set up at collection, see test_cli.py)
from pipeline.cli import main
from pipeline.runners import RunnerSpec, task_runner

ROOT = Path(__file__).resolve().parents[2]

#: Chat samples of both languages and several formats; the default (learned) tagger embeds
#: their texts, so vectors have to travel to the workers and back.
SAMPLES = ("wechat_saas_d1001_1_discovery.txt", "chat_en_saas_d1002_discovery.json", "chats_batch.jsonl",
           "wechat_insurance_gbk.txt")

#: Every table a run fills, with the columns that differ between two runs of the same input left out.
TABLES = {"conversations": ("run_id", "processed_at"), "utterances": (), "key_events": (), "event_tree": (),
          "node_scores": (), "conversation_scores": (), "conversation_metrics": (), "conversation_notes": (),
          "embeddings": (), "failures": ("failure_id", "run_id", "occurred_at")}


def _rows(db) -> dict[str, list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        out = {}
        for table, skipped in TABLES.items():
            columns = [name for (name,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table]).fetchall() if name not in skipped]
            out[table] = sorted(con.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(), key=repr)
    return out


def test_a_local_dask_cluster_stores_exactly_what_threads_store(prefect_harness, tmp_path, samples_dir, sop_path,
                                                                reps_path, monkeypatch, capsys):
    from prefect.settings import PREFECT_API_URL

    # The workers are other processes: they reach the test's Prefect server through the environment.
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    monkeypatch.setenv("KEYNODE_TAGGER", str(ROOT / "models" / "tagger.pkl"))  # the default, with embeddings
    # Dask starts its workers with multiprocessing's spawn, which re-runs the parent's __main__
    # script in each child; after the board's AppTests that is dashboards/app.py, which cannot
    # run there. (`keynode` itself is a console script guarded by `if __name__ == "__main__"`.)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    folder = tmp_path / "exports"
    folder.mkdir()
    for name in SAMPLES:
        shutil.copy(samples_dir / name, folder)
    (folder / "broken.json").write_text("[", encoding="utf-8")  # a failure travels back too
    options = ["--sop", str(sop_path), "--reps", str(reps_path)]

    assert main(["process", str(folder), "--db", str(tmp_path / "threads.duckdb"), *options]) == 1
    threads = capsys.readouterr().out
    assert main(["process", str(folder), "--db", str(tmp_path / "dask.duckdb"), *options,
                 "--runner", "dask", "--workers", "2"]) == 1
    dask = capsys.readouterr().out
    assert re.match(r"run \w+: 10 processed, 0 skipped unchanged, 1 failed", threads)
    assert re.sub(r"run \w+", "run", dask) == re.sub(r"run \w+", "run", threads)

    on_threads, on_dask = _rows(tmp_path / "threads.duckdb"), _rows(tmp_path / "dask.duckdb")
    assert len(on_dask["conversations"]) == 10 and len(on_dask["embeddings"]) > 100
    for table in TABLES:
        assert on_dask[table] == on_threads[table], table


@pytest.mark.parametrize("spec, message", [
    (dict(kind="ray"), "unknown runner 'ray'; expected one of: thread, dask"),
    (dict(kind="dask", workers=0), "--workers must be at least 1, got 0"),
    (dict(kind="dask", threads_per_worker=0), "--threads-per-worker must be at least 1, got 0"),
    (dict(kind="thread", address="tcp://10.0.0.5:8786"), "--dask-address needs --runner dask"),
])
def test_bad_runner_options_are_refused(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        RunnerSpec(**spec)


def test_bad_runner_options_exit_2_before_anything_runs(tmp_path, capsys):
    db = tmp_path / "k.duckdb"
    assert main(["process", str(tmp_path), "--db", str(db), "--runner", "dask", "--workers", "0"]) == 2
    assert capsys.readouterr().err == "error: --workers must be at least 1, got 0\n"
    assert not db.exists()


def test_task_runners():
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(task_runner(RunnerSpec()), ThreadPoolTaskRunner)
    assert task_runner(RunnerSpec(workers=3))._max_workers == 3
    local = task_runner(RunnerSpec("dask", workers=3, threads_per_worker=2))
    assert isinstance(local, DaskTaskRunner)
    assert local.cluster_kwargs == {"n_workers": 3, "threads_per_worker": 2, "processes": True, "host": "127.0.0.1",
                                    "dashboard_address": None}
    assert task_runner(RunnerSpec("dask", address="tcp://127.0.0.1:8786")).address == "tcp://127.0.0.1:8786"


def test_local_dask_workers_keep_glibcs_dynamic_malloc_thresholds(monkeypatch):
    """Dask's nanny would set MALLOC_TRIM_THRESHOLD_ in each worker, which tripled the time of a
    transcription there (system time); a worker of Keynode's local cluster has no such variable
    and keeps the nanny's one-thread settings."""
    import os

    import dask
    from distributed import Client, LocalCluster

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # see above: spawn
    nanny = dask.config.config["distributed"]["nanny"]
    # Dask's default, whatever an earlier run in this process changed; restored after the test.
    monkeypatch.setitem(nanny, "pre-spawn-environ", {**nanny["pre-spawn-environ"], "MALLOC_TRIM_THRESHOLD_": 65536})
    task_runner(RunnerSpec(kind="dask", workers=1))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        (environ,) = client.run(lambda: {name: os.environ.get(name)
                                         for name in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}).values()
    assert environ == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}
