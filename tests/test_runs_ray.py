"""Runs as Ray jobs (training/ray_backend.py) against a real Ray head started here on 127.0.0.1.

The head offers one CPU and no GPU, so with BACKPROP_LAB_RAY_GPUS=0 each run asks for one CPU: the first
runs, the second waits in Ray's own queue. The trainer is the stand-in of tests/test_runs.py (it writes
events.jsonl into the run folder, which this one machine shares with the "cluster"). The head is
stopped by its process group and by the processes that name its temp folder, never by `ray stop` (which
would stop any other Ray on this machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.processes import wait_for
from tests.streamlit_server import free_port
from tests.test_runs import ALICE, BOB, TEACHER, stand_in  # noqa: F401 (stand_in is a fixture)
from training import owners, runs

pytestmark = [pytest.mark.slow]
ray = pytest.importorskip("ray", reason="Ray is an optional install (requirements-cluster.txt)")
HEAD_TIMEOUT_S = 120  # `ray start` on a busy 2-core machine


@pytest.fixture(scope="module")
def ray_head():
    from ray.job_submission import JobSubmissionClient

    temp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Ray's unix sockets live under it
    dashboard = free_port()
    command = [
        sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block",
        "--node-ip-address=127.0.0.1", f"--port={free_port()}", "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}", "--include-dashboard=true", "--num-cpus=1", "--num-gpus=0",
        f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
        f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
        f"--metrics-export-port={free_port()}", f"--temp-dir={temp}", "--disable-usage-stats",
    ]  # fmt: skip
    log = open(temp / "head.log", "wb")  # noqa: SIM115
    head = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + HEAD_TIMEOUT_S
        while True:
            assert head.poll() is None, (temp / "head.log").read_text()[-3000:]
            with contextlib.suppress(Exception):
                JobSubmissionClient(address).list_jobs()
                break
            assert time.monotonic() < deadline, (
                "the Ray head did not answer:\n" + (temp / "head.log").read_text()[-3000:]
            )
            time.sleep(1)
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(timeout=30)
        for process in psutil.process_iter(["cmdline"]):  # anything Ray started in a session of its own
            with contextlib.suppress(psutil.Error):
                if str(temp) in " ".join(process.info["cmdline"] or []):
                    process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=30)
        log.close()


@pytest.fixture
def root(tmp_path, monkeypatch, ray_head):
    folder = tmp_path / "runs"
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(folder))
    monkeypatch.setenv(runs.RAY_ADDRESS_ENV, ray_head)
    monkeypatch.setenv("BACKPROP_LAB_RAY_GPUS", "0")  # a CPU-only cluster: each run asks for one CPU
    monkeypatch.delenv(runs.MAX_RUNS_ENV, raising=False)
    monkeypatch.delenv(owners.INSTRUCTORS_ENV, raising=False)
    yield folder
    for run_id in runs.list_runs(owners.LOCAL, folder):
        with contextlib.suppress(runs.RunError):
            runs.stop_run(run_id, owners.LOCAL, folder, grace=1)


def submit(root, stand_in, viewer, sleep=0.2):  # noqa: F811
    return runs.start_run(runs.TrainConfig(epochs=100), viewer, root, trainer=stand_in(sleep=sleep))


def test_a_ray_run_is_submitted_streamed_and_stopped(root, stand_in):  # noqa: F811
    run_id = submit(root, stand_in, ALICE)
    record = json.loads((root / run_id / "run.json").read_text())
    assert record["backend"] == "ray"
    assert json.loads((root / run_id / "process.json").read_text())["job_id"] == run_id
    wait_for(lambda: runs.run_status(run_id, root) == runs.RUNNING, 90, "Ray to run the job")
    events = root / run_id / "events.jsonl"
    wait_for(events.exists, 60, "the first event")
    size = events.stat().st_size
    wait_for(lambda: events.stat().st_size > size, 30, "events to stream in")
    wait_for(lambda: "batch" in runs.log_tail(run_id, ALICE, root), 30, "the job's log through Ray")
    assert b"stand-in trainer started" in runs.run_file(run_id, "stdout.log", ALICE, root)  # the download
    with pytest.raises(runs.RunError, match="no such run"):
        runs.log_tail(run_id, BOB, root)  # the owners' rules hold for Ray runs too

    assert runs.stop_run(run_id, ALICE, root, grace=1) == runs.STOPPED
    assert runs.load_progress(run_id, root).end == {
        "event": "end",
        "status": "stopped",
    }  # its own SIGTERM path
    from ray.job_submission import JobSubmissionClient

    assert str(JobSubmissionClient(os.environ[runs.RAY_ADDRESS_ENV]).get_job_status(run_id)).endswith(
        "STOPPED"
    )


def test_a_second_ray_run_waits_for_the_one_slot_and_a_restarted_server_finds_both(root, stand_in):  # noqa: F811
    first = submit(root, stand_in, ALICE)
    wait_for(lambda: runs.run_status(first, root) == runs.RUNNING, 90, "the first job to run")
    second = submit(root, stand_in, BOB)
    third = submit(root, stand_in, TEACHER)
    time.sleep(3)  # long enough for Ray to have started it, were there room
    assert runs.run_status(second, root) == runs.QUEUED  # Ray holds it PENDING: one CPU, taken
    assert runs.queue_position(second, root) == (1, 2) and runs.queue_position(third, root) == (2, 2)
    assert not (root / second / "events.jsonl").exists()
    with pytest.raises(runs.RunRefused, match="You already have a run waiting"):
        submit(root, stand_in, BOB)
    assert runs.cancel_run(third, TEACHER, root) == runs.CANCELLED

    # A new server process: nothing but the runs folder and the head's address. It finds the jobs and
    # stops the first; Ray's scheduler then starts the second.
    restarted = textwrap.dedent(
        f"""
        from pathlib import Path
        from training import runs
        from training.owners import LOCAL
        root = Path({str(root)!r})
        print(runs.run_status({first!r}, root), runs.run_status({second!r}, root),
              runs.stop_run({first!r}, LOCAL, root, grace=1))
        """
    )
    done = subprocess.run([sys.executable, "-c", restarted], cwd=runs.REPO, capture_output=True, text=True,
                          timeout=120, env=os.environ.copy())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["running", "queued", "stopped"]
    wait_for(lambda: runs.run_status(second, root) == runs.RUNNING, 90, "the second job to take the slot")
    assert runs.stop_run(second, BOB, root, grace=1) == runs.STOPPED
    assert runs.run_status(third, root) == runs.CANCELLED
    assert not (root / third / "events.jsonl").exists()  # cancelled while pending: it never ran
