"""The convergence map: its corners against single runs of the numpy engine, and a click opening the run.

AppTest cannot click a plotly chart, so the click test calls the map's selection handler
(convergence_map.choose) with the selection Streamlit would hand it, then reruns the app as a click does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from backprop_core import Config, compiled, run_steps
from backprop_core.config import WEIGHTS
from lab import convergence_map
from tests.streamlit_server import REPO


@pytest.mark.parametrize(
    "config", [Config(), Config(activation="tanh", biases=True, t1=0.1, t2=0.9), Config(activation="linear")]
)
def test_corners_are_single_runs_of_the_numpy_engine(config: Config, monkeypatch) -> None:
    result = convergence_map.compute(config, steps=60, size=4)
    assert result.final_errors.shape == (4, 4) and np.isfinite(result.final_errors).all()
    monkeypatch.setenv(compiled.ENGINE_VARIABLE, "numpy")  # the reference path, one run at a time
    for i in (0, -1):
        for j in (0, -1):
            scale, lr = result.scales[i], result.lrs[j]
            start = replace(config, **{w: getattr(config, w) * scale for w in WEIGHTS})
            single = run_steps(start, lr, 60)
            expected = single["E_total"].iloc[-1]  # the last safe row if the run diverged
            assert abs(result.final_errors[i, j] - expected) <= 1e-12 * max(1.0, abs(expected))
            if single.attrs["diverged_at"] >= 0:
                assert result.statuses[i, j] == "diverged"
    assert result.lrs[0] == pytest.approx(0.01) and result.lrs[-1] == pytest.approx(100.0)
    assert result.scales[0] == pytest.approx(0.1) and result.scales[-1] == pytest.approx(10.0)


def test_scales_stop_where_a_weight_would_leave_the_sidebars_range() -> None:
    scales = convergence_map.scales_for(Config(w5=40.0), size=10)
    assert scales[-1] * 40.0 <= 100.0 and scales[-1] == pytest.approx(2.5)


@pytest.mark.parametrize(
    "selection",
    [None, {}, {"selection": {"points": []}}, {"selection": {"points": [{"x": 1}]}}],
)
def test_a_selection_without_a_cell_changes_nothing(selection) -> None:
    assert convergence_map.chosen_run(selection) is None
    session = {}
    assert not convergence_map.choose(session, selection) and session == {}


def test_a_click_sets_eta_and_the_weights_and_opens_step_through() -> None:
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    app.switch_page("app_pages/learning_rate.py")
    app.run()
    assert not app.exception
    assert not any(chart.key == convergence_map.CHART_KEY for chart in app.get("plotly_chart"))  # on request
    app.toggle(key=convergence_map.SHOW_KEY).set_value(True)
    app.run()
    assert not app.exception
    assert any(chart.key == convergence_map.CHART_KEY for chart in app.get("plotly_chart"))
    clicked = {"selection": {"points": [{"customdata": [2.5, 3.0]}]}}  # what st.plotly_chart hands over
    assert convergence_map.choose(app.session_state, clicked)
    app.run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Step through one update"]
    setup = app.session_state["setup"]
    assert setup.lr == 2.5 and setup.step == 0
    classroom = (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)
    for w, start in zip(WEIGHTS, classroom, strict=True):
        assert getattr(setup.config, w) == start * 3.0
        assert float(app.text_input(key=f"setup_field_{w}").value) == start * 3.0
    assert float(app.text_input(key="setup_field_lr").value) == 2.5
