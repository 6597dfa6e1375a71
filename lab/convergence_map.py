"""The convergence map: E_total after N steps over a grid of learning rates x starting-weight scales.

The dense scan shows one line (every run from the sidebar's weights); the map shows the plane: each
cell starts from the sidebar's weights times a factor from 0.1 to 10 and trains with its own η. A
saturated start (large weights) needs a larger step, and too large a step fails: both in one picture.
Each cell is one run of the engine (backprop_core.sweep.outcomes: only the final numbers are kept),
150 x 150 = 22,500 runs through the compiled loop, about 0.6 s at 1,000 steps on 2 cores.

A click on a cell sets η and the starting weights to that cell's and opens the run on Step through.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from backprop_core import Config, ConfigError
from backprop_core.config import VALUE_LIMIT, WEIGHTS, check_lr
from backprop_core.engine import start_weights
from backprop_core.sweep import DEFAULT_TARGET_ERROR, outcomes
from lab import state
from lab.charts import Ready
from lab.format import show_number
from lab.params import Setup

MAP_SIZE = 150  # learning rates and scales per axis: 22,500 runs (200 x 200 takes 1.7 s on 2 busy cores)
MAP_LRS = (0.01, 100.0)  # the learning-rate axis, log-spaced, the dense scan's range
MAP_SCALES = (0.1, 10.0)  # the factor on the sidebar's starting weights, log-spaced
MAX_MAP_STEPS = 1000  # the map runs the first 1,000 steps at most, so that it draws in under a second
FLOOR = 1e-300  # log10 of an E_total of exactly 0 (a perfect linear fit) is drawn at -300, not -inf
CHART_KEY = "convergence_map"
SHOW_KEY = "convergence_map_shown"  # the toggle that draws the map
CHOSEN_KEY = "convergence_map_chosen"  # (lr, scale) of a clicked cell, until the page opens its run
STEP_THROUGH = "app_pages/step_through.py"


@dataclass(frozen=True)
class ConvergenceMap:
    lrs: np.ndarray  # (n_lr,) the x axis
    scales: np.ndarray  # (n_scale,) the y axis
    final_errors: np.ndarray  # (n_scale, n_lr): E_total after `steps` (the last safe row if it diverged)
    statuses: np.ndarray  # (n_scale, n_lr): converged, still falling, saturated or diverged
    steps: int
    target_error: float


def map_steps(steps: int) -> int:
    return min(int(steps), MAX_MAP_STEPS)


def scales_for(config: Config, size: int = MAP_SIZE) -> np.ndarray:
    """Factors from 0.1 to 10, or less at the top where a scaled weight would pass VALUE_LIMIT (a run
    the sidebar could not hold, so a click could not open it)."""
    largest = max(abs(getattr(config, w)) for w in WEIGHTS)
    top = MAP_SCALES[1] if largest == 0 else min(MAP_SCALES[1], VALUE_LIMIT / largest * (1 - 1e-12))
    return np.geomspace(MAP_SCALES[0], max(top, MAP_SCALES[0]), size)


def compute(config: Config, steps: int, size: int = MAP_SIZE, target_error: float = DEFAULT_TARGET_ERROR):
    """One run per cell: learning rate lrs[j], starting weights = the config's x scales[i]."""
    lrs, scales = np.geomspace(*MAP_LRS, size), scales_for(config, size)
    grid_lrs, grid_scales = np.meshgrid(lrs, scales)  # (n_scale, n_lr), rows are scales
    starts = start_weights(config, grid_lrs.size) * grid_scales.reshape(-1, 1)
    result = outcomes(config, grid_lrs.ravel(), steps, target_error, starts)
    shape = grid_lrs.shape
    statuses = np.array(result.statuses()).reshape(shape)
    return ConvergenceMap(lrs, scales, result.final_errors.reshape(shape), statuses, steps, target_error)


@st.cache_data(max_entries=16, show_spinner="Training 22,500 networks for the convergence map…")
def cached(config: dict, steps: int) -> ConvergenceMap:
    return compute(Config.from_dict(config), map_steps(steps))


@st.cache_resource(max_entries=16, show_spinner=False)
def shared_figure(config: dict, steps: int) -> go.Figure:
    """figure() of cached(config, steps), built once and shared by every session (read-only)."""
    return Ready(figure(cached(config, steps)))


