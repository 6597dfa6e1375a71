"""The run manager the page calls: start (or queue), list, watch, stop and cancel training runs.

Three parts behind this facade: training/store.py (the run folders: the only truth), training/tail.py
(events.jsonl and stdout.log as they grow) and training/launcher.py (processes; training/ray_backend.py
for Ray jobs). Owners' rules are training/owners.py; every function that lists, stops, cancels or hands
out a file takes the Viewer and applies them itself.

A run's status is derived, never stored: from its folder (store.py's files) and the process table:

    the trainer's own "end" event   done / failed; "stopped" only if stop.json says someone pressed Stop
    no launch.json                  queued (cancelled if stop.json)
    launch.json, no process.json    starting (failed if nothing started within STARTUP_TIMEOUT_S)
    process.json                    running while that process (same pid *and* create_time) lives, or
                                    while the Ray job runs (queued while Ray has it pending);
                                    then stopped if stop.json, else failed, with the exit code's reason

The queue (local runs): at most BACKPROP_LAB_MAX_RUNS runs are starting or running; the rest wait on disk,
first submitted first started, each owner at most one waiting. promote() fills free slots under the lock,
and is called on every Start, Stop, Cancel, page listing, and by each run's supervisor when its trainer
exits, so a slot freed with no page open (or the app down) is filled all the same.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import store
from .config import TrainConfig, TrainConfigError  # the one config: fields, bounds and trainer flags
from .launcher import ALIVE, GONE, PENDING, REPO, STOP_GRACE_S, Backend, LocalBackend
from .owners import LOCAL, Viewer, can_see, can_stop
from .store import (  # noqa: F401 (the page's names)
    KEEP_RUNS_ENV,
    MAX_RUNS_ENV,
    RUNS_DIR_ENV,
    TINY_RUN_ENV,
    TINY_SUBSET,
    RunError,
    RunRecord,
    Unreadable,
    check_run_id,
    max_concurrent_runs,
    new_run_id,
    runs_root,
    runs_to_keep,
    tiny_runs_allowed,
)
from .tail import EventTail, RunProgress, read_progress, tail_text  # noqa: F401

RAY_ADDRESS_ENV = (
    "BACKPROP_LAB_RAY_ADDRESS"  # set: runs are Ray jobs on that cluster (training/ray_backend.py)
)
TRAINER = ("{python}", "-m", "training.mnist")  # {python}: the interpreter that runs the supervisor
STARTUP_TIMEOUT_S = 60.0  # a slot given, but no trainer recorded after this long: it never started

QUEUED, STARTING, RUNNING = "queued", "starting", "running"
DONE, FAILED, STOPPED, CANCELLED = "done", "failed", "stopped", "cancelled"
UNREADABLE = "unreadable"
ACTIVE = (STARTING, RUNNING)  # what takes a slot
FINAL = (DONE, FAILED, STOPPED, CANCELLED)

__all__ = ["LOCAL", "REPO", "TrainConfig", "Viewer"]  # and everything public below


class RunRefused(RunError):
    """A Start that cannot even be queued: this owner already has a run waiting."""


def cuda_device_name() -> str | None:
    """The GPU's name when CUDA is usable here, else None. (torch is imported only when asked.)"""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def _root(root: Path | None) -> Path:
    return root if root is not None else runs_root()


def run_dir(run_id: str, root: Path | None = None) -> Path:
    return store.run_dir(run_id, _root(root))


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
    root = _root(root)
    path = store.run_dir(run_id, root)
    try:
        record = store.read_run(run_id, root)
        stop = store.read_stop(path)
        if progress is None:
            progress, _ = read_progress(path / "events.jsonl")
        if progress.end is not None:
            status, error = progress.end["status"], progress.end.get("error")
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
    if state == PENDING:
        return RunState(QUEUED)
    assert state == GONE
    # It ended: its end event may have landed after the read above.
    progress, _ = read_progress(path / "events.jsonl")
    if progress.end is not None:
        return run_state(run_id, root, progress)
    if stop is not None:
        return RunState(STOPPED)
    return RunState(FAILED, _exit_reason(path))


def _exit_reason(path: Path) -> str:
    with contextlib.suppress(RunError):
        error = (store.read_json(path / "exit.json", missing_ok=True) or {}).get("error")
        if isinstance(error, str):
            return error
    code = store.read_exit_code(path)
    if code is not None and code < 0:
        import signal

        with contextlib.suppress(ValueError):
            name = signal.Signals(-code).name
            hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
            return f"the trainer was killed by {name}{hint}"
    if code is not None:
        return f"the trainer exited with code {code} without finishing"
    return "the trainer exited without finishing"


def run_status(run_id: str, root: Path | None = None, progress: RunProgress | None = None) -> str:
    return run_state(run_id, root, progress).status


def _states(root: Path) -> list[tuple[str, RunRecord | None, RunState]]:
    """(id, record or None if unreadable, state) for every run folder, newest first."""
    rows = []
    for run_id in store.list_ids(root):
        try:
            record = store.read_run(run_id, root)
        except Unreadable:
            record = None
        except RunError:  # pruned since it was listed
            continue
        with contextlib.suppress(RunError):
            rows.append((run_id, record, run_state(run_id, root)))
    return rows


