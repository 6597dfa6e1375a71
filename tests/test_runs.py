"""The run manager (training/runs.py and its parts): launching, the queue, owners, status from disk, Stop,
crashes, damaged folders, and runs that outlive the process that started them.

These tests drive a stand-in trainer, a small script written into tmp_path that speaks the trainer's
contract (flags, events.jsonl, SIGTERM -> "stopped") but sleeps instead of training, so each test can
choose how the process behaves: finish, crash, ignore SIGTERM, start a worker of its own.
The real trainer is driven by tests/test_training_page.py and tests/test_browser_training.py.
Process checks come from tests/processes.py (/proc and killpg), never from the code under test.
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
from training import owners, runs, store
from training.owners import LOCAL, Viewer

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

    # What the trainer found when it started: was its run already recorded?
    emit(event="start", params=1234, device="cpu", recorded=(out / "run.json").is_file(),
         started_unix=time.time())
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

ALICE = Viewer("alice@example.org", "Alice", False)
BOB = Viewer("bob@example.org", "Bob", False)
TEACHER = Viewer("teacher@example.org", "Teacher", True)


def stop_everything(folder: Path) -> None:
    """Teardown: cancel the queue, then stop whatever still runs, so no test leaves a trainer behind."""
    for run_id in store.list_ids(folder):
        try:
            runs.stop_run(run_id, LOCAL, folder, grace=0.5)
        except runs.RunError:
            continue


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A private runs folder; every trainer a test leaves running is stopped afterwards."""
    folder = tmp_path / "runs"
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(folder))
    for name in (runs.MAX_RUNS_ENV, runs.KEEP_RUNS_ENV, runs.RAY_ADDRESS_ENV, owners.INSTRUCTORS_ENV):
        monkeypatch.delenv(name, raising=False)
    yield folder
    stop_everything(folder)


@pytest.fixture
def stand_in(tmp_path):
    script = tmp_path / "stand_in_trainer.py"
    script.write_text(STAND_IN)

    def trainer(mode: str = "train", batches: int = 4, sleep: float = 0.01) -> tuple[str, ...]:
        return (sys.executable, str(script), "--mode", mode, "--batches", str(batches), "--sleep", str(sleep))

    return trainer


def wait_until_finished(run_id: str, root: Path, timeout: float = 30) -> str:
    def finished():
        status = runs.run_status(run_id, root)
        return status in runs.FINAL and status

    return wait_for(finished, timeout=timeout, what=f"run {run_id} to finish")


def wait_running(run_id: str, root: Path) -> dict:
    """Until the run's trainer is up; its process.json, read as plain JSON (not through the store)."""
    wait_for(lambda: runs.run_status(run_id, root) == runs.RUNNING, what=f"run {run_id} to run")
    wait_for(lambda: (root / run_id / "events.jsonl").exists(), what="the first event")
    return json.loads((root / run_id / "process.json").read_text())


def long_run(root: Path, stand_in, viewer: Viewer = LOCAL, **kwargs) -> str:
    return runs.start_run(runs.TrainConfig(epochs=100), viewer, root, trainer=stand_in(sleep=0.2, **kwargs))


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
        for action in (runs.stop_run, runs.cancel_run, runs.log_tail, runs.read_run):
            with pytest.raises(runs.RunError, match="not a run id"):
                action(bad, LOCAL, root)
        with pytest.raises(runs.RunError, match="not a run id"):
            runs.run_file(bad, "stdout.log", LOCAL, root)
    with pytest.raises(runs.RunError, match="not a run file"):
        runs.run_file(runs.new_run_id(), "../run.json", LOCAL, root)


def test_runs_submitted_within_one_second_are_listed_newest_first(root):
    # Ids are to the second; their random tails must not decide which of two same-second runs is newer.
    first, second = "20261204-083714-ffffff", "20261204-083714-000000"
    for run_id, submitted in ((first, 100.25), (second, 100.5)):
        (root / run_id).mkdir(parents=True)
        (root / run_id / "run.json").write_text(json.dumps({"submitted_unix": submitted}))
    (root / "20261204-083713-aaaaaa").mkdir()  # an older second, with no run.json: still listed, last
    assert store.list_ids(root) == [second, first, "20261204-083713-aaaaaa"]


