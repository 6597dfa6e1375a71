"""The shared setup as values and as text: one set of rules for the URL's query parameters and the
sidebar's fields. Pure functions (no Streamlit), so they are tested directly.

Text comes from users (a typed field, a shared link) and is untrusted: every value is checked with
backprop_core's own limits, and a bad one raises ConfigError with a one-line message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from backprop_core import CLASSROOM_LRS, MAX_STEPS, Config, ConfigError
from backprop_core.config import (
    BIASES,
    INPUTS,
    NUMERIC_FIELDS,
    TARGETS,
    VALUE_LIMIT,
    WEIGHTS,
    check_activation,
    check_lr,
    check_steps,
    check_value,
    shown_input,
)
from backprop_core.mistakes import SheetMistake, parse_sheet_mistake

from .format import show_lrs, show_number

DEFAULT_STEPS = 1000  # the classroom sweeps run 1,000 updates
MAX_COMPARED_LRS = 12  # curves in one chart before it stops being readable


@dataclass(frozen=True)
class Setup:
    config: Config = field(default_factory=Config)
    lr: float = 1.0  # learning rate η of the table and the step-through
    steps: int = DEFAULT_STEPS  # updates: the table has rows 0..steps
    step: int = 0  # the row being viewed on Network and Step through
    lrs: tuple[float, ...] = CLASSROOM_LRS  # the learning rates compared on the Learning rate page
    mistake: SheetMistake | None = None  # a sheet with this mistake, drawn beside the error curve


CLASSROOM = Setup()


# backprop_core's checks take text as well as numbers (they call float() and name the field when it
# fails), so a typed value is checked by the same code as every other way in, and a message quotes it.


def parse_number(name: str, text: str) -> float:
    """A Config field (i1, w5, b2 ...) from text, within backprop_core's VALUE_LIMIT."""
    return check_value(name, text, VALUE_LIMIT)


def parse_steps(text: str) -> int:
    value = check_value("steps", text, math.inf)
    if value > MAX_STEPS:  # check_steps says this too, but name the cap before the "whole number" rule
        raise ConfigError(f"steps must be between 0 and {MAX_STEPS}, got {shown_input(text)}")
    return check_steps(value)


def parse_lrs(text: str) -> tuple[float, ...]:
    parts = [part for part in text.replace(";", ",").split(",") if part.strip()]
    if not parts:
        raise ConfigError("give at least one learning rate, e.g. 0.1, 0.5, 1")
    if len(parts) > MAX_COMPARED_LRS:
        raise ConfigError(f"compare at most {MAX_COMPARED_LRS} learning rates, got {len(parts)}")
    return tuple(check_lr(part.strip()) for part in parts)


def parse_flag(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "on", "yes"):
        return True
    if lowered in ("0", "false", "off", "no"):
        return False
    raise ConfigError(f"{name} must be on or off (1 or 0), got {text!r}")


def parse_mistake(text: str, config: Config) -> SheetMistake:
    """A sheet mistake from a link (a_h1-for-a_h2, or a_h1-for-a_h2:dE_dw3,dE_dw4)."""
    try:
        return parse_sheet_mistake(text, config.biases, config.activation)
    except ValueError as error:
        raise ConfigError(f"mistake {error}, got {shown_input(text)}") from None


def encode_params(setup: Setup) -> dict[str, str]:
    """The whole setup as URL query parameters (every field, so a link means the same thing later;
    the mistake only when there is one, so older links read as they did)."""
    config = setup.config
    params = {name: show_number(getattr(config, name)) for name in INPUTS + TARGETS + WEIGHTS}
    params["activation"] = config.activation
    params["biases"] = "1" if config.biases else "0"
    if config.biases:
        params.update({name: show_number(getattr(config, name)) for name in BIASES})
    params.update(
        lr=show_number(setup.lr), steps=str(setup.steps), step=str(setup.step), lrs=show_lrs(setup.lrs)
    )
    if setup.mistake is not None:
        params["mistake"] = setup.mistake.text()
    return params


def parse_params(params: Mapping[str, str]) -> tuple[Setup, list[str]]:
    """A Setup from URL query parameters, and one message per value that was ignored.

    The messages are plain text that quotes the link (cut to a few dozen characters by
    backprop_core.config.shown_input): show them with as_plain_text(), never as Markdown.

    Unknown parameters are left alone (other pages may use them); a bad value falls back to the
    classroom value. Never raises.
    """
    messages: list[str] = []

    def take(name: str, parse, default):
        if name not in params:
            return default
        try:
            return parse(params[name])
        except ConfigError as error:
            messages.append(f"Link value {name} ignored: {error}. Using {describe(default)} instead.")
            return default

    defaults = CLASSROOM.config
    numbers = {
        name: take(name, lambda text, n=name: parse_number(n, text), getattr(defaults, name))
        for name in NUMERIC_FIELDS
    }
    activation = take("activation", check_activation, defaults.activation)
    biases = take("biases", lambda text: parse_flag("biases", text), defaults.biases)
    config = Config(**numbers, activation=activation, biases=biases)  # every value checked above
    steps = take("steps", parse_steps, CLASSROOM.steps)
    step = take("step", parse_steps, 0)
    if step > steps:
        messages.append(f"Link value step ignored: step {step} is past the last step ({steps}). Using 0.")
        step = 0
    setup = Setup(
        config=config,
        lr=take("lr", check_lr, CLASSROOM.lr),
        steps=steps,
        step=step,
        lrs=take("lrs", parse_lrs, CLASSROOM.lrs),
        mistake=take("mistake", lambda text: parse_mistake(text, config), None),
    )
    return setup, messages


def describe(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return show_lrs(value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value)
    return str(value)


_MARKDOWN = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation mark: CommonMark lets each be escaped


# GitHub-flavoured Markdown (which Streamlit renders) also turns bare https://…, www.… and a@b.c into links,
# escapes or not: an invisible WORD JOINER (U+2060) after the scheme and before an @ stops that.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp|www)(?=[:.])|(?=@)")


def as_plain_text(text: str) -> str:
    """Text for st.markdown / st.warning that shows exactly as written: each ASCII punctuation mark is
    backslash-escaped, so no link, image, HTML, emphasis, :icon: or $LaTeX$ can come out of it; bare URLs
    and e-mail addresses are kept from becoming links; line breaks become spaces (no heading or list
    either). A link or a typed field is a stranger's text."""
    text = _AUTOLINK.sub(lambda m: (m.group(1) or "") + "\u2060", " ".join(text.split()))
    return _MARKDOWN.sub(r"\\\1", text)
