"""A class on one server: 5, 10 and 20 sessions at once, each moving the learning rate and the steps.

    python benchmarks/bench_load.py [--sessions 5,10,20] [--seconds 60] [--think 1-3]

Each level starts a fresh `streamlit run app.py` and opens that many sessions against it. A session is
what a student's browser does, spoken as Streamlit's own websocket protocol (the BackMsg / ForwardMsg
protobufs of /_stcore/stream) with no browser, so the clients' cost stays out of the server's figures:
it opens the Learning rate page, then, pausing a think time between changes, alternately types new
learning rates to compare or new steps there, and on the Step through page a new learning rate η or new
steps, switching page every few changes. Values come from short lists, as in a class following the
instructor, so sessions often share a setup.

The time of a change is from sending it to the server's script_finished: every element of the updated
page has been sent by then. Where taskset exists and there are 2+ cores, the server runs on core 0 and
the clients on core 1, so the figures are for one server core. Prints, per level: changes made, p50 / p95 /
max time of a change, first page load p50 / p95, the server's peak memory (psutil, the server and its
children) and its CPU use; then the per-core capacity: the most sessions with a p95 under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 1.0  # a change counts as served in time when the updated page is back within a second
CHANGE_TIMEOUT_S = 60.0  # a change not finished by then counts as failed (and ends that session)

# What a class types: the course's rates and a few common step counts (shared setups: cache hits).
COMPARED = ["0.1, 0.2, 0.5, 0.8, 1, 2", "0.1, 0.5, 1, 2", "0.5, 1, 2, 5", "0.2, 0.8, 1.5"]
RATES = ["0.1", "0.2", "0.5", "0.8", "1", "2"]
STEPS = ["100", "200", "500", "1000"]
# page -> [(widget label, values)]: the fields a session moves there
MOVES = {
    "learning_rate": [("Learning rates to compare (comma-separated)", COMPARED), ("Steps (updates)", STEPS)],
    "step_through": [("Learning rate η", RATES), ("Steps (updates)", STEPS)],
}
CHANGES_PER_PAGE = 4  # a session switches page after this many changes


@dataclass
class Figures:
    changes: list[float] = field(default_factory=list)  # seconds, change -> updated page
    by_page: dict[str, list[float]] = field(default_factory=dict)  # the same, per page
    first_loads: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class Session:
    """One student's browser, as Streamlit's websocket protocol."""

    def __init__(self, socket_):
        self.socket = socket_
        self.ids: dict[str, str] = {}  # widget label -> widget id, from the last page drawn
        self.values: dict[str, str] = {}  # widget id -> the text this session typed

    async def rerun(self, page: str) -> float:
        message = BackMsg()
        state = message.rerun_script
        state.page_name = page
        state.query_string = ""
        for widget_id, text in self.values.items():
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            widget.string_value = text
        start = time.perf_counter()
        await self.socket.send(message.SerializeToString())
        ids: dict[str, str] = {}
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await self.socket.recv())
            kind = reply.WhichOneof("type")
            if kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                name = element.WhichOneof("type")
                if name == "exception":
                    raise RuntimeError(f"the page raised: {element.exception.message}")
                widget = getattr(element, name)
                if getattr(widget, "id", "") and getattr(widget, "label", ""):
                    ids[widget.label] = widget.id
            elif kind == "page_not_found":
                raise RuntimeError(f"page not found: {page}")
            elif kind == "script_finished":
                if reply.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                    raise RuntimeError(f"script ended with status {reply.script_finished}")
                self.ids = ids
                return time.perf_counter() - start

    def type(self, label: str, text: str) -> None:
        self.values[self.ids[label]] = text


async def student(url: str, seconds: float, think: tuple[float, float], seed: int, figures: Figures) -> None:
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, think[1]))  # students do not all arrive in the same millisecond
    try:
        async with websockets.connect(
            url, subprotocols=["streamlit"], max_size=None, open_timeout=60
        ) as sock:
            session = Session(sock)
            page = "learning_rate"
            figures.first_loads.append(await asyncio.wait_for(session.rerun(page), CHANGE_TIMEOUT_S))
            end = time.monotonic() + seconds
            made = 0
            while time.monotonic() < end:
                await asyncio.sleep(rng.uniform(*think))
                if made and made % CHANGES_PER_PAGE == 0:
                    page = "step_through" if page == "learning_rate" else "learning_rate"
                    session.values.clear()  # a page switch: the other page's fields are other widgets
                    await asyncio.wait_for(session.rerun(page), CHANGE_TIMEOUT_S)
                label, values = rng.choice(MOVES[page])
                session.type(label, rng.choice(values))
                seconds_taken = await asyncio.wait_for(session.rerun(page), CHANGE_TIMEOUT_S)
                figures.changes.append(seconds_taken)
                figures.by_page.setdefault(page, []).append(seconds_taken)
                made += 1
    except (OSError, RuntimeError, TimeoutError, KeyError, websockets.WebSocketException) as error:
        figures.failures.append(f"{type(error).__name__}: {error}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, runs: Path, pin: bool) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
    ]  # fmt: skip
    if pin:
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "BACKPROP_LAB_RUNS": str(runs)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):  # noqa: S310
                return server
        except OSError:
            time.sleep(0.25)
    server.kill()
    raise SystemExit("the server did not start within 60 s")


class MemoryWatch:
    """The peak resident memory of a process and its children, sampled every 0.2 s on a thread."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak = self.baseline = self._rss()
        self.cpu_start = self._cpu()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _family(self) -> list[psutil.Process]:
        return [self.process, *self.process.children(recursive=True)]

    def _rss(self) -> int:
        total = 0
        for process in self._family():
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self._rss())

    def stop(self) -> float:
        """Stops watching; returns the CPU seconds the server used since the watch began."""
        self._stop.set()
        self._thread.join()
        return self._cpu() - self.cpu_start


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def level(sessions: int, seconds: float, think: tuple[float, float], pin: bool) -> tuple[Figures, dict]:
    port = free_port()
    with tempfile.TemporaryDirectory() as runs:
        server = start_server(port, Path(runs), pin)
        try:
            watch = MemoryWatch(server.pid)
            figures = Figures()
            url = f"ws://127.0.0.1:{port}/_stcore/stream"
            start = time.monotonic()

            async def everyone():
                await asyncio.gather(
                    *(student(url, seconds, think, seed, figures) for seed in range(sessions))
                )

            asyncio.run(everyone())
            wall = time.monotonic() - start
            cpu_s = watch.stop()
            return figures, {
                "peak_mb": watch.peak / 2**20,
                "base_mb": watch.baseline / 2**20,
                "cpu": cpu_s / wall,
            }
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions", default="5,10,20", help="comma-separated session counts (default 5,10,20)"
    )
    parser.add_argument("--seconds", type=float, default=60, help="how long each level runs (default 60)")
    parser.add_argument(
        "--think", default="1-3", help="seconds between a session's changes, min-max (default 1-3)"
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.sessions.split(",")]
    low, high = (float(x) for x in args.think.split("-"))
    pin = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})  # the clients on core 1, the server on core 0
    print(
        f"{'server on core 0, clients on core 1' if pin else 'not pinned (no taskset, or one core)'}; "
        f"{args.seconds:.0f} s per level; think time {low:g}-{high:g} s; python {sys.version.split()[0]}"
    )
    print(
        f"{'sessions':>8} {'changes':>8} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'load p50':>9} {'load p95':>9} "
        f"{'peak MB':>8} {'idle MB':>8} {'CPU':>5} {'failed':>6}"
    )
    capacity = 0
    for count in counts:
        figures, server = level(count, args.seconds, (low, high), pin)
        p95 = percentile(figures.changes, 95)
        print(
            f"{count:>8} {len(figures.changes):>8} {percentile(figures.changes, 50):>7.2f} {p95:>7.2f} "
            f"{max(figures.changes, default=float('nan')):>7.2f} {percentile(figures.first_loads, 50):>9.2f} "
            f"{percentile(figures.first_loads, 95):>9.2f} {server['peak_mb']:>8.0f} {server['base_mb']:>8.0f} "
            f"{server['cpu']:>5.0%} {len(figures.failures):>6}",
            flush=True,
        )
        pages = ", ".join(
            f"{page} p50 {percentile(times, 50):.2f} / p95 {percentile(times, 95):.2f}"
            for page, times in sorted(figures.by_page.items())
        )
        print(f"{'':>8} by page: {pages}")
        for failure in sorted(set(figures.failures))[:3]:
            print(f"         failed: {failure}")
        if p95 < TARGET_S and not figures.failures:
            capacity = max(capacity, count)
    cores = "one core" if pin else f"{os.cpu_count()} cores, shared with the clients"
    print(
        f"capacity: {capacity or 'fewer than ' + str(counts[0])} sessions on {cores} at a p95 under "
        f"{TARGET_S:g} s ({'largest level tried' if capacity == max(counts) else 'levels tried: ' + args.sessions})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
