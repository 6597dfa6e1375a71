"""The trainer as the training page runs it: a subprocess with an argument list, events.jsonl, exit codes."""

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from training.arch import PRESETS
from training.config import TrainConfig, TrainConfigError, build_parser, config_from_argv

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "mnist"
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

pytestmark = [
    pytest.mark.slow,  # each test starts the trainer, which imports torch: 2-8 s a test, run by CI
    pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared MNIST copy in ../shared/data/mnist"),
]


def first(path: Path, n: int, header: int, item: int) -> bytes:
    """The header (patched to say n items) and the first n items of one shared IDX file."""
    raw = gzip.decompress(path.read_bytes())
    return raw[:4] + struct.pack(">i", n) + raw[8:header] + raw[header : header + n * item]


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory):
    """The first 2,000 training and 500 test images of the real MNIST, as raw IDX files (fast to load)."""
    folder = tmp_path_factory.mktemp("mnist")
    for name, n in zip(FILES, (2000, 2000, 500, 500), strict=True):
        images = "images" in name
        (folder / name).write_bytes(
            first(SHARED / f"{name}.gz", n, 16 if images else 8, 784 if images else 1)
        )
    return folder


def trainer(*args: str) -> list[str]:
    return [sys.executable, "-m", "training.mnist", *args]