def test_a_run_finishes_and_its_history_row_reads_the_last_epoch(root, stand_in):
    config = runs.TrainConfig(epochs=2, data_dir="/nowhere/needed")
    run_id = runs.start_run(config, LOCAL, root, trainer=stand_in())

    info = json.loads((root / run_id / "run.json").read_text())
    assert info["command"][:2] == list(stand_in()[:2])  # an argument list, never a shell string
    assert info["command"][info["command"].index("--out") + 1] == str(root / run_id)
    assert info["owner"] == "local"
    assert wait_until_finished(run_id, root) == runs.DONE

    summary = runs.summarize(run_id, root)
    assert (summary.status, summary.epochs_done, summary.final_test_acc, summary.best_test_acc) == (
        runs.DONE,
        2,
        92.0,
        92.0,
    )  # the stand-in's last epoch reports test_acc = 90 + epoch
    assert summary.label == "done"
    assert runs.load_progress(run_id, root).start["recorded"] is True  # run.json existed before it ran
    assert not (root / run_id / "status.json").exists()  # no cached second truth
    assert "epoch 2 batch 4/4" in runs.log_tail(run_id, LOCAL, root)
    assert b"epoch 2 batch 4/4" in runs.run_file(run_id, "stdout.log", LOCAL, root)
    assert runs.list_runs(LOCAL, root) == [run_id]
    # Reaped once it exits (by its supervisor): no zombie lingers under /proc.
    pid = json.loads((root / run_id / "process.json").read_text())["pid"]
    wait_for(lambda: not process_exists(pid), what="the trainer to be reaped")


