"""Play / Pause / Step / Reset through a run already computed, animated in the browser.

The server computes once and ships one payload; the browser then plays it with no Streamlit rerun per
frame (a custom component, st.components.v2, with player.js and player.css next to this file). A long
run is sampled, never shipped whole: most change happens early, so every one of the first
DENSE_STEPS steps is a frame, then log-spaced steps up to the last, MAX_FRAMES frames at most.

What each frame shows is decided here, by lab.diagram's labels() and edges(): the payload holds, for
every frame and both views, the text of every label and the width and sign of every edge, so the
JavaScript only copies them onto the picture. Pause, Step, Reset and a click on the error curve report
the step back (a trigger value); the page then reruns once, on that step, and the URL, the tables and
the step-through views follow it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from backprop_core import Config
from backprop_core.config import WEIGHTS
from backprop_core.engine import evaluate
from backprop_core.mistakes import parse_sheet_mistake

from . import compute, diagram, state
from .components import component
from .compute import CACHE_ENTRIES
from .format import FLOAT64_FLOOR

DENSE_STEPS = 100  # every step up to here is a frame: this is where the error falls fastest
MAX_FRAMES = 300  # frames in one payload; the rest of a long run is log-spaced (a few hundred kB)
CURVE_POINTS = 600  # points of the error curve, evenly spread over the run (plus every frame's step)
FRAMES_PER_SECOND = 24  # playback at speed 1×: the first DENSE_STEPS steps take about 4 s
SPEEDS = (0.25, 0.5, 1, 2, 4)
STATE = "step"  # the trigger the browser sets on Pause, Step, Reset and a click on the curve

_component = component("backprop_lab.player", "player")


def sample_steps(last: int, current: int = 0) -> np.ndarray:
    """The steps played: 0..DENSE_STEPS, then log-spaced up to `last`; `current` and `last` always in."""
    dense = np.arange(min(last, DENSE_STEPS) + 1)
    if last <= DENSE_STEPS:
        sparse = np.array([], dtype=int)
    else:
        spread = np.geomspace(DENSE_STEPS, last, MAX_FRAMES - DENSE_STEPS - 1)
        sparse = np.rint(spread).astype(int)
    return np.unique(np.r_[dense, sparse, [last, min(max(current, 0), last)]])


def frame_values(config: Config, lr: float, frame: pd.DataFrame, steps: np.ndarray) -> list[dict[str, float]]:
    """Every quantity (forward values, δ, gradients) at each of `steps`, evaluated in one vectorised pass."""
    n = steps.size
    leaves = {name: np.full(n, value) for name, value in config.values().items()}
    leaves |= {w: frame[w].to_numpy(dtype=np.float64)[steps] for w in WEIGHTS}
    env = evaluate(config, leaves | {"eta": np.full(n, float(lr))})
    return [{name: float(np.asarray(values)[i]) for name, values in env.items()} for i in range(n)]


def curve_points(errors: np.ndarray, steps: np.ndarray, log: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(steps, errors) of a curve as drawn: evenly thinned to CURVE_POINTS, every step of `steps` kept (those
    it has); on a log axis an error at or below float64's rounding floor is drawn at the floor (it has no 0).
    The player's curve and the learning-rate race (lab/race.py) both draw with it."""
    last = errors.size - 1
    keep = np.linspace(0, last, min(CURVE_POINTS, last + 1)).astype(int)
    keep = np.unique(np.r_[keep, steps[steps <= last]])
    return keep, np.maximum(errors[keep], FLOAT64_FLOOR) if log else errors[keep]


def decades(values: np.ndarray) -> tuple[int, int]:
    """The log axis's span for positive `values`: whole powers of ten around them, at least one decade."""
    low = int(np.floor(np.log10(values.min())))
    return low, max(int(np.ceil(np.log10(values.max()))), low + 1)


