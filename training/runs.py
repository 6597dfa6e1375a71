"""The run manager: launch `python -m training.mnist` in the background, find its runs again, stop them.

Everything that matters lives on disk, one folder per run, so a page reload, a second tab or an app
restart sees exactly what the first one saw:

    runs/<id>/run.json        what was launched: config, command, pid, pgid, process start time
    runs/<id>/stdout.log      the trainer's stdout and stderr (a file, never a pipe)
    runs/<id>/events.jsonl    the trainer's events, one JSON object per line
    runs/<id>/best.pt         the trainer's best checkpoint
    runs/<id>/stop_requested  written by stop_run, so a run killed on purpose reads "stopped", not "failed"
    runs/<id>/status.json     the final status and accuracies, cached once the run has ended

The status is derived, never trusted from memory: the trainer's "end" event if there is one; otherwise
"running" while the process is alive (and is still *our* process, not a recycled pid); otherwise
"stopped" if someone asked it to stop, else "failed".

Plain functions, no Streamlit: app_pages/training.py calls them, tests call them directly.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .config import TrainConfig, TrainConfigError  # the one config: fields, bounds and trainer flags

REPO = Path(__file__).resolve().parent.parent

RUNS_DIR_ENV = "BACKPROP_LAB_RUNS"  # where run folders live (default ./runs)
MAX_RUNS_ENV = "BACKPROP_LAB_MAX_RUNS"  # how many trainings may run at once (default 1: one GPU, many users)
KEEP_RUNS_ENV = "BACKPROP_LAB_KEEP_RUNS"  # how many run folders to keep; older finished ones are pruned
TINY_RUN_ENV = "BACKPROP_LAB_TINY_RUN"  # "1" offers a tiny-subset option (tests, demos): seconds, not minutes
DEFAULT_MAX_RUNS = 1
DEFAULT_KEEP_RUNS = 20
TINY_SUBSET = 256  # images per split in a tiny run

RUNNING, DONE, FAILED, STOPPED = "running", "done", "failed", "stopped"
FINAL_STATUSES = (DONE, FAILED, STOPPED)

# A run id is the launch time plus randomness: sortable by age, unguessable enough, and safe as a folder
# name. Any id that comes from a user, a query parameter or a path is checked against this before use.
RUN_ID_PATTERN = re.compile(r"\A\d{8}-\d{6}-[0-9a-f]{6}\Z")
TRAINER = (sys.executable, "-m", "training.mnist")
STOP_GRACE_S = 5.0  # SIGTERM, then this long to finish the batch and write its "end" event, then SIGKILL
LOG_TAIL_BYTES = 16_384  # how much of stdout.log a tail reads (the end of the file, not all of it)


class RunError(ValueError):
    """Something a user asked for cannot be done; the message is one line and says why."""


class RunRefused(RunError):
    """A launch was refused because the concurrent-run limit is reached."""


# --- settings from the environment ---------------------------------------------------------------------


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RunError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise RunError(f"{name} must be at least {minimum}, got {value}")
    return value


def runs_root() -> Path:
    """The folder that holds every run: $BACKPROP_LAB_RUNS, else ./runs."""
    return Path(os.environ.get(RUNS_DIR_ENV) or "runs").resolve()


def max_concurrent_runs() -> int:
    return _env_int(MAX_RUNS_ENV, DEFAULT_MAX_RUNS, minimum=1)


def runs_to_keep() -> int:
    return _env_int(KEEP_RUNS_ENV, DEFAULT_KEEP_RUNS, minimum=1)


def tiny_runs_allowed() -> bool:
    return os.environ.get(TINY_RUN_ENV, "") == "1"


def cuda_device_name() -> str | None:
    """The GPU's name when CUDA is usable here, else None. (torch is imported only when asked.)"""
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