def run(*args: str, timeout=120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MNIST_DIR": ""}
    return subprocess.run(trainer(*args), cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_one_epoch_on_a_small_subset_beats_chance_and_logs_every_event(small_mnist, tmp_path):
    out = tmp_path / "run"  # does not exist yet: the trainer creates it
    result = run(
        "--data-dir",
        str(small_mnist),
        "--out",
        str(out),
        "--model",
        "lean",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--log-every",
        "5",
        "--seed",
        "3",
    )
    assert result.returncode == 0, result.stderr

    log = events(out)
    start, *middle, end = log
    assert start["event"] == "start" and start["device"] == "cpu" and start["config"]["model"] == "lean"
    assert 0 < start["params"] < 8000
    batch_events = [e for e in middle if e["event"] == "batch"]
    epoch_events = [e for e in middle if e["event"] == "epoch"]
    assert len(batch_events) + len(epoch_events) == len(middle)
    steps = -(-2000 // 32)  # 63 batches, the last one short
    numbers = [e["batch"] for e in batch_events]
    assert set(range(5, steps + 1, 5)) <= set(numbers) and numbers == sorted(
        numbers
    )  # every 5th (and any 2 s)
    assert batch_events[-1]["batch"] == steps
    for event in batch_events:
        assert event["epoch"] == 1 and event["of"] == steps
        assert event["loss"] > 0 and event["lr"] > 0 and event["images_per_s"] > 0

    (epoch,) = epoch_events
    assert set(epoch) >= {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
    assert epoch["test_acc"] > 30  # ten classes: chance is 10 %; seeds 1-3 gave 58-88 % here
    assert end["event"] == "end" and end["status"] == "done"
    assert end["best_test_acc"] == end["final_test_acc"] == epoch["test_acc"]
    assert (out / "best.pt").is_file()
    assert not (out / "stdout.log").exists() and not (out / "run.json").exists()  # the launcher's files

    lines = result.stdout.splitlines()
    assert any(
        line.startswith(f"epoch 1/1 batch {steps}/{steps}") and "img/s" in line and "eta" in line
        for line in lines
    )
    assert lines[-1].startswith("done: best test accuracy")


def test_dry_run_trains_one_batch_and_finishes(small_mnist, tmp_path):
    result = run("--data-dir", str(small_mnist), "--out", str(tmp_path), "--dry-run")
    assert result.returncode == 0, result.stderr
    log = events(tmp_path)
    assert [e["event"] for e in log] == ["start", "batch", "epoch", "end"]
    assert log[1]["batch"] == 1 and log[-1]["status"] == "done"
    assert "RF" in result.stdout.splitlines()[1]  # the model summary is printed first


def test_sigterm_ends_the_run_cleanly_with_status_stopped(small_mnist, tmp_path):
    args = [
        "--data-dir",
        str(small_mnist),
        "--out",
        str(tmp_path),
        "--model",
        "lean",
        "--epochs",
        "5",
        "--log-every",
        "1",
    ]
    process = subprocess.Popen(
        trainer(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            path = tmp_path / "events.jsonl"
            if path.exists() and '"event": "batch"' in path.read_text():
                break
            time.sleep(0.1)
        assert process.poll() is None, "the trainer ended before its first batch event"
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    end = events(tmp_path)[-1]
    assert end["event"] == "end" and end["status"] == "stopped"
    assert end["epochs_completed"] < 5
    assert "Traceback" not in stderr


def test_missing_dataset_is_one_line_naming_the_folder_and_files(tmp_path):
    empty = tmp_path / "empty"
    result = run("--data-dir", str(empty), "--out", str(tmp_path / "run"), "--no-download")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(empty) in line and all(name in line for name in FILES) and "MNIST_DIR" in line
    end = events(tmp_path / "run")[-1]
    assert end["event"] == "end" and end["status"] == "failed" and str(empty) in end["error"]


def test_corrupt_file_fails_with_exit_1_and_the_error_in_the_end_event(small_mnist, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in FILES:
        (broken / name).write_bytes((small_mnist / name).read_bytes())
    (broken / FILES[2]).write_bytes((small_mnist / FILES[2]).read_bytes()[:-100])
    result = run("--data-dir", str(broken), "--out", str(tmp_path / "run"))
    assert result.returncode == 1
    assert "truncated" in result.stderr and "Traceback" not in result.stderr
    end = events(tmp_path / "run")[-1]
    assert end["status"] == "failed" and "truncated" in end["error"]


@pytest.mark.parametrize(
    "bad",
    [
        ["--epochs", "0"],
        ["--lr", "nan"],
        ["--model", "vgg"],
        ["--batch-size", "0"],
        ["--limit-train", "-1"],
        ["--seed", str(2**64)],  # more than torch.manual_seed takes
    ],
)
def test_bad_arguments_exit_2_with_one_line(bad, tmp_path):
    result = run("--out", str(tmp_path), *bad)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_importing_the_config_and_the_run_manager_does_not_load_torch():
    code = "import sys, training.config, training.runs; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


def test_every_preset_has_a_recipe_and_a_model():
    from training import models

    assert set(PRESETS) == set(models.MODELS)
    assert TrainConfig().model in models.MODELS


def test_the_trainer_reads_back_the_flags_a_config_writes():
    """What the page chooses is what the trainer runs: to_args() parsed by the trainer's own parser gives
    the same config back, every field included (the parser is built from the fields)."""
    chosen = TrainConfig(model="lean", arch="c8 m c16 g o", epochs=3, batch_size=64, lr=0.05, device="cpu",
                         seed=7, data_dir="/d", out="/o", limit_train=256, limit_test=128, log_every=3,
                         threads=1, download=False, dry_run=True, momentum=0.5, weight_decay=0.0,
                         max_shift=1.5, compile=False)  # fmt: skip
    for config in (chosen, TrainConfig(), replace(chosen, arch="", model="reference", lr=None)):
        assert config_from_argv(config.to_args()) == config


def test_the_recipe_comes_from_the_preset_and_scales_with_the_batch():
    # the classroom preset: lr 0.1 at batch 128, weight decay 5e-4; at batch 512, 0.1 * sqrt(4) = 0.2
    assert TrainConfig().recipe() == (0.1, 5e-4)
    assert TrainConfig(batch_size=512).recipe() == pytest.approx((0.2, 5e-4))
    assert TrainConfig(batch_size=512, lr=0.05, weight_decay=0.0).recipe() == (0.05, 0.0)
    assert TrainConfig(model="reference", batch_size=512).recipe() == (1.0, 0.0)  # Adadelta: not scaled
    assert TrainConfig(model="lean").recipe() == (0.1, 1e-4)


def test_every_field_has_a_flag_and_help():
    parser = build_parser()
    flags = {option for action in parser._actions for option in action.option_strings}
    from dataclasses import fields

    for f in fields(TrainConfig):
        name = f.name.replace("_", "-")
        assert (f"--no-{name}" if f.default is True else f"--{name}") in flags
        assert f.metadata["help"]


def test_threads_are_bounded_by_this_machines_cpus():
    with pytest.raises(TrainConfigError, match="threads"):
        TrainConfig(threads=10_000).check()
    from training.config import cpu_count

    TrainConfig(threads=cpu_count()).check()  # every CPU this process may use is fine


def test_a_custom_line_trains_and_its_checkpoint_rebuilds_from_the_line(tmp_path):
    """A tiny run of a typed line on tiny IDX files written here; best.pt names the line and loads back on
    the CPU into a network that scores what the run reported on the same test images."""
    import torch

    from tests.test_training_data import tiny_mnist, write_dataset
    from training import data
    from training.mnist import evaluate, load_checkpoint

    folder = tmp_path / "tiny"
    write_dataset(folder, tiny_mnist(n_train=64, n_test=32, seed=4))
    out = tmp_path / "run"
    line = "c4 m c8k1 c8p1 d0.1 g o"
    result = run("--data-dir", str(folder), "--out", str(out), "--arch", line, "--epochs", "2",
                 "--batch-size", "16", "--no-download")  # fmt: skip
    assert result.returncode == 0, result.stderr
    log = events(out)
    assert log[0]["arch"] == line and log[0]["config"]["arch"] == line
    assert log[0]["params"] == (9 * 4 + 8) + (4 * 8 + 16) + (8 * 8 * 9 + 16) + (8 * 10 + 10)  # by hand
    epochs = [e for e in log if e["event"] == "epoch"]
    assert len(epochs) == 2 and log[-1]["status"] == "done"

    model, checkpoint = load_checkpoint(out / "best.pt")
    assert checkpoint["arch"] == line
    mnist = data.load_mnist(folder, download=False)
    x, y = data.to_device(mnist.test_images, mnist.test_labels, torch.device("cpu"))
    _, accuracy = evaluate(model, x, y)
    assert (
        accuracy == pytest.approx(checkpoint["test_acc"]) == pytest.approx(max(e["test_acc"] for e in epochs))
    )
