"""Start `streamlit run app.py` the way a user does, for browser tests; stop it however the test ends.

    with streamlit_server() as base_url:
        page.goto(base_url + "/learning_rate")

The server runs in its own process group, so stopping it also stops anything it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0  # a cold start on a busy 2-core machine takes a few seconds; allow for a slow CI box


def free_port() -> int:
    """A TCP port nobody is listening on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:  # noqa: S310 (localhost)
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def streamlit_server(
    script: str = "app.py",
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
    timeout: float = STARTUP_TIMEOUT_S,
    program: Sequence[str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[str]:
    """Run `streamlit run <script>` headless on a free port; yield its base URL once /_stcore/health answers.

    `env` adds to (or overrides) the current environment, e.g. {"BACKPROP_RUNS_DIR": str(tmp_path)}.
    `program` replaces `python -m streamlit run <script>` (e.g. an installed `backprop-lab`); `args` are
    more Streamlit flags (e.g. --secrets.files).
    The server's output goes to a log file whose tail is put in the error if it never becomes healthy.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        *(program or (sys.executable, "-m", "streamlit", "run", script)),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        *args,
    ]  # fmt: skip
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"streamlit-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg below reaches every child
        )
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(base_url):
                if process.poll() is not None:
                    raise RuntimeError(f"streamlit exited with code {process.returncode}:\n{_tail(log_path)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit not healthy after {timeout:.0f} s:\n{_tail(log_path)}")
                time.sleep(0.25)
            yield base_url
        finally:
            _stop(process)
    log_path.unlink(missing_ok=True)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the whole group, then SIGKILL it if it has not gone within 10 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def docs_picture(tmp_path: Path, name: str) -> Path:
    """Where a README picture is saved: docs/<name> when BACKPROP_LAB_UPDATE_DOCS=1 (to refresh the
    README's pictures on purpose), else the test's own tmp folder, so a test run never rewrites tracked files.
    """
    return REPO / "docs" / name if os.environ.get("BACKPROP_LAB_UPDATE_DOCS") == "1" else tmp_path / name


# Headless Chromium for the browser tests: Debian's package, never a browser playwright downloads.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",  # this machine has no network: background calls only fail
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright):
    """A headless Debian Chromium from a playwright instance (sync API)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Debian Chromium for a `with` block (starts playwright too; closes both)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()
