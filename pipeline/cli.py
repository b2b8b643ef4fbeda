"""``keynode`` command line (also ``python -m pipeline``)."""

from __future__ import annotations

import argparse
import sys

from pipeline.settings import DEFAULT_DB, DEFAULT_PRIVACY, DEFAULT_REPS, DEFAULT_SOP


def _locked(exc: BaseException) -> bool:
    """True when ``exc`` says another process holds the database (a batch is running)."""
    import duckdb

    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _locked_message(db: str) -> str:
    return (f"error: {db} is being written by another process (a batch is running); wait for it to finish "
            f"(`keynode status --db {db}` shows its progress)")


def _run_flow(args: argparse.Namespace, paths: list[str]):
    """Run the ``process`` flow with the command's options; the summary, or an exit code."""
    from pipeline.flows import process  # imports Prefect: only when needed
    from pipeline.privacy import RedactionConfigError
    from pipeline.runners import RunnerSpec, prefect_api, task_runner
    from pipeline.sop import SopError
    from pipeline.transcribe.options import AsrOptions

    try:
        runner = RunnerSpec(args.runner, args.workers, args.threads_per_worker, args.dask_address)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asr_options = AsrOptions(model=args.model, beam_size=args.beam_size, cpu_threads=args.asr_threads)
    try:
        with prefect_api(runner):
            flow = process if runner == RunnerSpec() else process.with_options(task_runner=task_runner(runner))
            return flow(paths=paths, sop_path=args.sop, db_path=args.db, manifest_path=args.manifest,
                        reps_path=args.reps, asr_options=asr_options, publish_interval_s=args.publish_interval,
                        privacy_path=args.privacy)
    except (SopError, RedactionConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if _locked(exc):
            print(_locked_message(args.db), file=sys.stderr)
            return 2
        raise


def _print_summary(summary) -> None:
    print(f"run {summary.run_id}: {summary.processed} processed, {summary.skipped} skipped unchanged, "
          f"{summary.failed} failed")
    for failure in summary.failures:
        key = f" [{failure['key']}]" if failure["key"] else ""
        print(f"  FAILED {failure['path']}{key} ({failure['stage']}): {failure['error']}")


def _process(args: argparse.Namespace) -> int:
    summary = _run_flow(args, args.paths)
    if isinstance(summary, int):
        return summary
    _print_summary(summary)
    return 1 if summary.failures else 0


def _retry_failed(args: argparse.Namespace) -> int:
    """Reprocess the files with unresolved failures (a file whole: its conversations that went
    through are skipped as unchanged); 0 when none of them fails any more."""
    import duckdb

    from pipeline.store import CONFIG_STAGE, Store, read_snapshot

    try:
        with Store(args.db) as store:  # not the snapshot: it may predate a crash
            failures = store.unresolved_failures()
            # A broken sop.yaml or privacy.yaml stopped a whole batch: retry that batch.
            stopped_batches = {f["run_id"]: store.run_inputs(f["run_id"])
                               for f in failures if f["stage"] == CONFIG_STAGE}
    except duckdb.IOException as exc:
        if _locked(exc):
            print(_locked_message(args.db), file=sys.stderr)
            return 2
        raise
    if not failures:
        print("nothing to retry: no unresolved failures")
        return 0
    paths = sorted({failure["source_path"] for failure in failures if failure["stage"] != CONFIG_STAGE}
                   | {path for inputs in stopped_batches.values() for path in inputs})
    noun = "path" if stopped_batches else "file"  # a stopped batch may have been given folders
    print(f"retrying {len(paths)} {noun}{'s' if len(paths) != 1 else ''} with unresolved failures:")
    listed = []  # a failure repeated by several runs is listed once
    for failure in failures:
        path, key, stage = failure["source_path"], failure["source_key"], failure["stage"]
        if stage == CONFIG_STAGE:
            listed.append(f"  {path} ({stage}): it stopped the batch {' '.join(stopped_batches[failure['run_id']])}")
        else:
            listed.append(f"  {path}{f' [{key}]' if key else ''} ({stage})")
    print("\n".join(dict.fromkeys(listed)))
    summary = _run_flow(args, paths)
    if isinstance(summary, int):
        return summary
    _print_summary(summary)
    with read_snapshot(args.db) as con:  # published when the run closed the database
        # A retried path is a file, or a folder a stopped batch was given: its files' failures count.
        still = con.execute("""SELECT DISTINCT source_path, source_key, stage, message FROM failures
                               WHERE resolved_at IS NULL AND (source_path IN (SELECT unnest(?::VARCHAR[]))
                                     OR EXISTS (SELECT 1 FROM unnest(?::VARCHAR[]) AS p(folder)
                                                WHERE starts_with(source_path, rtrim(folder, '/') || '/')))
                               ORDER BY source_path, source_key NULLS FIRST""", [paths, paths]).fetchall()
    failing = {path for path, *_ in still}
    fixed = [path for path in paths
             if path not in failing and not any(f.startswith(path.rstrip("/") + "/") for f in failing)]
    if fixed:
        print("now succeeding: " + ", ".join(fixed))
    for path, key, stage, message in still:
        print(f"still failing: {path}{f' [{key}]' if key else ''} ({stage}): {message}")
    return 1 if still else 0


def _transcribe(args: argparse.Namespace) -> int:
    import json

    from pipeline.ingest import IngestError
    from pipeline.ingest.metadata import ManifestRow
    from pipeline.sop import load_sop
    from pipeline.transcribe.model import ModelNotFoundError
    from pipeline.transcribe.options import AsrOptions
    from pipeline.transcribe.whisper import transcribe_recording

    sop = load_sop(args.sop)
    options = AsrOptions(model=args.model, beam_size=args.beam_size, cpu_threads=args.asr_threads)
    status = 0
    for path in args.files:
        row = ManifestRow(file=path, language=args.language, rep=args.rep, customer=args.customer,
                          rep_channel=args.rep_channel)
        try:
            conversation = transcribe_recording(path, row, sop, options)
        except (IngestError, ModelNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        for u in conversation.utterances:
            if args.json:
                print(json.dumps({"file": path, "role": u.speaker_role, "speaker": u.speaker_name,
                                  "start_s": u.start_s, "end_s": u.end_s, "text": u.text,
                                  "language": conversation.language, "role_confidence": u.role_confidence},
                                 ensure_ascii=False))
            else:
                confidence = "" if u.role_confidence is None else f" ({u.role_confidence:.0%})"
                print(f"[{u.start_s:7.2f}–{u.end_s:7.2f}] {u.speaker_role}{confidence} {u.speaker_name}: {u.text}")
    return status


def _train_tagger(args: argparse.Namespace) -> int:
    import glob

    from pipeline.events.corpus import is_dev, load_corpus
    from pipeline.events.learned import save, train
    from pipeline.sop import load_sop

    files = sorted(f for pattern in args.corpus for f in glob.glob(pattern))
    dialogues = [d for d in load_corpus(files) if not is_dev(d.dialogue_id)]  # dev never trains
    if args.db:
        dialogues += corrected_dialogues(args.db)
    if args.transformer:
        from pipeline.events import transformer

        out = transformer.train(dialogues, args.transformer, args.out, epochs=args.epochs)
        print(f"fine-tuned {args.transformer} on {len(dialogues)} dialogues → {out}; "
              f"use it with --tagger transformer:{out}")
        return 0
    def progress(step: int, steps: int, loss: float) -> None:
        print(f"  encoder step {step}/{steps}, loss {loss:.4f}", flush=True)

    model = train(dialogues, load_sop(args.sop), use_embeddings=not args.tfidf_only, encoder=args.encoder,
                  progress=progress, encoder_seeds=args.encoder_seeds)
    path = save(model, args.out)
    print(f"{model.version}: trained on {model.training['dialogues']} dialogues / "
          f"{model.training['utterances']} utterances (dev split left out) → {path}")
    print("cross-validated F1 on train: " + ", ".join(f"{k} {v:.3f}" for k, v in model.training["cv_f1"].items()))
    if model.encoder is not None:
        held_out = model.training["held_out_f1"]
        print(f"held-out fold ({held_out['dialogues']} dialogues), second stage → average with the encoder: " +
              ", ".join(f"{k} {v:.3f} → {held_out['average'][k]:.3f}" for k, v in held_out["second_stage"].items()))
    return 0


def _train_sentiment(args: argparse.Namespace) -> int:
    from pipeline.scoring import sentiment

    items = sentiment.load_feedback(args.corpus)
    training = [i for i in items if not sentiment.is_held_out(i.item_id)]  # held-out items never train
    model = sentiment.train_sentiment(training)
    path = sentiment.save_sentiment(model, args.out)
    report = sentiment.evaluate_sentiment(model, [i for i in items if sentiment.is_held_out(i.item_id)])
    print(f"{model.version}: trained on {len(training)} customer utterances (held-out left out) → {path}")
    print(f"held-out ({report['items']} items): accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}")
    return 0


def corrected_dialogues(db: str) -> list:
    """Stored conversations that people corrected, labelled with their corrected events.

    Corrections come from the review database (the board and ``keynode correct`` write there)
    and from the main database's old ``corrections`` table, applied in time order. Utterances
    nobody corrected keep the tagger's own labels there (silver labels): a person who reviewed a
    conversation and fixed some labels implicitly accepted the rest.
    """
    from pipeline.events.corpus import LabelledDialogue
    from pipeline.store import Store
    from pipeline.store.review import apply_corrections, fetch_corrections, read_review

    with read_review(db) as review:
        reviewed = fetch_corrections(review)
    with Store(db) as store:
        corrections = sorted([*store.legacy_corrections(), *reviewed], key=lambda c: c["created_at"])
        ids = list(dict.fromkeys(c["conversation_id"] for c in corrections))
        corrected = apply_corrections(corrections, store.stored_labels(ids))
        return [LabelledDialogue(f"correction:{c.conversation_id}", c,
                                 tuple(frozenset(corrected[c.conversation_id].get(u.index, set()))
                                       for u in c.utterances))
                for c in store.stored_conversations() if c.conversation_id in corrected]


def _correct(args: argparse.Namespace) -> int:
    from pipeline.events.corpus import EVENTS
    from pipeline.store import Store
    from pipeline.store.review import ReviewStore

    if args.node not in EVENTS:
        print(f"error: unknown key event {args.node!r}; use one of {', '.join(EVENTS)}", file=sys.stderr)
        return 2
    with Store(args.db) as store:
        if not store.has_utterance(args.conversation, args.utterance):
            print(f"error: no utterance {args.utterance} in conversation {args.conversation} of {args.db}",
                  file=sys.stderr)
            return 2
    try:
        with ReviewStore(args.db) as review:
            correction_id = review.add_correction(args.conversation, args.utterance, args.node,
                                                  "remove" if args.remove else "add", args.author, args.note)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"correction {correction_id} recorded; `keynode train-tagger --db {args.db}` will learn from it")
    return 0


def board_command(db: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve the review board on 127.0.0.1 for ``db``."""
    import os
    from pathlib import Path

    import dashboards

    app = Path(dashboards.__file__).resolve().parent / "app.py"
    argv = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", "127.0.0.1",
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            # A page that fails shows a friendly message (app.py), never a traceback.
            "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal"]
    env = {**os.environ, "KEYNODE_DB": str(Path(db).resolve()), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    return argv, env


def _board(args: argparse.Namespace) -> int:
    import os

    argv, env = board_command(args.db, args.port)
    if args.users:
        env["KEYNODE_USERS"] = str(args.users)
    print(f"serving the review board of {args.db} on http://127.0.0.1:{args.port} (Ctrl-C stops it)", flush=True)
    os.execve(argv[0], argv, env)  # the board replaces this process, so signals reach Streamlit directly
    return 0  # not reached


def _eval_tagger(args: argparse.Namespace) -> int:
    import json

    from pipeline.events import load_tagger
    from pipeline.events.corpus import is_dev, load_corpus
    from pipeline.events.evaluate import evaluate, report_table
    from pipeline.sop import load_sop

    dialogues = load_corpus(args.files)
    if args.split != "all":
        dialogues = [d for d in dialogues if is_dev(d.dialogue_id) == (args.split == "dev")]
    report = evaluate(load_tagger(args.tagger), dialogues, load_sop(args.sop))
    print(report_table(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, ensure_ascii=False, indent=1)
    return 0


def _reanalyze(args: argparse.Namespace, verb: str) -> int:
    """Re-analyse every stored conversation: ``retag`` with a tagger, ``rescore`` with the
    stored events. Unchanged fingerprints are skipped; nothing is re-ingested or re-transcribed."""
    import uuid

    from pipeline.analyze import analyze, fingerprint
    from pipeline.events import load_tagger
    from pipeline.events.tagger import StoredEvents
    from pipeline.sop import SopError, load_sop
    from pipeline.store import WRITE_BATCH, AnalysisWrite, Store

    try:
        sop = load_sop(args.sop)
    except SopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tagger = load_tagger(args.tagger) if verb == "retag" else None
    run_id = uuid.uuid4().hex[:12]
    done = unchanged = 0
    writes: list[AnalysisWrite] = []
    with Store(args.db) as store:
        store.begin_run(run_id, sop.version, tagger.name if tagger else "stored events", [verb])
        for conversation in list(store.stored_conversations()):
            current = tagger or StoredEvents(*store.stored_events(conversation.conversation_id))
            # The stored text is already redacted: keep the privacy settings it was stored with.
            privacy = store.stored_privacy(conversation.conversation_id)
            stamp = fingerprint(conversation, sop, current, privacy)
            if store.stored_fingerprint(conversation.conversation_id) == stamp:
                unchanged += 1
                continue
            caches = getattr(current, "output_caches", None)
            if caches:  # re-tagging never re-embeds a text, nor re-encodes a context, seen before
                current.remember(store.cached_outputs(caches, current.cache_keys(conversation)))
            writes.append(AnalysisWrite(analyze(conversation, sop, current), run_id, stamp, privacy=privacy))
            if caches:
                store.store_outputs(caches, current.take_new_outputs())
            if len(writes) == WRITE_BATCH:  # written in groups, as the flow writes
                store.write_analyses(writes)
                writes = []
            done += 1
        store.write_analyses(writes)
        store.finish_run(run_id, done, unchanged, 0)
    how = f"re-tagged and re-scored with {tagger.name}" if tagger else "re-scored from their stored events"
    print(f"run {run_id}: {done} conversations {how} (SOP {sop.version}), {unchanged} already current")
    return 0


def _retag(args: argparse.Namespace) -> int:
    return _reanalyze(args, "retag")


def _rescore(args: argparse.Namespace) -> int:
    return _reanalyze(args, "rescore")


def _status(args: argparse.Namespace) -> int:
    """Stored / failed / pending counts and runs that did not finish, from the snapshot only."""
    import shlex

    from pipeline.store.snapshot import read_status

    try:
        status = read_status(args.db, args.paths or None)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gone = f" ({status.pending_gone} of them not found from this folder)" if status.pending_gone else ""
    print(f"conversations stored: {status.conversations}\nunresolved failures: {status.failed}\n"
          f"pending inputs: {status.pending}{gone}")
    last = status.last_run
    if last:
        counts = f"{last.processed} processed, {last.skipped} skipped, {last.failed} failed"
        how = {"finished": counts, "running": f"running, {counts} so far",
               "interrupted": f"interrupted after {counts}", "unknown": f"not finished, {counts} so far"}[last.state]
        print(f"last run {last.run_id} at {last.started_at:%Y-%m-%d %H:%M}: {how}")
    for run in status.unfinished:
        done = f"{run.done_files + run.failed_files} of {run.input_files} inputs done" + (
            f" ({run.failed_files} failed)" if run.failed_files else "")
        again = f"`keynode process {' '.join(shlex.quote(p) for p in run.inputs)} --db {shlex.quote(args.db)}`"
        if run.state == "running":
            print(f"run {run.run_id} started at {run.started_at:%Y-%m-%d %H:%M:%S} is running (pid {run.pid}): "
                  f"{done} so far")
        elif run.state == "unknown":
            print(f"run {run.run_id} started at {run.started_at:%Y-%m-%d %H:%M:%S} on {run.host} has not finished "
                  f"(still running there, or stopped): {done}")
        else:
            print(f"run {run.run_id} started at {run.started_at:%Y-%m-%d %H:%M:%S} did not finish: {done}; "
                  f"run {again} again (with the same options) to resume")
    if status.unfinished and status.published_at:
        print(f"(as of the snapshot published at {status.published_at:%Y-%m-%d %H:%M:%S})")
    if status.files:
        files = status.files
        print(f"files under {' '.join(args.paths)}: {files.files}: {files.processed} processed, "
              f"{files.failed} failed, {files.pending} pending ({files.conversations} conversations stored "
              "from them)")
        if args.list:
            for path in files.failed_paths:
                print(f"  failed  {path}")
            for path in files.pending_paths:
                print(f"  pending {path}")
    return 0


def _user(args: argparse.Namespace) -> int:
    """``keynode user add|list``: the review board's accounts (pipeline/access.py)."""
    import getpass
    from pathlib import Path

    from pipeline.access import (UserRecord, UsersConfigError, Viewer, check_viewer, hash_password, load_users,
                                 save_user, users_path)

    path = args.users or users_path()
    try:
        if args.action == "list":
            print("username\trole\tteam\trep")
            for record in load_users(path).values():  # never the hashes
                viewer = record.viewer
                print(f"{viewer.username}\t{viewer.role}\t{viewer.team or '-'}\t{viewer.rep or '-'}")
            return 0
        viewer = Viewer(username=args.username, display_name=args.name or args.username, role=args.role,
                        team=args.team, rep=args.rep, language=args.language)
        # Rep names are checked against the rep directory when there is one: a misspelt name
        # would give the rep an empty board rather than an error.
        reps = args.reps or (DEFAULT_REPS if DEFAULT_REPS.exists() else None)
        check_viewer(viewer, path, reps)  # before asking for a password that would then be thrown away
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass(f"password for {args.username}: ")
            if getpass.getpass("repeat the password: ") != password:
                raise ValueError("the two passwords differ; nothing saved")
        save_user(path, UserRecord(viewer, hash_password(password)), reps_path=reps)
    except (UsersConfigError, ValueError, EOFError) as exc:  # UsersConfigError is a ValueError
        print(f"error: {str(exc) or 'no password given (end of input)'}", file=sys.stderr)
        return 2
    print(f"user {viewer.username} ({viewer.role}) saved to {Path(path)}")
    return 0


def _asr_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="base",
                        help="'base' (the packaged Whisper base) or a local CTranslate2 Whisper directory")
    parser.add_argument("--beam-size", type=int, default=5, help="beam size (default: %(default)s)")
    parser.add_argument("--asr-threads", type=int, default=0, metavar="N",
                        help="CPU threads per transcription (default: 0, all cores; with several workers, "
                        "cores / workers)")


def _runner_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.runners import RUNNERS

    group = parser.add_argument_group("where tasks run (docs/scaling.md)")
    group.add_argument("--runner", choices=RUNNERS, default="thread",
                       help="thread: a thread pool in this process (default); dask: a Dask cluster")
    group.add_argument("--workers", type=int, metavar="N",
                       help="threads (thread runner) or worker processes of a local Dask cluster (default 2)")
    group.add_argument("--threads-per-worker", type=int, default=1, metavar="N",
                       help="Dask: threads per worker process (default: %(default)s)")
    group.add_argument("--dask-address", metavar="ADDRESS",
                       help="Dask: an existing scheduler (tcp://host:8786) instead of a local cluster")


def _flow_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the commands that run the ``process`` flow."""
    parser.add_argument("--sop", default=str(DEFAULT_SOP), help="SOP file (default: %(default)s)")
    parser.add_argument("--manifest", help="manifest file for all inputs (default: manifest.csv/.yaml in each folder)")
    parser.add_argument("--reps", default=str(DEFAULT_REPS), help="rep directory (default: %(default)s)")
    parser.add_argument("--privacy", metavar="FILE",
                        help=f"privacy config: how personal data is redacted before it is stored (default: "
                        f"{DEFAULT_PRIVACY}; mask when it is missing; hash salt from $KEYNODE_REDACT_SALT)")
    parser.add_argument("--publish-interval", type=float, default=10.0, metavar="SECONDS",
                        help="publish the snapshot the board reads at most this often during the batch "
                        "(default: %(default)s)")
    _asr_arguments(parser)
    _runner_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keynode", description="Keynode conversation-intelligence pipeline")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("process", help="ingest, tag, score and store conversations")
    run.add_argument("paths", nargs="+", help="export files or folders (searched recursively)")
    run.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    _flow_arguments(run)
    run.set_defaults(handler=_process)

    retry = commands.add_parser("retry-failed", help="reprocess the files with unresolved failures "
                                "(exit 0 when none fails any more)")
    retry.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    _flow_arguments(retry)
    retry.set_defaults(handler=_retry_failed)

    transcribe = commands.add_parser("transcribe", help="transcribe call recordings and print the utterances")
    transcribe.add_argument("files", nargs="+", help="recordings (wav, mp3, m4a, flac, ogg, amr)")
    transcribe.add_argument("--json", action="store_true", help="one JSON object per utterance")
    transcribe.add_argument("--language", choices=("zh", "en"), help="skip language detection")
    transcribe.add_argument("--rep", help="the rep's name (helps mono role attribution)")
    transcribe.add_argument("--customer", help="the customer's name")
    transcribe.add_argument("--rep-channel", choices=("left", "right"), help="stereo: the rep's channel (default left)")
    transcribe.add_argument("--sop", default=str(DEFAULT_SOP), help="SOP file, for role cues (default: %(default)s)")
    _asr_arguments(transcribe)
    transcribe.set_defaults(handler=_transcribe)

    training = commands.add_parser("train-tagger", help="train the learned key-event tagger on the labelled corpus")
    training.add_argument("--corpus", nargs="+", default=["data/labelled/raw/*.jsonl"],
                          help="labelled JSONL files or globs (default: %(default)s); the dev split is left out")
    training.add_argument("--tfidf-only", action="store_true", help="no sentence embeddings (faster)")
    training.add_argument("--out", default="models/tagger.pkl", help="artifact path (default: %(default)s)")
    training.add_argument("--sop", default=str(DEFAULT_SOP), help="SOP file (default: %(default)s)")
    training.add_argument("--db", help="also learn from the corrections stored in this database")
    training.add_argument("--encoder", action="store_true",
                          help="also fine-tune the context encoder (needs the transformers extra; "
                               "about 1 h 25 min in all on 2 cores, and 65 min more per extra seed)")
    training.add_argument("--encoder-seeds", type=int, default=1, metavar="N",
                          help="fine-tune the encoder N times from different seeds and average them "
                               "(default: %(default)s; two seeds measured no better than one on held-out "
                               "training dialogues, docs/tagging.md)")
    training.add_argument("--transformer", metavar="BASE_DIR",
                          help="fine-tune this local transformers checkpoint instead (then --out is a directory)")
    training.add_argument("--epochs", type=int, default=2, help="transformer fine-tuning epochs (default: %(default)s)")
    training.set_defaults(handler=_train_tagger)

    sentiment = commands.add_parser("train-sentiment", help="train the customer-reaction model used by the "
                                    "customer-feedback score")
    sentiment.add_argument("--corpus", default="data/labelled/sentiment/feedback.jsonl",
                           help="labelled customer utterances (default: %(default)s); the held-out 20%% is left out")
    sentiment.add_argument("--out", default="models/sentiment.pkl", help="artifact path (default: %(default)s)")
    sentiment.set_defaults(handler=_train_sentiment)

    correct = commands.add_parser("correct", help="add or remove a key-event label on a stored utterance")
    correct.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    correct.add_argument("--conversation", required=True, help="conversation id")
    correct.add_argument("--utterance", type=int, required=True, help="utterance index")
    correct.add_argument("--node", required=True, help="key event id, e.g. price_objection")
    correct.add_argument("--remove", action="store_true", help="remove the label (default: add it)")
    correct.add_argument("--author", required=True, help="who corrects")
    correct.add_argument("--note", help="why")
    correct.set_defaults(handler=_correct)

    evaluation = commands.add_parser("eval-tagger", help="per-event precision/recall/F1 of a tagger")
    evaluation.add_argument("files", nargs="+", help="labelled JSONL files (docs/labelling.md)")
    evaluation.add_argument("--tagger", default="default",
                            help="rules, default, a model path, or no-encoder[:PATH] (that model, default "
                            "models/tagger.pkl, without its context encoder)")
    evaluation.add_argument("--split", choices=("all", "dev", "train"), default="all",
                            help="only the dialogues of this split (default: %(default)s)")
    evaluation.add_argument("--json", help="also write the report as JSON")
    evaluation.add_argument("--sop", default=str(DEFAULT_SOP), help="SOP file (default: %(default)s)")
    evaluation.set_defaults(handler=_eval_tagger)

    retag = commands.add_parser("retag", help="re-tag and re-score stored conversations (after an SOP or model "
                                "change) without re-ingesting or re-transcribing")
    retag.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    retag.add_argument("--sop", default=str(DEFAULT_SOP), help="SOP file (default: %(default)s)")
    retag.add_argument("--tagger", default="default",
                       help="rules, default, a model path, or no-encoder[:PATH] (that model, default "
                       "models/tagger.pkl, without its context encoder)")
    retag.set_defaults(handler=_retag)

    rescore = commands.add_parser("rescore", help="re-score stored conversations from their stored events after a "
                                  "sop.yaml edit (no re-tagging, no re-transcribing; scores keep their SOP version)")
    rescore.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    rescore.add_argument("--sop", default=str(DEFAULT_SOP), help="SOP file (default: %(default)s)")
    rescore.set_defaults(handler=_rescore)

    status = commands.add_parser("status", help="stored / failed / pending counts and runs that did not finish "
                                 "(read from the snapshot: never waits for a running batch)")
    status.add_argument("paths", nargs="*", help="also count the files under these paths as processed, failed "
                        "or pending by their content")
    status.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    status.add_argument("--list", action="store_true", help="with paths: list the failed and pending files")
    status.set_defaults(handler=_status)

    from pipeline.privacy import command as redact_command

    redact_command.add_arguments(commands.add_parser("redact", help=redact_command.HELP))

    board = commands.add_parser("board", help="serve the review board on 127.0.0.1")
    board.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    board.add_argument("--port", type=int, default=8501, help="port (default: %(default)s)")
    board.add_argument("--users", help="users file (default: $KEYNODE_USERS or configs/users.yaml)")
    board.set_defaults(handler=_board)

    user = commands.add_parser("user", help="manage the review board's accounts ($KEYNODE_USERS or configs/users.yaml)")
    actions = user.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a user, or replace the user of that name (asks for the password)")
    add.add_argument("username", help="login name, e.g. wang.lei")
    add.add_argument("--role", required=True, help="rep, manager, trainer or admin")
    add.add_argument("--name", help="name shown on the board (default: the username)")
    add.add_argument("--team", help="the team (required for a manager: the team they manage)")
    add.add_argument("--rep", help="for a rep: their name as in the conversations' rep column, e.g. 王磊")
    add.add_argument("--language", choices=("zh", "en"), help="preferred board language")
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    add.add_argument("--reps", help=f"rep directory to check --rep and --team against (default: {DEFAULT_REPS} "
                     "if it exists)")
    listing = actions.add_parser("list", help="list the users (never their password hashes)")
    for sub in (add, listing):
        sub.add_argument("--users", help="users file (default: $KEYNODE_USERS or configs/users.yaml)")
    user.set_defaults(handler=_user)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``keynode`` command."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