def curve(frame: pd.DataFrame, steps: np.ndarray, compare: dict | None = None) -> dict:
    """E_total against step for the curve beside the diagram, and, with `compare` (the E_total of a
    sheet with a mistake, and its label), that sheet's curve too, on the same axes."""
    errors = frame["E_total"].to_numpy(dtype=np.float64)
    keep, shown = curve_points(errors, steps)
    out = {"x": keep.tolist(), "y": [float(v) for v in shown], "last": int(errors.size - 1)}
    every = shown
    if compare is not None:
        wrong = np.asarray(compare["errors"], dtype=np.float64)[: errors.size]
        wrong_keep, wrong_shown = curve_points(wrong, steps)
        every = np.r_[shown, wrong_shown]
        out["label"] = "this sheet (right)"
        out["compare"] = {
            "x": wrong_keep.tolist(),
            "y": [float(v) for v in wrong_shown],
            "label": compare["label"],
        }
    out["low"], out["high"] = decades(every)
    return out


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def frames(config: dict, lr: float, steps: int, extra: int = -1, mistake: str = "") -> dict:
    """The run's frames (labels, edge widths and signs per sampled step, both views) and its error curve.

    Cached like lab.compute (the Config as its plain dict, η, the step count), so a warm rerun of Network
    or Step through (a tab, the viewed step, a toggle) skips the ~0.1 s of building them. `extra` is the
    viewed step when it is not one of the sampled steps already (see payload), else -1. `mistake`: a
    SheetMistake's text, whose sheet's error curve is drawn beside this one (see compute.mistake_sweep).
    """
    frame = compute.table(config, lr, steps)
    last = len(frame) - 1
    sampled = sample_steps(last, extra if extra >= 0 else 0)
    setup = Config.from_dict(config)
    rows = frame_values(setup, lr, frame, sampled)
    largest_weight = max(diagram.largest(values, "forward") for values in rows)
    text, width, negative = {}, {}, {}
    for view in diagram.VIEWS:
        columns: dict[str, list[str]] = {}
        widths: dict[str, list[float]] = {w: [] for w in WEIGHTS}
        signs: dict[str, list[str]] = {w: [] for w in WEIGHTS}
        for k, values in zip(sampled, rows, strict=True):
            for name, content in diagram.labels(values, view, f"Step {k:,} of {last:,}").items():
                columns.setdefault(name, []).append(content)
            # Weights on one scale for the whole run (thickness is |w|); gradients shrink by orders of
            # magnitude, so each step's are scaled by that step's largest (which weight moves most).
            scale = largest_weight if view == "forward" else diagram.largest(values, view)
            for w, (px, is_negative) in diagram.edges(values, view, scale).items():
                widths[w].append(round(px, 2))
                signs[w].append("1" if is_negative else "0")
        text[view], width[view] = columns, widths
        negative[view] = {w: "".join(s) for w, s in signs.items()}
    run = hashlib.sha256(json.dumps([config, lr, last, mistake], sort_keys=True).encode()).hexdigest()[:16]
    compare = None
    if mistake:
        wrong = compute.mistake_sweep(config, lr, steps, mistake)
        sheet = parse_sheet_mistake(mistake, setup.biases, setup.activation)
        compare = {"errors": wrong.curve(0), "label": f"a sheet {sheet.label()}"}
    return {
        "run": run,
        "steps": sampled.tolist(),
        "text": text,
        "width": width,
        "negative": negative,
        "legend": dict(diagram.LEGEND),
        "curve": curve(frame, sampled, compare),
        "fps": FRAMES_PER_SECOND,
        "speeds": list(SPEEDS),
        "rows": rows,
    }


def payload(config: Config, lr: float, steps: int, step: int, mistake: str = "") -> dict:
    """Everything the browser needs to play this run, from `step` on: frames, curve, the picture."""
    plain = compute.key(config)
    last = len(compute.table(plain, lr, steps)) - 1
    step = min(max(step, 0), last)
    # Every run's frames include steps 0..DENSE_STEPS and a fixed log-spaced set; only a viewed step
    # outside those needs a frame of its own (and its own cache entry).
    extra = -1 if step in set(sample_steps(last).tolist()) else step
    data = frames(plain, lr, steps, extra, mistake)
    rows = data.pop("rows")
    start = int(np.searchsorted(data["steps"], step))
    return data | {"start": start, "svg": diagram.network_svg(rows[start], f"Step {step:,} of {last:,}")}


def _follow(key: str) -> None:
    """Pause, Step, Reset or a click reported a step: make it the setup's step (before the page runs)."""
    reported = (st.session_state.get(key) or {}).get(STATE)
    if isinstance(reported, int | float) and not isinstance(reported, bool) and float(reported).is_integer():
        setup = st.session_state[state.SETUP_KEY]
        st.session_state[state.SETUP_KEY] = replace(setup, step=max(int(reported), 0))


def player(config: Config, lr: float, steps: int, step: int, key: str = "player", mistake: str = "") -> None:
    """The network picture and the error curve, with Play / Pause / Step / Reset and a speed control;
    `mistake` (a SheetMistake's text) adds the error curve of a sheet with that mistake, dashed."""
    _component(
        key=key,
        data=payload(config, lr, steps, step, mistake),
        on_step_change=lambda: _follow(key),
        height="content",
    )
