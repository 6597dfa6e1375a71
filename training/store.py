"""The run store: one folder per run under the runs folder, and the only truth about every run.

    runs/<id>/run.json       what was asked for: owner, config, the trainer's command, submission time.
                             Written (into a hidden folder that is then renamed into place) before any
                             process starts, so no run is ever untracked, and never rewritten.
    runs/<id>/launch.json    the queue gave the run a slot: written under the lock before its process starts
    runs/<id>/process.json   which process is the trainer: pid and psutil create_time (local runs), or
                             the Ray job id (Ray runs)
    runs/<id>/exit.json      the trainer's exit code, written by its supervisor when it exits
    runs/<id>/stop.json      who pressed Stop (or Cancel) and when; the only source of "stopped"
    runs/<id>/stdout.log     the trainer's stdout and stderr
    runs/<id>/events.jsonl   the trainer's events (training/tail.py reads them)
    runs/<id>/best.pt        the trainer's best checkpoint

No status is stored: training/runs.py derives it from these files and the process table every time.
Every file is read through a function here that checks its types and raises Unreadable with one line
saying why, so a damaged folder is reported once and breaks nothing else.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import filelock

from .config import TrainConfig, TrainConfigError

RUNS_DIR_ENV = "BACKPROP_LAB_RUNS"  # where run folders live (default ./runs)
MAX_RUNS_ENV = "BACKPROP_LAB_MAX_RUNS"  # trainings at once on this machine; more are queued (default 1)
KEEP_RUNS_ENV = "BACKPROP_LAB_KEEP_RUNS"  # how many run folders to keep; older finished ones are pruned
TINY_RUN_ENV = "BACKPROP_LAB_TINY_RUN"  # "1" offers a tiny-subset option (tests, demos): seconds, not minutes
DEFAULT_MAX_RUNS = 1
DEFAULT_KEEP_RUNS = 20
TINY_SUBSET = 256  # images per split in a tiny run
LOCK_TIMEOUT_S = 30.0  # every queue decision takes the lock for milliseconds; 30 s means something is stuck

# A run id is the submission time plus randomness: sortable by age, unguessable enough, and safe as a
# folder name. Any id that comes from a user, a query parameter or a path is checked against this first.
RUN_ID_PATTERN = re.compile(r"\A\d{8}-\d{6}-[0-9a-f]{6}\Z")
BACKENDS = ("local", "ray")


class RunError(ValueError):
    """Something a user asked for cannot be done; the message is one line and says why."""


class Unreadable(RunError):
    """A run folder whose files cannot be read or do not have the types they must have."""


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


def resolve_root(root: Path | None) -> Path:
    """The runs folder a call was given, else the configured one."""
    return root if root is not None else runs_root()


def max_concurrent_runs() -> int:
    return _env_int(MAX_RUNS_ENV, DEFAULT_MAX_RUNS, minimum=1)


def runs_to_keep() -> int:
    return _env_int(KEEP_RUNS_ENV, DEFAULT_KEEP_RUNS, minimum=1)


def tiny_runs_allowed() -> bool:
    return os.environ.get(TINY_RUN_ENV, "") == "1"


# --- ids and paths -------------------------------------------------------------------------------------


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def check_run_id(run_id: object) -> str:
    """Return run_id if it is a well-formed id; raise RunError otherwise. No path is built before this."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        raise RunError(f"not a run id: {str(run_id)[:40]!r}")
    return run_id


def run_dir(run_id: str, root: Path) -> Path:
    return root / check_run_id(run_id)


