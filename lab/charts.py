"""The Learning rate page's charts and the plain sentences that read them, from a Sweep's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backprop_core import Config, Sweep

from . import explain
from .format import at_float64_floor, number, show_number

# Plain labels for Sweep statuses: what a student should take from each.
STATUS_LABELS = {
    "converged": "converged: reached the target error",
    "still falling": "still falling: not at the target yet",
    "saturated": "stuck: the gradient vanished (saturated units)",
    "diverged": "diverged: the error grew or the weights blew up",
}


class Ready(go.Figure):
    """A figure that hands st.plotly_chart the plain dict it was built as, checked once, when it was built.

    st.plotly_chart validates a dict by building a go.Figure from it (about 240 ms, on every rerun, for
    the plotly race this page once had: 60 frames of 6 curves) and turns a go.Figure into a deep-copied
    dict (tens of ms). The charts shared across sessions (lab/compute.py) are built once per setup, so
    each is wrapped in a Ready and every rerun only serialises it (the charts here are built as dicts for
    the same reason: plotly's graph objects validate every point). Read-only: nothing may change the
    dict once wrapped."""

    def __init__(self, spec: dict | go.Figure) -> None:
        spec = spec.to_dict() if isinstance(spec, go.Figure) else spec
        # st.plotly_chart sizes the element from layout.height and .width (450 px when unset).
        size = {k: spec["layout"][k] for k in ("height", "width") if k in spec.get("layout", {})}
        super().__init__(layout=size)
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec

    def to_plotly_json(self) -> dict:
        return self._spec


def mark_compared(chart: dict, lrs) -> dict:
    """A dotted line on the dense-scan chart at each compared learning rate, so the two charts connect."""
    chart["marks"] = [*chart["marks"], *({"x": float(lr), "label": f"η = {show_number(lr)}", "dash": "dot"}
                                         for lr in lrs)]  # fmt: skip
    return chart


def summary_table(result: Sweep) -> pd.DataFrame:
    """One row per learning rate: final E_total, steps to reach the target, and a plainly worded status."""
    summary = result.summary()
    reached = summary["steps_to_target"].to_numpy()
    diverged = result.diverged_at
    return pd.DataFrame(
        {
            "learning rate η": [show_number(lr) for lr in result.lrs],
            "final E_total": [number(e, 12) for e in summary["final_E_total"]],
            f"steps to E_total ≤ {result.target_error:g}": [
                f"{int(k):,}" if k >= 0 else "not reached" for k in reached
            ],
            "status": [STATUS_LABELS[s] for s in summary["status"]],
            "note": [
                f"weights blew up at step {d}; E_total shown is the last computed one" if d >= 0 else ""
                for d in diverged
            ],
        }
    )


FAILURE_VERBS = {"diverged": "diverges", "saturated": "stalls: the units saturate and the gradient vanishes"}


def first_failure(statuses) -> int | None:
    """Index of the smallest learning rate whose run does not settle (diverged or stuck), or None."""
    bad = [i for i, status in enumerate(statuses) if status in ("diverged", "saturated")]
    return bad[0] if bad else None


# The scan's colours, one per status (and the runs that reached exactly 0).
SCAN_COLOURS = {"converged": "#59a14f", "still falling": "#4e79a7", "saturated": "#f28e2b",
                "diverged": "#e15759", "zero": "#b07aa1"}  # fmt: skip


def scan_chart(scan: pd.DataFrame) -> dict:
    """Final E_total against learning rate (both axes log), coloured by status, the first failure marked:
    the data lab/scan_view.py draws.

    `scan` is a Sweep.summary() (lr, final_E_total, status) with attrs["steps"]. The x axis is the scanned
    range itself, so nothing drawn on it can stretch it (a plotly label once stretched it to 10²⁸)."""
    lrs = scan["lr"].to_numpy()
    finals = scan["final_E_total"].to_numpy()
    statuses = scan["status"].to_numpy()
    # A run that reaches exactly 0 has no place on a log axis: draw it at a floor below every other
    # point, as its own series, rather than leaving a gap that looks like missing data.
    positive = finals[finals > 0]
    floor = positive.min() / 10 if positive.size else 1e-30
    series = []
    for status in ("converged", "still falling", "saturated", "diverged"):
        chosen = (statuses == status) & (finals > 0)
        if chosen.any():
            series.append({"name": status, "colour": SCAN_COLOURS[status], "x": lrs[chosen].tolist(),
                           "y": finals[chosen].tolist(), "zero": False})  # fmt: skip
    exact_zero = finals == 0
    if exact_zero.any():
        series.append({"name": "reached exactly 0 (drawn at the bottom)", "colour": SCAN_COLOURS["zero"],
                       "x": lrs[exact_zero].tolist(), "y": [float(floor)] * int(exact_zero.sum()), "zero": True})  # fmt: skip
    shown = np.r_[positive, floor] if exact_zero.any() else positive
    shown = shown if shown.size else np.array([1e-30, 1.0])
    low = int(np.floor(np.log10(shown.min())))
    chart = {
        "series": series,
        "marks": [],
        "x_low": float(np.log10(lrs.min())),
        "x_high": float(np.log10(lrs.max())),
        "y_low": low,
        "y_high": max(int(np.ceil(np.log10(shown.max()))), low + 1),
        "x_title": "learning rate η (log scale)",
        "y_title": f"E_total after {scan.attrs['steps']:,} steps",
    }
    failure = first_failure(statuses)
    if failure is not None:
        label = f"stops converging: η ≈ {lrs[failure]:.3g}"
        chart["marks"].append({"x": float(lrs[failure]), "label": label, "dash": "dash"})
    return chart


def reading(result: Sweep, config: Config | None = None) -> list[str]:
    """A few sentences a student can check against the chart, built from this sweep's numbers."""
    statuses = result.statuses()
    finals = result.final_errors
    steps = result.errors.shape[1] - 1
    reached = result.steps_to_target()
    sentences = []
    settled = [i for i, s in enumerate(statuses) if s in ("converged", "still falling")]
    if settled:
        best = min(settled, key=lambda i: finals[i])
        start = number(result.errors[best, 0])
        if not at_float64_floor(finals[best]):
            sentences.append(
                f"After {steps:,} steps the lowest error is {number(finals[best])}, with η = "
                f"{show_number(result.lrs[best])}; it started at {start}."
            )
        else:
            sentences.append(
                f"With η = {show_number(result.lrs[best])} the error falls from {start} all the way to 0 "
                f"(as far as float64 can tell) within {steps:,} steps."
            )
        slowest = min(settled, key=lambda i: result.lrs[i])
        if slowest != best and not at_float64_floor(finals[best]):
            sentences.append(
                f"The smallest rate, η = {show_number(result.lrs[slowest])}, ends "
                f"{finals[slowest] / finals[best]:,.3g} times higher ({number(finals[slowest])}): "
                "small steps are safe but slow."
            )
        elif slowest != best:
            sentences.append(
                f"The smallest rate, η = {show_number(result.lrs[slowest])}, is still at "
                f"{number(finals[slowest])}: small steps are safe but slow."
            )
    hit = [i for i in range(result.lrs.size) if reached[i] >= 0]
    if hit:
        fastest = min(hit, key=lambda i: reached[i])
        sentences.append(
            f"η = {show_number(result.lrs[fastest])} reaches E_total ≤ {result.target_error:g} first, "
            f"at step {int(reached[fastest]):,}."
        )
    elif settled:
        sentences.append(
            f"None reaches E_total ≤ {result.target_error:g} within {steps:,} steps; more steps would help."
        )
    failed = [i for i, s in enumerate(statuses) if s in ("diverged", "saturated")]
    if failed:
        names = ", ".join(f"η = {show_number(result.lrs[i])} ({statuses[i]})" for i in failed)
        sentences.append(f"Too large a step overshoots the valley: {names}.")
    return sentences + (explain.sudden_convergence(result, config) if config is not None else [])


def scan_reading(scan: pd.DataFrame) -> str:
    """Where training stops settling, read from a dense scan's summary."""
    lrs, statuses, steps = scan["lr"].to_numpy(), scan["status"].tolist(), scan.attrs["steps"]
    failure = first_failure(statuses)
    good = sum(s in ("converged", "still falling") for s in statuses)
    if failure is None:
        return (
            f"Every learning rate from {lrs[0]:g} to {lrs[-1]:g} settles within {steps:,} steps "
            f"({100 * good / len(statuses):.0f} % converge or are still falling)."
        )
    return (
        f"Training settles up to about η ≈ {lrs[max(failure - 1, 0)]:.3g}; from η ≈ {lrs[failure]:.3g} "
        f"it {FAILURE_VERBS[statuses[failure]]}. Past that point a step jumps across the minimum instead of "
        "walking into it."
    )