# --- ids and paths -------------------------------------------------------------------------------------


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def check_run_id(run_id: object) -> str:
    """Return run_id if it is a well-formed id; raise RunError otherwise. No path is built before this."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise RunError(f"not a run id: {str(run_id)[:40]!r}")
    return run_id


def run_dir(run_id: str, root: Path | None = None) -> Path:
    return (root or runs_root()) / check_run_id(run_id)


def list_runs(root: Path | None = None) -> list[str]:
    """Ids of every launched run (a folder with a run.json), newest first."""
    root = root or runs_root()
    if not root.is_dir():
        return []
    ids = [p.name for p in root.iterdir() if RUN_ID_PATTERN.match(p.name) and (p / "run.json").is_file()]
    return sorted(ids, reverse=True)


def read_run_info(run_id: str, root: Path | None = None) -> dict:
    """run.json of a run: config, command, pid, pgid, proc_start, started_at."""
    path = run_dir(run_id, root) / "run.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"no such run: {run_id}") from None
    except ValueError:
        raise RunError(f"run {run_id} has an unreadable run.json") from None


def _write_json_atomically(path: Path, data: dict) -> None:
    """Readers in other tabs never see a half-written file: write beside it, then rename over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


# --- processes -----------------------------------------------------------------------------------------

# Trainers this process launched, by pid: polled so none is left a zombie, terminated when the app exits.
_children: dict[int, subprocess.Popen] = {}
_children_lock = threading.Lock()


def reap_children() -> None:
    """Collect the exit status of our finished trainers (waitpid WNOHANG, via Popen.poll)."""
    with _children_lock:
        for pid, process in list(_children.items()):
            if process.poll() is not None:
                del _children[pid]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])  # field 3 is the state, field 22 the start time


def process_start_time(pid: int) -> int | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def is_alive(info: dict) -> bool:
    """Is the run's trainer still running, and is that pid still our trainer (not a recycled pid)?"""
    pid = info.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    reap_children()
    if not Path("/proc").is_dir():  # no /proc (not Linux): fall back to "some process has this pid"
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):  # gone, or a zombie whose parent has not reaped it yet
        return False
    return stat[1] == info.get("proc_start")  # same pid but another start time: a different process


