"""Train a small CNN on MNIST: python -m training.mnist --data-dir DIR --out RUN_DIR [options].

    python -m training.mnist --out runs/demo                      # classroom model, 15 epochs
    python -m training.mnist --out runs/lean --model lean
    python -m training.mnist --arch "c16 m c32 g o" --summary     # a design's layer table; trains nothing
    python -m training.mnist --out runs/mine --arch "c16 m c32 g o"
    python -m training.mnist --out runs/try --dry-run             # one batch, to check the set-up

Writes RUN_DIR/events.jsonl (one JSON object per line, flushed as written, for the training page to tail)
and RUN_DIR/best.pt (the weights with the best test accuracy so far). Prints human-readable lines.
Exit codes: 0 done or stopped by SIGTERM, 1 failed, 2 bad arguments (an invalid line among them) or
missing data set. Every flag is a field of training.config.TrainConfig, with its bounds.
"""

from __future__ import annotations

import contextlib
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

from . import arch, data  # noqa: E402
from .config import TrainConfig, config_from_argv, cpu_count  # noqa: E402
from .models import MODELS, count_parameters, format_summary, from_line, summary  # noqa: E402

SECONDS_BETWEEN_BATCH_EVENTS = 2.0
EVAL_BATCH = 1000


class DeviceUnavailable(ValueError):
    """--device names a device this machine does not have."""


class Stop(Exception):
    """Raised between batches once SIGTERM (or Ctrl-C) has arrived."""


# ---------------------------------------------------------------------------------------------------------
# The model and the device


def build_model(config: TrainConfig) -> torch.nn.Module:
    """The config's line built into a network, or the named model (the reference net)."""
    return from_line(config.line) if config.line else MODELS[config.model]()


def model_table(config: TrainConfig) -> str:
    """The layer table with its total: the language's own for a line, the torch summary for a named model."""
    if config.line:
        return arch.format_table(arch.parse(config.line))
    return format_summary(summary(MODELS[config.model]()))


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
    """(optimizer, scheduler stepped once per batch), as the preset's recipe says."""
    lr, weight_decay = config.recipe()
    if arch.PRESETS[config.model].optimizer == "adadelta":  # as pytorch/examples: lr x0.7 after every epoch
        optimizer = torch.optim.Adadelta(model.parameters(), lr=lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.7 ** (step // steps_per_epoch)
        )
        return optimizer, scheduler
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=config.momentum, nesterov=True, weight_decay=weight_decay
    )
    # One cycle: warm up to the peak lr over the first 20% of the steps, then anneal (cosine) to ~0.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=lr,
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
    loss_sum = torch.zeros((), device=labels.device)  # summed on the device: one read-back, at the end
    correct = torch.zeros((), dtype=torch.long, device=labels.device)
    for x, y in data.batches(images, labels, EVAL_BATCH):
        with autocast(x.device):
            logits = model(to_model_input(x))
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    return loss_sum.item() / len(labels), 100.0 * correct.item() / len(labels)


