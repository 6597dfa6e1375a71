"""A run's status, derived every time from its folder (training/store.py) and the process table; never stored.

    the trainer's own "end" event   done / failed; "stopped" only if stop.json says someone pressed Stop
    no launch.json                  queued (cancelled if stop.json)
    launch.json, no process.json    starting (failed if nothing started within STARTUP_TIMEOUT_S)
    process.json                    running while that process (same pid *and* create_time) lives, or
                                    while the Ray job runs (queued while Ray has it pending);
                                    then stopped if stop.json, else failed, with the exit code's reason

Also the history row (RunSummary) and the queue's order, which are read off the same states.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from . import store
from .launcher import ALIVE, GONE, PENDING, Backend, LocalBackend
from .store import RunError, RunRecord, Unreadable, resolve_root
from .tail import RunProgress, last_event, read_progress

RAY_ADDRESS_ENV = (
    "BACKPROP_LAB_RAY_ADDRESS"  # set: runs are Ray jobs on that cluster (training/ray_backend.py)
)
STARTUP_TIMEOUT_S = 60.0  # a slot given, but no trainer recorded after this long: it never started

QUEUED, STARTING, RUNNING = "queued", "starting", "running"
DONE, FAILED, STOPPED, CANCELLED = "done", "failed", "stopped", "cancelled"
UNREADABLE = "unreadable"
ACTIVE = (STARTING, RUNNING)  # what takes a slot
FINAL = (DONE, FAILED, STOPPED, CANCELLED)


# --- backends ------------------------------------------------------------------------------------------


def current_backend() -> Backend:
    """Where new runs go: Ray when BACKPROP_LAB_RAY_ADDRESS is set, else local processes."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if address:
        from .ray_backend import RayBackend  # Ray is an optional install: imported only when asked for

        return RayBackend(address)
    return LocalBackend()


def backend_for(record: RunRecord) -> Backend:
    if record.backend == "local":
        return LocalBackend()
    backend = current_backend()
    if backend.name != record.backend:
        raise Unreadable(f"a {record.backend} run, but {RAY_ADDRESS_ENV} is not set on this server")
    return backend


# --- status --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    status: str
    reason: str | None = None  # why it failed, or why the folder is unreadable


def run_state(run_id: str, root: Path | None = None, progress: RunProgress | None = None) -> RunState:
    """The run's status and its reason, from the files alone (see the module docstring). Never raises for
    a damaged folder (that is UNREADABLE with the reason); RunError only for a bad id or a missing run."""
    root = resolve_root(root)
    path = store.run_dir(run_id, root)
    try:
        record = store.read_run(run_id, root)
        stop = store.read_stop(path)
        if progress is not None:
            end = progress.end
        else:  # the end event is the file's last line: no need to parse the rest
            last = last_event(path / "events.jsonl")
            end = last if last is not None and last.get("event") == "end" else None
        if end is not None:
            status, error = end["status"], end.get("error")
            if (
                status == STOPPED and stop is None
            ):  # a SIGTERM from outside: the trainer stopped, nobody asked
                return RunState(
                    FAILED, "stopped by a signal from outside Backprop Lab, not by its Stop button"
                )
            return RunState(status, error)
        launched = store.read_launch(path)
        if launched is None:
            return RunState(CANCELLED if stop else QUEUED)
        process = store.read_process(path)
        if process is None:
            exit_error = _exit_reason(path)
            if stop is not None and (path / "exit.json").exists():
                return RunState(STOPPED)
            if (path / "exit.json").exists():
                return RunState(FAILED, exit_error)
            if time.time() - launched < STARTUP_TIMEOUT_S:
                return RunState(STARTING)
            return RunState(FAILED, f"its trainer never started ({STARTUP_TIMEOUT_S:.0f} s after its launch)")
        state = backend_for(record).state(record, process)
    except Unreadable as error:
        return RunState(UNREADABLE, str(error))
    if state == ALIVE:
        return RunState(RUNNING)
    if state == PENDING:  # Ray's own queue; a cancel takes effect at once for us, at scheduling for Ray
        return RunState(CANCELLED if stop is not None else QUEUED)
    assert state == GONE
    # It ended: its end event may have landed after the read above.
    progress, _ = read_progress(path / "events.jsonl")
    if progress.end is not None:
        return run_state(run_id, root, progress)
    if stop is not None:  # a job Ray still held pending when it was cancelled never trained
        return RunState(CANCELLED if stop.queued and progress.start is None else STOPPED)
    return RunState(FAILED, _exit_reason(path))


