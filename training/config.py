"""The trainer's settings, declared once: TrainConfig. Everything else is derived from its fields.

Each field carries its default, a comment (its help text) and its bounds. From them come:
    check()          the bounds, the same for the page, the run manager and the command line
    build_parser()   the trainer's flags (--batch-size for batch_size, --no-download for download=True, ...)
    to_args()        the flags that reproduce a config (what the run manager launches)
    recipe()         the learning rate and weight decay a run trains with: given, else the preset's
The presets and their recipes live with the language in training/arch.py. No torch here: the page and the
run manager import this without loading it.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .arch import DEFAULT_PRESET, PRESETS, ArchError, parse

DEVICES = ("auto", "cpu", "cuda", "mps")
MIN_SEED, MAX_SEED = -(2**63), 2**64 - 1  # what torch.manual_seed accepts; beyond, it raises
REFERENCE_BATCH = 128  # the presets' learning rates were tuned at this batch size (see TrainConfig.recipe)


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask, which containers narrow), not the host's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class TrainConfigError(ValueError):
    """A setting the trainer refuses; the message is one line and names the setting."""


def setting(default: Any, help: str, low=None, high=None, above=None, below=None, choices=None, label=None):
    """A field with its help text and bounds. `high` may be a function (a bound that depends on the machine);
    `above`/`below` are exclusive bounds."""
    meta = dict(help=help, low=low, high=high, above=above, below=below, choices=choices, label=label)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    # --- what to train
    model: str = setting(
        DEFAULT_PRESET, "preset: its line (unless --arch) and its recipe", choices=tuple(PRESETS)
    )
    arch: str = setting(
        "",
        'an architecture line such as "c16 m c32 g o" (training/arch.py); '
        "trained with the preset's recipe. Empty: the preset's own line",
    )
    summary: bool = setting(False, "print the layer table and the parameter total, then exit")
    # --- the recipe
    epochs: int = setting(15, "passes over the training set", low=1, high=1000)
    batch_size: int = setting(
        REFERENCE_BATCH, "images per optimiser step", low=1, high=65536, label="batch size"
    )
    lr: float | None = setting(
        None,
        "peak learning rate; default: the preset's, scaled by sqrt(batch size / 128)",
        above=0,
        high=10.0,
        label="learning rate",
    )
    weight_decay: float | None = setting(
        None, "L2 penalty on the weights (SGD); default: the preset's", low=0, high=1.0, label="weight decay"
    )
    momentum: float = setting(0.9, "SGD momentum (Nesterov)", low=0, below=1)
    max_shift: float = setting(
        2.0,
        "augmentation: shift each training image by up to this many pixels",
        low=0,
        high=8,
        label="max shift",
    )
    max_degrees: float = setting(
        7.0,
        "augmentation: rotate each training image by up to this many degrees",
        low=0,
        high=45,
        label="max degrees",
    )
    # --- where and how
    data_dir: str = setting("", "folder with the four IDX files; empty: $MNIST_DIR, else ./data/mnist")
    out: str = setting("", "run folder for events.jsonl and best.pt (created); empty: write nothing")
    device: str = setting("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda or mps", choices=DEVICES)
    compile: bool = setting(
        True,
        "torch.compile the model on CUDA (never on the CPU, where the compile "
        "time is not won back in a lesson-sized run)",
    )
    threads: int = setting(
        0, "CPU threads for torch; 0: one per CPU this process may use", low=0, high=cpu_count
    )
    seed: int = setting(
        1,
        "seeds weights, shuffling and augmentation: a rerun on the same machine repeats itself",
        low=MIN_SEED,
        high=MAX_SEED,
    )
    limit_train: int = setting(
        0, "use only the first N training images (0: all 60,000)", low=0, high=60_000, label="limit train"
    )
    limit_test: int = setting(
        0, "use only the first N test images (0: all 10,000)", low=0, high=10_000, label="limit test"
    )
    log_every: int = setting(
        10, "a batch event every N batches (and at least every 2 s)", low=1, high=1_000_000, label="log every"
    )
    dry_run: bool = setting(False, "one training batch and one test batch, to check the set-up")
    download: bool = setting(True, "fetch missing files from the public mirrors (checked against known MD5s)")

    def check(self) -> None:
        """Raise TrainConfigError for the first value the trainer would refuse."""
        for f in fields(self):
            _check_field(f, getattr(self, f.name))
        if self.arch:
            if PRESETS[self.model].line is None:
                raise TrainConfigError(f"--arch cannot be combined with the named model {self.model!r}")
            try:
                parse(self.arch)
            except ArchError as error:
                raise TrainConfigError(str(error)) from None

    @property
    def line(self) -> str | None:
        """The architecture line this config trains; None for a named model (the reference net)."""
        return self.arch or PRESETS[self.model].line

    def recipe(self) -> tuple[float, float]:
        """(learning rate, weight decay) the run trains with. A preset's SGD rate was tuned at batch 128; a
        larger batch takes fewer, less noisy steps, so the rate grows with sqrt(batch / 128) (the square-root
        rule; the linear one overshoots with Nesterov momentum at batch 1024). Adadelta adapts by itself."""
        preset = PRESETS[self.model]
        lr = self.lr
        if lr is None:
            scale = math.sqrt(self.batch_size / REFERENCE_BATCH) if preset.optimizer == "sgd" else 1.0
            lr = preset.lr * scale
        weight_decay = preset.weight_decay if self.weight_decay is None else self.weight_decay
        return lr, weight_decay

    def to_args(self) -> list[str]:
        """The trainer's flags for this config, as an argument list (nothing here ever reaches a shell).
        The choices a user makes on the page are always written, so a run's recorded command says what it
        ran; the rest only when they differ from the default."""
        args: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in _ALWAYS and value == f.default:
                continue
            if isinstance(value, bool):
                args.append(flag(f))
            elif value is not None:
                args += [flag(f), repr(value) if isinstance(value, float) else str(value)]
        return args


_ALWAYS = ("model", "epochs", "batch_size", "device", "seed")  # written even at their defaults


def flag(f) -> str:
    """--batch-size for batch_size; --no-download for a switch that is on by default."""
    name = f.name.replace("_", "-")
    return f"--no-{name}" if f.default is True else f"--{name}"


def bounds_text(meta: dict) -> str:
    low = meta["low"] if meta["low"] is not None else meta["above"]
    high = meta["high"]() if callable(meta["high"]) else meta["high"]
    high = high if high is not None else meta["below"]
    if low is None and high is None:
        return ""
    left = "(" if meta["above"] is not None else "["
    right = ")" if meta["below"] is not None else "]"
    return (
        f"{left}{low:g}, {high:g}{right}"
        if isinstance(low, float) or isinstance(high, float)
        else (f"{left}{low}, {high}{right}")
    )


def _check_field(f, value) -> None:
    meta = f.metadata
    label = meta["label"] or f.name
    if f.default is None and value is None:
        return
    kind = type(f.default) if f.default is not None else float
    if kind is bool:
        if not isinstance(value, bool):
            raise TrainConfigError(f"{label} must be true or false, got {value!r}")
        return
    if kind is str:
        if not isinstance(value, str):
            raise TrainConfigError(f"{label} must be text, got {value!r}")
        if meta["choices"] and value not in meta["choices"]:
            raise TrainConfigError(f"{label} must be one of {', '.join(meta['choices'])}, got {value!r}")
        return
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise TrainConfigError(f"{label} must be a whole number, got {value!r}")
    if kind is float and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise TrainConfigError(f"{label} must be a finite number, got {value!r}")
    high = meta["high"]() if callable(meta["high"]) else meta["high"]
    inside = (
        (meta["low"] is None or value >= meta["low"])
        and (meta["above"] is None or value > meta["above"])
        and (high is None or value <= high)
        and (meta["below"] is None or value < meta["below"])
    )
    if not inside:
        why = " (the CPUs this process may use)" if callable(meta["high"]) else ""
        raise TrainConfigError(f"{label} must be in {bounds_text(meta)}{why}, got {value}")


def build_parser() -> argparse.ArgumentParser:
    """The trainer's command line: one flag per field, its help and default from the field. The types only
    parse the text; the bounds are check()'s, so the page and the command line refuse the same values."""
    from backprop_core.__main__ import OneLineParser, finite_float, whole_number

    parser = OneLineParser(
        prog="python -m training.mnist",
        description="Train a CNN on MNIST: a preset (--model) or a line of the architecture language (--arch).",
    )
    for f in fields(TrainConfig):
        meta, name = f.metadata, f.name
        limits = bounds_text(meta)
        help_text = (
            ("turn off: " if f.default is True else "") + meta["help"] + (f" {limits}" if limits else "")
        )
        if isinstance(f.default, bool):
            action = "store_false" if f.default else "store_true"
            parser.add_argument(flag(f), dest=name, action=action, help=help_text)
            continue
        parse_text = {int: whole_number, str: str}.get(type(f.default), finite_float)
        metavar = "LINE" if name == "arch" else None
        parser.add_argument(flag(f), dest=name, type=parse_text, default=f.default, choices=meta["choices"],
                            metavar=metavar, help=help_text + (f" (default {f.default})" if f.default not in
                                                                ("", None, MISSING) else ""))  # fmt: skip
    return parser


def config_from_argv(argv: list[str] | None = None) -> TrainConfig:
    """The checked config of a command line; a bad value ends the program as argparse does: one line, exit 2."""
    parser = build_parser()
    config = TrainConfig(**vars(parser.parse_args(argv)))
    try:
        config.check()
    except TrainConfigError as error:
        parser.error(str(error))
    return config
