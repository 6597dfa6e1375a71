"""lab/charts.py's dense-scan chart: its x axis stays on the scanned learning rates, whatever is marked.

Plotly stores a log axis's range, and an annotation's x on it, as log10 values; a shape's x stays the data
value. With tanh and biases the first failing η is about 29, and its label once sat at 10²⁹."""

from __future__ import annotations

import dataclasses
import math

import plotly.graph_objects as go
import pytest

from backprop_core import Config
from lab import charts, compute

COMPARED = (0.1, 0.5, 1.0, 2.0, 10.0)  # a Learning-rate page's compared rates, all inside the scan


@pytest.fixture(scope="module")
def tanh_with_biases_chart():
    config = dataclasses.replace(Config(), activation="tanh", biases=True, b1=0.35, b2=0.6)
    scan = compute.scan(config.to_dict(), 1000)
    assert (scan["status"] != "converged").any(), "this setup must have a failure to mark"
    # The app hands plotly these dicts unchecked (charts.Ready); go.Figure checks every key here instead.
    return go.Figure(charts.mark_compared(charts.scan_chart(scan), COMPARED))


@pytest.mark.parametrize("log_y", [True, False])
def test_the_race_is_a_figure_plotly_accepts_with_a_frame_per_sampled_step(log_y):
    result = compute.sweep(Config().to_dict(), (0.5, 2.0), 300)
    figure = go.Figure(charts.race(result, log_y))  # raises on any key or value plotly does not know
    assert len(figure.frames) == charts.RACE_FRAMES
    assert figure.layout.yaxis.type == ("log" if log_y else "linear")
    last = figure.frames[-1].data
    assert [len(trace.x) for trace in last] == [charts.RACE_FRAMES] * 2, (
        "the last frame draws every step shown"
    )


def test_the_x_axis_stays_within_the_scanned_learning_rates(tanh_with_biases_chart):
    low, high = tanh_with_biases_chart.layout.xaxis.range
    assert tanh_with_biases_chart.layout.xaxis.type == "log"
    assert math.log10(0.01) - 1e-9 <= low < high <= math.log10(100) + 1e-9, (low, high)


def test_every_line_and_its_label_sit_at_the_same_learning_rate_inside_the_axis(tanh_with_biases_chart):
    lines = [s.x0 for s in tanh_with_biases_chart.layout.shapes]
    labels = [a.x for a in tanh_with_biases_chart.layout.annotations if a.xref == "x"]
    assert len(lines) == len(COMPARED) + 1, "a line per compared η and one where convergence stops"
    assert all(0.01 <= x <= 100 for x in lines), lines  # shapes: data values
    # annotations: log10 values, each on its own line
    assert labels == pytest.approx([math.log10(x) for x in lines], abs=1e-12)


def test_a_ready_chart_keeps_the_height_it_was_built_with():
    """st.plotly_chart sizes the element from the figure's layout.height (450 px when unset)."""
    spec = charts.race(compute.sweep(Config().to_dict(), (1.0,), 20), True)
    assert charts.Ready(spec).layout.height == spec["layout"]["height"] == 480
    assert charts.Ready(spec).to_dict() is spec, "handed over as built, not copied"
