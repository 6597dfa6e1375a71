"""The one setup every backprop page shares: the network's Config, the learning rate, the steps, the
step being viewed and the learning rates to compare. It lives in st.session_state and in the URL.

The URL is untrusted: parse_params() checks every value with backprop_core's own limits and falls back
to the classroom value with a message. Sidebar fields are free text, so a student can type anything;
a bad value gets a message next to it and the last good value stays in use (nothing is lost).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import streamlit as st

from backprop_core import ACTIVATIONS, CLASSROOM_LRS, MAX_STEPS, Config, ConfigError
from backprop_core.config import (
    BIASES,
    INPUTS,
    NUMERIC_FIELDS,
    TARGETS,
    VALUE_LIMIT,
    WEIGHTS,
    check_lr,
    check_steps,
    check_value,
)
from lab.navigation import ensure_app_navigation

DEFAULT_STEPS = 1000  # the classroom sweeps run 1,000 updates
MAX_COMPARED_LRS = 12  # curves in one chart before it stops being readable


@dataclass(frozen=True)
class Setup:
    config: Config = field(default_factory=Config)
    lr: float = 1.0  # learning rate η of the table and the step-through
    steps: int = DEFAULT_STEPS  # updates: the table has rows 0..steps
    step: int = 0  # the row being viewed on Network and Step through
    lrs: tuple[float, ...] = CLASSROOM_LRS  # the learning rates compared on the Learning rate page


CLASSROOM = Setup()


# ---- Text <-> values: pure functions, the same rules for the URL and the sidebar. -------------------------


def parse_number(name: str, text: str) -> float:
    """A Config field (i1, w5, b2 ...) from text, within backprop_core's VALUE_LIMIT."""
    return check_value(name, _float(name, text), VALUE_LIMIT)


def parse_lr(text: str) -> float:
    return check_lr(_float("learning rate", text))


def parse_steps(text: str) -> int:
    value = _float("steps", text)
    if value > MAX_STEPS:  # check_steps says this too, but name the cap before the "whole number" rule
        raise ConfigError(f"steps must be between 0 and {MAX_STEPS}, got {value:g}")
    return check_steps(value)


def parse_lrs(text: str) -> tuple[float, ...]:
    parts = [part for part in text.replace(";", ",").split(",") if part.strip()]
    if not parts:
        raise ConfigError("give at least one learning rate, e.g. 0.1, 0.5, 1")
    if len(parts) > MAX_COMPARED_LRS:
        raise ConfigError(f"compare at most {MAX_COMPARED_LRS} learning rates, got {len(parts)}")
    return tuple(parse_lr(part) for part in parts)


def parse_activation(text: str) -> str:
    if text not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {text!r}; choose one of {', '.join(ACTIVATIONS)}")
    return text


def parse_flag(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "on", "yes"):
        return True
    if lowered in ("0", "false", "off", "no"):
        return False
    raise ConfigError(f"{name} must be on or off (1 or 0), got {text!r}")