def test_event_tail_reads_only_new_bytes_and_waits_for_a_partial_line(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = runs.EventTail(path)
    assert tail.read_new() == []  # no file yet

    path.write_bytes(b'{"event": "start", "params": 5}\n{"event": "bat')
    assert tail.read_new() == [{"event": "start", "params": 5}]
    assert tail.cut_off and tail.problem is None  # mid-write is normal, not damage
    with open(path, "ab") as f:
        f.write(b'ch", "epoch": 1, "batch": 1, "of": 2, "loss": 0.5}\nnot json\n\n')
    assert tail.read_new() == [{"event": "batch", "epoch": 1, "batch": 1, "of": 2, "loss": 0.5}]
    assert tail.problem == "events.jsonl line 3 is not JSON"
    assert tail.offset == path.stat().st_size
    assert tail.read_new() == []

    progress = runs.RunProgress()
    progress.add([{"event": "batch", "epoch": 1, "batch": 1, "of": 2, "loss": 0.5, "images_per_s": 100.0}])
    assert progress.epoch_fraction() == 0.5
    # 3 epochs of 2 batches, 1 done: 5 batches of 10 images left at 100 images/s.
    assert progress.eta_s(total_epochs=3, batch_size=10) == pytest.approx(0.5)


def test_events_with_wrong_types_are_left_out_and_named(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [
        {"event": "batch", "epoch": "3", "batch": 1, "of": 2, "loss": 0.1},  # a str where an int is compared
        {"event": "batch", "epoch": 1, "batch": 1, "of": 0, "loss": 0.1},  # would divide by zero
        {"event": "epoch", "epoch": 1, "test_acc": "high"},
        {"event": "end", "status": "many"},
        [1, 2],
        {"event": "epoch", "epoch": 1, "test_acc": 97.5},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    progress, tail = runs.read_progress(path)
    assert progress.epochs == [lines[-1]] and progress.last_batch is None and progress.end is None
    assert tail.problem == "events.jsonl line 1: a batch event without whole-number epoch, batch and of"
    assert progress.current_epoch() == 1 and progress.epoch_fraction() == 1.0  # no TypeError anywhere


def test_the_log_tail_reads_the_end_of_a_big_file(tmp_path):
    path = tmp_path / "stdout.log"
    path.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert runs.tail_text(path, lines=3, max_bytes=1000) == "line 99997\nline 99998\nline 99999"


def test_stop_ends_a_cooperative_trainer_as_stopped_and_records_who(root, stand_in):
    run_id = long_run(root, stand_in)
    info = wait_running(run_id, root)

    assert runs.stop_run(run_id, LOCAL, root, grace=10) == runs.STOPPED
    assert runs.load_progress(run_id, root).end == {"event": "end", "status": "stopped"}  # its own end event
    assert json.loads((root / run_id / "stop.json").read_text())["by"] == "local"
    assert not group_exists(info["pid"])
    assert not process_exists(info["pid"])  # reaped, not a zombie


def test_stop_kills_a_trainer_that_ignores_sigterm_and_its_workers(root, stand_in):
    run_id = long_run(root, stand_in, mode="spawn")
    worker_file = root / run_id / "worker.pid"
    wait_for(worker_file.exists, what="the worker to start")
    worker = int(worker_file.read_text())
    info = wait_running(run_id, root)
    assert group_exists(info["pid"])

    started = time.monotonic()
    assert runs.stop_run(run_id, LOCAL, root, grace=0.5) == runs.STOPPED  # on request: stopped, not failed
    assert time.monotonic() - started < 5
    assert not group_exists(info["pid"])
    wait_for(lambda: not process_exists(worker), timeout=5, what="the worker to be reaped")


def test_stop_sigkills_after_the_grace_period(root, stand_in):
    run_id = long_run(root, stand_in, mode="ignore-term")
    info = wait_running(run_id, root)
    assert runs.stop_run(run_id, LOCAL, root, grace=0.3) == runs.STOPPED
    assert not group_exists(info["pid"])
    assert runs.load_progress(run_id, root).end is None  # it never wrote one: the status came from stop.json


def test_a_crashing_trainer_is_failed_with_its_last_lines(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(), LOCAL, root, trainer=stand_in("crash"))
    assert wait_until_finished(run_id, root) == runs.FAILED
    assert "RuntimeError: stand-in crashed on purpose" in runs.log_tail(run_id, LOCAL, root)
    summary = runs.summarize(run_id, root)
    assert (
        summary.status == runs.FAILED and summary.error == "the trainer exited with code 1 without finishing"
    )


def test_a_failed_end_event_carries_the_error(root, stand_in):
    run_id = runs.start_run(runs.TrainConfig(), LOCAL, root, trainer=stand_in("fail"))
    assert wait_until_finished(run_id, root) == runs.FAILED
    assert runs.summarize(run_id, root).error == "CUDA out of memory (stand-in)"


def test_a_trainer_killed_from_outside_is_failed_and_the_queue_moves_on_with_no_page_open(root, stand_in):
    first = long_run(root, stand_in)
    second = long_run(root, stand_in, viewer=BOB)
    assert runs.run_status(second, root) == runs.QUEUED
    info = wait_running(first, root)
    os.killpg(info["pid"], signal.SIGKILL)  # as the OOM killer would
    # Nothing here calls the run manager: the first run's supervisor promotes the second by itself.
    wait_for(lambda: (root / second / "process.json").exists(), what="the queued run to start by itself")
    state = runs.run_state(first, root)
    assert state == runs.RunState(
        runs.FAILED, "the trainer was killed by SIGKILL (out of memory, or killed from outside)"
    )
    assert runs.run_status(second, root) == runs.RUNNING


def test_a_sigterm_from_outside_is_not_called_stopped_on_request(root, stand_in):
    run_id = long_run(root, stand_in)
    info = wait_running(run_id, root)
    os.kill(info["pid"], signal.SIGTERM)  # e.g. an administrator's kill; nobody pressed Stop
    assert wait_until_finished(run_id, root) == runs.FAILED
    assert "not by its Stop button" in runs.run_state(run_id, root).reason


def test_a_recycled_pid_is_not_taken_for_a_live_run(root):
    import psutil  # the oracle for the real start time is /proc's own field, read by hand below

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_id = runs.new_run_id()
        record = runs.RunRecord(run_id, "local", "you", runs.TrainConfig(), ("x",), time.time(), "local")
        store.create_run(record, root)
        store.mark(root / run_id, "launch.json", {"at_unix": time.time()})
        ticks = int(Path(f"/proc/{other.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        real_start = psutil.boot_time() + ticks / os.sysconf("SC_CLK_TCK")
        info = {"pid": other.pid, "create_time": real_start - 1, "started_unix": time.time()}
        (root / run_id / "process.json").write_text(json.dumps(info))
        assert runs.run_status(run_id, root) == runs.FAILED
        assert runs.active_runs(root) == []
        # The same pid with its true start time *is* taken as alive: the check is not simply "always dead".
        (root / run_id / "process.json").write_text(json.dumps({**info, "create_time": real_start}))
        assert runs.run_status(run_id, root) == runs.RUNNING
    finally:
        other.kill()
        other.wait()


def test_a_second_start_is_queued_with_its_position_and_one_queued_run_per_owner(root, stand_in, monkeypatch):
    first = long_run(root, stand_in, viewer=ALICE)
    second = long_run(root, stand_in, viewer=BOB)
    third = long_run(root, stand_in, viewer=TEACHER)
    assert runs.run_status(first, root) in runs.ACTIVE
    assert [runs.queue_position(run_id, root) for run_id in (first, second, third)] == [None, (1, 2), (2, 2)]
    with pytest.raises(
        runs.RunRefused, match=f"You already have a run waiting \\({second}, position 1 of 2\\)"
    ):
        long_run(root, stand_in, viewer=BOB)
    long_run(root, stand_in, viewer=ALICE)  # Alice's run is running, not waiting: she may queue one

    # Cancelling: not by another student, yes by the owner; the queue closes up behind it.
    with pytest.raises(runs.RunError, match="no such run"):
        runs.cancel_run(second, ALICE, root)
    assert runs.cancel_run(second, BOB, root) == runs.CANCELLED
    assert runs.queue_position(third, root) == (1, 2)
    with pytest.raises(runs.RunError, match="is not queued"):
        runs.cancel_run(first, ALICE, root)
    assert runs.stop_run(first, TEACHER, root, grace=5) == runs.STOPPED  # an instructor may stop anyone's
    wait_for(lambda: runs.run_status(third, root) in runs.ACTIVE, what="the next run to take the slot")
    assert runs.run_status(second, root) == runs.CANCELLED  # a cancelled run never starts
    assert not (root / second / "process.json").exists()

    monkeypatch.setenv(runs.MAX_RUNS_ENV, "3")  # more slots: the next promotion starts the rest at once
    runs.promote(root)
    assert runs.queue(root) == []


def test_ten_owners_pressing_start_at_once_get_one_slot_and_an_ordered_queue(root, stand_in):
    """Ten processes (separate servers, as far as the lock knows) submit at the same moment."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from training import runs
        from training.owners import Viewer
        owner, at = sys.argv[1], float(sys.argv[2])
        time.sleep(max(0.0, at - time.time()))
        run_id = runs.start_run(runs.TrainConfig(epochs=100), Viewer(owner, owner, False),
                                Path({str(root)!r}), trainer={stand_in(sleep=0.2)!r})
        print(run_id)
        """
    )
    at = time.time() + 4  # every process has imported the run manager by then
    processes = [
        subprocess.Popen([sys.executable, "-c", script, f"student{i}@example.org", str(at)],
                         cwd=runs.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(10)
    ]  # fmt: skip
    ids = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        ids.append(out.strip())
    assert len(set(ids)) == 10 and sorted(runs.list_runs(LOCAL, root)) == sorted(ids)
    assert len(runs.active_runs(root)) == 1  # BACKPROP_LAB_MAX_RUNS=1: never two at once
    order = runs.queue(root)
    assert len(order) == 9
    assert [runs.queue_position(run_id, root) for run_id in order] == [(i, 9) for i in range(1, 10)]
    submitted = [store.read_run(run_id, root).submitted_unix for run_id in order]
    assert submitted == sorted(submitted)  # first come, first served


def test_ten_threads_pressing_start_at_once_in_one_server(root, stand_in, monkeypatch):
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "2")
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def click(i: int):
        viewer = Viewer(f"s{i}@example.org", f"s{i}", False)
        barrier.wait()
        outcomes.append(
            runs.start_run(runs.TrainConfig(epochs=100), viewer, root, trainer=stand_in(sleep=0.2))
        )

    threads = [threading.Thread(target=click, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(outcomes)) == 10
    assert len(runs.active_runs(root)) == 2 and len(runs.queue(root)) == 8


@pytest.mark.slow
def test_a_queue_drains_in_order_with_no_page_open(root, stand_in):
    ids = [
        runs.start_run(runs.TrainConfig(epochs=1), viewer, root, trainer=stand_in(sleep=0.1))
        for viewer in (ALICE, BOB, TEACHER)
    ]
    # No call to the run manager while it drains: each run's supervisor starts the next.
    wait_for(lambda: all((root / i / "exit.json").exists() for i in ids), timeout=60, what="all three runs")
    starts = [json.loads((root / i / "process.json").read_text())["started_unix"] for i in ids]
    ends = [json.loads((root / i / "exit.json").read_text())["at_unix"] for i in ids]
    assert starts == sorted(starts)
    assert starts[1] >= ends[0] and starts[2] >= ends[1]  # one at a time
    assert [runs.run_status(i, root) for i in ids] == [runs.DONE] * 3


def test_owners_see_and_stop_only_their_own_runs(root, stand_in, monkeypatch):
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "2")
    alices = long_run(root, stand_in, viewer=ALICE)
    bobs = long_run(root, stand_in, viewer=BOB)
    assert runs.list_runs(ALICE, root) == [alices]
    assert [row.id for row in runs.history(BOB, root)] == [bobs]
    assert sorted(runs.list_runs(LOCAL, root)) == sorted([alices, bobs])  # no login: one person, everything
    for action in (runs.log_tail, runs.read_run, runs.stop_run):
        with pytest.raises(runs.RunError, match="no such run"):
            action(bobs, ALICE, root)
    with pytest.raises(runs.RunError, match="no such run"):
        runs.run_file(bobs, "stdout.log", ALICE, root)
    assert runs.run_status(bobs, root) in runs.ACTIVE  # Alice's attempt changed nothing

    monkeypatch.setenv(owners.INSTRUCTORS_ENV, "Teacher@Example.org, other@example.org")
    teacher = owners.logged_in("teacher@example.org", "T")
    assert teacher.instructor and not owners.logged_in("alice@example.org").instructor
    assert sorted(runs.list_runs(teacher, root)) == sorted([alices, bobs])
    wait_running(bobs, root)
    assert runs.log_tail(bobs, teacher, root)  # an instructor reads anyone's log
    assert runs.stop_run(bobs, teacher, root, grace=5) == runs.STOPPED
    with pytest.raises(ValueError):
        owners.logged_in("local")  # no login may claim the no-login user


def write_run(root: Path, run_json: object, extra: dict[str, bytes] | None = None) -> str:
    run_id = runs.new_run_id()
    folder = root / run_id
    folder.mkdir(parents=True)
    if run_json is not None:
        (folder / "run.json").write_bytes(
            run_json if isinstance(run_json, bytes) else json.dumps(run_json).encode()
        )
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    return run_id


def good_run_json(run_id: str = "") -> dict:
    record = runs.RunRecord(run_id, "local", "you", runs.TrainConfig(), ("python",), time.time(), "local")
    return record.to_json()


def test_each_kind_of_damaged_folder_is_one_unreadable_row_and_spoils_no_other(root, stand_in):
    good = runs.start_run(runs.TrainConfig(epochs=1), LOCAL, root, trainer=stand_in())
    wait_until_finished(good, root)
    cases = {}

    def case(why: str, make) -> None:
        time.sleep(0.002)
        cases[make()] = why

    def with_config(**config):
        def make():
            run_id = runs.new_run_id()
            data = good_run_json(run_id)
            data["config"].update(config)
            return write_run_as(run_id, data)

        return make

    def write_run_as(run_id, data, extra=None):
        (root / run_id).mkdir()
        (root / run_id / "run.json").write_text(json.dumps(data))
        for name, content in (extra or {}).items():
            (root / run_id / name).write_bytes(content)
        return run_id

    def launched_with(process: bytes):
        def make():
            run_id = runs.new_run_id()
            return write_run_as(
                run_id, good_run_json(run_id), {"launch.json": b'{"at_unix": 1}', "process.json": process}
            )

        return make

    def with_events(events: bytes):
        def make():
            run_id = runs.new_run_id()
            extra = {
                "launch.json": b'{"at_unix": 1}',
                "exit.json": b'{"returncode": 0}',
                "events.jsonl": events,
            }
            return write_run_as(run_id, good_run_json(run_id), extra)

        return make

    case("unreadable: run.json is not valid JSON", lambda: write_run(root, b'{"id": "x", "config": {'))
    case("unreadable: run.json is missing", lambda: write_run(root, None))
    case("unreadable: run.json is not a JSON object", lambda: write_run(root, [1, 2]))
    case(
        "unreadable: run.json: config: epochs must be a whole number, got 'many'",
        with_config(epochs="many"),
    )
    case("unreadable: run.json: config: ", with_config(lr="fast"))
    case("unreadable: run.json: id ", lambda: write_run(root, good_run_json("20000101-000000-abcdef")))
    case(
        "unreadable: process.json: pid must be int, got 'x'",
        launched_with(b'{"pid": "x", "create_time": 1, "started_unix": 1}'),
    )
    case("unreadable: process.json is not valid JSON", launched_with(b'{"pid": 12'))
    case("failed; unreadable: events.jsonl line 2: an epoch event whose test_acc is not a number",
         with_events(b'{"event": "start"}\n{"event": "epoch", "epoch": 1, "test_acc": "high"}\n'))  # fmt: skip
    case(
        "failed; unreadable: events.jsonl ends in a cut-off line",
        with_events(b'{"event": "start"}\n{"event": "epo'),
    )
    case("failed; unreadable: events.jsonl line 1 is not JSON", with_events(b"\xff\xfe garbage\n"))

    rows = {row.id: row for row in runs.history(LOCAL, root)}
    assert rows[good].label == "done" and rows[good].final_test_acc == 91.0  # untouched by its neighbours
    for run_id, why in cases.items():
        assert rows[run_id].label.startswith(why), (why, rows[run_id].label)
    # A damaged run.json has no owner to trust: only an instructor sees it.
    assert runs.list_runs(ALICE, root) == []


def test_a_read_only_runs_folder_gives_one_sentence(tmp_path, stand_in):
    """A real read-only mount (a bind mount made read-only in a private mount namespace, via unshare -m),
    since root ignores chmod. The history still reads; Start and Stop say one sentence."""
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -m is not permitted here (needs CAP_SYS_ADMIN)")
    folder = tmp_path / "runs"
    folder.mkdir()
    done = write_run(folder, good_run_json())
    (folder / done / "run.json").write_text(json.dumps(good_run_json(done)))
    check = textwrap.dedent(
        f"""
        from pathlib import Path
        from training import runs
        from training.owners import LOCAL
        root = Path({str(folder)!r})
        assert runs.promote(root) == []  # what every page load does: silently nothing
        print(len(runs.history(LOCAL, root)))
        for action in (lambda: runs.start_run(runs.TrainConfig(), LOCAL, root, trainer={stand_in()!r}),
                       lambda: runs.cancel_run({done!r}, LOCAL, root)):
            try:
                action()
            except runs.RunError as error:
                print(error)
        """
    )
    shell = 'mount --bind -o ro "$0" "$0" && exec "$1" -c "$2"'
    result = subprocess.run(["unshare", "-m", "sh", "-c", shell, str(folder), sys.executable, check],
                            cwd=runs.REPO, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    count, start_error, cancel_error = result.stdout.splitlines()
    assert count == "1"
    assert start_error == (
        f"The runs folder {folder} cannot be written (Read-only file system), so no run can be started or "
        f"stopped from here; set BACKPROP_LAB_RUNS to a writable folder."
    )
    assert "Read-only file system" in cancel_error or "is not queued" in cancel_error
    assert ".lock" not in result.stdout + result.stderr


def test_old_finished_runs_are_pruned_but_never_a_running_or_queued_one(root, stand_in, monkeypatch):
    oldest_running = long_run(root, stand_in)
    time.sleep(1.1)  # ids carry the submission second: make this one sort as the oldest
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "2")
    finished = []
    for _ in range(3):
        finished.append(runs.start_run(runs.TrainConfig(), LOCAL, root, trainer=stand_in()))
        wait_until_finished(finished[-1], root)
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "1")
    monkeypatch.setenv(runs.KEEP_RUNS_ENV, "2")
    queued = runs.start_run(runs.TrainConfig(), LOCAL, root, trainer=stand_in())  # submitting prunes
    assert runs.run_status(queued, root) == runs.QUEUED

    remaining = set(store.list_ids(root))
    assert remaining == {oldest_running, queued}
    assert not any((root / run_id).exists() for run_id in finished)


def test_bad_settings_get_one_line_messages(root, monkeypatch):
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "lots")
    with pytest.raises(runs.RunError, match="BACKPROP_LAB_MAX_RUNS must be a whole number"):
        runs.max_concurrent_runs()
    monkeypatch.setenv(runs.MAX_RUNS_ENV, "0")
    with pytest.raises(runs.RunError, match="at least 1"):
        runs.max_concurrent_runs()
    monkeypatch.delenv(runs.MAX_RUNS_ENV)
    bad_configs = [
        (runs.TrainConfig(epochs=0), "epochs"),
        (runs.TrainConfig(lr=float("nan")), "rate"),
        (runs.TrainConfig(device="tpu"), "device"),
        (runs.TrainConfig(batch_size=0), "batch"),
        (runs.TrainConfig(limit_train=-1), "limit train"),
    ]
    for config, message in bad_configs:
        with pytest.raises(runs.RunError, match=message):
            runs.start_run(config, LOCAL, root)
    assert store.list_ids(root) == []


def test_a_bad_keep_setting_refuses_the_launch_and_starts_nothing(root, monkeypatch, stand_in):
    monkeypatch.setenv(runs.KEEP_RUNS_ENV, "0")
    with pytest.raises(runs.RunError, match="BACKPROP_LAB_KEEP_RUNS must be at least 1"):
        runs.start_run(runs.TrainConfig(), LOCAL, root, trainer=stand_in())
    assert store.list_ids(root) == []  # not an error shown for a run that is training all the same


@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGKILL"])
def test_a_run_outlives_the_process_that_started_it_and_another_finds_and_stops_it(tmp_path, stand_in, how):
    """What a server restart or redeploy does: the starting process goes (by exiting, SIGTERM as systemd
    sends, or SIGKILL); the trainer goes on writing events; a new process finds it and stops it."""
    root = tmp_path / "runs"
    app = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from training import runs
        from training.owners import LOCAL
        root = Path({str(root)!r})
        run_id = runs.start_run(runs.TrainConfig(epochs=100), LOCAL, root, trainer={stand_in(sleep=0.2)!r})
        print(run_id, flush=True)
        if {how!r} != "exit":
            time.sleep(600)  # a server, serving: until the signal arrives
        """
    )
    server = subprocess.Popen([sys.executable, "-c", app], cwd=runs.REPO, stdout=subprocess.PIPE, text=True)
    try:
        run_id = server.stdout.readline().strip()
        info = wait_running(run_id, root)
        if how != "exit":
            server.send_signal(getattr(signal, how))
        server.wait(timeout=30)
        size = (root / run_id / "events.jsonl").stat().st_size
        wait_for(lambda: (root / run_id / "events.jsonl").stat().st_size > size, what="events after the exit")
        assert process_exists(info["pid"])

        other_app = textwrap.dedent(
            f"""
            from pathlib import Path
            from training import runs
            from training.owners import LOCAL
            root = Path({str(root)!r})
            print(runs.list_runs(LOCAL, root), runs.run_status({run_id!r}, root),
                  runs.stop_run({run_id!r}, LOCAL, root, grace=10))
            """
        )
        done = subprocess.run([sys.executable, "-c", other_app], cwd=runs.REPO, capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [f"['{run_id}']", "running", "stopped"]
        assert not group_exists(info["pid"])
    finally:
        server.kill()
        server.wait()
        stop_everything(root)


def test_a_trainer_that_cannot_be_started_is_a_failed_run_that_says_why(root, tmp_path):
    run_id = runs.start_run(runs.TrainConfig(), LOCAL, root, trainer=(str(tmp_path / "no-such-python"),))
    assert wait_until_finished(run_id, root) == runs.FAILED
    assert runs.run_state(run_id, root).reason == "could not start the trainer: No such file or directory"
    assert runs.active_runs(root) == []  # and it holds no slot
