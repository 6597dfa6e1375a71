"""The queue: submitting a run, giving free slots to waiting runs, stopping and cancelling.

Local runs: at most BACKPROP_LAB_MAX_RUNS are starting or running; the rest wait on disk (a run folder
without launch.json), first submitted first started, each owner at most one waiting. Every decision that
counts and then acts holds store.locked(), across threads, processes and servers. promote() fills free
slots; it is called on every Start, Stop, Cancel and page listing, and by each run's supervisor when its
trainer exits (training/launcher.py), so a slot freed with no page open, or the app down, is filled all
the same. Ray runs are handed to Ray at once and wait in Ray's queue instead.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from . import store
from .config import TrainConfig, TrainConfigError
from .launcher import STOP_GRACE_S, Backend, LocalBackend, trainer_process
from .owners import Viewer, can_see, can_stop
from .status import (
    ACTIVE,
    FINAL,
    QUEUED,
    STARTING,
    STARTUP_TIMEOUT_S,
    UNREADABLE,
    backend_for,
    current_backend,
    queue_position,
    run_status,
    states,
)
from .store import (
    RunError,
    RunRecord,
    Unreadable,
    check_run_id,
    max_concurrent_runs,
    new_run_id,
    resolve_root,
    runs_to_keep,
)

TRAINER = ("{python}", "-m", "training.mnist")  # {python}: this interpreter (locally) or the cluster's


class RunRefused(RunError):
    """A Start that cannot even be queued: this owner already has a run waiting."""


def visible(run_id: str, viewer: Viewer, root: Path) -> RunRecord:
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
    root = resolve_root(root)
    max_concurrent_runs(), runs_to_keep()  # a bad setting is refused before anything is recorded
    backend = current_backend()
    with store.locked(root):
        waiting = [r for _, r, s in states(root) if r and s.status == QUEUED and r.owner == viewer.id]
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
    rows = states(root)
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
    root = resolve_root(root)
    try:
        with store.locked(root):
            return _promote_locked(root)
    except RunError:
        return []


# --- stopping and cancelling ---------------------------------------------------------------------------


def stop_run(run_id: str, viewer: Viewer, root: Path | None = None, grace: float = STOP_GRACE_S) -> str:
    """Stop a running run, or cancel a queued one, if the viewer may; return its status afterwards.

    stop.json is written first (under the lock, so the queue cannot start a run being cancelled), then
    the backend signals: SIGTERM to the trainer's group, SIGKILL after `grace` seconds."""
    root = resolve_root(root)
    record = visible(run_id, viewer, root)
    if not can_stop(viewer, record):
        raise RunError(f"run {run_id} is not yours to stop")
    path = store.run_dir(run_id, root)
    with store.locked(root):
        status = run_status(run_id, root)
        if status not in (QUEUED, *ACTIVE):
            return status
        store.mark(path, "stop.json", {"by": viewer.id, "at_unix": time.time(), "queued": status == QUEUED})
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
    root = resolve_root(root)
    visible(run_id, viewer, root)
    if run_status(run_id, root) != QUEUED:
        raise RunError(f"run {run_id} is not queued")
    return stop_run(run_id, viewer, root)


def _prune(root: Path, keep: int) -> list[str]:
    """Delete the oldest finished runs so at most `keep` remain; never a queued, starting or running one."""
    rows = states(root)  # newest first
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
    try:
        process = store.read_process(path)
    except RunError:
        return False
    return process is not None and (process.job_id is not None or trainer_process(process) is not None)
