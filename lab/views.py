"""Pieces two pages share: the row being viewed (Network and Step through) and how a run ended."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from backprop_core import Sweep

from . import compute, state
from .derivations import DIGITS
from .format import error_number, number, show_number
from .params import as_plain_text
from .player import player
from .state import Setup


def run_message(frame: pd.DataFrame) -> None:
    """Say so when the run blew up: the table stops at its last finite row."""
    diverged_at = int(frame.attrs.get("diverged_at", -1))
    if diverged_at >= 0:
        st.warning(
            f"**Diverged.** With η = {show_number(frame.attrs['lr'])} the weights blew up (past ±1e30) "
            f"at update {diverged_at}, so the table stops at step {diverged_at - 1}. "
            "Try a smaller learning rate.",
            icon=":material/error:",
        )


def viewed_row(setup: Setup) -> tuple[Setup, pd.DataFrame, dict[str, float]]:
    """The update table, step controls, the player (the network and its error curve, with Play), and
    every quantity of the row being viewed (intermediates too)."""
    config = compute.key(setup.config)
    frame = compute.table(config, setup.lr, setup.steps)
    run_message(frame)
    setup = state.step_controls(setup, len(frame) - 1)
    mistake = setup.mistake.text() if setup.mistake is not None else ""
    player(setup.config, setup.lr, setup.steps, setup.step, mistake=mistake)
    if mistake and setup.steps > 0:  # at 0 steps both sheets are the same row 0: nothing to compare
        compare_message(setup)
    values = compute.row_at(config, setup.lr, compute.weights_at(frame, setup.step))
    return setup, frame, values


def _ending(result: Sweep) -> str:
    """How a run ended, in the sweep's own status words: "converged (E_total ≤ 1e-06) at step 514", or
    "still falling, E_total = 0.002494847948 at step 1,000"."""
    status, last = result.status(0), len(result.curve(0)) - 1
    if status == "converged":
        return f"converged (E_total ≤ {show_number(result.target_error)}) at step {int(result.steps_to_target()[0]):,}"
    return f"{status}, E_total = {error_number(float(result.curve(0)[-1]))} at step {last:,}"


def compare_message(setup: Setup) -> None:
    """How the sheet with setup.mistake (the dashed curve) ended, beside how this one did."""
    config = compute.key(setup.config)
    wrong = compute.mistake_sweep(config, setup.lr, setup.steps, setup.mistake.text())
    right = compute.sweep(config, (setup.lr,), setup.steps)
    text = f"Dashed: a sheet {setup.mistake.label()}: {_ending(wrong)}. This sheet: {_ending(right)}."
    shown = len(right.curve(0)) - 1
    if len(wrong.curve(0)) - 1 > shown:
        text += f" The dashed curve is drawn up to step {shown:,}, where this sheet stops."
    st.caption(as_plain_text(text))


def error_metrics(frame: pd.DataFrame, step: int) -> None:
    """E_total at the viewed step (with its change since step 0) and after the last step."""
    first, now, last = (float(frame["E_total"].iloc[i]) for i in (0, step, -1))
    viewed, final = st.columns(2)
    viewed.metric(
        f"E_total at step {step}",
        error_number(now),
        delta=f"{number(now - first)} since step 0" if step else None,
        delta_color="inverse",
    )
    final.metric(f"E_total at step {len(frame) - 1} (the last)", error_number(last))


def next_forward(setup: Setup, frame: pd.DataFrame, values: dict[str, float]) -> dict[str, float] | None:
    """E_total with the updated weights and how much it fell, to the derivations' DIGITS (one precision
    per view); returns that next row (every quantity of the forward pass at the new weights), or None,
    having said why there is no next pass."""
    if int(frame.attrs.get("diverged_at", -1)) == setup.step + 1:
        st.warning(
            "This is the update that blew up: some new weights are past ±1e30, so the engine stops here "
            "and the next forward pass is not computed. The learning rate is far too large.",
            icon=":material/error:",
        )
        return None
    next_weights = {name.removeprefix("next_"): values[name] for name in values if name.startswith("next_")}
    after = compute.row_at(compute.key(setup.config), setup.lr, next_weights)
    now, fall = values["E_total"], values["E_total"] - after["E_total"]
    st.metric(
        "E_total with the new weights",
        number(after["E_total"], DIGITS),
        delta=number(-fall, DIGITS),
        delta_color="inverse",
    )
    if fall > 0:
        st.markdown(
            f"The error fell by {number(fall, DIGITS)} ({number(100 * fall / now, 4)} % of {number(now, DIGITS)}): "
            "one step downhill."
        )
    elif fall == 0:
        st.markdown("The error did not change: the gradients are zero (or too small to move a float64).")
    else:
        st.markdown(
            f"The error **rose** by {number(-fall, DIGITS)}: this step overshot the valley. "
            "A smaller learning rate takes smaller steps."
        )
    return after
