"""Runs as Ray jobs: the second implementation of training.launcher.Backend (BACKPROP_LAB_RAY_ADDRESS).

Each Start is handed to the cluster at once with JobSubmissionClient.submit_job; Ray's own scheduler
queues it (PENDING, shown as "queued, position n of m") until a node has the resources it asks for, then
runs it there. Stop is stop_job (Ray sends SIGTERM to the job's processes, then SIGKILL after
RAY_JOB_STOP_WAIT_TIME_S, 3 s by default). The job's submission id is the run id, so any server, a
restarted one included, finds the job from the run folder alone.

What the cluster needs (docs/ARCHITECTURE.md, "Runs on a Ray cluster"):
- the runs folder on storage every node mounts at the same path (NFS, a shared disk): the trainer writes
  events.jsonl and best.pt there with --out, and the page tails them as for a local run;
- this checkout (or the installed package) and the trainer's requirements at the same path on every node;
  the job gets PYTHONPATH pointing at it;
- the dashboard's job API reachable from the server (the address, e.g. http://head:8265).
The log is Ray's job log (get_job_logs), so it needs no shared storage.

Ray is an optional install (requirements-cluster.txt); nothing imports this module unless the address is set.
"""

from __future__ import annotations

import functools
import os
import shlex
import time
from pathlib import Path

from . import store
from .launcher import ALIVE, GONE, PENDING, REPO
from .store import ProcessRecord, RunRecord, Unreadable

GPUS_ENV = "BACKPROP_LAB_RAY_GPUS"  # GPUs each run asks for (default 1); 0 on a CPU-only cluster
CPUS_ENV = "BACKPROP_LAB_RAY_CPUS"  # CPUs each run asks for when it asks for no GPU (default 1)
STOP_TIMEOUT_S = 30.0  # after stop_job, how long to wait for Ray to report the job ended


@functools.lru_cache(maxsize=4)
def _client(address: str):
    from ray.job_submission import JobSubmissionClient  # lazily: Ray is optional

    return JobSubmissionClient(address)


def _resources(record: RunRecord) -> dict[str, float]:
    """One GPU per run (several runs may share a large GPU by asking for a fraction, e.g. 0.5), or CPUs
    when the cluster has no GPU or the run asked for the CPU."""
    gpus = float(os.environ.get(GPUS_ENV, "1") or 1)
    if gpus > 0 and record.config.device != "cpu":
        return {"entrypoint_num_gpus": gpus}
    return {"entrypoint_num_cpus": float(os.environ.get(CPUS_ENV, "1") or 1)}


class RayBackend:
    name = "ray"
    queues_itself = True

    def __init__(self, address: str):
        self.address = address

    def client(self):
        try:
            return _client(self.address)
        except Exception as error:  # noqa: BLE001 (ConnectionError, RuntimeError: whatever Ray raises)
            raise Unreadable(f"the Ray cluster at {self.address} does not answer: {_line(error)}") from None

    def launch(self, record: RunRecord, path: Path) -> None:
        # Ray runs the entrypoint through a shell; shlex.join quotes every argument, and each is the
        # interpreter of the recorded command or our own run folder's path, never free text. The
        # entrypoint checks for a cancel, then execs run.json's command (training.launcher --exec).
        entrypoint = [record.command[0], "-m", "training.launcher", "--exec", str(path)]
        job_id = self.client().submit_job(
            entrypoint=shlex.join(entrypoint),
            submission_id=record.id,
            runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
            metadata={"owner": record.owner, "backprop_lab_run": record.id},
            **_resources(record),
        )
        store.mark(path, "process.json", {"job_id": job_id, "started_unix": time.time()})

    def _status(self, process: ProcessRecord) -> str:
        try:
            return str(self.client().get_job_status(process.job_id))
        except Unreadable:
            raise
        except Exception as error:  # noqa: BLE001
            raise Unreadable(f"Ray does not know job {process.job_id}: {_line(error)}") from None

    def state(self, record: RunRecord, process: ProcessRecord) -> str:
        status = self._status(process).rsplit(".", 1)[-1].upper()  # JobStatus.RUNNING -> RUNNING
        if status == "PENDING":
            return PENDING
        if status == "RUNNING":
            return ALIVE
        return GONE  # SUCCEEDED, FAILED, STOPPED

    def stop(self, record: RunRecord, process: ProcessRecord, grace: float) -> None:
        pending = self.state(record, process) == PENDING
        self.client().stop_job(process.job_id)
        if pending:  # Ray delivers it once the job is scheduled; the entrypoint then starts nothing
            return
        deadline = time.monotonic() + max(grace, 0) + STOP_TIMEOUT_S
        while self.state(record, process) != GONE and time.monotonic() < deadline:
            time.sleep(0.2)

    def log_tail(self, record: RunRecord, path: Path, lines: int) -> str | None:
        process = store.read_process(path)
        if process is None or process.job_id is None:
            return ""
        try:
            text = self.client().get_job_logs(process.job_id)
        except Exception as error:  # noqa: BLE001
            return f"(the job's log cannot be read from Ray: {_line(error)})"
        return "\n".join(text.splitlines()[-lines:])


def _line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:120]
