"""Concurrent use (issue #7): the board keeps answering while a batch is written.

A writer process writes many conversations through :class:`~pipeline.store.Store` (publishing
its snapshot every 0.25 s) while reader processes poll every 50 ms the way the board does: one
through ``pipeline.store.read_snapshot`` with a count query, one through the board's own data
layer (``dashboards.data.conversations``, outside Streamlit: its ``st.cache_data`` falls back
to an in-memory cache). DuckDB lets no other process open a database file a writer holds, not
even read-only, so this is exactly what the snapshot is for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
TOTAL = 100          # conversations the writer writes
INTERVAL_S = 0.25    # its publish interval

WRITER = """
import dataclasses, sys, time
from pathlib import Path
from pipeline.analyze import analyze
from pipeline.events import RuleTagger
from pipeline.ingest import TEXT_EXTENSIONS, discover, find_manifest, load_manifest, load_rep_directory, read_source
from pipeline.sop import load_sop
from pipeline.store import Store

samples, db, total, interval, go, done = sys.argv[1:]
sop, tagger = load_sop("configs/sop.yaml"), RuleTagger()
manifest, reps = load_manifest(find_manifest(Path(samples))), load_rep_directory("configs/reps.yaml")
analyses = [analyze(c, sop, tagger) for path in discover([samples]) if path.suffix in TEXT_EXTENSIONS
            for c in read_source(path, manifest, reps).conversations]
while not Path(go).exists():  # wait until the readers are polling
    time.sleep(0.02)
with Store(db, publish_interval_s=float(interval)) as store:
    store.begin_run("concurrent", sop.version, tagger.name, [samples])
    for i in range(int(total)):  # the samples again and again, each copy a conversation of its own
        analysis = analyses[i % len(analyses)]
        conversation = dataclasses.replace(analysis.conversation,
                                           conversation_id=f"{analysis.conversation.conversation_id}-{i}",
                                           source_key=f"{analysis.conversation.source_key}-{i}")
        store.write_analysis(dataclasses.replace(analysis, conversation=conversation), "concurrent", f"fp-{i}")
    store.finish_run("concurrent", int(total), 0, 0)
Path(done).write_text("done")
"""

READER = """
import json, os, sys, time, traceback
from pathlib import Path

db, mode, ready, done, out = sys.argv[1:]
if mode == "board":
    os.environ["KEYNODE_DB"] = db
    from dashboards import data
    from pipeline.access import Viewer

    admin = Viewer("admin", "admin", "admin")

    def count():
        return len(data.conversations(admin))  # an empty frame before anything is published
else:
    from pipeline.store import read_snapshot

    def count():
        try:
            with read_snapshot(db) as con:
                return con.execute("SELECT count(*) FROM conversations").fetchone()[0]
        except FileNotFoundError:  # nothing published yet: the board says 'run the pipeline'
            return 0

reads, errors = [], []
Path(ready).write_text("polling")
while True:
    finished = Path(done).exists()  # checked before reading: this read then sees the final publish
    started = time.monotonic()
    try:
        reads.append([started, count(), time.monotonic() - started])
    except Exception:
        errors.append(traceback.format_exc())
    if finished:
        break
    time.sleep(0.05)
Path(out).write_text(json.dumps({"reads": reads, "errors": errors}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "KEYNODE_TAGGER": "rules", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}


def test_readers_keep_answering_while_a_batch_is_written(tmp_path, samples_dir, capsys):
    db = tmp_path / "keynode.duckdb"
    go, done = tmp_path / "go", tmp_path / "done"
    readers = {}
    for mode in ("snapshot", "board"):
        ready, out = tmp_path / f"{mode}.ready", tmp_path / f"{mode}.json"
        readers[mode] = (subprocess.Popen([sys.executable, "-c", READER, str(db), mode, str(ready), str(done),
                                           str(out)], cwd=ROOT, env=_env(), stderr=subprocess.PIPE, text=True),
                         ready, out)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(samples_dir), str(db), str(TOTAL), str(INTERVAL_S),
                               str(go), str(done)], cwd=ROOT, env=_env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not all(ready.exists() for _, ready, _ in readers.values()):
            assert time.monotonic() < deadline, "the readers did not start"
            for process, _, _ in readers.values():
                assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        go.write_text("go")
        started = time.monotonic()
        _, writer_err = writer.communicate(timeout=600)
        written_in = time.monotonic() - started
        assert writer.returncode == 0, writer_err
        results = {}
        for mode, (process, _, out) in readers.items():
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            results[mode] = json.loads(out.read_text())
    finally:
        for process in (writer, *(process for process, _, _ in readers.values())):
            if process.poll() is None:
                process.kill()
                process.wait()

    summary = []
    for mode, result in results.items():
        counts = [n for _, n, _ in result["reads"]]
        slowest = max(seconds for _, _, seconds in result["reads"])
        assert result["errors"] == [], result["errors"][:3]                  # never an error
        assert counts == sorted(counts), counts                             # never back in time
        assert [n for n in counts if 0 < n < TOTAL], counts                  # saw the batch land
        assert counts[-1] == TOTAL                                          # and all of it at the end
        summary.append(f"{mode}: {len(counts)} reads, {len(set(counts))} distinct counts, slowest {slowest:.2f} s")
    with capsys.disabled():
        print(f"\nconcurrent read: {TOTAL} conversations written in {written_in:.1f} s; " + "; ".join(summary))