@contextlib.contextmanager
def _launch_lock(root: Path) -> Iterator[None]:
    """An exclusive file lock around check-and-launch: two tabs clicking at once cannot both start a run.

    flock locks belong to the open file, so this excludes other threads of this process as well as
    other processes (a second Streamlit server on the same runs folder)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".launch.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def active_runs(root: Path | None = None) -> list[str]:
    """Runs that are training now: alive, and without an "end" event. (A trainer that has written its end
    event is only tearing down; counting it would refuse a user who clicks Start the moment a run is done.)"""
    root = root or runs_root()
    alive = []
    for run_id in list_runs(root):
        with contextlib.suppress(RunError):
            if run_status(run_id, root) == RUNNING:
                alive.append(run_id)
    return alive


def start_run(config: TrainConfig, root: Path | None = None, trainer: Sequence[str] = TRAINER) -> str:
    """Launch a trainer for `config` in its own process group; return the new run's id.

    Raises RunRefused when the concurrent-run limit is reached, RunError for a bad config.
    `trainer` is the argument list that runs the trainer (tests substitute a stand-in script)."""
    try:
        config.check()
        config.to_args()  # refuses a setting the trainer has no flag for, before any folder is made
    except TrainConfigError as error:
        raise RunError(str(error)) from None
    root = root or runs_root()
    limit, keep = max_concurrent_runs(), runs_to_keep()  # a bad setting is refused before anything starts
    with _launch_lock(root):
        running = active_runs(root)
        if len(running) >= limit:
            which = ", ".join(running)
            raise RunRefused(
                f"{len(running)} training run{'s' if len(running) > 1 else ''} already running ({which}); "
                f"at most {limit} at a time on this machine. Wait for it to finish or stop it."
            )
        run_id = new_run_id()
        path = run_dir(run_id, root)
        path.mkdir()
        # --no-download: the page checks for the files first and tells a person where to put them; a
        # launch from the browser should not quietly start fetching from the internet.
        launched = replace(config, out=str(path), download=False)
        command = [*trainer, *launched.to_args()]
        try:
            with open(path / "stdout.log", "wb") as log:
                process = subprocess.Popen(
                    command,
                    cwd=REPO,  # so `-m training.mnist` resolves to this checkout
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,  # one file, in the order things happened
                    start_new_session=True,  # own process group: Stop reaches the trainer and its workers
                )
        except OSError as error:  # no such interpreter, out of processes: leave no half-made run behind
            shutil.rmtree(path, ignore_errors=True)
            raise RunError(f"could not start the trainer: {error.strerror or error}") from None
        with _children_lock:
            _children[process.pid] = process
        info = {
            "id": run_id,
            "config": asdict(launched),
            "command": command,
            "pid": process.pid,
            "pgid": process.pid,  # start_new_session makes the trainer its group's leader
            "proc_start": process_start_time(process.pid),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "started_unix": time.time(),
        }
        _write_json_atomically(path / "run.json", info)
        prune_runs(root, keep=keep)
    return run_id


def stop_run(run_id: str, root: Path | None = None, grace: float = STOP_GRACE_S) -> str:
    """SIGTERM the run's process group, SIGKILL it after `grace` seconds; return the run's status."""
    root = root or runs_root()
    info = read_run_info(run_id, root)
    if is_alive(info):
        (run_dir(run_id, root) / "stop_requested").write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n")
        pgid = info["pgid"]
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while is_alive(info) and time.monotonic() < deadline:
            time.sleep(0.05)
        # SIGKILL the group even if the leader went on SIGTERM: a worker it started must not outlive it.
        # (Linux does not hand out a pid while it still names a process group, so pgid is still ours.)
        _signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while (is_alive(info) or _group_exists(pgid)) and time.monotonic() < deadline:
            time.sleep(0.05)  # until every member has been reaped (orphaned workers by init)
    return run_status(run_id, root)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def terminate_children(grace: float = 3.0) -> None:
    """Stop every trainer this process started and is still running (the app is exiting)."""
    with _children_lock:
        running = [p for p in _children.values() if p.poll() is None]
    for process in running:
        with contextlib.suppress(OSError):
            Path(_out_dir(process.args), "stop_requested").write_text("app exited\n")
        _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        _signal_group(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def _out_dir(command: Sequence[str]) -> str:
    return command[list(command).index("--out") + 1]


# The Streamlit server turns SIGTERM/SIGINT into a normal exit, so atexit runs when the app stops.
atexit.register(terminate_children)


def prune_runs(root: Path | None = None, keep: int = DEFAULT_KEEP_RUNS) -> list[str]:
    """Delete the oldest finished runs so at most `keep` remain; never a running one. Returns the deleted."""
    root = root or runs_root()
    deleted = []
    ids = list_runs(root)  # newest first
    for run_id in reversed(ids):  # oldest first
        if len(ids) - len(deleted) <= keep:
            break
        with contextlib.suppress(RunError):
            if is_alive(read_run_info(run_id, root)):
                continue
        shutil.rmtree(run_dir(run_id, root), ignore_errors=True)
        deleted.append(run_id)
    return deleted


# --- events --------------------------------------------------------------------------------------------


class EventTail:
    """Reads events.jsonl incrementally: each call returns only the events appended since the last one.

    It remembers a byte offset and keeps an unfinished last line (the trainer may be mid-write) until
    its newline arrives, so a second of polling costs a seek and a small read, not the whole file."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self._partial = b""

    def read_new(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self.offset:  # the file was replaced: start again
                    self.offset, self._partial = 0, b""
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        events = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:  # a blank or damaged line: skip it, keep the rest
                continue
            if isinstance(event, dict):
                events.append(event)
        return events


@dataclass
class RunProgress:
    """What the page draws for one run, built up event by event (see EventTail)."""

    start: dict | None = None  # the "start" event: params, device, config
    last_batch: dict | None = None
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch as a fraction, loss)
    epochs: list[dict] = field(default_factory=list)  # the "epoch" events, in order
    end: dict | None = None

    def add(self, events: list[dict]) -> None:
        for event in events:
            kind = event.get("event")
            if kind == "start":
                self.start = event
            elif kind == "batch":
                self.last_batch = event
                with contextlib.suppress(KeyError, TypeError, ZeroDivisionError):
                    position = event["epoch"] - 1 + event["batch"] / event["of"]
                    self.batch_losses.append((position, float(event["loss"])))
            elif kind == "epoch":
                self.epochs.append(event)
            elif kind == "end":
                self.end = event

    def epoch_fraction(self) -> float:
        """How far through the current epoch, 0..1."""
        if self.end is not None and self.end.get("status") == DONE:
            return 1.0
        batch = self.last_batch
        if not batch or self.epochs and self.epochs[-1].get("epoch", 0) >= batch.get("epoch", 0):
            return 1.0 if self.epochs else 0.0
        return min(1.0, max(0.0, batch["batch"] / batch["of"]))

    def current_epoch(self) -> int:
        epochs = [e.get("epoch", 0) for e in (self.last_batch or {}, *self.epochs[-1:])]
        return max([0, *epochs])

    def images_per_s(self) -> float | None:
        return (self.last_batch or {}).get("images_per_s")

    def eta_s(self, total_epochs: int, batch_size: int) -> float | None:
        """Seconds left: the trainer's own estimate if it gives one, else the batches still to run at the
        latest speed (evaluation time not counted)."""
        batch, speed = self.last_batch, self.images_per_s()
        if batch and isinstance(batch.get("eta_s"), (int, float)):
            return float(batch["eta_s"])
        if not batch or not speed or speed <= 0:
            return None
        per_epoch = batch["of"]
        done = (batch["epoch"] - 1) * per_epoch + batch["batch"]
        left = max(0, total_epochs * per_epoch - done)
        return left * batch_size / speed


