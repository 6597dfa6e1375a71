"""The trainer's settings, in one place: TrainConfig, its bounds (check) and its command line (to_args).

training.mnist parses its flags into a TrainConfig and checks it here; training.runs builds one from the
page's widgets, checks it here and turns it into the same flags. Neither keeps a copy of the fields or of
the limits. No torch here: the page and the run manager import this without loading it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# The model names (the keys of training.models.MODELS, checked against it in tests/test_training_cli.py).
# Peak learning rate per model when lr is 0. Ours use SGD with a one-cycle schedule; the reference net uses
# what pytorch/examples uses: Adadelta at lr 1.0, multiplied by 0.7 after each epoch.
DEFAULT_LR = {"classroom": 0.1, "lean": 0.1, "reference": 1.0}
# The lean model has too few weights to need much of a penalty: 5e-4 kept it under-fitted (see models.lean).
DEFAULT_WEIGHT_DECAY = {"classroom": 5e-4, "lean": 1e-4, "reference": 0.0}
DEFAULT_MODEL = "classroom"
DEVICES = ("auto", "cpu", "cuda", "mps")

MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 65536
MAX_LR = 10.0
MIN_SEED, MAX_SEED = -(2**63), 2**64 - 1  # what torch.manual_seed accepts; beyond, it raises


class TrainConfigError(ValueError):
    """A setting the trainer refuses; the message is one line and names the setting."""


@dataclass
class TrainConfig:
    data_dir: str = ""  # folder with the four IDX files; "" means $MNIST_DIR, else ./data/mnist
    out: str = ""  # run folder for events.jsonl and best.pt; "" writes nothing (a plain console run)
    model: str = DEFAULT_MODEL  # a key of training.models.MODELS
    epochs: int = 15  # passes over the training set
    batch_size: int = 128  # images per optimiser step
    lr: float = 0.0  # peak learning rate; 0 means the model's own default (DEFAULT_LR)
    device: str = "auto"  # auto (CUDA, then MPS, then CPU), cpu, cuda or mps
    seed: int = 1  # seeds weights, shuffling and augmentation: a rerun on the same machine repeats itself
    dry_run: bool = False  # one training batch and one test batch, to check that everything is wired up
    limit_train: int = 0  # use only the first N training images (0: all 60,000); for tests and tiny runs
    limit_test: int = 0  # use only the first N test images (0: all 10,000)
    log_every: int = 10  # a batch event every N batches, and at least every 2 s
    threads: int = 0  # CPU threads for torch; 0 means one per core
    download: bool = True  # fetch missing files from the public mirrors (checked against known MD5s)
    momentum: float = 0.9  # SGD momentum (Nesterov)
    weight_decay: float = 5e-4  # L2 penalty on the weights (SGD); DEFAULT_WEIGHT_DECAY per model
    max_shift: float = 2.0  # augmentation: random shift of each training image, up to ± this many pixels
    max_degrees: float = 7.0  # augmentation: random rotation, up to ± this many degrees

    def check(self) -> None:
        """Raise TrainConfigError for the first value the trainer would refuse."""
        if self.model not in DEFAULT_LR:
            raise TrainConfigError(f"model must be one of {', '.join(DEFAULT_LR)}, got {self.model!r}")
        if not _whole(self.epochs) or not 1 <= self.epochs <= MAX_EPOCHS:
            raise TrainConfigError(f"epochs must be between 1 and {MAX_EPOCHS}, got {self.epochs}")
        if not _whole(self.batch_size) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise TrainConfigError(
                f"batch size must be between 1 and {MAX_BATCH_SIZE}, got {self.batch_size}"
            )
        if not (self.lr == 0 or 0 < self.lr <= MAX_LR):  # also rejects NaN
            raise TrainConfigError(
                f"learning rate must be in (0, {MAX_LR:g}] (or 0: the model's), got {self.lr}"
            )
        if self.device not in DEVICES:
            raise TrainConfigError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if not _whole(self.seed) or not MIN_SEED <= self.seed <= MAX_SEED:
            raise TrainConfigError(f"seed must be a whole number from -2**63 to 2**64 - 1, got {self.seed!r}")
        for name, minimum in (("limit_train", 0), ("limit_test", 0), ("log_every", 1), ("threads", 0)):
            value = getattr(self, name)
            if not _whole(value) or value < minimum:
                raise TrainConfigError(
                    f"{name.replace('_', ' ')} must be a whole number >= {minimum}, got {value}"
                )
        if not 0 <= self.momentum < 1:
            raise TrainConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        for name in ("weight_decay", "max_shift", "max_degrees"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise TrainConfigError(f"{name.replace('_', ' ')} must be 0 or more, got {value}")

    def to_args(self) -> list[str]:
        """The trainer's flags for this config, as an argument list (nothing here ever reaches a shell).

        The flags a user picks on the page are always written, so a run's recorded command says what it
        ran; the rest only when they differ from the default. The training recipe (momentum, weight
        decay, augmentation) has no flag: the trainer sets it per model, so a changed value is refused
        here rather than silently dropped."""
        defaults = TrainConfig()
        recipe = [f.name for f in fields(self) if f.name not in _FLAGS and f.name not in _SWITCHES]
        changed = [name for name in recipe if getattr(self, name) != getattr(defaults, name)]
        if changed:
            raise TrainConfigError(f"the trainer has no flag for {', '.join(changed)}")
        args: list[str] = []
        for name, flag in _FLAGS.items():
            value = getattr(self, name)
            if name in _ALWAYS or value != getattr(defaults, name):
                args += [flag, repr(float(value)) if name == "lr" else str(value)]
        for name, (flag, when) in _SWITCHES.items():
            if getattr(self, name) == when:
                args.append(flag)
        return args


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Field -> the trainer's flag (see training.mnist.build_parser). _ALWAYS: written even at their defaults.
_FLAGS = {
    "out": "--out", "data_dir": "--data-dir", "model": "--model", "epochs": "--epochs",
    "batch_size": "--batch-size", "lr": "--lr", "device": "--device", "seed": "--seed",
    "limit_train": "--limit-train", "limit_test": "--limit-test", "log_every": "--log-every",
    "threads": "--threads",
}  # fmt: skip
_ALWAYS = ("model", "epochs", "batch_size", "device", "seed")
_SWITCHES = {"dry_run": ("--dry-run", True), "download": ("--no-download", False)}  # field: (flag, value)