def figure(result: ConvergenceMap) -> go.Figure:
    """log10 E_total as colour, a line where it reaches the target, and a clickable point per cell."""
    logs = np.log10(np.maximum(result.final_errors, FLOOR))
    x, y = np.log10(result.lrs), np.log10(result.scales)  # plotly heatmaps draw cells on linear axes
    hover = np.char.add(np.char.add("E_total ", np.vectorize(show_number)(result.final_errors)), " · ")
    hover = np.char.add(hover, result.statuses)
    fig = go.Figure(
        go.Heatmap(
            x=x, y=y, z=logs, colorscale="Viridis", colorbar={"title": "log₁₀ E_total"}, hoverinfo="skip"
        )
    )
    fig.add_trace(
        go.Contour(
            x=x,
            y=y,
            z=logs,
            contours={
                "start": np.log10(result.target_error),
                "end": np.log10(result.target_error),
                "size": 1,
            },
            contours_coloring="none",
            line={"color": "white", "width": 2},
            showscale=False,
            hoverinfo="skip",
            name=f"E_total = {show_number(result.target_error)}",
        )
    )
    grid_x, grid_y = np.meshgrid(x, y)
    lr_grid, scale_grid = np.meshgrid(result.lrs, result.scales)
    # Heatmaps do not send clicks in Streamlit's selection mode; invisible markers on the cells do.
    fig.add_trace(
        go.Scattergl(
            x=grid_x.ravel(),
            y=grid_y.ravel(),
            mode="markers",
            marker={"size": 6, "color": "rgba(0,0,0,0)"},
            customdata=np.stack([lr_grid.ravel(), scale_grid.ravel()], axis=1),
            text=hover.ravel(),
            hovertemplate="η %{customdata[0]:.4g}, weights × %{customdata[1]:.3g}<br>%{text}<extra></extra>",
            showlegend=False,
        )
    )
    ticks = np.arange(-2, 3)
    fig.update_layout(
        xaxis={"title": "learning rate η", "tickvals": ticks, "ticktext": [f"{10.0**t:g}" for t in ticks]},
        yaxis={"title": "starting weights × factor", "tickvals": [-1, 0, 1], "ticktext": ["0.1", "1", "10"]},
        height=520,
        margin={"t": 30},
        clickmode="event+select",
        dragmode=False,
    )
    return fig


def chosen_run(selection) -> tuple[float, float] | None:
    """(lr, scale) of the clicked cell from st.plotly_chart's selection state, or None."""
    points = (selection or {}).get("selection", {}).get("points", [])
    for point in points:
        data = point.get("customdata")
        if data is not None and len(data) == 2:
            lr, scale = float(data[0]), float(data[1])
            if np.isfinite(lr) and np.isfinite(scale) and lr > 0 and scale > 0:
                return lr, scale
    return None


def open_run(setup: Setup, lr: float, scale: float) -> Setup:
    """The setup of one cell: its η, the sidebar's weights times its factor, from row 0."""
    weights = {w: getattr(setup.config, w) * scale for w in WEIGHTS}
    return replace(setup, config=replace(setup.config, **weights), lr=check_lr(lr), step=0)


def choose(session, selection) -> bool:
    """The click handler: a clicked cell becomes this session's setup (η, weights x factor, row 0) and
    the page is told to open it. `session` is st.session_state (or AppTest's, in the tests). The
    sidebar's fields get the cell's weights and η as text (exact: show_number round-trips)."""
    choice = chosen_run(selection)
    if choice is None or state.SETUP_KEY not in session:
        return False
    try:
        opened = open_run(session[state.SETUP_KEY], *choice)
    except ConfigError:  # a weight past VALUE_LIMIT or an η past MAX_LR cannot be a setup: stay here
        return False
    session[state.SETUP_KEY] = opened
    typed = {w: getattr(opened.config, w) for w in WEIGHTS} | {"lr": opened.lr}
    for name, value in typed.items():  # the sidebar's fields show exactly the cell's numbers
        session[state.field_key(name)] = show_number(value)
    session[CHOSEN_KEY] = True
    return True


def _on_select() -> None:  # runs before the rerun, when the sidebar's widgets may still be changed
    choose(st.session_state, st.session_state.get(CHART_KEY))


def section(setup: Setup) -> None:
    """The page's block: a heading, the map, what it shows; a clicked cell opens on Step through."""
    if st.session_state.pop(CHOSEN_KEY, False):  # the sidebar has already drawn the cell's setup
        st.switch_page(STEP_THROUGH)
    steps = map_steps(setup.steps)
    st.subheader("Where training converges: learning rate × starting weights")
    st.caption(
        f"E_total after {steps:,} steps for {MAP_SIZE}×{MAP_SIZE} runs, each from the sidebar's weights times "
        "a factor; the white line is where E_total reaches the target. Click a cell to open that run on "
        "Step through."
    )
    # Drawn on request: 22,500 runs and a figure with a clickable point per cell cost about a second,
    # which every rerun of the page (a new η, the log toggle) would otherwise pay again.
    if not st.toggle("Draw the convergence map", key=SHOW_KEY):
        return
    result = cached(state_key(setup), setup.steps)
    st.plotly_chart(
        shared_figure(state_key(setup), setup.steps),
        key=CHART_KEY,
        on_select=_on_select,
        selection_mode="points",
        config={"displaylogo": False},
    )
    st.markdown(reading(result))


def state_key(setup: Setup) -> dict:
    return setup.config.to_dict()


def reading(result: ConvergenceMap) -> str:
    """The share of runs that reach the target, and the smallest η that does from the smallest and the
    largest starting weights that get there at all."""
    converged = result.statuses == "converged"
    if not converged.any():
        return f"No run reaches the target within {result.steps:,} steps: try more steps."
    rows = np.flatnonzero(converged.any(axis=1))
    low, high = rows[0], rows[-1]
    return (
        f"{converged.mean():.0%} of the runs reach the target. From the weights × {result.scales[low]:.2g} "
        f"the smallest η that gets there is {result.lrs[converged[low]].min():.3g}; from × "
        f"{result.scales[high]:.2g} it is {result.lrs[converged[high]].min():.3g}."
    )
