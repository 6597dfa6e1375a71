"""The run manager the page calls: start (or queue), list, watch, stop and cancel training runs.

A small facade over the parts, each in its own module:
    training/store.py      the run folders, the only truth; typed, checked records
    training/tail.py       events.jsonl and stdout.log as they grow
    training/status.py     each run's status, derived from its folder and the process table
    training/run_queue.py  submitting, the queue of waiting runs, Stop and Cancel
    training/launcher.py   the Backend interface and local processes (training/ray_backend.py: Ray jobs)
    training/owners.py     who may see and stop which run
Every function here that lists runs, reads their files or changes them takes the Viewer and applies the
owners' rules itself, so a hidden button is never the only guard.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from . import store
from .config import TrainConfig  # noqa: F401 (the page's names, from here on)
from .launcher import REPO, STOP_GRACE_S  # noqa: F401
from .owners import LOCAL, Viewer, can_see  # noqa: F401
from .run_queue import TRAINER, RunRefused, cancel_run, promote, start_run, stop_run, visible  # noqa: F401
from .status import (  # noqa: F401
    ACTIVE,
    CANCELLED,
    DONE,
    FAILED,
    FINAL,
    QUEUED,
    RAY_ADDRESS_ENV,
    RUNNING,
    STARTING,
    STARTUP_TIMEOUT_S,
    STOPPED,
    UNREADABLE,
    RunState,
    RunSummary,
    active_runs,
    backend_for,
    queue,
    queue_position,
    run_state,
    run_status,
    summarize,
)
from .store import (  # noqa: F401
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
    resolve_root,
    runs_root,
    runs_to_keep,
    tiny_runs_allowed,
)
from .tail import EventTail, RunProgress, read_progress, tail_text  # noqa: F401


def cuda_device_name() -> str | None:
    """The GPU's name when CUDA is usable here, else None. (torch is imported only when asked.)"""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def run_dir(run_id: str, root: Path | None = None) -> Path:
    return store.run_dir(run_id, resolve_root(root))


# --- listing, history and files ------------------------------------------------------------------------


def list_runs(viewer: Viewer, root: Path | None = None) -> list[str]:
    """Ids of the runs this viewer may see, newest first; promotes queued runs into free slots first."""
    root = resolve_root(root)
    promote(root)
    return [run_id for run_id, record in store.records(root) if can_see(viewer, record)]


def read_run(run_id: str, viewer: Viewer, root: Path | None = None) -> RunRecord:
    """The run's checked record, if the viewer may see it."""
    return visible(run_id, viewer, resolve_root(root))


def load_progress(run_id: str, root: Path | None = None) -> RunProgress:
    """Every event of a run, read once (for finished runs, history and comparisons)."""
    return read_progress(run_dir(run_id, root) / "events.jsonl")[0]


def history(viewer: Viewer, root: Path | None = None) -> list[RunSummary]:
    """The viewer's history rows, newest first; one damaged folder is one row saying so."""
    rows = []
    for run_id in list_runs(viewer, root):
        with contextlib.suppress(RunError):  # pruned by another tab since it was listed
            rows.append(summarize(run_id, root))
    return rows


def log_tail(run_id: str, viewer: Viewer, root: Path | None = None, lines: int = 20) -> str:
    """The last lines of a run's log: progress while it runs, the error when it failed."""
    root = resolve_root(root)
    record = visible(run_id, viewer, root)
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
    root = resolve_root(root)
    record = visible(run_id, viewer, root)
    path = store.run_dir(run_id, root)
    if name == "stdout.log":  # a Ray job's log lives in Ray, not in the run folder
        with contextlib.suppress(RunError):
            remote = backend_for(record).log_tail(record, path, lines=10**9)
            if remote is not None:
                return remote.encode()
    try:
        return (path / name).read_bytes()
    except OSError:
        return b""
