"""The one setup every backprop page shares, kept in st.session_state and in the URL, and the widgets
that edit it: the sidebar's fields and the step controls.

On a session's first run the setup is read from the URL (a reload, a link an instructor shared); after
every change it is written back. Sidebar fields are free text, so a student can type anything: a bad
value gets a message next to it and the last good value stays in use (nothing is lost).
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from backprop_core import ACTIVATIONS, MAX_STEPS, Config, ConfigError
from backprop_core.config import BIASES, INPUTS, LR_RULE, TARGETS, VALUE_LIMIT, WEIGHTS, check_lr
from backprop_core.mistakes import SheetMistake, sheet_mistakes
from lab import presets
from lab.format import show_number
from lab.params import (
    CLASSROOM,
    Setup,
    as_plain_text,
    describe,
    encode_params,
    parse_number,
    parse_params,
    parse_steps,
)

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
            st.warning(as_plain_text(message), icon=":material/link:")  # a link is a stranger's text


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


def _reset_to(setup: Setup = CLASSROOM) -> None:
    """Start over from `setup` (the classroom values, or a preset): every field is re-seeded from it."""
    st.session_state[SETUP_KEY] = setup
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
            container.error(
                as_plain_text(f"{error}. Still using {describe(fallback)}."), icon=":material/warning:"
            )
            self.errors.append(label)
            return fallback


def sidebar() -> Setup:
    """The configuration fields in the sidebar; returns the setup every page uses (always valid)."""
    setup = current()
    config = setup.config
    form = _Form()
    bar = st.sidebar
    bar.header("Configuration")
    bar.button("Reset to classroom values", on_click=_reset_to, width="stretch")
    presets.sidebar_buttons(bar, _reset_to)
    limit = f"between {-VALUE_LIMIT:g} and {VALUE_LIMIT:g}"

    def numbers(names: tuple[str, ...], title: str) -> dict[str, float]:
        bar.subheader(title)
        values = {}
        # One st.columns(2) row per pair, not two tall columns: on a phone the columns stack, and a row per
        # pair stacks as w1, w2, w3, … where two columns would stack as w1, w3, w5, w7, w2, ….
        for index, name in enumerate(names):
            if index % 2 == 0:
                row = bar.columns(2)
            column = row[index % 2]
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
        check_lr,
        setup.lr,
        f"{LR_RULE.capitalize()}. The classroom uses 0.1 to 2.",
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

    mistake = _mistake_field(bar, setup.mistake, biases, activation)

    new_config = Config(**values, activation=activation, biases=biases)
    new = replace(setup, config=new_config, lr=lr, steps=steps, step=min(setup.step, steps), mistake=mistake)
    save(new)
    show_link_messages(new)
    if form.errors:
        st.error(
            f"Check {', '.join(form.errors)} in the sidebar: the last good value is used until it is fixed.",
            icon=":material/warning:",
        )
    return new


def _mistake_field(bar, current: SheetMistake | None, biases: bool, activation: str) -> SheetMistake | None:
    """Which sheet with a mistake the error curve is compared with (None: no comparison)."""
    options = [None, *sheet_mistakes(biases, activation)]  # a link can name only these (parse_sheet_mistake)
    if current is not None and current not in options:
        bar.caption(as_plain_text(f"A sheet with {current.says} cannot be drawn with {activation} units."))
        current = None
    key = field_key("mistake")
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]  # its mistake cannot be made with these units
    seed_field("mistake", current)
    return bar.selectbox(
        "Compare with a sheet with a mistake",
        options,
        key=key,
        format_func=lambda s: "none" if s is None else f"{s.columns_text()}: {s.says}",
        help="Draws the error curve of a worksheet that is right except for this mistake, dashed, beside "
        "the right one (Network and Step through).",
    )


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
