"""Prefect orchestration: thin wrappers around the stages, and the one place that writes.

``process`` reads every export (one task per file), redacts the personal data of every
conversation (``configs/privacy.yaml``), analyses it (one task per conversation, run
concurrently), and hands the results to the single :class:`Store` writer in the flow's own
thread. A file or conversation that fails is recorded in the ``failures`` table with its file,
stage and error, and the batch goes on.

Each run records the files it discovered (``run_inputs``: queued, then done or failed), so a
run that was killed can be resumed by running it again: what was stored is skipped as
unchanged, the rest is processed (docs/architecture.md, "Crash safety and resume").
"""

from __future__ import annotations

import errno
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.settings import DEFAULT_DB, DEFAULT_PRIVACY, DEFAULT_REPS, DEFAULT_SOP, configure_prefect

configure_prefect()

from prefect import flow, get_run_logger, task  # noqa: E402  (settings must come first)
from prefect.cache_policies import NO_CACHE  # noqa: E402

from pipeline.analyze import analyze, fingerprint  # noqa: E402
from pipeline.events import default_tagger  # noqa: E402
from pipeline.ingest import (  # noqa: E402
    AUDIO_EXTENSIONS,
    IngestError,
    Manifest,
    SourceResult,
    discover,
    find_manifest,
    load_manifest,
    load_rep_directory,
    read_source,
)
from pipeline.ingest.metadata import ManifestRow  # noqa: E402
from pipeline.models import Analysis, Conversation  # noqa: E402
from pipeline.privacy import RedactionConfigError, load_privacy_config, redact_conversation  # noqa: E402
from pipeline.sop import Sop, SopError, load_sop  # noqa: E402
from pipeline.store import CONFIG_STAGE, WRITE_BATCH, AnalysisWrite, Store  # noqa: E402
from pipeline.store.snapshot import file_digest  # noqa: E402
from pipeline.transcribe.options import AsrOptions  # noqa: E402

# Errors worth another try: the file system or the machine hiccupped, the input is fine.
_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.EIO, errno.ETIMEDOUT, errno.ESTALE}


