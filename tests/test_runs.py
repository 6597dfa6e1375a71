"""The run manager (training/runs.py): launching, limits, status from disk, Stop, crashes, cleanup.

These tests drive a stand-in trainer, a small script written into tmp_path that speaks the trainer's
contract (flags, events.jsonl, SIGTERM -> "stopped") but sleeps instead of training, so each test can
choose how the process behaves: finish, crash, ignore SIGTERM, start a worker of its own.
The real trainer is driven by tests/test_training_page.py and tests/test_browser_training.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.processes import group_exists, process_exists, wait_for
from training import runs

STAND_IN = textwrap.dedent(
    """
    import argparse, json, os, signal, subprocess, sys, time
    from pathlib import Path

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mode", default="train")  # train | crash | fail | ignore-term | spawn
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0.01)
    args, _ = parser.parse_known_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    events = open(out / "events.jsonl", "a")

    def emit(**event):
        events.write(json.dumps(event) + "\\n")
        events.flush()

    def on_term(signum, frame):
        emit(event="end", status="stopped")
        sys.exit(0)

    emit(event="start", params=1234, device="cpu", config=vars(args))
    print("stand-in trainer started", flush=True)
    if args.mode == "crash":
        raise RuntimeError("stand-in crashed on purpose")
    if args.mode == "fail":
        emit(event="end", status="failed", error="CUDA out of memory (stand-in)")
        print("Traceback: CUDA out of memory (stand-in)", file=sys.stderr, flush=True)
        sys.exit(1)
    if args.mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, on_term)
    if args.mode == "spawn":  # a worker in the same process group, like a DataLoader worker
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        (out / "worker.pid").write_text(str(worker.pid))
    for epoch in range(1, args.epochs + 1):
        for batch in range(1, args.batches + 1):
            time.sleep(args.sleep)
            emit(event="batch", epoch=epoch, batch=batch, of=args.batches, loss=1.0 / (epoch * batch),
                 lr=0.01, images_per_s=1000.0)
            print(f"epoch {epoch} batch {batch}/{args.batches}", flush=True)
        emit(event="epoch", epoch=epoch, train_loss=0.5 / epoch, train_acc=80.0 + epoch,
             test_loss=0.4 / epoch, test_acc=90.0 + epoch, seconds=0.1)
    emit(event="end", status="done", best_test_acc=90.0 + args.epochs)
    """
)


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A private runs folder; every trainer a test leaves running is killed afterwards."""
    folder = tmp_path / "runs"
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(folder))
    monkeypatch.delenv(runs.MAX_RUNS_ENV, raising=False)
    monkeypatch.delenv(runs.KEEP_RUNS_ENV, raising=False)
    yield folder
    runs.terminate_children(grace=0.5)


@pytest.fixture
def stand_in(tmp_path):
    script = tmp_path / "stand_in_trainer.py"
    script.write_text(STAND_IN)

    def trainer(mode: str = "train", batches: int = 4, sleep: float = 0.01) -> tuple[str, ...]:
        return (sys.executable, str(script), "--mode", mode, "--batches", str(batches), "--sleep", str(sleep))

    return trainer


def wait_until_finished(run_id: str, root: Path) -> str:
    return wait_for(lambda: runs.run_status(run_id, root) != runs.RUNNING and runs.run_status(run_id, root),
                    what=f"run {run_id} to finish")  # fmt: skip


