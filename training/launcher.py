"""Launching and stopping trainers: the backend interface and its local implementation.

A local run is two processes, neither of them a child that dies with the app:

    app ── Popen(start_new_session) ──► supervisor   python -m training.launcher runs/<id>
                                          │  its own session: the server's SIGTERM, SIGKILL or Ctrl-C
                                          │  never reaches it; stdin and stdout are files, not pipes
                                          └── Popen(start_new_session) ──► trainer   (run.json's command)
                                                 its own process group: Stop signals the group, so a
                                                 DataLoader worker goes with it
The supervisor records the trainer in process.json, waits for it, writes exit.json with its exit code
and then starts the next queued run (training.run_queue.promote): a slot that frees while no page is open, or
while the app is down, is still filled. If the supervisor itself is killed, the next page load, the next
Start or Stop, or the end of any other run promotes instead.

Process identity and stopping use psutil (create_time tells our trainer from a recycled pid, wait_procs
waits for a set of processes with one timeout), not hand-parsed /proc/<pid>/stat and polling loops:
the same checks, portable, and maintained by people who know every platform's corner cases.
Ray jobs are the other implementation (training/ray_backend.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Protocol

import psutil

from . import store
from .store import ProcessRecord, RunRecord

REPO = Path(__file__).resolve().parent.parent
SUPERVISOR = (sys.executable, "-m", "training.launcher")
STOP_GRACE_S = 5.0  # SIGTERM, then this long to finish the batch and write its "end" event, then SIGKILL
KILL_WAIT_S = 5.0  # after SIGKILL, how long to wait for every member of the group to be gone
SAME_START_S = 0.05  # create_time has clock-tick (10 ms) resolution: equal within this is the same process

ALIVE, PENDING, GONE = "alive", "pending", "gone"  # what a backend knows about a launched run


class Backend(Protocol):
    """Where a run's trainer runs. Local processes on this machine, or Ray jobs on a cluster."""

    name: str  # recorded in run.json, so a later server asks the right backend about the run
    # True: every run is handed over at once and the backend's own scheduler queues it (Ray).
    # False: runs wait in the on-disk queue for one of BACKPROP_LAB_MAX_RUNS slots (local).
    queues_itself: bool

    def launch(self, record: RunRecord, path: Path) -> None:
        """Start the run (launch.json is already written). Records process.json, now or soon."""

    def state(self, record: RunRecord, process: ProcessRecord) -> str:
        """ALIVE (training), PENDING (accepted, waiting for resources) or GONE."""

    def stop(self, record: RunRecord, process: ProcessRecord, grace: float) -> None:
        """End the run: a polite signal, `grace` seconds, then a forced one. Returns when it is gone."""

    def log_tail(self, record: RunRecord, path: Path, lines: int) -> str | None:
        """The log's last lines if the backend keeps it somewhere other than stdout.log, else None."""


class LocalBackend:
    name = "local"
    queues_itself = False

    def launch(self, record: RunRecord, path: Path) -> None:
        """Start the run's supervisor, detached. OSError if no process could be started at all."""
        with open(path / "supervisor.log", "ab") as log:
            process = subprocess.Popen(
                [*SUPERVISOR, str(path)],
                cwd=REPO,  # so `-m training.launcher` resolves to this checkout
                stdin=subprocess.DEVNULL,
                stdout=log,  # files, not pipes: nothing ties it to this process's lifetime
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Collect its exit status while this process lives, so a finished supervisor is not left a
        # zombie of the app; if the app goes first, the supervisor is re-parented and reaped by init.
        threading.Thread(target=process.wait, name=f"reap-{record.id}", daemon=True).start()

    def state(self, record: RunRecord, process: ProcessRecord) -> str:
        return ALIVE if trainer_process(process) is not None else GONE

    def stop(self, record: RunRecord, process: ProcessRecord, grace: float) -> None:
        trainer = trainer_process(process)
        if trainer is None:
            return
        try:
            members = [trainer, *trainer.children(recursive=True)]  # workers, while they are still ours
        except psutil.Error:
            members = [trainer]
        pgid = process.pid  # start_new_session made the trainer its group's leader
        _signal_group(pgid, signal.SIGTERM)
        psutil.wait_procs([trainer], timeout=grace)
        # SIGKILL the group even if the leader went on SIGTERM: a worker it started must not outlive it.
        # (Linux does not hand out a pid while it still names a process group, so pgid is still ours.)
        _signal_group(pgid, signal.SIGKILL)
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(members, timeout=KILL_WAIT_S)

    def log_tail(self, record: RunRecord, path: Path, lines: int) -> str | None:
        return None


def trainer_process(process: ProcessRecord) -> psutil.Process | None:
    """The live trainer named by process.json, or None: gone, a zombie, or its pid now names a different
    process (a recycled pid has a different create_time)."""
    if process.pid is None:
        return None
    try:
        candidate = psutil.Process(process.pid)
        same = abs(candidate.create_time() - (process.create_time or 0.0)) < SAME_START_S
        if not same or candidate.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:  # NoSuchProcess, AccessDenied, ZombieProcess
        return None
    return candidate


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


# --- the supervisor: python -m training.launcher runs/<id> ------------------------------------------


def supervise(path: Path) -> int:
    """Start the run's trainer, record it, wait for it, record its exit code, start the next queued run."""
    from .run_queue import promote  # imported here: the queue imports this module

    root = path.parent
    record = store.read_run(path.name, root)
    if store.read_stop(path) is None:
        try:
            with open(path / "stdout.log", "ab") as log:
                trainer = subprocess.Popen(
                    list(record.command),
                    cwd=REPO,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,  # one file, in the order things happened
                    start_new_session=True,  # its own group, apart from this supervisor: see STOP
                )
        except OSError as error:  # no such interpreter, out of processes
            message = f"could not start the trainer: {error.strerror or error}"
            store.mark(path, "exit.json", {"returncode": None, "error": message, "at_unix": time.time()})
            print(message, flush=True)
        else:
            info = {
                "pid": trainer.pid,
                "create_time": psutil.Process(trainer.pid).create_time(),
                "supervisor_pid": os.getpid(),
                "started_unix": time.time(),
            }
            store.mark(path, "process.json", info)
            returncode = trainer.wait()
            store.mark(path, "exit.json", {"returncode": returncode, "at_unix": time.time()})
    else:  # cancelled or stopped between its slot being given and now: start nothing
        store.mark(
            path,
            "exit.json",
            {"returncode": None, "error": "stopped before it started", "at_unix": time.time()},
        )
    promote(root)
    return 0


def exec_trainer(path: Path) -> int:
    """A Ray job's entrypoint: become the run's trainer (os.execv keeps the pid Ray signals on Stop),
    unless the run was cancelled while Ray held it pending; then start nothing. Ray only delivers a
    stop_job to a pending job once it is scheduled, so the check has to be here, on the node."""
    record = store.read_run(path.name, path.parent)
    if store.read_stop(path) is not None:
        print("cancelled while queued: not started", flush=True)
        return 0
    os.chdir(REPO)
    os.execvp(record.command[0], list(record.command))
    return 1  # not reached


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--exec"] and len(argv) == 2:
        path = Path(argv[1]).resolve()
        store.check_run_id(path.name)
        return exec_trainer(path)
    if len(argv) != 1:
        print("usage: python -m training.launcher [--exec] RUNS_DIR/<run id>", file=sys.stderr)
        return 2
    # Its own session already; a hang-up of a terminal it was started from must not end it either.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    path = Path(argv[0]).resolve()
    store.check_run_id(path.name)
    return supervise(path)


if __name__ == "__main__":
    sys.exit(main())