def _float(name: str, text: str) -> float:
    try:
        return float(str(text).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None


def show_number(value: float) -> str:
    """Shortest text that reads back as exactly the same float (0.15, not 0.15000000000000002)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def show_lrs(lrs: tuple[float, ...]) -> str:
    return ", ".join(show_number(lr) for lr in lrs)


def encode_params(setup: Setup) -> dict[str, str]:
    """The whole setup as URL query parameters (every field, so a link means the same thing later)."""
    config = setup.config
    params = {name: show_number(getattr(config, name)) for name in INPUTS + TARGETS + WEIGHTS}
    params["activation"] = config.activation
    params["biases"] = "1" if config.biases else "0"
    if config.biases:
        params.update({name: show_number(getattr(config, name)) for name in BIASES})
    params.update(
        lr=show_number(setup.lr), steps=str(setup.steps), step=str(setup.step), lrs=show_lrs(setup.lrs)
    )
    return params


def parse_params(params: Mapping[str, str]) -> tuple[Setup, list[str]]:
    """A Setup from URL query parameters, and one message per value that was ignored.

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
            messages.append(f"Link value `{name}` ignored: {error}. Using {_describe(default)} instead.")
            return default

    defaults = CLASSROOM.config
    numbers = {
        name: take(name, lambda text, n=name: parse_number(n, text), getattr(defaults, name))
        for name in NUMERIC_FIELDS
    }
    activation = take("activation", parse_activation, defaults.activation)
    biases = take("biases", lambda text: parse_flag("biases", text), defaults.biases)
    config = Config(**numbers, activation=activation, biases=biases)  # every value checked above
    steps = take("steps", parse_steps, CLASSROOM.steps)
    step = take("step", parse_steps, 0)
    if step > steps:
        messages.append(f"Link value `step` ignored: step {step} is past the last step ({steps}). Using 0.")
        step = 0
    setup = Setup(
        config=config,
        lr=take("lr", parse_lr, CLASSROOM.lr),
        steps=steps,
        step=step,
        lrs=take("lrs", parse_lrs, CLASSROOM.lrs),
    )
    return setup, messages


def _describe(value) -> str:
    if isinstance(value, tuple):
        return show_lrs(value)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and math.isfinite(value):
        return show_number(value)
    return str(value)


# ---- Streamlit: the setup in session state, the sidebar, the URL. -----------------------------------------

SETUP_KEY = "setup"
LINK_MESSAGES_KEY = "link_messages"


def current() -> Setup:
    """This session's setup; on a session's first run, read from the URL (a shared link, a reload)."""
    if SETUP_KEY not in st.session_state:
        setup, messages = parse_params(st.query_params.to_dict())
        st.session_state[SETUP_KEY] = setup
        st.session_state[LINK_MESSAGES_KEY] = (setup, messages)
    return st.session_state[SETUP_KEY]


def save(setup: Setup) -> None:
    """Keep `setup` for this session and write it to the URL, so a reload or a shared link keeps it."""
    st.session_state[SETUP_KEY] = setup
    params = encode_params(setup)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def show_link_messages(setup: Setup) -> None:
    """The values a link got wrong, until the student changes something."""
    loaded, messages = st.session_state.get(LINK_MESSAGES_KEY, (None, []))
    if messages and loaded == setup:
        for message in messages:
            st.warning(message, icon=":material/link:")


def field_key(name: str) -> str:
    """The session-state key of the widget that edits setup field `name`."""
    return f"setup_field_{name}"


def seed_field(name: str, value) -> None:
    """Give a field's widget its value: what the student last typed, else the setup's value.

    Widgets on different pages are different widgets to Streamlit, so the typed text is handed over
    by assigning it again before the widget is drawn (Streamlit's documented multipage pattern).
    """
    key = field_key(name)
    st.session_state[key] = st.session_state[key] if key in st.session_state else value


def _reset_to_classroom() -> None:
    st.session_state[SETUP_KEY] = CLASSROOM
    st.session_state[LINK_MESSAGES_KEY] = (None, [])
    for key in [k for k in st.session_state if str(k).startswith("setup_field_")]:
        del st.session_state[key]


class _Form:
    """Reads sidebar fields; each bad one gets a message under it and keeps its last good value."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def text(self, container, name: str, label: str, current_text: str, parse, fallback, help_text: str):
        seed_field(name, current_text)
        text = container.text_input(label, key=field_key(name), help=help_text)
        try:
            return parse(text)
        except ConfigError as error:
            container.error(f"{error}. Still using {_describe(fallback)}.", icon=":material/warning:")
            self.errors.append(label)
            return fallback


def sidebar() -> Setup:
    """The configuration fields in the sidebar; returns the setup every page uses (always valid)."""
    ensure_app_navigation()
    setup = current()
    config = setup.config
    form = _Form()
    bar = st.sidebar
    bar.header("Configuration")
    bar.button("Reset to classroom values", on_click=_reset_to_classroom, width="stretch")
    limit = f"between {-VALUE_LIMIT:g} and {VALUE_LIMIT:g}"

    def numbers(names: tuple[str, ...], title: str) -> dict[str, float]:
        bar.subheader(title)
        left, right = bar.columns(2)
        values = {}
        for index, name in enumerate(names):
            column = left if index % 2 == 0 else right
            fallback = getattr(config, name)
            values[name] = form.text(
                column,
                name,
                name,
                show_number(fallback),
                lambda t, n=name: parse_number(n, t),
                fallback,
                f"A number {limit}.",
            )
        return values

    values = numbers(INPUTS + TARGETS, "Inputs and targets")
    values |= numbers(WEIGHTS, "Initial weights")

    bar.subheader("Units")
    names = list(ACTIVATIONS)
    seed_field("activation", config.activation)
    activation = bar.selectbox(
        "Activation", names, key=field_key("activation"), help=ACTIVATIONS[config.activation].why
    )
    seed_field("biases", config.biases)
    biases = bar.toggle(
        "Biases b1, b2",
        key=field_key("biases"),
        help="b1 feeds both hidden units, b2 both outputs; they stay fixed (the classroom sheet has none).",
    )
    if biases:
        values |= numbers(BIASES, "Biases (fixed)")
    else:
        values |= {name: getattr(config, name) for name in BIASES}

    bar.subheader("Training")
    lr = form.text(
        bar,
        "lr",
        "Learning rate η",
        show_number(setup.lr),
        parse_lr,
        setup.lr,
        "Greater than 0, at most 1e6. The classroom uses 0.1 to 2.",
    )
    steps = form.text(
        bar,
        "steps",
        "Steps (updates)",
        str(setup.steps),
        parse_steps,
        setup.steps,
        f"A whole number from 0 to {MAX_STEPS:,}.",
    )

    new_config = Config(**values, activation=activation, biases=biases)
    new = replace(setup, config=new_config, lr=lr, steps=steps, step=min(setup.step, steps))
    save(new)
    show_link_messages(new)
    if form.errors:
        st.error(
            f"Check {', '.join(form.errors)} in the sidebar: the last good value is used until it is fixed.",
            icon=":material/warning:",
        )
    return new


def step_controls(setup: Setup, last_row: int) -> Setup:
    """Previous / next buttons and a slider for the row being viewed (0..last_row); shared by two pages."""
    step = min(max(setup.step, 0), last_row)
    if step != setup.step:
        setup = replace(setup, step=step)
        save(setup)
    if last_row == 0:
        st.caption("Step 0 is the only row: set Steps above 0 in the sidebar to train.")
        return setup

    key = "view_step"

    # Callbacks run before the page, so the buttons and the slider update the setup first and the
    # page then draws the new step; the slider is re-seeded from the setup (a page switch drops it).
    def move_to(target: int) -> None:
        target = min(max(target, 0), last_row)
        st.session_state[SETUP_KEY] = replace(st.session_state[SETUP_KEY], step=target)

    if st.session_state.get(key) != step:
        st.session_state[key] = step
    back, slider, forward = st.columns([1, 6, 1], vertical_alignment="bottom")
    back.button("◀ Previous", on_click=move_to, args=(step - 1,), disabled=step == 0, width="stretch")
    forward.button("Next ▶", on_click=move_to, args=(step + 1,), disabled=step == last_row, width="stretch")
    slider.slider(
        "Step (row of the table)", 0, last_row, key=key, on_change=lambda: move_to(st.session_state[key])
    )
    return setup