def is_transient(_task, _task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry I/O hiccups and time-outs, never bad input."""
    try:
        state.result()
    except (IngestError, ValueError):
        return False
    except (TimeoutError, ConnectionError, InterruptedError, BlockingIOError):
        return True
    except OSError as exc:
        return exc.errno in _TRANSIENT_ERRNOS
    except Exception:  # noqa: BLE001 - any other error is a bug, not a hiccup
        return False
    return False


@lru_cache(maxsize=4)
def _cached_sop(path: str, mtime_ns: int) -> Sop:
    return load_sop(path)


def cached_sop(path: str) -> Sop:
    """The SOP, loaded once per process and file version (tasks get paths, not objects)."""
    return _cached_sop(path, Path(path).stat().st_mtime_ns)


_TASK_OPTIONS = dict(retries=2, retry_delay_seconds=1, retry_condition_fn=is_transient,
                     cache_policy=NO_CACHE, persist_result=False)


@task(name="read-export", **_TASK_OPTIONS)
def read_export(path: str, manifest: Manifest | None, reps_path: str | None) -> SourceResult:
    """Read one export file into conversations (and per-conversation errors)."""
    return read_source(path, manifest, load_rep_directory(reps_path))


@task(name="transcribe-recording", **_TASK_OPTIONS)
def transcribe_call(path: str, row: ManifestRow | None, sop_path: str, options: AsrOptions) -> SourceResult:
    """Transcribe one call recording (model loaded once per worker process)."""
    from pipeline.transcribe.whisper import transcribe_recording  # the audio extra

    return SourceResult(path, (transcribe_recording(path, row, cached_sop(sop_path), options),), ())


@task(name="analyze-conversation", **_TASK_OPTIONS)
def analyze_conversation(conversation: Conversation, sop_path: str, known_outputs: dict | None = None
                         ) -> tuple[Analysis, dict]:
    """Tag, build the tree and score one conversation.

    ``known_outputs``: what the tagger's models computed for its texts in earlier runs (sentence
    vectors, encoder probabilities; ``LearnedTagger.output_caches``). Returns the analysis and
    what was computed for it, for the store to keep: the task may run in another process (a
    Dask worker), so these travel with it, both ways.
    """
    tagger = default_tagger()
    if not getattr(tagger, "output_caches", None):
        return analyze(conversation, cached_sop(sop_path), tagger), {}
    tagger.remember(known_outputs or {})
    analysis = analyze(conversation, cached_sop(sop_path), tagger)
    return analysis, tagger.outputs_of(conversation, known_outputs or {})


@dataclass
class RunSummary:
    """What one run did; printed by the CLI and returned by the flow."""

    run_id: str
    processed: int = 0
    skipped: int = 0
    failures: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


@dataclass
class Progress:
    """What a run has got through, for the progress line logged as each conversation lands."""

    files: int
    started_s: float = field(default_factory=time.monotonic)
    files_read: int = 0
    stored: int = 0
    audio_s: float = 0.0

    def line(self, now_s: float | None = None) -> str:
        elapsed_s = (time.monotonic() if now_s is None else now_s) - self.started_s
        minutes, seconds = divmod(int(elapsed_s), 60)
        audio = f", {self.audio_s / 60:.1f} audio min" if self.audio_s else ""
        rate = f", {self.stored / elapsed_s * 60:.0f}/min" if elapsed_s >= 1 and self.stored else ""
        return (f"progress: {self.files_read}/{self.files} files read, {self.stored} conversations stored"
                f"{audio} in {minutes}:{seconds:02d}{rate}")


def work_order(paths: list[Path]) -> list[Path]:
    """The order tasks are submitted in: recordings first, the most audio first (duration ×
    channels: the transcription work), then the exports in their given order. With several
    workers a long call submitted last would run alone at the end of the batch; longest first
    keeps them all busy to the end (docs/scaling.md, "Scale-out")."""
    def audio_work_s(path: Path) -> float:
        try:
            from pipeline.transcribe.audio import probe  # the audio extra

            info = probe(path)
        except (ImportError, IngestError, OSError):  # its task reports what is wrong with it
            return 0.0
        return info.duration_s * info.channels

    recordings = [path for path in paths if path.suffix.lower() in AUDIO_EXTENSIONS]
    exports = [path for path in paths if path.suffix.lower() not in AUDIO_EXTENSIONS]
    return sorted(recordings, key=audio_work_s, reverse=True) + exports


def _manifests(files: list[Path], explicit: str | None) -> tuple[dict[Path, Manifest | None], list[tuple[str, IngestError]]]:
    """The manifest that applies to each file's folder, and errors of manifests that failed."""
    by_folder: dict[Path, Manifest | None] = {}
    errors: list[tuple[str, IngestError]] = []
    explicit_manifest = load_manifest(explicit) if explicit else None
    for folder in sorted({path.parent for path in files}):
        if explicit_manifest:
            by_folder[folder] = explicit_manifest
            continue
        found = find_manifest(folder)
        try:
            by_folder[folder] = load_manifest(found) if found else None
        except IngestError as exc:
            by_folder[folder] = None
            errors.append((str(folder), exc))
    return by_folder, errors


def _record_config_failure(db_path: str, run_id: str, paths: list[str], digests: dict[str, str | None],
                           config_path: str, error: Exception) -> None:
    """A configuration that cannot be loaded stops the run before any file is read. Record the
    run with the files it would have processed (``keynode status`` counts them pending) and the
    failure against the configuration file (listed on the board's overview; ``keynode
    retry-failed`` reruns the batch once the file is fixed, and the next run that loads its
    configuration resolves it)."""
    with Store(db_path) as store:
        store.begin_run(run_id, "(not loaded)", "(not loaded)", [str(p) for p in paths], digests)
        store.resolve_config_failures(run_id)  # superseded: this stop is the one to fix and retry
        store.record_failure(run_id, str(config_path), None, CONFIG_STAGE, type(error).__name__, str(error))
        store.interrupt_run(run_id, f"stopped before reading any file: {config_path} cannot be used")