def test_run_ids_are_generated_well_formed_and_anything_else_is_refused(root):
    ids = {runs.new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(runs.check_run_id(run_id) == run_id for run_id in ids)
    for bad in ["../../etc", "20240101-000000-abcdeg", "20240101-000000-abcdef\n", "", None, 7,
                "20240101-000000-abcdef/../x", "/tmp/20240101-000000-abcdef"]:  # fmt: skip
        with pytest.raises(runs.RunError):
            runs.check_run_id(bad)
        with pytest.raises(runs.RunError):
            runs.run_dir(bad, root)


def test_a_run_finishes_and_its_history_row_reads_the_last_epoch(root, stand_in):
    config = runs.TrainConfig(epochs=2, data_dir="/nowhere/needed")
    run_id = runs.start_run(config, root, trainer=stand_in())

    info = runs.read_run_info(run_id, root)
    assert info["command"][:2] == list(stand_in()[:2])  # an argument list, never a shell string
    assert info["command"][info["command"].index("--out") + 1] == str(root / run_id)
    assert info["pgid"] == info["pid"]
    assert wait_until_finished(run_id, root) == runs.DONE

    summary = runs.summarize(run_id, root)
    assert (summary.status, summary.epochs_done, summary.final_test_acc, summary.best_test_acc) == (
        runs.DONE,
        2,
        92.0,
        92.0,
    )  # the stand-in's last epoch reports test_acc = 90 + epoch
    assert json.loads((root / run_id / "status.json").read_text())["status"] == runs.DONE
    assert "epoch 2 batch 4/4" in runs.tail_text(root / run_id / "stdout.log")
    assert runs.list_runs(root) == [run_id]
    # Reaped once it exits: without the waitpid it would linger as a zombie and /proc/<pid> would stay.
    wait_for(lambda: runs.reap_children() or not process_exists(info["pid"]), what="the reap")


def test_event_tail_reads_only_new_bytes_and_waits_for_a_partial_line(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = runs.EventTail(path)
    assert tail.read_new() == []  # no file yet

    path.write_bytes(b'{"event": "start", "params": 5}\n{"event": "bat')
    assert tail.read_new() == [{"event": "start", "params": 5}]
    with open(path, "ab") as f:
        f.write(b'ch", "epoch": 1, "batch": 1, "of": 2, "loss": 0.5}\nnot json\n\n')
    assert tail.read_new() == [{"event": "batch", "epoch": 1, "batch": 1, "of": 2, "loss": 0.5}]
    assert tail.offset == path.stat().st_size
    assert tail.read_new() == []

    progress = runs.RunProgress()
    progress.add([{"event": "batch", "epoch": 1, "batch": 1, "of": 2, "loss": 0.5, "images_per_s": 100.0}])
    assert progress.epoch_fraction() == 0.5
    # 3 epochs of 2 batches, 1 done: 5 batches of 10 images left at 100 images/s.
    assert progress.eta_s(total_epochs=3, batch_size=10) == pytest.approx(0.5)


def test_the_log_tail_reads_the_end_of_a_big_file(tmp_path):
    path = tmp_path / "stdout.log"
    path.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert runs.tail_text(path, lines=3, max_bytes=1000) == "line 99997\nline 99998\nline 99999"


def test_stop_ends_a_cooperative_trainer_as_stopped(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(epochs=100), root, trainer=stand_in(sleep=0.2))
    info = runs.read_run_info(run_id, root)
    wait_for(lambda: (root / run_id / "events.jsonl").exists(), what="the first event")

    assert runs.stop_run(run_id, root, grace=10) == runs.STOPPED
    assert runs.load_progress(run_id, root).end == {"event": "end", "status": "stopped"}  # its own end event
    assert not group_exists(info["pgid"])
    assert not process_exists(info["pid"])  # reaped, not a zombie


def test_stop_kills_a_trainer_that_ignores_sigterm_and_its_workers(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(), root, trainer=stand_in("spawn", sleep=0.2))
    worker_file = root / run_id / "worker.pid"
    wait_for(worker_file.exists, what="the worker to start")
    worker = int(worker_file.read_text())
    info = runs.read_run_info(run_id, root)
    assert group_exists(info["pgid"])

    started = time.monotonic()
    assert runs.stop_run(run_id, root, grace=0.5) == runs.STOPPED  # killed on request: stopped, not failed
    assert time.monotonic() - started < 5
    assert not group_exists(info["pgid"])
    wait_for(lambda: not process_exists(worker), timeout=5, what="the worker to be reaped")


def test_stop_sigkills_after_the_grace_period(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(), root, trainer=stand_in("ignore-term", sleep=0.2))
    wait_for(lambda: (root / run_id / "events.jsonl").exists(), what="the first event")
    info = runs.read_run_info(run_id, root)
    assert runs.stop_run(run_id, root, grace=0.3) == runs.STOPPED
    assert not group_exists(info["pgid"])
    assert runs.load_progress(run_id, root).end is None  # it never wrote one: the status came from the marker


def test_a_crashing_trainer_is_failed_with_its_last_lines(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(), root, trainer=stand_in("crash"))
    assert wait_until_finished(run_id, root) == runs.FAILED
    assert "RuntimeError: stand-in crashed on purpose" in runs.log_tail(run_id, root)
    assert runs.summarize(run_id, root).status == runs.FAILED


def test_a_failed_end_event_carries_the_error(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(), root, trainer=stand_in("fail"))
    assert wait_until_finished(run_id, root) == runs.FAILED
    assert runs.summarize(run_id, root).error == "CUDA out of memory (stand-in)"


def test_a_trainer_killed_from_outside_is_failed(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(epochs=100), root, trainer=stand_in(sleep=0.2))
    assert runs.run_status(run_id, root) == runs.RUNNING
    os.killpg(runs.read_run_info(run_id, root)["pgid"], signal.SIGKILL)  # as the OOM killer would
    assert wait_until_finished(run_id, root) == runs.FAILED


def test_a_recycled_pid_is_not_taken_for_a_live_run(root):
    # An unrelated process that happens to have the pid recorded in run.json.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_id = runs.new_run_id()
        (root / run_id).mkdir(parents=True)
        real_start = runs.process_start_time(other.pid)
        info = {"id": run_id, "config": {}, "pid": other.pid, "pgid": other.pid, "proc_start": real_start - 1}
        (root / run_id / "run.json").write_text(json.dumps(info))
        assert runs.run_status(run_id, root) == runs.FAILED
        assert runs.active_runs(root) == []
        # The same pid with its true start time *is* taken as alive: the check is not simply "always dead".
        (root / run_id / "run.json").write_text(json.dumps({**info, "proc_start": real_start}))
        assert runs.run_status(run_id, root) == runs.RUNNING
    finally:
        other.kill()
        other.wait()


def test_a_second_run_is_refused_while_one_runs(root, stand_in, monkeypatch):
    first = runs.start_run(runs.TrainConfig(epochs=100), root, trainer=stand_in(sleep=0.2))
    with pytest.raises(runs.RunRefused, match=f"already running \\({first}\\); at most 1 at a time"):
        runs.start_run(runs.TrainConfig(), root, trainer=stand_in())
    assert runs.list_runs(root) == [first]

    monkeypatch.setenv(runs.MAX_RUNS_ENV, "2")
    second = runs.start_run(runs.TrainConfig(epochs=100), root, trainer=stand_in(sleep=0.2))
    assert sorted(runs.active_runs(root)) == sorted([first, second])


def test_two_tabs_clicking_at_once_start_exactly_one_run(root, stand_in):
    clicks = 6
    barrier = threading.Barrier(clicks)
    outcomes: list[str] = []

    def click():
        barrier.wait()
        try:
            runs.start_run(runs.TrainConfig(epochs=100), root, trainer=stand_in(sleep=0.2))
            outcomes.append("started")
        except runs.RunRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * (clicks - 1) + ["started"]
    assert len(runs.list_runs(root)) == 1 and len(runs.active_runs(root)) == 1


def test_old_finished_runs_are_pruned_but_never_a_running_one(root, stand_in, monkeypatch):
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "5")
    oldest_running = runs.start_run(runs.TrainConfig(epochs=100), root, trainer=stand_in(sleep=0.2))
    time.sleep(1.1)  # ids carry the launch second: make this one sort as the oldest
    finished = []
    for _ in range(3):
        finished.append(runs.start_run(runs.TrainConfig(), root, trainer=stand_in()))
        wait_until_finished(finished[-1], root)
    monkeypatch.setenv(runs.KEEP_RUNS_ENV, "2")
    newest = runs.start_run(runs.TrainConfig(), root, trainer=stand_in())  # launching prunes

    remaining = set(runs.list_runs(root))
    assert oldest_running in remaining and newest in remaining
    assert len(remaining) == 2
    assert not any((root / run_id).exists() for run_id in finished)


def test_bad_settings_get_one_line_messages(root, monkeypatch):
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "lots")
    with pytest.raises(runs.RunError, match="BACKPROP_LAB_MAX_RUNS must be a whole number"):
        runs.max_concurrent_runs()
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "0")
    with pytest.raises(runs.RunError, match="at least 1"):
        runs.max_concurrent_runs()
    bad_configs = [
        (runs.TrainConfig(epochs=0), "epochs"),
        (runs.TrainConfig(lr=float("nan")), "rate"),
        (runs.TrainConfig(device="tpu"), "device"),
        (runs.TrainConfig(batch_size=0), "batch"),
        (runs.TrainConfig(limit_train=-1), "limit train"),
    ]
    for config, message in bad_configs:
        with pytest.raises(runs.RunError, match=message):
            runs.start_run(config, root)
    assert runs.list_runs(root) == []


