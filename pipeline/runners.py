"""Where the process flow's tasks run: threads in this process (the default) or a Dask cluster.

The flow itself always runs here and is the only writer of the database; tasks (reading an
export, transcribing a recording, analysing a conversation) return their results to it. On
Dask, each worker process loads the Whisper model and the tagger once (``lru_cache`` in
:mod:`pipeline.transcribe.whisper` and :mod:`pipeline.events`) and keeps them for every task
it runs.

Process-based runners need a real Prefect API: without one, every worker process would start
its own temporary server (a 20-item flow took four times as long). :func:`prefect_api` starts
one local server for the run and hands its address to the workers when ``PREFECT_API_URL`` is
not set; with a server of your own (``prefect server start``), export ``PREFECT_API_URL`` and
the run shows up in its UI (docs/scaling.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

RUNNERS = ("thread", "dask")


@dataclass(frozen=True)
class RunnerSpec:
    """How to run the flow's tasks.

    ``thread``: a thread pool in this process (``workers`` threads; None: Prefect's default).
    ``dask``: a Dask cluster, either an existing one (``address``, e.g. ``tcp://10.0.0.5:8786``)
    or a local one of ``workers`` processes with ``threads_per_worker`` threads each.
    """

    kind: str = "thread"
    workers: int | None = None
    threads_per_worker: int = 1
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in RUNNERS:
            raise ValueError(f"unknown runner {self.kind!r}; expected one of: {', '.join(RUNNERS)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")
        if self.threads_per_worker < 1:
            raise ValueError(f"--threads-per-worker must be at least 1, got {self.threads_per_worker}")
        if self.address and self.kind != "dask":
            raise ValueError("--dask-address needs --runner dask")

    @property
    def uses_processes(self) -> bool:
        return self.kind == "dask"

    def describe(self) -> str:
        if self.kind == "thread":
            return f"threads ({self.workers or 'default'})"
        if self.address:
            return f"Dask cluster at {self.address}"
        return f"local Dask cluster, {self.workers or 2} workers × {self.threads_per_worker} threads"


def task_runner(spec: RunnerSpec):
    """The Prefect task runner for ``spec``."""
    if spec.kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=spec.workers) if spec.workers else ThreadPoolTaskRunner()
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise RuntimeError("--runner dask needs the dask extra: pip install -e '.[dask]'") from exc
    if spec.address:
        return DaskTaskRunner(address=spec.address)
    _keep_malloc_thresholds_dynamic()
    # Processes, not threads: ASR and tagging hold the GIL in places; a dashboard address of
    # None keeps the cluster off the network (everything on 127.0.0.1).
    return DaskTaskRunner(cluster_kwargs={"n_workers": spec.workers or 2, "threads_per_worker": spec.threads_per_worker,
                                          "processes": True, "host": "127.0.0.1", "dashboard_address": None})


def _keep_malloc_thresholds_dynamic() -> None:
    """Start local Dask workers without the ``MALLOC_TRIM_THRESHOLD_=65536`` Dask's nanny sets
    in every worker by default (its other variables, one OpenMP/BLAS thread, stay). Setting it
    fixes glibc's malloc thresholds, so each large buffer of a transcription is mmap'd and
    unmapped again: one sample call took 32 s instead of 10 s, 11 s of it in the kernel, and the
    workers of a batch spent two thirds of their time there (docs/scaling.md, "Scale-out")."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    dask.config.set({"distributed.nanny.pre-spawn-environ": environ})


@contextmanager
def prefect_api(spec: RunnerSpec) -> Iterator[str | None]:
    """For runners with worker processes, make sure a Prefect API exists that they can reach:
    the configured ``PREFECT_API_URL``, or a local server started for the duration (its address
    exported, so worker processes inherit it). Yields the API URL (None: threads, nothing to do)."""
    configured = os.environ.get("PREFECT_API_URL")
    if not spec.uses_processes or configured:
        yield configured
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")))
    os.environ["PREFECT_API_URL"] = server.api_url
    log.info("started a local Prefect API for the Dask workers at %s", server.api_url)
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        # Send what the run logged and emitted while the server is still there to take it.
        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()