@flow(name="process")
def process(paths: list[str], sop_path: str = str(DEFAULT_SOP), db_path: str = str(DEFAULT_DB),
            manifest_path: str | None = None, reps_path: str | None = str(DEFAULT_REPS),
            asr_options: AsrOptions = AsrOptions(), publish_interval_s: float = 10.0,
            privacy_path: str | None = None) -> RunSummary:
    """Process conversation exports into the Keynode database.

    Unchanged conversations (same content, metadata, SOP version, tagger and privacy settings)
    are skipped; failures are recorded in the ``failures`` table and the batch continues. The
    snapshot readers see is published at most every ``publish_interval_s`` seconds during the
    batch. ``privacy_path``: the privacy config (None: ``configs/privacy.yaml``, mask when it is
    missing); the hash salt comes from ``$KEYNODE_REDACT_SALT``, never through a parameter
    (Prefect records a flow's parameters).
    """
    logger = get_run_logger()
    run_id = uuid.uuid4().hex[:12]
    summary = RunSummary(run_id=run_id)
    files = discover(paths)
    digests = {str(path): file_digest(path) for path in files}  # what each input held when discovered
    config_path = sop_path
    try:
        sop = load_sop(sop_path)  # a broken SOP stops the run at once: every result would be wrong
        # So does a broken privacy config: nothing may be stored unredacted by mistake.
        config_path = privacy_path or str(DEFAULT_PRIVACY)
        privacy = load_privacy_config(privacy_path or DEFAULT_PRIVACY, required=privacy_path is not None)
    except (SopError, RedactionConfigError) as exc:
        _record_config_failure(db_path, run_id, paths, digests, config_path, exc)
        raise
    tagger = default_tagger()
    manifests, manifest_errors = _manifests(files, manifest_path)
    logger.info("run %s: %d files, SOP %s, tagger %s", run_id, len(files), sop.version, tagger.name)

    with Store(db_path, publish_interval_s=publish_interval_s) as store:
        store.begin_run(run_id, sop.version, tagger.name, [str(p) for p in paths], digests)
        store.resolve_config_failures(run_id)  # the configuration loads again: runs are no longer stopped
        if not privacy.keep_original and store.drop_originals():
            logger.info("keep_original is false: deleted the original texts earlier runs kept")
        failed_inputs: set[str] = set()

        def fail(path: str, key: str | None, stage: str, error: BaseException) -> None:
            message = str(error)
            store.record_failure(run_id, path, key, stage, type(error).__name__, message)
            failed_inputs.add(path)
            summary.failures.append({"path": path, "key": key, "stage": stage, "error": message})
            logger.warning("failed %s%s (%s): %s", path, f" [{key}]" if key else "", stage, message)

        def settled(path: str) -> dict[str, str]:
            """The input state of a file whose conversations have all been dealt with."""
            return {path: "failed" if path in failed_inputs else "done"}

        try:
            bad_folders = {folder: error for folder, error in manifest_errors}
            readable = []
            finished: dict[str, str] = {}  # inputs settled, not recorded yet
            for path in files:
                if str(path.parent) in bad_folders:
                    fail(str(path), None, "manifest", bad_folders[str(path.parent)])
                    finished.update(settled(str(path)))
                else:
                    readable.append(path)
            for manifest in {id(m): m for m in manifests.values() if m}.values():
                for missing in sorted(f for f in manifest.files() if not Path(f).exists()):
                    fail(missing, None, "manifest", IngestError(
                        manifest.path, "manifest", f"a row names {missing}, which does not exist",
                        "fix the file name in the manifest or add the export"))

            def submit(path: Path):
                manifest = manifests.get(path.parent)
                if path.suffix.lower() in AUDIO_EXTENSIONS:
                    row = manifest.lookup(path, None) if manifest else None
                    return transcribe_call.submit(str(path), row, sop_path, asr_options)
                return read_export.submit(str(path), manifest, reps_path)

            reads = [(path, submit(path)) for path in work_order(readable)]
            progress = Progress(files=len(readable))
            waiting: deque = deque()  # analyses submitted, written in order as they complete
            outstanding: dict[str, int] = {}  # per input: analyses not yet written
            written: set[str] = set()  # conversations this run wrote

            def write_completed(block: bool) -> None:
                """Write the analyses that are done (all of them when ``block``), in order: results
                land while files are still being read, so a crash loses little. Those done
                together are written together (one statement per table: docs/scaling.md)."""
                batch: list[AnalysisWrite] = []
                while waiting:
                    path, conversation, stamp, originals, future = waiting[0]
                    wrapped = getattr(future, "wrapped_future", None)  # a concurrent.futures.Future
                    if not block and not (wrapped is not None and wrapped.done()):
                        break
                    waiting.popleft()
                    result = future.result(raise_on_failure=False)
                    outstanding[path] -= 1
                    if isinstance(result, BaseException):
                        store.write_analyses(batch)  # what came before it, first
                        batch = []
                        fail(conversation.source_path, conversation.source_key, "analyze", result)
                        failed_inputs.add(path)
                        if not outstanding[path]:
                            store.finish_inputs(run_id, settled(path))
                        continue
                    analysis, new_outputs = result
                    if new_outputs:
                        store.store_outputs(tagger.output_caches, new_outputs)
                    # A file's last conversation settles the file in the same transaction.
                    batch.append(AnalysisWrite(analysis, run_id, stamp,
                                               settled(path) if not outstanding[path] else None,
                                               originals=originals, privacy=privacy.fingerprint()))
                    written.add(conversation.conversation_id)
                    if len(batch) == WRITE_BATCH:
                        store.write_analyses(batch)
                        batch = []
                    summary.processed += 1
                    progress.stored += 1
                    if conversation.transcript:
                        progress.audio_s += conversation.transcript.duration_s
                    logger.info(progress.line())
                store.write_analyses(batch)

            for path, future in reads:
                result = future.result(raise_on_failure=False)
                progress.files_read += 1
                skipped: list[tuple[str, str | None]] = []
                if isinstance(result, BaseException):
                    fail(str(path), None, getattr(result, "stage", "read"), result)
                    finished.update(settled(str(path)))
                    result = SourceResult(str(path), (), ())
                for error in result.errors:
                    fail(error.path, error.key, error.stage, error)
                    failed_inputs.add(str(path))
                for conversation in result.conversations:
                    # Chats and transcribed calls alike: personal data is redacted before anything
                    # is derived from the text or stored (docs/architecture.md, "Personal data").
                    conversation, originals = redact_conversation(conversation, privacy.redaction)
                    if not privacy.keep_original:
                        originals = {}
                    stamp = fingerprint(conversation, sop, tagger, privacy.fingerprint())
                    # Skipped when stored before this run (the same conversation exported twice
                    # in one batch is written twice, whatever the timing of the writes).
                    if (conversation.conversation_id not in written
                            and store.stored_fingerprint(conversation.conversation_id) == stamp):
                        summary.skipped += 1
                        skipped.append((conversation.source_path, conversation.source_key))
                        continue
                    caches = getattr(tagger, "output_caches", None)
                    # What earlier runs computed (vectors, encoder outputs): never computed twice.
                    known = store.cached_outputs(caches, tagger.cache_keys(conversation)) if caches else None
                    waiting.append((str(path), conversation, stamp, originals,
                                    analyze_conversation.submit(conversation, sop_path, known)))
                    outstanding[str(path)] = outstanding.get(str(path), 0) + 1
                if str(path) not in outstanding:
                    finished.update(settled(str(path)))
                store.finish_inputs(run_id, finished, skipped)
                finished.clear()
                write_completed(block=False)
            store.finish_inputs(run_id, finished)  # inputs of bad manifest folders, when nothing was read
            write_completed(block=True)
            store.finish_run(run_id, summary.processed, summary.skipped, summary.failed)
        except BaseException as exc:  # an error or Ctrl-C: the run is over, say so (a kill is caught on reopen)
            try:
                store.interrupt_run(run_id, f"{type(exc).__name__}: {exc}"[:500])
            except Exception:  # noqa: BLE001 - never hide the error that stopped the run
                logger.exception("could not mark run %s interrupted", run_id)
            raise
    logger.info("run %s: %d processed, %d skipped unchanged, %d failed",
                run_id, summary.processed, summary.skipped, summary.failed)
    return summary
