"""The one configuration of the classroom network, with the limits every way in (CLI, app, export) shares."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from .activations import ACTIVATIONS

INPUTS = ("i1", "i2")
TARGETS = ("t1", "t2")
WEIGHTS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")
BIASES = ("b1", "b2")

MAX_STEPS = 100_000  # updates per run; a row each in the table
MAX_LR = 1e6  # the engine stays finite up to here (see engine.WEIGHT_LIMIT)
VALUE_LIMIT = 100.0  # |input|, |target|, |weight|, |bias| at most this
MAX_SWEEP_CELLS = 20_000_000  # learning rates x steps in one sweep (about 10 s on 2 cores)


class ConfigError(ValueError):
    """A value a user gave is out of range; the message says which and why, in one line."""


@dataclass(frozen=True)
class Config:
    i1: float = 0.05  # input 1
    i2: float = 0.1  # input 2
    t1: float = 0.5  # target of output 1
    t2: float = 0.5  # target of output 2
    w1: float = 0.15  # i1 -> h1
    w2: float = 0.2  # i2 -> h1
    w3: float = 0.25  # i1 -> h2
    w4: float = 0.3  # i2 -> h2
    w5: float = 0.4  # a_h1 -> o1
    w6: float = 0.45  # a_h2 -> o1
    w7: float = 0.5  # a_h1 -> o2
    w8: float = 0.55  # a_h2 -> o2
    activation: str = "sigmoid"  # one of ACTIVATIONS, used by every unit
    biases: bool = False  # when on, b1 feeds both hidden units and b2 both outputs; never updated
    b1: float = 0.35  # hidden bias (Mazur's value); ignored when biases is off
    b2: float = 0.6  # output bias (Mazur's value); ignored when biases is off

    def __post_init__(self) -> None:
        check_activation(self.activation)
        for name in NUMERIC_FIELDS:
            check_value(name, getattr(self, name), VALUE_LIMIT)

    def values(self) -> dict[str, float]:
        """The numbers the network starts from: inputs, targets, weights and (if on) biases."""
        names = INPUTS + TARGETS + WEIGHTS + (BIASES if self.biases else ())
        return {name: float(getattr(self, name)) for name in names}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


NUMERIC_FIELDS = INPUTS + TARGETS + WEIGHTS + BIASES


SHOWN_INPUT_CHARS = 40  # a bad value is quoted up to this length: a message stays one line, whatever was sent


def shown_input(value) -> str:
    """A value as the user gave it, for a message: text as typed (cut), a float as its shortest
    round-trip form. So 1000001 reads "1000001" (not 1e+06) and 100.0000001 reads "100.0000001"."""
    if isinstance(value, str):
        text = " ".join(value.split())  # one line: no newline from a link or a field breaks the message
    elif isinstance(value, float) and math.isfinite(value):
        text = repr(value).removesuffix(".0")
    else:
        text = str(value)
    return text if len(text) <= SHOWN_INPUT_CHARS else text[: SHOWN_INPUT_CHARS - 1] + "…"


def limit_text(limit: float) -> str:
    """A limit as the app writes it: 100, 1e6 (not 1e+06)."""
    return f"{limit:g}".replace("e+0", "e").replace("e+", "e")


def _number(name: str, value) -> float:
    """A finite float from a number or text, or a ConfigError that names the field and quotes the input."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got '{shown_input(value)}'") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, got '{shown_input(value)}'")
    return number


def check_value(name: str, value: float, limit: float) -> float:
    """A finite number with |value| <= limit, or a ConfigError that names the field."""
    number = _number(name, value)
    if abs(number) > limit:
        got = shown_input(value if isinstance(value, str) else number)
        raise ConfigError(f"{name} must be between {limit_text(-limit)} and {limit_text(limit)}, got {got}")
    return number


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation '{shown_input(name)}'; choose one of {', '.join(ACTIVATIONS)}")
    return name


# One rule, one wording: the sidebar's tooltip, the link messages and the command line all say this.
LR_RULE = f"greater than 0 and at most {limit_text(MAX_LR)}"


def check_lr(lr: float) -> float:
    number = _number("learning rate", lr)
    if not 0 < number <= MAX_LR:
        got = shown_input(lr if isinstance(lr, str) else number)
        raise ConfigError(f"learning rate must be {LR_RULE}, got {got}")
    return number


def check_target_error(target: float) -> float:
    """The E_total at or below which a run counts as converged: a positive number."""
    number = _number("target error", target)
    if number <= 0:
        raise ConfigError(f"target error must be greater than 0, got {shown_input(number)}")
    return number


def check_steps(steps: int) -> int:
    whole = isinstance(steps, int | float) and not isinstance(steps, bool) and float(steps).is_integer()
    if not whole:
        raise ConfigError(f"steps must be a whole number, got {steps!r}")
    steps = int(steps)
    if not 0 <= steps <= MAX_STEPS:
        raise ConfigError(f"steps must be between 0 and {MAX_STEPS}, got {steps}")
    return steps


# The classroom example in Matt Mazur's "A Step by Step Backpropagation Example".
MAZUR = Config(t1=0.01, t2=0.99, biases=True, b1=0.35, b2=0.6)
