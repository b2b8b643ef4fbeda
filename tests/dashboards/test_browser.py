"""The board in a real browser: `keynode board` on a temporary database, Debian's Chromium
driven by Playwright through login → conversation → key-event tree → search, for a manager, a
rep and a trainer. Screenshots land in tests/artifacts/ (ignored by git).

`make test` installs Chromium (Makefile) and names it in $KEYNODE_CHROMIUM; Playwright cannot
download its own browsers here, so the test fails, saying what to install, when it is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline.store import snapshot_path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000


def _chromium() -> str:
    path = os.environ.get("KEYNODE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("the browser test needs Chromium: `sudo apt-get install chromium` (make test installs it "
                    "when run as root), or point $KEYNODE_CHROMIUM at a Chromium binary")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def board(sample_db, tmp_path_factory) -> Iterator[str]:
    """`keynode board` serving the samples' database on 127.0.0.1; yields its address."""
    db = tmp_path_factory.mktemp("browser") / "keynode.duckdb"
    shutil.copy(snapshot_path(sample_db), snapshot_path(db))  # its own copy: the review db is written here
    port = _free_port()
    env = {**os.environ, "KEYNODE_USERS": str(ROOT / "configs" / "users.yaml"),
           "KEYNODE_SOP": str(ROOT / "configs" / "sop.yaml"), "KEYNODE_LANG": "zh"}
    log = (tmp_path_factory.mktemp("browser-log") / "board.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "board", "--db", str(db), "--port", str(port)],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{address}/_stcore/health", timeout=2) as answer:
                    if answer.read() == b"ok":
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the board did not start; see {log.name}") from None
                time.sleep(0.5)
        yield address
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser(board) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _conversation_of(db_file: Path, file_name: str = "%", rep: str = "%") -> str:
    with duckdb.connect(str(snapshot_path(db_file)), read_only=True) as con:
        return con.execute("SELECT conversation_id FROM conversations WHERE source_path LIKE ? AND rep LIKE ? "
                           "ORDER BY conversation_id LIMIT 1", [f"%{file_name}", rep]).fetchone()[0]


def _log_in(browser, board: str, username: str):
    page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(TIMEOUT_MS)
    _visit(page, board, username)
    return page


def _visit(page, url: str, username: str) -> None:
    """Open ``url`` as ``username``. A page load starts a new Streamlit session, which asks to
    log in again and then shows the page the address names (its query parameters kept)."""
    page.goto(url)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("keynode-demo")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for()


def _wait_until_idle(page) -> None:
    """Until Streamlit has finished running the page (its status widget says 'running' meanwhile)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS)


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_a_manager_logs_in_opens_a_call_jumps_from_the_event_tree_and_searches(board, browser, sample_db):
    page = _log_in(browser, board, "manager.east")
    page.get_by_role("heading", name="总览").wait_for()
    page.get_by_text("SOP 执行热力图").wait_for()
    _wait_until_idle(page)
    assert _shot(page, "manager_overview").stat().st_size > 10_000

    wanted = _conversation_of(sample_db, "wechat_saas_d1001_1_discovery.txt")
    _visit(page, f"{board}/conversation?id={wanted}", "manager.east")
    try:
        page.get_by_role("heading", name="关键事件树").wait_for()
    except Exception:
        _shot(page, "debug_conversation")
        raise
    page.locator("[data-testid='stGraphVizChart'] svg").wait_for()  # the tree, drawn
    transcript = page.locator(".st-key-transcript")
    transcript.get_by_text("李女士").first.wait_for()
    _wait_until_idle(page)
    _shot(page, "manager_conversation")

    # Picking the last key event beside the tree scrolls the transcript to its utterance.
    last_event = page.locator("[data-testid='stButtonGroup'] button").last
    label = last_event.inner_text()
    assert label.startswith("#"), label
    target = "u-" + label.split()[0].lstrip("#")
    last_event.click()
    page.wait_for_function("(id) => { const e = document.getElementById(id); const box = e.closest("
                           "'.st-key-transcript').getBoundingClientRect(); const r = e.getBoundingClientRect();"
                           " return r.top >= box.top - 2 && r.bottom <= box.bottom + 2; }", arg=target)
    _wait_until_idle(page)
    _shot(page, "manager_conversation_event")

    _visit(page, f"{board}/search", "manager.east")
    box = page.get_by_label("搜索话术（支持中文子串）")
    box.fill("太贵")
    box.press("Enter")
    page.get_by_text("▶").first.wait_for()
    _wait_until_idle(page)
    hits = page.locator("strong", has_text="▶")
    assert hits.count() > 0 and all("太贵" in text for text in hits.all_inner_texts())
    _shot(page, "manager_search")
    page.close()


def test_a_rep_sees_their_page_and_cannot_open_another_reps_call_by_url(board, browser, sample_db):
    page = _log_in(browser, board, "wang.lei")
    page.get_by_role("heading", name="我的主页").wait_for()
    page.get_by_text("我的会话").wait_for()
    page.locator("[data-testid='stDataFrame']").nth(1).wait_for()  # the leaderboard and the node table
    _wait_until_idle(page)
    _shot(page, "rep_my_page")
    others = _conversation_of(sample_db, rep="陈晨")  # another team's rep
    _visit(page, f"{board}/conversation?id={others}", "wang.lei")
    page.get_by_text("找不到这个会话。").wait_for()
    assert page.locator("[data-testid='stChatMessage']").count() == 0
    page.close()


def test_a_trainer_browses_the_objection_library_with_customers_masked(board, browser):
    page = _log_in(browser, board, "trainer")
    _visit(page, f"{board}/objections", "trainer")
    page.get_by_role("heading", name="异议库").wait_for()
    page.get_by_text("最佳回应").first.wait_for()
    page.locator("[data-testid='stPageLink']").first.wait_for()
    _wait_until_idle(page)
    _shot(page, "trainer_objection_library")
    page.close()
