"""Train a small CNN on MNIST: python -m training.mnist --data-dir DIR --out RUN_DIR [options].

    python -m training.mnist --out runs/demo                      # classroom model, 15 epochs
    python -m training.mnist --out runs/lean --model lean
    python -m training.mnist --out runs/try --dry-run             # one batch, to check the set-up

Writes RUN_DIR/events.jsonl (one JSON object per line, flushed as written, for the training page to tail)
and RUN_DIR/best.pt (the weights with the best test accuracy so far). Prints human-readable lines.
Exit codes: 0 done or stopped by SIGTERM, 1 failed, 2 bad arguments or missing data set.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

# On a CPU shared with other programs, OpenMP threads that spin while waiting for each other stall the whole
# pool whenever one of them is descheduled (measured here: 5-10x slower). Sleeping waiters avoid that. It must
# be set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from backprop_core.__main__ import OneLineParser, finite_float, whole_number  # noqa: E402

from . import data  # noqa: E402
from .config import DEFAULT_LR, DEFAULT_WEIGHT_DECAY, DEVICES, TrainConfig, TrainConfigError  # noqa: E402
from .models import MODELS, count_parameters, format_summary, summary  # noqa: E402

SECONDS_BETWEEN_BATCH_EVENTS = 2.0
EVAL_BATCH = 1000


class DeviceUnavailable(ValueError):
    """--device names a device this machine does not have."""


class Stop(Exception):
    """Raised between batches once SIGTERM (or Ctrl-C) has arrived."""


# ---------------------------------------------------------------------------------------------------------
# Command line


def build_parser() -> OneLineParser:
    """Flags for the fields of TrainConfig, defaults from it. The types only parse the text; the bounds are
    TrainConfig.check()'s (see config_from_args), so the page and this command line refuse the same values."""
    defaults = TrainConfig()
    parser = OneLineParser(prog="python -m training.mnist", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=defaults.data_dir,
        help="folder with the MNIST IDX files (default $MNIST_DIR, else ./data/mnist)",
    )
    parser.add_argument(
        "--out", default=defaults.out, help="run folder for events.jsonl and best.pt (created)"
    )
    parser.add_argument("--model", choices=sorted(MODELS), default=defaults.model)
    parser.add_argument("--epochs", type=whole_number, default=defaults.epochs)
    parser.add_argument("--batch-size", type=whole_number, default=defaults.batch_size)
    parser.add_argument(
        "--lr",
        type=finite_float,
        default=defaults.lr,
        help="peak learning rate (default 0: the model's, "
        + ", ".join(f"{model} {lr:g}" for model, lr in DEFAULT_LR.items())
        + ")",
    )
    parser.add_argument("--device", choices=DEVICES, default=defaults.device)
    parser.add_argument("--seed", type=whole_number, default=defaults.seed)
    parser.add_argument("--dry-run", action="store_true", help="one batch of each split, then stop")
    parser.add_argument(
        "--limit-train",
        type=whole_number,
        default=defaults.limit_train,
        metavar="N",
        help="first N training images only (default 0: all)",
    )
    parser.add_argument(
        "--limit-test",
        type=whole_number,
        default=defaults.limit_test,
        metavar="N",
        help="first N test images only (default 0: all)",
    )
    parser.add_argument(
        "--log-every",
        type=whole_number,
        default=defaults.log_every,
        metavar="N",
        help="a batch event every N batches (and at least every 2 s)",
    )
    parser.add_argument(
        "--threads", type=whole_number, default=defaults.threads, help="CPU threads (default 0: one per core)"
    )
    parser.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help="never download; fail if files are missing",
    )
    return parser


def config_from_args(args: argparse.Namespace, parser: OneLineParser) -> TrainConfig:
    """The checked config, with the model's own learning rate and weight decay filled in.
    A value out of bounds ends the program as argparse does: one line, exit code 2."""
    config = TrainConfig(**vars(args))
    try:
        config.check()
    except TrainConfigError as error:
        parser.error(str(error))
    config.lr = config.lr or DEFAULT_LR[config.model]
    config.weight_decay = DEFAULT_WEIGHT_DECAY[config.model]
    return config


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("--device cuda: no CUDA device is available (try --device auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceUnavailable("--device mps: MPS is not available (try --device auto)")
    return torch.device(name)


# ---------------------------------------------------------------------------------------------------------
# Events: one JSON object per line, flushed at once so that a reader tailing the file sees it


class EventLog:
    def __init__(self, run_dir: Path | None):
        self.file = open(run_dir / "events.jsonl", "a", encoding="utf-8") if run_dir else None  # noqa: SIM115

    def write(self, event: str, **fields) -> None:
        if self.file is None:
            return
        self.file.write(json.dumps({"event": event, **fields}) + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else (f"{seconds // 60}:{seconds % 60:02d}")
    )


# ---------------------------------------------------------------------------------------------------------
# Training and evaluation


def make_optimizer(config: TrainConfig, model: torch.nn.Module, steps_per_epoch: int):
    """(optimizer, scheduler stepped once per batch)."""
    if config.model == "reference":  # as pytorch/examples: Adadelta, lr x0.7 after every epoch
        optimizer = torch.optim.Adadelta(model.parameters(), lr=config.lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.7 ** (step // steps_per_epoch)
        )
        return optimizer, scheduler
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=True,
        weight_decay=config.weight_decay,
    )
    # One cycle: warm up to the peak lr over the first 20% of the steps, then anneal (cosine) to ~0.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.lr,
        total_steps=config.epochs * steps_per_epoch,
        pct_start=0.2,
        div_factor=10,
        final_div_factor=100,
    )
    return optimizer, scheduler