def test_a_bad_keep_setting_refuses_the_launch_and_starts_nothing(root, monkeypatch, stand_in):
    monkeypatch.setenv(runs.KEEP_RUNS_ENV, "0")
    with pytest.raises(runs.RunError, match="BACKPROP_LAB_KEEP_RUNS must be at least 1"):
        runs.start_run(runs.TrainConfig(), root, trainer=stand_in())
    assert runs.list_runs(root) == []  # not an error shown for a run that is training all the same


def test_trainers_are_stopped_when_the_app_process_exits(tmp_path, stand_in):
    """The app registers an atexit cleanup: when it exits, the trainers it started go with it."""
    app = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from training import runs
        root = Path({str(tmp_path / "runs")!r})
        run_id = runs.start_run(runs.TrainConfig(epochs=100), root, trainer={stand_in(sleep=0.2)!r})
        print(runs.read_run_info(run_id, root)["pid"], run_id)
        """
    )
    command = [sys.executable, "-c", app]
    done = subprocess.run(command, cwd=runs.REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pid, run_id = done.stdout.split()
    assert not group_exists(int(pid))
    assert runs.run_status(run_id, tmp_path / "runs") == runs.STOPPED


def test_another_process_finds_the_run_and_can_stop_it(root, stand_in):
    """What an app restart or a second server sees: nothing but the runs folder and /proc."""
    run_id = runs.start_run(runs.TrainConfig(epochs=100), root, trainer=stand_in(sleep=0.2))
    other_app = textwrap.dedent(
        f"""
        from pathlib import Path
        from training import runs
        root = Path({str(root)!r})
        print(runs.list_runs(root), runs.run_status({run_id!r}, root), runs.stop_run({run_id!r}, root, grace=10))
        """
    )
    command = [sys.executable, "-c", other_app]
    done = subprocess.run(command, cwd=runs.REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [f"['{run_id}']", "running", "stopped"]
    assert runs.run_status(run_id, root) == runs.STOPPED


def test_a_trainer_that_cannot_be_started_leaves_no_run_behind(root, tmp_path):
    with pytest.raises(runs.RunError, match="could not start the trainer"):
        runs.start_run(runs.TrainConfig(), root, trainer=(str(tmp_path / "no-such-python"),))
    assert list(root.iterdir()) == [root / ".launch.lock"]