def load_progress(run_id: str, root: Path | None = None) -> RunProgress:
    """Every event of a run, read once (for finished runs, history and comparisons)."""
    progress = RunProgress()
    progress.add(EventTail(run_dir(run_id, root) / "events.jsonl").read_new())
    return progress


# --- status --------------------------------------------------------------------------------------------


def tail_text(path: Path, lines: int = 30, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The last `lines` lines of a text file, reading only its last `max_bytes` bytes."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if len(data) == max_bytes and size > max_bytes:  # the first line was cut: drop it
        text = text.split("\n", 1)[-1]
    return "\n".join(text.splitlines()[-lines:])


def run_status(run_id: str, root: Path | None = None, progress: RunProgress | None = None) -> str:
    """running | done | failed | stopped, from the files alone (see the module docstring)."""
    reap_children()  # a trainer that wrote its end event and exited must not stay a zombie
    root = root or runs_root()
    path = run_dir(run_id, root)
    end = progress.end if progress is not None else None
    if end is None:
        end = _last_event(path / "events.jsonl", "end")
    if end is not None and end.get("status") in FINAL_STATUSES:
        return end["status"]
    if is_alive(read_run_info(run_id, root)):
        return RUNNING
    return STOPPED if (path / "stop_requested").exists() else FAILED


def _last_event(path: Path, kind: str) -> dict | None:
    """The last event of one kind among the file's last lines (an "end" event is always the last line)."""
    for line in reversed(tail_text(path, lines=5, max_bytes=8192).splitlines()):
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("event") == kind:
                return event
    return None


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
    error: str | None = None


def summarize(run_id: str, root: Path | None = None) -> RunSummary:
    """A run's history row. Cached in status.json once the run has ended, so old runs cost one small read."""
    root = root or runs_root()
    path = run_dir(run_id, root)
    cached = path / "status.json"
    with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
        return RunSummary(**json.loads(cached.read_text()))
    info = read_run_info(run_id, root)
    progress = load_progress(run_id, root)
    status = run_status(run_id, root, progress)
    accuracies = [e["test_acc"] for e in progress.epochs if isinstance(e.get("test_acc"), (int, float))]
    config = info.get("config", {})
    summary = RunSummary(
        id=run_id,
        status=status,
        model=str(config.get("model", "?")),
        epochs=int(config.get("epochs", 0)),
        epochs_done=len(progress.epochs),
        final_test_acc=accuracies[-1] if accuracies else None,
        best_test_acc=max(accuracies) if accuracies else None,
        started_at=str(info.get("started_at", "")),
        error=(progress.end or {}).get("error"),
    )
    if status in FINAL_STATUSES:
        with contextlib.suppress(OSError):
            _write_json_atomically(cached, asdict(summary))
    return summary


def log_tail(run_id: str, root: Path | None = None, lines: int = 20) -> str:
    """The last lines of a run's stdout.log: progress while it runs, the error when it failed."""
    return tail_text(run_dir(run_id, root) / "stdout.log", lines=lines)
