"""How long the board's conversation page takes to load, measured in a real browser.

Serves `keynode board` on the demo database (``make demo`` builds it; ``--db`` for another),
opens every conversation's page in Debian's Chromium (Playwright) as the admin, and times from
the request (the login that opens the linked page) until the page is complete: the key-event
tree drawn, the whole transcript rendered and Streamlit idle. Writes
``bench/results/board_load.json`` and prints the summary that docs/board.md quotes.

    make bench-board            # or: .venv/bin/python bench/board_load.py --db data/keynode.duckdb
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(db: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "KEYNODE_USERS": str(ROOT / "configs" / "users.yaml"), "KEYNODE_LANG": "zh"}
    server = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "board", "--db", str(db), "--port", str(port)],
                              env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.read() == b"ok":
                    return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(f"the board did not start; see {log}")


def _open_conversation(browser, address: str, conversation_id: str, utterances: int) -> float:
    """Seconds from asking for the conversation's page to its complete rendering."""
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(f"{address}/conversation?id={conversation_id}")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("keynode-demo")
    started_s = time.perf_counter()
    page.get_by_role("button", name="登录").click()
    page.locator("[data-testid='stChatMessage']").nth(utterances - 1).wait_for(state="attached")
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
    if page.locator("[data-testid='stGraphVizChart']").count():
        page.locator("[data-testid='stGraphVizChart'] svg").wait_for()
    elapsed_s = time.perf_counter() - started_s
    page.close()
    return elapsed_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(ROOT / "data" / "keynode.duckdb"))
    parser.add_argument("--chromium", default=os.environ.get("KEYNODE_CHROMIUM") or shutil.which("chromium")
                        or "/usr/bin/chromium")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "board_load.json"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from pipeline.store import snapshot_path

    with duckdb.connect(str(snapshot_path(args.db)), read_only=True) as con:
        conversations = con.execute("SELECT conversation_id, utterance_count, source_format FROM conversations "
                                    "ORDER BY utterance_count").fetchall()
    port = _free_port()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    server = _serve(Path(args.db), port, Path(args.out).with_suffix(".log"))
    timings = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=FLAGS)
            _open_conversation(browser, f"http://127.0.0.1:{port}", *conversations[0][:2])  # warm-up: imports
            for conversation_id, utterance_count, source_format in conversations:
                seconds = _open_conversation(browser, f"http://127.0.0.1:{port}", conversation_id, utterance_count)
                timings.append({"conversation_id": conversation_id, "utterances": utterance_count,
                                "source_format": source_format, "seconds": round(seconds, 3)})
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    seconds = sorted(t["seconds"] for t in timings)
    summary = {"measured_at": datetime.now().isoformat(timespec="seconds"), "machine": platform.platform(),
               "cpus": os.cpu_count(), "database": str(args.db), "conversations": len(timings),
               "median_s": round(statistics.median(seconds), 2),
               "p95_s": round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))], 2),
               "max_s": round(seconds[-1], 2),
               "largest": max(timings, key=lambda t: t["utterances"]), "pages": timings}
    Path(args.out).write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"conversation page, {len(timings)} conversations of {args.db}: median {summary['median_s']} s, "
          f"p95 {summary['p95_s']} s, max {summary['max_s']} s "
          f"(largest: {summary['largest']['utterances']} utterances, {summary['largest']['seconds']} s) → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
