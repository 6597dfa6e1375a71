"""The engine calls the pages make, cached across reruns and sessions.

st.cache_data hashes its arguments, so the cached functions take the Config as a plain dict (a frozen
dataclass would be hashed by pickling, which is slower and less obvious) and rebuild it inside.
Moving a control that does not change the maths (a tab, the log-y toggle, the viewed step) is then a
cache hit.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import streamlit as st

import backprop_core
from backprop_core import Config, Sweep, compiled
from backprop_core.config import MAX_SWEEP_CELLS, WEIGHTS
from backprop_core.mistakes import parse_sheet_mistake
from backprop_core.sweep import outcomes

# Load the compiled engine while the first page draws: 1.2 s from numba's cache (importing numba, then
# LLVM), about a minute for all eight networks the first time ever (see README, "The compiled engine").
threading.Thread(target=compiled.warm_up, name="backprop-lab-warm-up", daemon=True).start()

SCAN_LRS = np.logspace(-2, 2, 1000)  # the dense scan: 1,000 learning rates from 0.01 to 100
MAX_SCAN_STEPS = 5000  # the scan is 1,000 runs at once; cap its length so it stays a few seconds at most
CACHE_ENTRIES = 64  # per function; one entry is at most a few MB (6 LRs x 100,001 steps of float64)


def key(config: Config) -> dict:
    return config.to_dict()


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner="Running gradient descent…")
def table(config: dict, lr: float, steps: int) -> pd.DataFrame:
    """The update table, rows 0..steps (fewer if the run diverged; see attrs['diverged_at'])."""
    return backprop_core.run_steps(Config.from_dict(config), lr, steps)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner="Comparing learning rates…")
def sweep(config: dict, lrs: tuple[float, ...], steps: int) -> Sweep:
    return backprop_core.sweep(Config.from_dict(config), list(lrs), steps)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner="Running the sheet with the mistake…")
def mistake_sweep(config: dict, lr: float, steps: int, mistake: str) -> Sweep:
    """E_total of every row of a sheet with `mistake` (a SheetMistake's text), with its status."""
    config = Config.from_dict(config)
    sheet = parse_sheet_mistake(mistake, config.biases, config.activation)
    return backprop_core.sweep(config, [lr], steps, mistake=sheet)


def scan_steps(steps: int) -> int:
    return min(steps, MAX_SCAN_STEPS, MAX_SWEEP_CELLS // SCAN_LRS.size - 1)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner="Scanning 1,000 learning rates…")
def scan(config: dict, steps: int) -> pd.DataFrame:
    """lr, final_E_total, steps_to_target, status for each of SCAN_LRS after scan_steps(steps) updates.

    Only the outcomes are computed (sweep.outcomes): no curve is kept, in the engine or in the cache."""
    steps = scan_steps(steps)
    summary = outcomes(Config.from_dict(config), SCAN_LRS, steps).summary()
    summary.attrs["steps"] = steps
    return summary


def weights_at(frame: pd.DataFrame, step: int) -> dict[str, float]:
    return {w: float(frame.at[step, w]) for w in WEIGHTS}


@st.cache_data(max_entries=CACHE_ENTRIES)
def row_at(config: dict, lr: float, weights: dict[str, float]) -> dict[str, float]:
    """Every quantity of one row, intermediates included (delta_o1, dE_da_h1, next_w1 …)."""
    return backprop_core.row(Config.from_dict(config), lr, weights)


@st.cache_data(max_entries=CACHE_ENTRIES)
def gradient_check(config: dict, weights: dict[str, float]) -> pd.DataFrame:
    return backprop_core.gradient_check(Config.from_dict(config), weights)


AGREEMENT = 1e-6  # the estimate "agrees" when every difference is below this fraction of the largest gradient


def estimate_agrees(gradients: pd.DataFrame) -> bool:
    """Whether a gradient_check() table agrees: every |chain rule − estimate| small beside the gradients.

    Near the minimum (gradients of 1e-13) or with huge weights, the estimate's own error (float64
    rounding in E_total, the h² term a central difference leaves out) is no longer small beside the gradients."""
    return bool((gradients["abs_diff"] <= AGREEMENT * gradients["analytic"].abs().max()).all())


# --- Charts shared by every session -------------------------------------------------------------------
# A class mostly looks at the same few setups, so a chart's data is built once per setup and the same
# object handed to every session (st.cache_resource: no pickling); nothing may modify a returned chart.
# (The convergence map, a plotly figure, is shared the same way in lab/convergence_map.py.)


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def scan_chart(config: dict, steps: int, lrs: tuple[float, ...]):
    """charts.scan_chart for scan(config, steps), each compared η marked; shared, read-only (so the marks
    are added here, to this entry's own chart, never to a chart other sessions hold)."""
    from lab import charts

    return charts.mark_compared(charts.scan_chart(scan(config, steps)), lrs)