def _exit_reason(path: Path) -> str:
    with contextlib.suppress(RunError):
        error = (store.read_json(path / "exit.json", missing_ok=True) or {}).get("error")
        if isinstance(error, str):
            return error
    code = store.read_exit_code(path)
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            name = signal.Signals(-code).name
            hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
            return f"the trainer was killed by {name}{hint}"
    if code is not None:
        return f"the trainer exited with code {code} without finishing"
    return "the trainer exited without finishing"


def run_status(run_id: str, root: Path | None = None, progress: RunProgress | None = None) -> str:
    return run_state(run_id, root, progress).status


def states(root: Path) -> list[tuple[str, RunRecord | None, RunState]]:
    """(id, record or None if unreadable, state) for every run folder, newest first."""
    rows = []
    for run_id, record in store.records(root):
        with contextlib.suppress(RunError):  # pruned since it was listed
            rows.append((run_id, record, run_state(run_id, root)))
    return rows


def active_runs(root: Path | None = None) -> list[str]:
    """Runs that hold a slot now (starting or running), every owner's. A trainer that has written its end
    event is only tearing down, so it does not count: a Start the moment a run is done is not queued."""
    return [run_id for run_id, _, state in states(resolve_root(root)) if state.status in ACTIVE]


def queue(root: Path | None = None) -> list[str]:
    """Queued runs in the order they will start (first submitted first)."""
    waiting = [(r.submitted_unix, r.id) for _, r, s in states(resolve_root(root)) if r and s.status == QUEUED]
    return [run_id for _, run_id in sorted(waiting)]


def queue_position(run_id: str, root: Path | None = None) -> tuple[int, int] | None:
    """(position, length) of a queued run, e.g. (2, 5) for "queued, position 2 of 5"; None if not queued."""
    order = queue(root)
    return (order.index(run_id) + 1, len(order)) if run_id in order else None


@dataclass
class RunSummary:
    """One row of the history table."""

    id: str
    status: str
    model: str
    epochs: int
    epochs_done: int
    final_test_acc: float | None  # percent, after the last epoch
    best_test_acc: float | None
    started_at: str
    error: str | None = None  # why it failed
    owner: str | None = None  # None when run.json cannot be read
    problem: str | None = None  # why (part of) the folder cannot be read

    @property
    def label(self) -> str:
        """The status as the history shows it: "unreadable: <why>" for a damaged folder."""
        if self.status == UNREADABLE:
            return f"unreadable: {self.problem}"
        if self.problem:
            return f"{self.status}; unreadable: {self.problem}"
        return self.status


def summarize(run_id: str, root: Path | None = None) -> RunSummary:
    """A run's history row, read from its folder. A damaged folder gives a row that says why, never an
    exception; RunError only for a bad id or a run pruned meanwhile."""
    root = resolve_root(root)
    path = store.run_dir(run_id, root)
    try:
        record = store.read_run(run_id, root)
    except Unreadable as error:
        return RunSummary(run_id, UNREADABLE, "?", 0, 0, None, None, "", problem=str(error))
    progress, tail = read_progress(path / "events.jsonl")
    state = run_state(run_id, root, progress)
    problem = tail.problem if state.status != UNREADABLE else state.reason
    if problem is None and tail.cut_off and state.status not in (*ACTIVE, QUEUED):
        problem = "events.jsonl ends in a cut-off line"
    accuracies = progress.test_accuracies()
    return RunSummary(
        id=run_id,
        status=state.status,
        model=record.config.model,
        epochs=record.config.epochs,
        epochs_done=len(progress.epochs),
        final_test_acc=accuracies[-1] if accuracies else None,
        best_test_acc=max(accuracies) if accuracies else None,
        started_at=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.submitted_unix)),
        error=state.reason if state.status == FAILED else None,
        owner=record.owner,
        problem=problem,
    )