@torch.no_grad()
def evaluate(model, images, labels) -> tuple[float, float]:
    """(mean loss, accuracy in percent) over a whole split."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for x, y in data.batches(images, labels, EVAL_BATCH):
        logits = model(to_model_input(x))
        loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return loss_sum / len(labels), 100.0 * correct / len(labels)


def to_model_input(batch: torch.Tensor) -> torch.Tensor:
    # channels_last lets oneDNN's CPU convolutions run without reordering the data first.
    return data.normalize(batch).contiguous(memory_format=torch.channels_last)


class Progress:
    """Batch progress, both as a stdout line and as a batch event: loss, accuracy, lr, images/s, ETA."""

    def __init__(self, log: EventLog, epochs: int, steps_per_epoch: int, log_every: int):
        self.log, self.epochs, self.steps, self.log_every = log, epochs, steps_per_epoch, log_every
        self.started = self.last_report = time.perf_counter()
        self.done = self.images_since_report = 0

    def count(self, batch: int, images: int) -> bool:
        """Count one finished batch; True when it is due a report: every log_every-th batch, the epoch's
        last, and any batch 2 s after the previous report."""
        self.done += 1
        self.images_since_report += images
        due = batch % self.log_every == 0 or batch == self.steps
        return due or time.perf_counter() - self.last_report >= SECONDS_BETWEEN_BATCH_EVENTS

    def report(self, epoch: int, batch: int, loss: float, lr: float, running: tuple[float, float]) -> None:
        now = time.perf_counter()
        rate = self.images_since_report / max(now - self.last_report, 1e-9)
        elapsed = now - self.started
        eta = elapsed / self.done * (self.epochs * self.steps - self.done)
        train_loss, train_acc = running
        print(
            f"epoch {epoch}/{self.epochs} batch {batch}/{self.steps} ({100 * batch / self.steps:3.0f}%)"
            f" loss {train_loss:.4f} acc {train_acc:6.2f}% lr {lr:.5f}"
            f" | {rate:6.0f} img/s elapsed {clock(elapsed)} eta {clock(eta)}",
            flush=True,
        )
        self.log.write(
            "batch", epoch=epoch, batch=batch, of=self.steps, loss=loss, lr=lr, images_per_s=round(rate, 1),
            train_loss=train_loss, train_acc=train_acc, elapsed_s=round(elapsed, 2), eta_s=round(eta, 1),
        )  # fmt: skip
        self.last_report, self.images_since_report = now, 0


def train_epoch(
    model, optimizer, scheduler, train_x, train_y, epoch, config, generator, progress, stop_requested
):
    """One pass over the (shuffled, augmented) training set; (mean loss, accuracy %) as trained, i.e. on
    augmented images in training mode. Returns early after one batch on --dry-run or a stop request."""
    model.train()
    # Summed on the device: reading a number back (.item()) makes the CPU wait for the GPU, so it is done
    # only when a report is due, not twice per batch.
    loss_sum = torch.zeros((), device=train_x.device)
    correct = torch.zeros((), dtype=torch.long, device=train_x.device)
    seen = 0
    for batch, (x, y) in enumerate(data.batches(train_x, train_y, config.batch_size, generator), start=1):
        x = x.float().div_(255)  # (B, 1, 28, 28) in 0..1
        if config.model != "reference":  # the reference is trained as pytorch/examples does: no augmentation
            x = data.augment(x, generator, config.max_shift, config.max_degrees)
        logits = model(to_model_input(x))  # (B, 10)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr = scheduler.get_last_lr()[0]  # the lr this step used
        scheduler.step()

        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        if progress.count(batch, len(y)):
            running = (loss_sum.item() / seen, 100 * correct.item() / seen)
            progress.report(epoch, batch, loss.item(), lr, running)
        if config.dry_run or stop_requested():
            break
    return loss_sum.item() / seen, 100 * correct.item() / seen


def train(config: TrainConfig, log: EventLog, run_dir: Path | None, stop_requested) -> dict:
    """The whole run; returns the fields of the end event. Raises Stop when asked to stop."""
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads or os.cpu_count() or 1)

    mnist = data.load_mnist(data.resolve_data_dir(config.data_dir), download=config.download)
    train_x, train_y = data.to_device(
        mnist.train_images, mnist.train_labels, device, config.limit_train or None
    )
    test_x, test_y = data.to_device(mnist.test_images, mnist.test_labels, device, config.limit_test or None)
    if config.dry_run:
        test_x, test_y = test_x[:EVAL_BATCH], test_y[:EVAL_BATCH]
    generator = torch.Generator(device=device).manual_seed(config.seed)

    model = MODELS[config.model]().to(device).to(memory_format=torch.channels_last)
    params = count_parameters(model)
    print(f"model {config.model}: {params:,} parameters, device {device}, {len(train_y):,} train / "
          f"{len(test_y):,} test images")  # fmt: skip
    print(format_summary(summary(model)))
    log.write("start", params=params, device=str(device), config=asdict(config))

    epochs = 1 if config.dry_run else config.epochs
    steps_per_epoch = 1 if config.dry_run else math.ceil(len(train_y) / config.batch_size)
    optimizer, scheduler = make_optimizer(config, model, steps_per_epoch)
    progress = Progress(log, epochs, steps_per_epoch, config.log_every)
    best_acc = final_acc = None

    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        train_loss, train_acc = train_epoch(
            model, optimizer, scheduler, train_x, train_y, epoch, config, generator, progress, stop_requested
        )
        if stop_requested():  # mid-epoch: the epoch is not counted and not evaluated
            raise Stop(dict(epochs_completed=epoch - 1, best_test_acc=best_acc, final_test_acc=final_acc))
        test_loss, final_acc = evaluate(model, test_x, test_y)
        seconds = time.perf_counter() - epoch_started
        if best_acc is None or final_acc > best_acc:
            best_acc = final_acc
            if run_dir is not None:
                save_checkpoint(run_dir / "best.pt", model, config, epoch, final_acc)
        print(f"epoch {epoch}/{epochs} done: train loss {train_loss:.4f} acc {train_acc:.2f}%"
              f" | test loss {test_loss:.4f} acc {final_acc:.2f}% (best {best_acc:.2f}%) | {seconds:.1f} s",
              flush=True)  # fmt: skip
        log.write("epoch", epoch=epoch, train_loss=train_loss, train_acc=train_acc, test_loss=test_loss,
                  test_acc=final_acc, seconds=round(seconds, 2), best_test_acc=best_acc)  # fmt: skip
        if stop_requested() and epoch < epochs:  # arrived during the evaluation: do not start another epoch
            raise Stop(dict(epochs_completed=epoch, best_test_acc=best_acc, final_test_acc=final_acc))

    return dict(epochs_completed=epochs, best_test_acc=best_acc, final_test_acc=final_acc,
                seconds=round(time.perf_counter() - progress.started, 2))  # fmt: skip


def save_checkpoint(path: Path, model, config: TrainConfig, epoch: int, test_acc: float) -> None:
    """Written beside and renamed into place, so a reader never finds half a file."""
    partial = path.with_suffix(".pt.part")
    torch.save(
        {
            "model": config.model,
            "state_dict": model.state_dict(),
            "config": asdict(config),
            "epoch": epoch,
            "test_acc": test_acc,
        },
        partial,
    )
    partial.replace(path)


# ---------------------------------------------------------------------------------------------------------
# Entry point: arguments, signals, the end event and the exit code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    config = config_from_args(parser.parse_args(argv), parser)
    run_dir = Path(config.out) if config.out else None
    try:
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: cannot create run folder {run_dir}: {error.strerror}", file=sys.stderr)
        return 2
    log = EventLog(run_dir)

    # SIGTERM (the page's Stop button) and Ctrl-C only raise a flag; the loop checks it between batches and
    # ends the run cleanly, with an end event and a checkpoint that is whole.
    stop = {"requested": False}

    def request_stop(signum, frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        return run(config, log, run_dir, lambda: stop["requested"])
    finally:
        log.close()


def run(config: TrainConfig, log: EventLog, run_dir: Path | None, stop_requested) -> int:
    """train(), with its outcome turned into the end event and the exit code."""
    started = time.perf_counter()
    try:
        result = train(config, log, run_dir, stop_requested)
    except Stop as stopped:
        fields = stopped.args[0]
        print(f"stopped after {fields['epochs_completed']} complete epochs", flush=True)
        log.write("end", status="stopped", seconds=round(time.perf_counter() - started, 2), **fields)
        return 0
    except (data.DatasetMissing, DeviceUnavailable) as error:  # the set-up to fix, said in one line
        print(f"error: {error}", file=sys.stderr)
        log.write("end", status="failed", error=str(error))
        return 2
    except data.DatasetError as error:  # corrupt or truncated files
        print(f"error: {error}", file=sys.stderr)
        log.write("end", status="failed", error=str(error))
        return 1
    except Exception as error:  # anything else is a bug: keep the traceback in stderr for whoever debugs it
        traceback.print_exc()
        log.write("end", status="failed", error=f"{type(error).__name__}: {error}")
        return 1
    print(
        f"done: best test accuracy {result['best_test_acc']:.2f}%, final {result['final_test_acc']:.2f}%, "
        f"{result['seconds']:.1f} s",
        flush=True,
    )
    log.write("end", status="done", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
