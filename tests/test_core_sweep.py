"""Sweeps agree with the table, and no learning rate can produce NaN, inf or a numpy warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_core import ACTIVATIONS, CLASSROOM_LRS, MAX_LR, STATUSES, Config, run_steps, sweep
from backprop_core.config import ConfigError


def test_sweep_agrees_with_the_tables_error_column() -> None:
    result = sweep(Config(), CLASSROOM_LRS, 200)
    assert result.errors.shape == (6, 201)
    for i, lr in enumerate(CLASSROOM_LRS):
        np.testing.assert_allclose(result.errors[i], run_steps(Config(), lr, 200)["E_total"], rtol=1e-15)


def test_classroom_curves_fall_faster_with_larger_rates() -> None:
    final = sweep(Config(), CLASSROOM_LRS, 100).final_errors
    assert (np.diff(final) < 0).all()
    assert (final < 0.014181377937891659).all()


@pytest.fixture
def strict_numpy():
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("biases", [False, True])
def test_huge_learning_rates_stay_finite(activation: str, biases: bool, strict_numpy) -> None:
    lrs = [MAX_LR, 1e4, 100.0, 10.0, 1.0]
    result = sweep(Config(activation=activation, biases=biases, t1=0.01, t2=0.99), lrs, 2000)
    assert np.isfinite(result.errors).all()
    assert np.isfinite(result.final_max_gradient).all()
    assert set(result.statuses()) <= set(STATUSES)
    table = run_steps(Config(activation=activation, biases=biases), MAX_LR, 2000)
    assert np.isfinite(table.to_numpy()).all()


def test_linear_blow_up_is_reported_not_silent(strict_numpy) -> None:
    result = sweep(Config(activation="linear"), [1e6, 1.0], 100)
    assert result.statuses()[0] == "diverged" and result.diverged_at[0] > 0
    assert result.statuses()[1] == "converged"
    assert len(result.curve(0)) == result.diverged_at[0]
    table = run_steps(Config(activation="linear"), 1e6, 100)
    assert table.attrs["diverged_at"] == result.diverged_at[0] == len(table)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(ACTIVATIONS)),
    st.booleans(),
    st.lists(st.floats(min_value=-100, max_value=100), min_size=12, max_size=12),
    st.floats(min_value=1e-6, max_value=MAX_LR),
)
def test_any_configuration_and_rate_is_safe(activation, biases, numbers, lr) -> None:
    names = ["i1", "i2", "t1", "t2", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"]
    config = Config(activation=activation, biases=biases, **dict(zip(names, numbers, strict=True)))
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        result = sweep(config, [lr], 300)
    assert np.isfinite(result.errors).all()
    assert result.statuses()[0] in STATUSES


def test_statuses() -> None:
    result = sweep(Config(), [0.1, 2.0], 1000, target_error=1e-6)
    assert result.statuses() == ["still falling", "converged"]
    assert result.steps_to_target()[0] == -1
    assert (
        result.errors[1, result.steps_to_target()[1]]
        <= 1e-6
        < result.errors[1, result.steps_to_target()[1] - 1]
    )
    # tanh units driven far into saturation stop learning: E stays high while the gradient vanishes.
    stuck = sweep(Config(activation="tanh", t1=0.9, t2=-0.9), [1e4], 50)
    assert stuck.statuses()[0] in ("saturated", "diverged")


@pytest.mark.parametrize(
    "lrs, steps",
    [([float("nan")], 10), ([-1.0], 10), ([0.0], 10), ([2e6], 10), ([1.0], -1), ([1.0], 10**9), ([], 10)],
)
def test_bad_sweep_requests_raise_config_error(lrs, steps) -> None:
    with pytest.raises(ConfigError):
        sweep(Config(), lrs, steps)