def list_ids(root: Path) -> list[str]:
    """Ids of every run folder, newest first (readable or not: a damaged run is still listed)."""
    try:
        names = [entry.name for entry in os.scandir(root) if entry.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as error:
        raise RunError(f"the runs folder {root} cannot be read: {error.strerror or error}") from None
    ids = [name for name in names if RUN_ID_PATTERN.match(name)]
    seconds = Counter(run_id[:15] for run_id in ids)
    # An id carries its submission time to the second only. Two runs submitted within one second (two
    # tabs pressing Start together) are ordered by run.json's own submission time, read only for them.
    return sorted(
        ids, key=lambda r: (r[:15], _submitted(r, root) if seconds[r[:15]] > 1 else 0.0, r), reverse=True
    )


def _submitted(run_id: str, root: Path) -> float:
    """run.json's submitted_unix, or 0 for a run.json that is missing or damaged."""
    try:
        value = read_json(root / run_id / "run.json").get("submitted_unix")
    except Unreadable:
        return 0.0
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0


def cannot_write(root: Path, error: OSError) -> RunError:
    """The one sentence for a runs folder that cannot be written (read-only, full, no permission)."""
    return RunError(
        f"The runs folder {root} cannot be written ({error.strerror or error}), so no run can be "
        f"started or stopped from here; set {RUNS_DIR_ENV} to a writable folder."
    )


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """The queue's lock: every decision that counts slots or queued runs and then acts on the count
    (submit, promote, cancel) holds it, across threads, processes and servers sharing the runs folder.
    filelock rather than a hand-written fcntl.flock: the same flock underneath, with the open/retry/timeout
    and release-on-error handling done and tested by a library."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(root / ".lock", timeout=LOCK_TIMEOUT_S)
        lock.acquire()
    except filelock.Timeout:
        raise RunError(f"the runs folder {root} is locked by another process; try again") from None
    except OSError as error:
        raise cannot_write(root, error) from None
    try:
        yield
    finally:
        lock.release()


def write_json(path: Path, data: dict) -> None:
    """Readers in other tabs never see a half-written file: write beside it, then rename over it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def read_json(path: Path, *, missing_ok: bool = False) -> dict | None:
    """A JSON object from a file; Unreadable (one line) for a missing file, bad JSON or a non-object."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        if missing_ok:
            return None
        raise Unreadable(f"{path.name} is missing") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise Unreadable(f"{path.name} is not valid JSON ({_short(error)})") from None
    except OSError as error:
        raise Unreadable(f"{path.name} cannot be read: {error.strerror or error}") from None
    if not isinstance(data, dict):
        raise Unreadable(f"{path.name} is not a JSON object")
    return data


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:80]


# --- typed records -------------------------------------------------------------------------------------


def _field(data: dict, name: str, kind: type | tuple[type, ...], file: str):
    value = data.get(name)
    ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind))
    if isinstance(value, float) and not math.isfinite(value):
        ok = False
    if not ok:
        wanted = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise Unreadable(f"{file}: {name} must be {wanted}, got {str(value)[:30]!r}")
    return value


def _as_tuple(kind) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


@dataclass(frozen=True)
class RunRecord:
    """run.json, checked: what was submitted. The one place that says what a run.json must hold."""

    id: str
    owner: str  # Viewer.id of whoever pressed Start
    owner_name: str
    config: TrainConfig  # as launched: out is the run folder, download is off
    command: tuple[str, ...]  # the trainer's argument list (never a shell string)
    submitted_unix: float  # queue order: first submitted, first started
    backend: str  # "local" (a process on this machine) or "ray" (a Ray job)

    def to_json(self) -> dict:
        return {**asdict(self), "config": asdict(self.config), "command": list(self.command)}

    @classmethod
    def from_json(cls, data: dict, run_id: str) -> RunRecord:
        file = "run.json"
        if data.get("id") != run_id:
            raise Unreadable(f"{file}: id {str(data.get('id'))[:30]!r} is not its folder's name")
        raw = _field(data, "config", dict, file)
        known = {f.name for f in fields(TrainConfig)}
        try:  # TrainConfig's own types and bounds: one rule for the page, the trainer and this check
            config = TrainConfig(**{k: v for k, v in raw.items() if k in known})
            config.check()
        except (TypeError, TrainConfigError) as error:
            raise Unreadable(f"{file}: config: {_short(error)}") from None
        for name in ("data_dir", "out"):
            if not isinstance(getattr(config, name), str):
                raise Unreadable(f"{file}: config: {name} must be text")
        command = _field(data, "command", list, file)
        if not command or not all(isinstance(part, str) for part in command):
            raise Unreadable(f"{file}: command must be a list of strings")
        backend = _field(data, "backend", str, file)
        if backend not in BACKENDS:
            raise Unreadable(f"{file}: backend must be one of {', '.join(BACKENDS)}, got {backend[:20]!r}")
        return cls(
            id=run_id,
            owner=_field(data, "owner", str, file),
            owner_name=_field(data, "owner_name", str, file),
            config=config,
            command=tuple(command),
            submitted_unix=float(_field(data, "submitted_unix", (int, float), file)),
            backend=backend,
        )


@dataclass(frozen=True)
class ProcessRecord:
    """process.json, checked: which process (or Ray job) is the run's trainer."""

    started_unix: float
    pid: int | None = None  # local: the trainer's pid, which is also its process group
    create_time: float | None = None  # local: psutil's create_time, to tell our pid from a recycled one
    supervisor_pid: int | None = None  # local: the process that waits for the trainer and starts the next
    job_id: str | None = None  # ray: the submission id

    @classmethod
    def from_json(cls, data: dict) -> ProcessRecord:
        file = "process.json"
        started = float(_field(data, "started_unix", (int, float), file))
        if data.get("job_id") is not None:
            return cls(started_unix=started, job_id=_field(data, "job_id", str, file))
        pid = _field(data, "pid", int, file)
        if pid <= 0:
            raise Unreadable(f"{file}: pid must be positive, got {pid}")
        create_time = float(_field(data, "create_time", (int, float), file))
        supervisor = data.get("supervisor_pid")
        if supervisor is not None:
            supervisor = _field(data, "supervisor_pid", int, file)
        return cls(started_unix=started, pid=pid, create_time=create_time, supervisor_pid=supervisor)


@dataclass(frozen=True)
class StopRequest:
    """stop.json: someone pressed Stop (or Cancel). Without it a run is never called "stopped"."""

    by: str
    at_unix: float
    queued: bool = False  # it was still waiting: a cancel, not a stop


def read_run(run_id: str, root: Path) -> RunRecord:
    """run.json of a run, checked. RunError if there is no such run, Unreadable if it is damaged."""
    path = run_dir(run_id, root)
    if not path.is_dir():
        raise RunError(f"no such run: {run_id}")
    return RunRecord.from_json(read_json(path / "run.json"), run_id)


def records(root: Path) -> list[tuple[str, RunRecord | None]]:
    """(id, checked record, or None when run.json is damaged) of every run folder, newest first; a
    folder pruned while it is being listed is left out."""
    rows = []
    for run_id in list_ids(root):
        try:
            rows.append((run_id, read_run(run_id, root)))
        except Unreadable:
            rows.append((run_id, None))
        except RunError:
            continue
    return rows


def read_process(path: Path) -> ProcessRecord | None:
    data = read_json(path / "process.json", missing_ok=True)
    return None if data is None else ProcessRecord.from_json(data)


def read_launch(path: Path) -> float | None:
    """When the queue gave the run a slot (launch.json), or None while it waits."""
    data = read_json(path / "launch.json", missing_ok=True)
    return None if data is None else float(_field(data, "at_unix", (int, float), "launch.json"))


def read_stop(path: Path) -> StopRequest | None:
    data = read_json(path / "stop.json", missing_ok=True)
    if data is None:
        return None
    by = _field(data, "by", str, "stop.json")
    at = float(_field(data, "at_unix", (int, float), "stop.json"))
    return StopRequest(by, at, data.get("queued") is True)


def read_exit_code(path: Path) -> int | None:
    """The trainer's exit code as its supervisor saw it (negative: killed by that signal), if recorded."""
    with contextlib.suppress(RunError):
        data = read_json(path / "exit.json", missing_ok=True)
        code = (data or {}).get("returncode")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


# --- writing -------------------------------------------------------------------------------------------


def create_run(record: RunRecord, root: Path) -> Path:
    """Make the run's folder with its run.json already inside: built hidden, then renamed into place, so
    a listing never sees a run folder without its record."""
    final = run_dir(record.id, root)
    hidden = root / f".new-{record.id}"
    try:
        hidden.mkdir(parents=True)
        write_json(hidden / "run.json", record.to_json())
        (hidden / "stdout.log").touch()
        os.rename(hidden, final)
    except OSError as error:
        shutil.rmtree(hidden, ignore_errors=True)
        raise cannot_write(root, error) from None
    return final


def mark(path: Path, name: str, data: dict) -> None:
    """Write one of the run's marker files (launch.json, process.json, stop.json, exit.json)."""
    try:
        write_json(path / name, data)
    except OSError as error:
        raise cannot_write(path.parent, error) from None


def remove_run(run_id: str, root: Path) -> None:
    shutil.rmtree(run_dir(run_id, root), ignore_errors=True)
