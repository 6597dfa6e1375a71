"""The Learning rate page's charts and the plain sentences that read them, from a Sweep's numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from backprop_core import Config, Sweep

from . import explain
from .format import at_float64_floor, number, show_number

MAX_POINTS = 2000  # per curve sent to the browser; longer runs are thinned (the last point is always kept)

# Plain labels for Sweep statuses: what a student should take from each.
STATUS_LABELS = {
    "converged": "converged: reached the target error",
    "still falling": "still falling: not at the target yet",
    "saturated": "stuck: the gradient vanished (saturated units)",
    "diverged": "diverged: the error grew or the weights blew up",
}


class Ready(go.Figure):
    """A figure that hands st.plotly_chart the plain dict it was built as, checked once, when it was built.

    st.plotly_chart validates a dict by building a go.Figure from it (about 240 ms for the race's 60
    frames of 6 curves, on every rerun) and turns a go.Figure into a deep-copied dict (tens of ms). The
    charts shared across sessions (lab/compute.py) are built once per setup, so each is wrapped in a
    Ready and every rerun only serialises it (the charts here are built as dicts for the same reason:
    plotly's graph objects validate every point). Read-only: nothing may change the dict once wrapped."""

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


def _thin(curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(steps, errors) with at most MAX_POINTS points, always including the first and the last."""
    steps = np.arange(curve.size)
    if curve.size <= MAX_POINTS:
        return steps, curve
    keep = np.unique(np.r_[np.linspace(0, curve.size - 1, MAX_POINTS).astype(int), curve.size - 1])
    return steps[keep], curve[keep]


def _axis(title: str, **more) -> dict:
    return {"title": {"text": title}, **more}


def error_curves(result: Sweep, log_y: bool) -> dict:
    """E_total against step, one line per learning rate (a plotly figure as a dict); a diverged run
    stops at its last computed row."""
    data = []
    for i, lr in enumerate(result.lrs):
        steps, errors = _thin(result.curve(i))
        if log_y:  # a run that reaches exactly 0 cannot be drawn on a log axis; it stops there instead
            steps, errors = steps[errors > 0], errors[errors > 0]
        data.append(
            {
                "type": "scatter",
                "x": steps.tolist(),
                "y": errors.tolist(),
                "mode": "lines",
                "name": f"η = {show_number(lr)}",
                "hovertemplate": "step %{x}<br>E_total %{y:.10g}<extra>η = " + show_number(lr) + "</extra>",
            }
        )
    layout = {
        "xaxis": _axis("step"),
        # exponentformat power: 10⁻⁸, not the SI prefixes (10n, 1p) a log axis defaults to
        "yaxis": _axis("E_total", type="log" if log_y else "linear", exponentformat="power"),
        "legend": {"title": {"text": "learning rate"}},
        "margin": dict(l=10, r=10, t=30, b=10),
        "height": 420,
    }
    return {"data": data, "layout": layout}


RACE_FRAMES = 60  # frames of the race, sampled like the player (early steps dense, then log-spaced): ~300 kB


def race(result: Sweep, log_y: bool) -> dict:
    """error_curves() with a Play button: every compared rate's curve is drawn step by step, side by side,
    so the class sees which η reaches the target first (plotly animation frames, in the browser)."""
    from .player import sample_steps

    figure = error_curves(result, log_y)
    last = result.errors.shape[1] - 1
    shown = sample_steps(last)
    shown = shown[np.unique(np.linspace(0, shown.size - 1, min(RACE_FRAMES, shown.size)).astype(int))]
    curves = [result.curve(i) for i in range(result.lrs.size)]

    def upto(k: int) -> list[dict]:
        traces = []
        for curve in curves:  # drawn through the race's own steps: 120 points a frame keeps it light
            steps = shown[(shown <= k) & (shown < curve.size)]
            errors = curve[steps]
            if log_y:
                steps, errors = steps[errors > 0], errors[errors > 0]
            traces.append({"x": steps.tolist(), "y": errors.tolist()})
        return traces

    positive = result.errors[np.isfinite(result.errors) & (result.errors > 0)]
    layout = figure["layout"]
    if log_y and positive.size:
        layout["yaxis"]["range"] = [float(np.log10(positive.min())), float(np.log10(positive.max())) + 0.2]
    layout["xaxis"]["range"] = [0, max(last, 1)]
    layout.update(
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0,
                y=1.15,
                xanchor="left",
                buttons=[
                    dict(
                        label="▶ Play the race",
                        method="animate",
                        args=[None, dict(frame=dict(duration=50, redraw=False), fromcurrent=False)],
                    ),
                    dict(label="Pause", method="animate", args=[[None], dict(mode="immediate")]),
                ],
            )
        ],
        sliders=[
            dict(
                currentvalue=dict(prefix="step "),
                steps=[
                    dict(label=f"{int(k):,}", method="animate", args=[[str(int(k))], dict(mode="immediate")])
                    for k in shown
                ],
            )
        ],
        margin=dict(l=10, r=10, t=60, b=10),
        height=480,
    )
    figure["frames"] = [{"name": str(int(k)), "data": upto(int(k))} for k in shown]
    return figure


def mark_compared(figure: dict, lrs) -> dict:
    """A dotted line on the dense-scan chart at each compared learning rate, so the two charts connect."""
    return _mark_lrs(figure, [(float(lr), f"η = {show_number(lr)}", "dot") for lr in lrs])


def _mark_lrs(figure: dict, marks: list[tuple[float, str, str]]) -> dict:
    """Vertical lines with a label at learning rates (x, label, dash) on the scan's log x axis.

    On a log axis plotly places an annotation at 10^x, so its x is log10(η) (an annotation at η = 28
    once stretched the axis to 10²⁸); the line itself spans the plot in paper coordinates."""
    layout = figure["layout"]
    layout["shapes"] = [
        *layout.get("shapes", ()),
        *(
            dict(
                type="line",
                xref="x",
                yref="paper",
                x0=x,
                x1=x,
                y0=0,
                y1=1,
                line=dict(dash=dash, color="#64748b"),
            )
            for x, _, dash in marks
        ),
    ]
    layout["annotations"] = [
        *layout.get("annotations", ()),
        *(
            dict(xref="x", yref="paper", x=float(np.log10(x)), y=1, text=text, showarrow=False, xanchor="right",
                 yanchor="top", textangle=-90, font=dict(size=11))
            for x, text, _ in marks
        ),
    ]  # fmt: skip
    return figure


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


def scan_chart(scan: pd.DataFrame) -> dict:
    """Final E_total against learning rate (both axes log), coloured by status, the first failure marked
    (a plotly figure as a dict).

    `scan` is a Sweep.summary() (lr, final_E_total, status) with attrs["steps"]."""
    lrs = scan["lr"].to_numpy()
    finals = scan["final_E_total"].to_numpy()
    statuses = scan["status"].to_numpy()
    # A run that reaches exactly 0 has no place on a log axis: draw it at a floor below every other
    # point, as its own trace, rather than leaving a gap that looks like missing data.
    positive = finals[finals > 0]
    floor = positive.min() / 10 if positive.size else 1e-30
    data = []

    def points(x, y, name: str, hover: str, **marker) -> None:
        data.append({"type": "scatter", "x": x.tolist(), "y": y.tolist(), "mode": "markers", "marker": marker,
                     "name": name, "hovertemplate": hover})  # fmt: skip

    for status in ("converged", "still falling", "saturated", "diverged"):
        chosen = (statuses == status) & (finals > 0)
        if chosen.any():
            hover = "η %{x:.4g}<br>final E_total %{y:.10g}<extra>" + status + "</extra>"
            points(lrs[chosen], finals[chosen], status, hover, size=5)
    exact_zero = finals == 0
    if exact_zero.any():
        hover = "η %{x:.4g}<br>final E_total 0<extra>converged</extra>"
        name = "reached exactly 0 (drawn at the bottom)"
        points(
            lrs[exact_zero],
            np.full(int(exact_zero.sum()), floor),
            name,
            hover,
            size=6,
            symbol="triangle-down",
        )
    layout = {
        # The data's own range (log10 values, as plotly stores a log axis's range), so nothing drawn on it
        # can stretch it; see _mark_lrs for what once stretched it to 10²⁸.
        "xaxis": _axis(
            "learning rate η (log scale)",
            type="log",
            range=[float(np.log10(lrs.min())), float(np.log10(lrs.max()))],
            exponentformat="power",
        ),
        "yaxis": _axis(f"E_total after {scan.attrs['steps']:,} steps", type="log", exponentformat="power"),
        "margin": dict(l=10, r=10, t=30, b=10),
        "height": 380,
    }
    figure = {"data": data, "layout": layout}
    failure = first_failure(statuses)
    if failure is not None:
        _mark_lrs(figure, [(float(lrs[failure]), f"stops converging: η ≈ {lrs[failure]:.3g}", "dash")])
    return figure


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
