"""The learning-rate race's data (lab/race.py): each compared rate's curve, against E_total worked out by
hand (tests/test_app_pages.py's train_by_hand: math.exp and the chain rule written out)."""

from __future__ import annotations

import math

import pytest

from backprop_core import Config, sweep
from lab import race
from lab.format import FLOAT64_FLOOR
from lab.player import DENSE_STEPS, MAX_FRAMES
from tests.test_app_pages import train_by_hand


@pytest.mark.parametrize("log_y", [True, False])
def test_each_curve_is_the_run_worked_out_by_hand(log_y):
    data = race.curves(sweep(Config(), [0.5, 2.0], 300), log_y)
    assert data["last"] == 300 and data["log"] is log_y
    assert [c["label"] for c in data["curves"]] == ["η = 0.5", "η = 2"]
    for curve, lr in zip(data["curves"], (0.5, 2.0), strict=True):
        errors, _ = train_by_hand(lr, 300)
        assert curve["x"][0] == 0 and curve["x"][-1] == 300
        assert curve["y"] == pytest.approx([max(errors[k], FLOAT64_FLOOR) if log_y else errors[k]
                                            for k in curve["x"]], rel=1e-12)  # fmt: skip
        assert curve["status"] == "converged"
    # The axis holds every point: decades on a log axis, from 0 on a linear one.
    ys = [y for c in data["curves"] for y in c["y"]]
    if log_y:
        assert 10 ** data["low"] <= min(ys) and max(ys) <= 10 ** data["high"]
    else:
        assert data["low"] == 0 and max(ys) <= data["high"]


def test_the_steps_played_are_dense_early_then_log_spaced_and_each_curve_has_them():
    data = race.curves(sweep(Config(), [1.0], 100_000), True)
    steps = data["steps"]
    assert steps[: DENSE_STEPS + 1] == list(range(DENSE_STEPS + 1)) and steps[-1] == 100_000
    assert len(steps) <= MAX_FRAMES and steps == sorted(set(steps))
    assert set(steps) <= set(data["curves"][0]["x"]), "a frame never falls between two drawn points"


def test_a_diverged_rate_stops_at_its_last_computed_row():
    data = race.curves(sweep(Config(activation="linear"), [1.0, 50.0], 200), True)
    calm, wild = data["curves"]
    assert calm["x"][-1] == 200 and calm["status"] == "converged"
    assert wild["status"] == "diverged" and wild["x"][-1] < 200
    assert all(math.isfinite(y) for y in wild["y"])
