"""The learning-rate race: every compared η's E_total curve drawn step by step, side by side, so the class
sees which one reaches the target first. Played in the browser with no Streamlit rerun per frame (a
custom component, st.components.v2, with race.js and race.css next to this file), like lab/player.py.

Not plotly's animation frames, which the first version used: in Chromium on the 2-core machine the page
settled about 1.2 s later with any plotly chart in view, whatever it held (an empty figure did not; a
20-point one did), so the Learning-rate page took 2.2-3 s where the other pages take 1.2-1.5 s. This is
an SVG of one polyline per rate, cut at the step being shown.

The steps played are the player's (every step up to DENSE_STEPS, then log-spaced): most change is early.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from backprop_core import Sweep

from . import compute
from .components import component
from .compute import CACHE_ENTRIES
from .format import show_number
from .player import FRAMES_PER_SECOND, curve_points, decades, sample_steps

# One colour per compared rate (MAX_COMPARED_LRS = 12), told apart in print and by most colour-blind readers.
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#17becf", "#1f2937")  # fmt: skip

_component = component("backprop_lab.race", "race")


def curves(result: Sweep, log_y: bool) -> dict:
    """The race's data: per rate its label, status and (step, E_total) points up to its last computed row
    (player.curve_points: thinned, every played step kept, the float64 floor on a log axis), the played
    steps and the axes."""
    last = result.errors.shape[1] - 1
    played = sample_steps(last)
    statuses = result.statuses()
    drawn, every = [], []
    for i, lr in enumerate(result.lrs):
        keep, errors = curve_points(result.curve(i), played, log_y)
        every.append(errors)
        drawn.append({
            "label": f"η = {show_number(lr)}",
            "status": statuses[i],
            "colour": COLOURS[i % len(COLOURS)],
            "x": keep.tolist(),
            "y": [float(e) for e in errors],
        })  # fmt: skip
    values = np.concatenate(every)
    if log_y:
        low, high = decades(values)
    else:
        low, high = 0.0, float(values.max()) * 1.05 or 1.0
    return {"curves": drawn, "steps": played.tolist(), "last": int(last), "log": bool(log_y),
            "low": low, "high": high, "fps": FRAMES_PER_SECOND}  # fmt: skip


@st.cache_resource(max_entries=CACHE_ENTRIES, show_spinner=False)
def payload(config: dict, lrs: tuple[float, ...], steps: int, log_y: bool) -> dict:
    """curves() for compute.sweep(config, lrs, steps), built once per setup and shared by every session
    (like lab/compute.py's charts: no copy per rerun; read-only)."""
    return curves(compute.sweep(config, lrs, steps), log_y)


def race(config: dict, lrs: tuple[float, ...], steps: int, log_y: bool, key: str = "race") -> None:
    """The compared curves with ▶ Play the race, Pause and a step slider; the whole run is shown at first."""
    _component(key=key, data=payload(config, tuple(lrs), steps, log_y), height="content")