def autocast(device: torch.device):
    """bf16 autocast on CUDA (tensor cores, half the memory traffic; bf16 keeps fp32's range, so no loss
    scaling); on the CPU nothing changes: full fp32, as every CPU figure in the README was measured."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


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

    def after_batch(self, epoch, batch, images, loss, lr, loss_sum, correct, seen) -> None:
        """Count one finished batch and report when due. The tensors are read back (.item(), which waits
        for the GPU) only then, so the training loop itself never syncs."""
        if self.count(batch, images):
            running = (loss_sum.item() / seen, 100 * correct.item() / seen)
            self.report(epoch, batch, loss.item(), lr, running)

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
    augmenting = arch.PRESETS[config.model].augment
    # Summed on the device: reading a number back (.item()) makes the CPU wait for the GPU, so Progress
    # does it only when a report is due, not twice per batch.
    loss_sum = torch.zeros((), device=train_x.device)
    correct = torch.zeros((), dtype=torch.long, device=train_x.device)
    seen = 0
    for batch, (x, y) in enumerate(data.batches(train_x, train_y, config.batch_size, generator), start=1):
        x = x.float().div_(255)  # (B, 1, 28, 28) in 0..1
        if augmenting:  # the reference is trained as pytorch/examples does: no augmentation
            x = data.augment(x, generator, config.max_shift, config.max_degrees)
        with autocast(x.device):
            logits = model(to_model_input(x))  # (B, 10)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr = scheduler.get_last_lr()[0]  # the lr this step used
        scheduler.step()

        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        seen += len(y)
        progress.after_batch(epoch, batch, len(y), loss, lr, loss_sum, correct, seen)
        if config.dry_run or stop_requested():
            break
    return loss_sum.item() / seen, 100 * correct.item() / seen


def train(config: TrainConfig, log: EventLog, run_dir: Path | None, stop_requested) -> dict:
    """The whole run; returns the fields of the end event. Raises Stop when asked to stop."""
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.threads or cpu_count())
    else:
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick its fastest kernels

    mnist = data.load_mnist(data.resolve_data_dir(config.data_dir), download=config.download)
    train_x, train_y = data.to_device(
        mnist.train_images, mnist.train_labels, device, config.limit_train or None
    )
    test_x, test_y = data.to_device(mnist.test_images, mnist.test_labels, device, config.limit_test or None)
    if config.dry_run:
        test_x, test_y = test_x[:EVAL_BATCH], test_y[:EVAL_BATCH]
    generator = torch.Generator(device=device).manual_seed(config.seed)

    model = build_model(config).to(device).to(memory_format=torch.channels_last)
    params = count_parameters(model)
    print(f"model {config.line or config.model}: {params:,} parameters, device {device}, "
          f"{len(train_y):,} train / {len(test_y):,} test images")  # fmt: skip
    print(model_table(config))
    lr, weight_decay = config.recipe()
    log.write("start", params=params, device=str(device), config=asdict(config), arch=config.line,
              lr=lr, weight_decay=weight_decay)  # fmt: skip
    # The compiled model shares its weights with `model`; checkpoints save `model`, whose state_dict keys
    # have no "_orig_mod." prefix, so best.pt loads into a plain build of the line.
    run_model = compiled(model) if device.type == "cuda" and config.compile else model

    epochs = 1 if config.dry_run else config.epochs
    steps_per_epoch = 1 if config.dry_run else math.ceil(len(train_y) / config.batch_size)
    optimizer, scheduler = make_optimizer(config, model, steps_per_epoch)
    progress = Progress(log, epochs, steps_per_epoch, config.log_every)
    best_acc = final_acc = None

    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        train_loss, train_acc = train_epoch(
            run_model, optimizer, scheduler, train_x, train_y, epoch, config, generator, progress,
            stop_requested,
        )  # fmt: skip
        if stop_requested():  # mid-epoch: the epoch is not counted and not evaluated
            raise Stop(dict(epochs_completed=epoch - 1, best_test_acc=best_acc, final_test_acc=final_acc))
        test_loss, final_acc = evaluate(run_model, test_x, test_y)
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


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    """torch.compile'd on CUDA: it fuses BatchNorm, ReLU and dropout into the convolutions' neighbours, which
    is most of a small net's time. If the machine cannot compile (no Triton, no compiler), dynamo falls back
    to running the model eagerly instead of failing the run."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    return torch.compile(model)


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """(the model rebuilt from best.pt's line or name, with its weights; the checkpoint's other fields)."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    line = checkpoint.get("arch")
    model = from_line(line) if line else MODELS[checkpoint["model"]]()
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval(), checkpoint


def save_checkpoint(path: Path, model, config: TrainConfig, epoch: int, test_acc: float) -> None:
    """Written beside and renamed into place, so a reader never finds half a file."""
    partial = path.with_suffix(".pt.part")
    torch.save(
        {
            "model": config.model,
            "arch": config.line,
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
    config = config_from_argv(argv)  # an invalid line exits 2 here, with the sentence that says why
    if config.summary:
        print(model_table(config))
        return 0
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