def active_runs(root: Path | None = None) -> list[str]:
    """Runs that hold a slot now (starting or running), every owner's. A trainer that has written its end
    event is only tearing down, so it does not count: a Start the moment a run is done is not queued."""
    return [run_id for run_id, _, state in _states(_root(root)) if state.status in ACTIVE]


def queue(root: Path | None = None) -> list[str]:
    """Queued runs in the order they will start (first submitted first)."""
    waiting = [(r.submitted_unix, r.id) for _, r, s in _states(_root(root)) if r and s.status == QUEUED]
    return [run_id for _, run_id in sorted(waiting)]


def queue_position(run_id: str, root: Path | None = None) -> tuple[int, int] | None:
    """(position, length) of a queued run, e.g. (2, 5) for "queued, position 2 of 5"; None if not queued."""
    order = queue(root)
    return (order.index(run_id) + 1, len(order)) if run_id in order else None


# --- starting and the queue ----------------------------------------------------------------------------


def start_run(
    config: TrainConfig, viewer: Viewer, root: Path | None = None, trainer: Sequence[str] = TRAINER
) -> str:
    """Submit a run for `config`, owned by `viewer`; return its id. It starts at once when a slot is free,
    else it is queued (queue_position says where). RunRefused if the viewer already has a run queued,
    RunError for a bad config or a runs folder that cannot be written.
    `trainer` is the argument list that runs the trainer (tests substitute a stand-in script)."""
    try:
        config.check()
        config.to_args()  # refuses a setting the trainer has no flag for, before any folder is made
    except TrainConfigError as error:
        raise RunError(str(error)) from None
    root = _root(root)
    max_concurrent_runs(), runs_to_keep()  # a bad setting is refused before anything is recorded
    backend = current_backend()
    with store.locked(root):
        waiting = [r for _, r, s in _states(root) if r and s.status == QUEUED and r.owner == viewer.id]
        if waiting:
            position = queue_position(waiting[0].id, root) or (1, 1)
            raise RunRefused(
                f"You already have a run waiting ({waiting[0].id}, position {position[0]} of {position[1]}); "
                "cancel it or wait for it to start."
            )
        run_id = new_run_id()
        path = root / run_id
        # --no-download: the page checks for the files first and tells a person where to put them; a
        # launch from the browser should not quietly start fetching from the internet.
        launched = replace(config, out=str(path), download=False)
        python = "python" if backend.name == "ray" else _python()
        command = [part.replace("{python}", python) for part in trainer] + launched.to_args()
        record = RunRecord(
            id=run_id,
            owner=viewer.id,
            owner_name=viewer.name,
            config=launched,
            command=tuple(command),
            submitted_unix=time.time(),
            backend=backend.name,
        )
        store.create_run(record, root)  # recorded before anything runs: no run is ever untracked
        if backend.queues_itself:
            _launch(backend, record, path)
        else:
            _promote_locked(root)
        _prune(root, runs_to_keep())
    return run_id


def _python() -> str:
    import sys

    return sys.executable


def _launch(backend: Backend, record: RunRecord, path: Path) -> None:
    store.mark(path, "launch.json", {"at_unix": time.time()})
    try:
        backend.launch(record, path)
    except Exception as error:  # noqa: BLE001 (no process, no Ray head: the run fails, with the reason)
        message = f"could not start the trainer: {getattr(error, 'strerror', None) or error}"
        with contextlib.suppress(RunError):
            store.mark(path, "exit.json", {"returncode": None, "error": message, "at_unix": time.time()})


def _promote_locked(root: Path) -> list[str]:
    """Give every free local slot to the oldest queued run (the caller holds the lock)."""
    rows = _states(root)
    active = sum(1 for _, r, s in rows if s.status in ACTIVE and (r is None or r.backend == "local"))
    waiting = sorted(
        (r for _, r, s in rows if r and r.backend == "local" and s.status == QUEUED),
        key=lambda r: (r.submitted_unix, r.id),
    )
    started = []
    for record in waiting[: max(0, max_concurrent_runs() - active)]:
        _launch(LocalBackend(), record, root / record.id)
        started.append(record.id)
    return started


def promote(root: Path | None = None) -> list[str]:
    """Start queued runs into free slots; return their ids. Safe to call from anywhere at any time (every
    page load does): under the lock, so two callers never give one slot twice. A runs folder that cannot
    be written, or a bad setting, promotes nothing and raises nothing: the page says so elsewhere."""
    root = _root(root)
    try:
        with store.locked(root):
            return _promote_locked(root)
    except RunError:
        return []


# --- stopping and cancelling ---------------------------------------------------------------------------


