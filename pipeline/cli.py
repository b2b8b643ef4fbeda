"""``keynode`` command line (also ``python -m pipeline``)."""

from __future__ import annotations

import argparse
import sys

from pipeline.settings import DEFAULT_DB, DEFAULT_REPS, DEFAULT_SOP


def _process(args: argparse.Namespace) -> int:
    from pipeline.flows import process  # imports Prefect: only when needed
    from pipeline.sop import SopError

    try:
        summary = process(paths=args.paths, sop_path=args.sop, db_path=args.db,
                          manifest_path=args.manifest, reps_path=args.reps)
    except SopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"run {summary.run_id}: {summary.processed} processed, {summary.skipped} skipped unchanged, "
          f"{summary.failed} failed")
    for failure in summary.failures:
        key = f" [{failure['key']}]" if failure["key"] else ""
        print(f"  FAILED {failure['path']}{key} ({failure['stage']}): {failure['error']}")
    return 1 if summary.failures else 0


def _status(args: argparse.Namespace) -> int:
    from pipeline.store import read_snapshot

    try:
        with read_snapshot(args.db) as con:
            conversations = con.execute("SELECT count(*) FROM conversations").fetchone()[0]
            failed = con.execute("SELECT count(*) FROM failures WHERE resolved_at IS NULL").fetchone()[0]
            last = con.execute("SELECT run_id, started_at, processed, skipped, failed FROM runs "
                               "ORDER BY started_at DESC LIMIT 1").fetchone()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"conversations stored: {conversations}\nunresolved failures: {failed}")
    if last:
        print(f"last run {last[0]} at {last[1]:%Y-%m-%d %H:%M}: {last[2]} processed, "
              f"{last[3]} skipped, {last[4]} failed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keynode", description="Keynode conversation-intelligence pipeline")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("process", help="ingest, tag, score and store conversations")
    run.add_argument("paths", nargs="+", help="export files or folders (searched recursively)")
    run.add_argument("--sop", default=str(DEFAULT_SOP), help="SOP file (default: %(default)s)")
    run.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    run.add_argument("--manifest", help="manifest file for all inputs (default: manifest.csv/.yaml in each folder)")
    run.add_argument("--reps", default=str(DEFAULT_REPS), help="rep directory (default: %(default)s)")
    run.set_defaults(handler=_process)

    status = commands.add_parser("status", help="counts of stored conversations and open failures")
    status.add_argument("--db", default=str(DEFAULT_DB), help="DuckDB file (default: %(default)s)")
    status.set_defaults(handler=_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``keynode`` command."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
