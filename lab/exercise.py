"""Exercise mode: hide one quantity of the viewed step, work it out, type the answer.

The rule for "right" (to the digits typed): an answer written with its last digit in the 10^k place
is right when the true value is within half a unit of that place, i.e. when the true value rounds
to the answer there. "0.5933" checks 4 decimals (0.59325 ≤ a_h1 ≤ 0.59335); "5.933e-1" checks the same
4 significant digits; "0.6" only one. At least MIN_DIGITS significant digits are needed for a verdict,
so "0" or "1" never counts as a right gradient.

A wrong answer is compared, by the same rule, with the quantity computed under every mistake of
backprop_core.mistakes: each one that matches is named (several when they give the same digits).
The answer is read by the project's number parser (backprop_core.config's check_value), never eval.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

import pandas as pd
import streamlit as st

from backprop_core import Config, ConfigError
from backprop_core.config import WEIGHTS, check_value
from backprop_core.expr import plain_symbol
from backprop_core.mistakes import MISTAKES, QUANTITIES, Mistake, previous, right_tree, value_under
from backprop_core.network import build_network

from .derivations import derivations
from .format import number
from .params import as_plain_text

MIN_DIGITS = 3  # significant digits an answer needs before it is called right or wrong
# A typed number: digits with at most one point, an optional exponent. Nothing else is a number here
# (float() would also take "1_000", "inf" or "nan"; a student means none of them).
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class Answer:
    value: float
    half_unit: float  # half a unit in the last digit typed: how far off the truth may be
    digits: int  # significant digits typed (0 for "0")
    text: str  # the number as typed (digits, point, sign, exponent only: safe to show)


def parse_answer(text: str) -> Answer:
    """A typed number, with the place of its last digit; ConfigError with one line if it is not one."""
    cleaned = text.strip().replace("−", "-").replace(" ", "")  # the page writes minus signs as U+2212
    if not _NUMBER.fullmatch(cleaned):
        hint = " (use a point, not a comma)" if "," in cleaned else ""
        raise ConfigError(f"type a number such as 0.5933 or 3.5e-4{hint}")
    value = check_value("your answer", cleaned, float("inf"))
    _, digits, exponent = Decimal(cleaned).as_tuple()  # 0.5933: (5, 9, 3, 3), exponent -4
    significant = len("".join(map(str, digits)).lstrip("0"))
    return Answer(value, 0.5 * 10.0**exponent, significant, cleaned)


def agrees(answer: Answer, value: float | None) -> bool:
    """Whether `value` rounds to the answer at the answer's last digit (a hair of float slack)."""
    if value is None:
        return False
    return abs(value - answer.value) <= answer.half_unit * (1 + 1e-9) + 1e-300


@dataclass(frozen=True)
class Verdict:
    right: bool | None  # None: not checked (unreadable, or too few digits)
    message: str  # plain text, for as_plain_text()
    mistakes: tuple[Mistake, ...] = ()  # the mistakes whose value matches a wrong answer


def judge(config: Config, name: str, text: str, values: Mapping[str, float]) -> Verdict:
    """Right or wrong to the digits typed, and which known mistakes give a wrong answer's digits.

    `values` is the row (backprop_core.row), plus prev_w1 … prev_w8 when there is a previous step."""
    what = plain_symbol(name)
    try:
        answer = parse_answer(text)
    except ConfigError as error:
        return Verdict(None, f"Not checked: {error}.")
    truth = values[name]
    if answer.digits < MIN_DIGITS and not (answer.value == 0 == truth):
        return Verdict(None, f"Not checked: type at least {MIN_DIGITS} significant digits of {what}.")
    if agrees(answer, truth):
        return Verdict(
            True, f"Right: {what} = {number(truth)}, and {answer.text} is right to the digits typed."
        )
    found = tuple(m for m in MISTAKES if agrees(answer, value_under(m, config, name, values)))
    if not found:
        hidden = [m for m in MISTAKES if value_under(m, config, name, values) == truth]
        note = ""
        if hidden:
            note = f" With these numbers {len(hidden)} mistake(s) give the right value, so they cannot show: "
            note += "; ".join(m.says for m in hidden) + "."
            if config.t1 == config.t2 and any(m.id == "targets-swapped" for m in hidden):
                note += " (t1 = t2 here: the t1 ≠ t2 preset makes swapped targets visible.)"
        return Verdict(False, f"Not right: no known mistake gives {answer.text} for {what}.{note}")
    says = " or ".join(m.says for m in found)
    several = (
        f" ({len(found)} mistakes give these digits; type more to tell them apart)" if len(found) > 1 else ""
    )
    return Verdict(False, f"Not right: your {what} is what you get with {says}{several}.", found)


