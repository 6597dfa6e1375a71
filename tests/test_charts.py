"""lab/charts.py's dense-scan chart (drawn by lab/scan.js): its x axis is the scanned range, whatever is
marked, and every mark sits inside it. With tanh and biases the first failing η is about 29; a plotly
label once stretched that axis to 10²⁹."""

from __future__ import annotations

import dataclasses
import math

import pytest

from backprop_core import Config
from lab import charts, compute

COMPARED = (0.1, 0.5, 1.0, 2.0, 10.0)  # a Learning-rate page's compared rates, all inside the scan


@pytest.fixture(scope="module")
def tanh_with_biases():
    config = dataclasses.replace(Config(), activation="tanh", biases=True, b1=0.35, b2=0.6)
    scan = compute.scan(config.to_dict(), 1000)
    assert (scan["status"] != "converged").any(), "this setup must have a failure to mark"
    return scan, charts.mark_compared(charts.scan_chart(scan), COMPARED)


def test_the_x_axis_is_the_scanned_learning_rates(tanh_with_biases):
    _, chart = tanh_with_biases
    assert chart["x_low"] == pytest.approx(math.log10(0.01)) and chart["x_high"] == pytest.approx(
        math.log10(100)
    )


def test_every_run_is_one_dot_inside_the_axes_coloured_by_its_status(tanh_with_biases):
    scan, chart = tanh_with_biases
    assert sum(len(s["x"]) for s in chart["series"]) == len(scan) == 1000
    for series in chart["series"]:
        assert all(0.01 <= x <= 100 for x in series["x"])
        assert all(10 ** chart["y_low"] <= y <= 10 ** chart["y_high"] for y in series["y"])
        if not series["zero"]:
            chosen = scan[scan["status"] == series["name"]]
            assert sorted(series["x"]) == sorted(chosen[chosen["final_E_total"] > 0]["lr"].tolist())


def test_a_line_at_each_compared_rate_and_one_where_convergence_stops(tanh_with_biases):
    scan, chart = tanh_with_biases
    marks = chart["marks"]
    assert [m["x"] for m in marks if m["dash"] == "dot"] == list(COMPARED)
    (failure,) = [m for m in marks if m["dash"] == "dash"]
    assert 0.01 <= failure["x"] <= 100 and f"{failure['x']:.3g}" in failure["label"]
    # Every rate below the mark settles (converges or is still falling); the one at the mark does not.
    below = scan[scan["lr"] < failure["x"]]["status"]
    assert below.isin(["converged", "still falling"]).all()
    assert scan[scan["lr"] == failure["x"]]["status"].iloc[0] in ("diverged", "saturated")


def test_a_ready_chart_keeps_the_height_it_was_built_with():
    """st.plotly_chart sizes the element from the figure's layout.height (450 px when unset)."""
    spec = {"data": [{"type": "heatmap", "z": [[1, 2], [3, 4]]}], "layout": {"height": 520}}
    assert charts.Ready(spec).layout.height == 520
    assert charts.Ready(spec).to_dict() is spec, "handed over as built, not copied"
