"""A restart of the real server during a run: `streamlit run app.py`, a run started from Chromium, then the
server SIGKILLed and later SIGTERMed (as a crash and a `systemctl restart` do). The trainer must keep
training through both, and each new server must find it, stream it, and stop it on request.

Process checks are /proc and killpg (tests/processes.py), not the run manager under test.
"""

from __future__ import annotations

import json
import os
import re
import signal

import psutil
import pytest

from tests.processes import group_exists, process_exists, wait_for
from tests.streamlit_server import launch_chromium, streamlit_server
from tests.test_browser_training import MNIST_DIR, TIMEOUT_MS, pytestmark  # noqa: F401 (the same needs)


def the_server() -> psutil.Process:
    """The `streamlit run` process this test started (a child of the test process)."""
    [server] = [p for p in psutil.Process().children() if "streamlit" in " ".join(p.cmdline())]
    return server


def open_training(browser, base_url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(base_url + "/training")
    page.get_by_role("heading", name="MNIST training").wait_for()
    return page


def status_line(page, run_id: str, status: str):
    return page.get_by_text(re.compile(rf"Run {run_id}\W+.*\b{status}\b")).first


def log_lines(page) -> set[str]:
    return set(re.findall(r"epoch \d+/\d+ batch \d+/\d+", " ".join(page.locator("code").all_inner_texts())))


def test_a_run_survives_sigkill_and_sigterm_of_the_server_and_the_next_server_stops_it(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    runs_dir = tmp_path / "runs"
    env = {"BACKPROP_LAB_RUNS": str(runs_dir), "MNIST_DIR": str(MNIST_DIR), "BACKPROP_LAB_TINY_RUN": "1"}
    pid = None
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            # 1. Start a long run from the page, then SIGKILL the server (a crash, an OOM kill).
            with streamlit_server(env=env) as base_url:
                page = open_training(browser, base_url)
                # The full training set: minutes per run, so it is still training through three servers.
                page.get_by_text("Tiny subset").click()  # the styled label takes the click
                wait_for(lambda: not page.get_by_label("Tiny subset").is_checked(), 10, "the tiny subset off")
                epochs = page.get_by_label("Epochs")
                epochs.fill("100")
                epochs.press("Enter")
                page.get_by_role("button", name="Start training").click()
                wait_for(lambda: list(runs_dir.glob("*/process.json")), 90, "the trainer to be recorded")
                [process_json] = runs_dir.glob("*/process.json")
                run_id, pid = process_json.parent.name, json.loads(process_json.read_text())["pid"]
                status_line(page, run_id, "running").wait_for()
                page.close()
                the_server().send_signal(signal.SIGKILL)
                wait_for(lambda: not _healthy(base_url), 15, "the server to be gone")
            events = runs_dir / run_id / "events.jsonl"
            wait_for(events.exists, 90, "the trainer's first event")  # it was still importing torch
            size = events.stat().st_size
            wait_for(lambda: events.stat().st_size > size, 60, "the trainer to go on writing events")
            assert process_exists(pid)

            # 2. A new server finds it running and streams its log; then it is SIGTERMed (a restart).
            with streamlit_server(env=env) as base_url:
                page = open_training(browser, base_url)
                status_line(page, run_id, "running").wait_for()
                wait_for(lambda: log_lines(page), 60, "the log on the new server's page")
                first = log_lines(page)
                try:
                    wait_for(lambda: log_lines(page) - first, 60, "new log lines to stream in")
                except AssertionError:
                    page.screenshot(path=tmp_path / "no-new-lines.png", full_page=True)
                    log = (runs_dir / run_id / "stdout.log").read_text()[-1500:]
                    raise AssertionError(f"page shows {sorted(first)}; stdout.log ends:\n{log}") from None
                page.close()
                the_server().send_signal(signal.SIGTERM)
                wait_for(lambda: not _healthy(base_url), 30, "the server to exit")
            size = events.stat().st_size
            wait_for(lambda: events.stat().st_size > size, 60, "the trainer to go on after the SIGTERM")
            assert not (runs_dir / run_id / "stop.json").exists()  # nobody pressed Stop

            # 3. A third server stops it on request, and only then is it "stopped".
            with streamlit_server(env=env) as base_url:
                page = open_training(browser, base_url)
                status_line(page, run_id, "running").wait_for()
                page.get_by_test_id("stMain").get_by_role("button", name="Stop", exact=True).click()
                status_line(page, run_id, "stopped").wait_for()
                page.get_by_text("Stopped on request").wait_for()
                wait_for(lambda: not process_exists(pid), 15, "the trainer to be gone")
                assert not group_exists(pid)
        finally:
            browser.close()
            if pid is not None and group_exists(pid):  # a failed test leaves no trainer behind
                os.killpg(pid, signal.SIGKILL)


def _healthy(base_url: str) -> bool:
    from tests.streamlit_server import _healthy as healthy

    return healthy(base_url)