def row_values(frame: pd.DataFrame, step: int, values: Mapping[str, float]) -> dict[str, float]:
    """The viewed row's values, with the previous step's weights as prev_w1 … (none at step 0)."""
    if step == 0:
        return dict(values)
    return {**values, **{previous(w): float(frame.at[step - 1, w]) for w in WEIGHTS}}


def needs(config: Config, name: str) -> tuple[str, ...]:
    """The quantities a student reads to work `name` out: the symbols of its written-out formula."""
    tree = right_tree(name, config.biases)
    order = build_network(config.biases).leaves + ("eta",) + QUANTITIES
    return tuple(n for n in order if n in tree.symbols())


# ---- The page's part. ----------------------------------------------------------------------------------

ON_KEY, NAME_KEY, SCORE_KEY = "exercise_on", "exercise_quantity", "exercise_score"


def _quiz(last_row: int, setup_key: str) -> None:
    """Callback of "Quiz me": a random quantity at a random step (runs before the page is drawn)."""
    st.session_state[ON_KEY] = True
    st.session_state[NAME_KEY] = random.choice(QUANTITIES)
    st.session_state[setup_key] = replace(st.session_state[setup_key], step=random.randint(0, last_row))


def panel(setup, frame: pd.DataFrame, values: Mapping[str, float], setup_key: str = "setup") -> bool:
    """The exercise controls on Step through. Returns True while a quantity is hidden: the page then
    stops drawing, so that nothing below gives the answer away."""
    score = st.session_state.setdefault(SCORE_KEY, {})
    top = st.columns([3, 1], vertical_alignment="center")
    on = top[0].toggle("Exercise: hide a quantity and work it out", key=ON_KEY)
    top[1].button("Quiz me", on_click=_quiz, args=(len(frame) - 1, setup_key), width="stretch")
    if not on:
        return False
    config = setup.config
    name = st.selectbox("Quantity to work out", QUANTITIES, format_func=plain_symbol, key=NAME_KEY)
    what = plain_symbol(name)
    known = needs(config, name)
    st.markdown(
        as_plain_text(f"Step {setup.step}: work out {what} from these values (η = {number(values['eta'])}).")
    )
    st.table({"quantity": [plain_symbol(n) for n in known], "value": [number(values[n], 12) for n in known]})
    with st.form(key=f"exercise_form_{name}_{setup.step}"):
        text = st.text_input(f"Your value of {what}", key=f"exercise_answer_{name}_{setup.step}")
        checked = st.form_submit_button("Check")
    if checked and text.strip():
        verdict = judge(config, name, text, row_values(frame, setup.step, values))
        if verdict.right is not None:
            score.setdefault((setup.step, name, setup.lr, config), verdict.right)  # the first try counts
        show = st.success if verdict.right else st.info if verdict.right is None else st.error
        show(as_plain_text(verdict.message))
        if verdict.right is not None:
            with st.expander("The worked answer"):
                item = next(d for stage in ("forward", "backward", "update")
                            for d in derivations(config, stage, values) if d.name == name)  # fmt: skip
                st.latex(item.latex)
    right = sum(score.values())
    st.caption(f"Score this session: {right} of {len(score)} right at the first try.")
    st.caption("The rest of the step is hidden while you work; switch the exercise off to see it.")
    return True
