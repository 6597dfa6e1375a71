"""The MNIST training page in headless Chromium, against `streamlit run app.py` and the real trainer.

A user's path: open the page, set Epochs to 1, press Start training, watch the log stream in, reload and
find the run again, press Stop; the trainer process must then be gone. Last, the app itself is stopped
while a run trains: the trainer must go on (tests/test_runs_server.py restarts the server around one).

Screenshots go to a temporary folder; with BACKPROP_LAB_UPDATE_DOCS=1 the running view is also copied to
docs/training.png for the README. (The committed picture is the same page after a real two-epoch CPU run.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.processes import group_exists, process_exists, wait_for
from tests.streamlit_server import CHROMIUM, launch_chromium, streamlit_server

REPO = Path(__file__).resolve().parent.parent
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
TIMEOUT_MS = 90_000  # a cold page (torch import, model summaries) on a busy 2-core machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"headless Chromium not found at {CHROMIUM}"),
    pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"MNIST files not found in {MNIST_DIR}"),
]


def the_run(runs_dir: Path) -> tuple[str, dict]:
    """The one run's id and its process.json (pid of the trainer, which leads its process group)."""
    [folder] = [p for p in runs_dir.iterdir() if (p / "run.json").is_file()]
    wait_for(lambda: (folder / "process.json").is_file(), 60, "the trainer to be recorded")
    info = json.loads((folder / "process.json").read_text())
    return folder.name, {**info, "pgid": info["pid"]}


def batch_lines(page) -> set[str]:
    """The trainer's batch lines visible in the page's log tail right now."""
    text = " ".join(page.locator("code").all_inner_texts())
    return set(re.findall(r"epoch \d+/\d+ batch \d+/\d+", text))


def wait_for_status(page, run_id: str, status: str) -> None:
    """The page's status line for the run reads "Run <id>: <badge> <status>"."""
    page.get_by_text(re.compile(rf"Run {run_id}\W+.*\b{status}\b")).first.wait_for()


def test_start_watch_reload_stop_in_a_browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    runs_dir = tmp_path / "runs"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    env = {"BACKPROP_LAB_RUNS": str(runs_dir), "MNIST_DIR": str(MNIST_DIR), "BACKPROP_LAB_TINY_RUN": "1"}
    last_pid = None

    with streamlit_server(env=env) as base_url, sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(TIMEOUT_MS)
            # In through the front door: app.py's navigation, then the sidebar link, as a user does.
            page.goto(base_url)
            page.get_by_role("link", name="MNIST training").click()
            page.get_by_role("heading", name="MNIST training").wait_for()

            # The full training set, one epoch: long enough to watch, reload and stop.
            page.get_by_text("Tiny subset").click()  # the styled label takes the click, not the hidden input
            wait_for(
                lambda: not page.get_by_label("Tiny subset").is_checked(), 10, "the tiny subset to be off"
            )
            epochs = page.get_by_label("Epochs")
            epochs.fill("1")
            epochs.press("Enter")
            page.screenshot(path=shots / "1-settings.png", full_page=True)
            page.get_by_role("button", name="Start training").click()

            # The log streams: batch lines appear, then later ones join them without a reload.
            wait_for(lambda: len(batch_lines(page)) >= 1, 90, "the first batch line in the log")
            first = batch_lines(page)
            wait_for(lambda: batch_lines(page) - first, 60, "a new batch line to stream in")
            run_id, info = the_run(runs_dir)
            last_pid = info["pid"]
            wait_for_status(page, run_id, "running")
            page.screenshot(path=shots / "2-running.png", full_page=True)

            # A reload is a new session: it finds the same run, still running, from the runs folder.
            page.reload()
            wait_for_status(page, run_id, "running")
            # The page's Stop, not the "Stop" in Streamlit's header that interrupts a script run in progress.
            main = page.get_by_test_id("stMain")
            main.get_by_role("button", name="Stop", exact=True).click()
            wait_for_status(page, run_id, "stopped")
            page.screenshot(path=shots / "3-stopped.png", full_page=True)
            wait_for(lambda: not process_exists(info["pid"]), 15, "the trainer to be gone")
            assert not group_exists(info["pgid"])

            # The run's log comes down as a file, whole, with the lines the page streamed.
            with page.expect_download() as download:
                main.get_by_role("button", name="Download log").click()
            log = Path(download.value.path()).read_text()
            assert download.value.suggested_filename == f"{run_id}-stdout.log"
            assert first <= set(re.findall(r"epoch \d+/\d+ batch \d+/\d+", log))

            # The app stops while a new run trains: the trainer is not the app's child and goes on.
            page.get_by_role("button", name="Start training").click()
            wait_for(lambda: len(list(runs_dir.glob("*/process.json"))) == 2, 60, "the second run to start")
            second = max(runs_dir.glob("*/process.json"))
            last_pid = json.loads(second.read_text())["pid"]
            assert process_exists(last_pid)
        finally:
            browser.close()
    # streamlit_server has SIGTERMed the server (and waited for it); the trainer is in its own session.
    assert last_pid is not None and process_exists(last_pid), "the trainer ended with the app"
    from training import runs
    from training.owners import LOCAL

    assert runs.stop_run(second.parent.name, LOCAL, runs_dir, grace=10) == runs.STOPPED
    assert not process_exists(last_pid)

    if os.environ.get("BACKPROP_LAB_UPDATE_DOCS") == "1":
        shutil.copy(shots / "2-running.png", REPO / "docs" / "training.png")
