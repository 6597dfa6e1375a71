"""Pieces two pages share: the row being viewed (Network and Step through) and how a run ended."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from . import compute, state
from .format import learning_rate, number
from .state import Setup


def run_message(frame: pd.DataFrame) -> None:
    """Say so when the run blew up: the table stops at its last finite row."""
    diverged_at = int(frame.attrs.get("diverged_at", -1))
    if diverged_at >= 0:
        st.warning(
            f"**Diverged.** With η = {learning_rate(frame.attrs['lr'])} the weights blew up (past ±1e30) "
            f"at update {diverged_at}, so the table stops at step {diverged_at - 1}. "
            "Try a smaller learning rate.",
            icon=":material/error:",
        )


def viewed_row(setup: Setup) -> tuple[Setup, pd.DataFrame, dict[str, float]]:
    """The update table, step controls, and every quantity of the row being viewed (intermediates too)."""
    config = compute.key(setup.config)
    frame = compute.table(config, setup.lr, setup.steps)
    run_message(frame)
    setup = state.step_controls(setup, len(frame) - 1)
    values = compute.row_at(config, setup.lr, compute.weights_at(frame, setup.step))
    return setup, frame, values


def error_metrics(frame: pd.DataFrame, step: int) -> None:
    """E_total at the viewed step (with its change since step 0) and after the last step."""
    first, now, last = (float(frame["E_total"].iloc[i]) for i in (0, step, -1))
    viewed, final = st.columns(2)
    viewed.metric(
        f"E_total at step {step}",
        number(now),
        delta=f"{number(now - first)} since step 0" if step else None,
        delta_color="inverse",
    )
    final.metric(f"E_total at step {len(frame) - 1} (the last)", number(last))