def _visible(run_id: str, viewer: Viewer, root: Path) -> RunRecord:
    """The run's record if the viewer may see it. Someone else's run reads as "no such run": its
    existence is not theirs to learn."""
    check_run_id(run_id)
    try:
        record = store.read_run(run_id, root)
    except Unreadable as error:
        if not viewer.instructor:
            raise RunError(f"no such run: {run_id}") from None
        raise RunError(f"run {run_id} cannot be read: {error}") from None
    if not can_see(viewer, record):
        raise RunError(f"no such run: {run_id}")
    return record


def stop_run(run_id: str, viewer: Viewer, root: Path | None = None, grace: float = STOP_GRACE_S) -> str:
    """Stop a running run, or cancel a queued one, if the viewer may; return its status afterwards.

    stop.json is written first (under the lock, so the queue cannot start a run being cancelled), then
    the backend signals: SIGTERM to the trainer's group, SIGKILL after `grace` seconds."""
    root = _root(root)
    record = _visible(run_id, viewer, root)
    if not can_stop(viewer, record):
        raise RunError(f"run {run_id} is not yours to stop")
    path = store.run_dir(run_id, root)
    with store.locked(root):
        status = run_status(run_id, root)
        if status not in (QUEUED, *ACTIVE):
            return status
        store.mark(path, "stop.json", {"by": viewer.id, "at_unix": time.time()})
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while status == STARTING and time.monotonic() < deadline:  # its supervisor is recording the trainer
        time.sleep(0.05)
        status = run_status(run_id, root)
    process = store.read_process(path)
    if process is not None and not (record.backend == "local" and status == QUEUED):
        backend_for(record).stop(record, process, grace)
    promote(root)
    return run_status(run_id, root)


def cancel_run(run_id: str, viewer: Viewer, root: Path | None = None) -> str:
    """Take a queued run out of the queue (its owner or an instructor); RunError if it is not queued."""
    root = _root(root)
    _visible(run_id, viewer, root)
    if run_status(run_id, root) != QUEUED:
        raise RunError(f"run {run_id} is not queued")
    return stop_run(run_id, viewer, root)


# --- listing, history and files ------------------------------------------------------------------------


def list_runs(viewer: Viewer, root: Path | None = None) -> list[str]:
    """Ids of the runs this viewer may see, newest first; promotes queued runs into free slots first."""
    root = _root(root)
    promote(root)
    ids = []
    for run_id in store.list_ids(root):
        try:
            record = store.read_run(run_id, root)
        except Unreadable:
            record = None
        except RunError:
            continue
        if can_see(viewer, record):
            ids.append(run_id)
    return ids


def read_run(run_id: str, viewer: Viewer, root: Path | None = None) -> RunRecord:
    """The run's checked record, if the viewer may see it."""
    return _visible(run_id, viewer, _root(root))


def load_progress(run_id: str, root: Path | None = None) -> RunProgress:
    """Every event of a run, read once (for finished runs, history and comparisons)."""
    return read_progress(run_dir(run_id, root) / "events.jsonl")[0]


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
    root = _root(root)
    path = run_dir(run_id, root)
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


def history(viewer: Viewer, root: Path | None = None) -> list[RunSummary]:
    """The viewer's history rows, newest first; one damaged folder is one row saying so."""
    rows = []
    for run_id in list_runs(viewer, root):
        with contextlib.suppress(RunError):  # pruned by another tab since it was listed
            rows.append(summarize(run_id, root))
    return rows


def log_tail(run_id: str, viewer: Viewer, root: Path | None = None, lines: int = 20) -> str:
    """The last lines of a run's log: progress while it runs, the error when it failed."""
    root = _root(root)
    record = _visible(run_id, viewer, root)
    path = store.run_dir(run_id, root)
    with contextlib.suppress(RunError):
        remote = backend_for(record).log_tail(record, path, lines)
        if remote is not None:
            return remote
    return tail_text(path / "stdout.log", lines=lines)


def run_file(run_id: str, name: str, viewer: Viewer, root: Path | None = None) -> bytes:
    """A run's stdout.log or best.pt for a download, if the viewer may see the run; b"" if it is gone."""
    if name not in ("stdout.log", "best.pt"):
        raise RunError(f"not a run file: {name[:40]!r}")
    root = _root(root)
    _visible(run_id, viewer, root)
    try:
        return (store.run_dir(run_id, root) / name).read_bytes()
    except OSError:
        return b""


def _prune(root: Path, keep: int) -> list[str]:
    """Delete the oldest finished runs so at most `keep` remain; never a queued, starting or running one."""
    rows = _states(root)  # newest first
    deleted = []
    for run_id, _, state in reversed(rows):  # oldest first
        if len(rows) - len(deleted) <= keep:
            break
        if state.status in FINAL or (state.status == UNREADABLE and not _maybe_alive(root / run_id)):
            store.remove_run(run_id, root)
            deleted.append(run_id)
    return deleted


def _maybe_alive(path: Path) -> bool:
    """A damaged run is only pruned once nothing it recorded is still running."""
    from .launcher import trainer_process

    try:
        process = store.read_process(path)
    except RunError:
        return False
    return process is not None and (process.job_id is not None or trainer_process(process) is not None)
