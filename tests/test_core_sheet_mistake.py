"""Descent with a mistake in some columns of the sheet (backprop_core.mistakes.SheetMistake): the error
curve a student's sheet draws. The oracle is torch: autograd's right gradients, with the classic w3/w4
mistake typed in by hand (∂E/∂a_h2 from autograd times a_h1's slope where a_h2's belongs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backprop_core import Config, compiled, sweep
from backprop_core.config import WEIGHTS
from backprop_core.mistakes import (
    CLASSIC,
    DESCENT_COLUMNS,
    parse_sheet_mistake,
    sheet_mistakes,
)
from backprop_core.sweep import numpy_errors
from lab.presets import PRESETS_BY_ID

TOLERANCE = 1e-12  # relative, with an absolute floor of 1 (as test_core_autograd)
# Hundreds of steps of rounding, on errors down to 1e-11, differ in the last digits only: relative 1e-9 still
# tells apart curves that differ in the 5th digit (the classroom's, with and without the mistake).
SMALL_TOLERANCE = 1e-9
APART = PRESETS_BY_ID["targets-apart"].setup


def torch_descent_w3_w4_mistake(config: Config, lr: float, steps: int) -> np.ndarray:
    """E_total of rows 0..steps, descending with ∂E/∂w3 = ∂E/∂a_h2 · a_h1(1 − a_h1) · i1 and
    ∂E/∂w4 = ∂E/∂a_h2 · a_h1(1 − a_h1) · i2 (sigmoid, no biases), every other gradient autograd's."""
    v = config.values()
    w = {k: torch.tensor(v[k], dtype=torch.float64) for k in WEIGHTS}
    i1, i2, t1, t2 = (torch.tensor(v[k], dtype=torch.float64) for k in ("i1", "i2", "t1", "t2"))
    errors = []
    for _ in range(steps + 1):
        p = {k: x.clone().requires_grad_(True) for k, x in w.items()}
        a_h1 = torch.sigmoid(p["w1"] * i1 + p["w2"] * i2)
        h2 = p["w3"] * i1 + p["w4"] * i2
        a_h2 = torch.sigmoid(h2)
        a_o1 = torch.sigmoid(p["w5"] * a_h1 + p["w6"] * a_h2)
        a_o2 = torch.sigmoid(p["w7"] * a_h1 + p["w8"] * a_h2)
        e = 0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2
        errors.append(float(e.detach()))
        *grads, de_da_h2 = torch.autograd.grad(e, [p[k] for k in WEIGHTS] + [a_h2])
        g = dict(zip(WEIGHTS, grads, strict=True))
        slope = a_h1.detach() * (1 - a_h1.detach())  # the mistake: a_h1's slope in δ_h2
        g["w3"], g["w4"] = de_da_h2 * slope * i1, de_da_h2 * slope * i2
        w = {k: w[k] - lr * g[k] for k in WEIGHTS}
    return np.array(errors)


def assert_close(ours, reference) -> None:
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    assert ours.shape == reference.shape
    difference = np.abs(ours - reference)
    worst = np.max(difference / np.maximum(1.0, np.abs(reference)), initial=0.0)
    assert worst <= TOLERANCE, f"differs by {worst:.3g}"
    relative = np.max(difference / np.maximum(1e-300, np.abs(reference)), initial=0.0)
    assert relative <= SMALL_TOLERANCE, f"differs by {relative:.3g} (relative)"


@pytest.mark.parametrize("config", [Config(), APART.config], ids=["classroom", "targets-apart"])
def test_the_classic_mistake_descends_as_torch_with_the_mistake_typed_in(config):
    oracle = torch_descent_w3_w4_mistake(config, 1.0, 300)
    numpy_path, _, _ = numpy_errors(config, np.array([1.0]), 300, CLASSIC)
    assert_close(numpy_path[0], oracle)
    if compiled.enabled():
        assert_close(sweep(config, [1.0], 300, mistake=CLASSIC).errors[0], oracle)


def test_the_t1_t2_preset_shows_the_classic_mistake_in_its_error_curve():
    """The right sheet converges; the sheet with the w3/w4 mistake is still above 1e-3 at the last step,
    a hundredfold above the right one where the right one crossed 1e-4."""
    setup = APART
    assert setup.config.t1 != setup.config.t2 and setup.mistake == CLASSIC
    right = sweep(setup.config, [setup.lr], setup.steps)
    wrong = sweep(setup.config, [setup.lr], setup.steps, mistake=CLASSIC)
    assert right.statuses() == ["converged"] and wrong.statuses() == ["still falling"]
    assert wrong.final_errors[0] > 1e-3
    crossed = int(np.argmax(right.errors[0] < 1e-4))
    assert wrong.errors[0, crossed] > 100 * right.errors[0, crossed]


def test_the_classroom_values_hide_the_classic_mistake():
    """t1 = t2 = 0.5 and small inputs: both hidden units keep a slope of about 0.25, so the two curves
    agree to 5 digits until the error is far below the target."""
    right = sweep(Config(), [1.0], 1000).errors[0]
    wrong = sweep(Config(), [1.0], 1000, mistake=CLASSIC).errors[0]
    shown = right > 1e-10
    assert shown[:100].all()
    assert np.max(np.abs(wrong[shown] - right[shown]) / right[shown]) < 1e-5


@pytest.mark.parametrize("sheet", sheet_mistakes(), ids=lambda s: s.text())
def test_every_sheet_mistake_runs_alike_compiled_and_in_numpy(sheet):
    if not compiled.enabled():
        pytest.skip("numba is not importable here")
    config = Config(t1=0.2, t2=0.7, i1=0.5, i2=-1.0)
    lrs = np.array([0.5, 2.0, 500.0])
    fast = sweep(config, lrs, 60, mistake=sheet)
    reference, diverged_at, _ = numpy_errors(config, lrs, 60, sheet)
    np.testing.assert_array_equal(fast.diverged_at, diverged_at)
    assert_close(fast.errors, reference)
    # and the mistake is really carried: some curve differs from the right sheet's
    assert not np.allclose(fast.errors, sweep(config, lrs, 60).errors, rtol=1e-9, atol=0)


def test_a_step_uphill_diverges_where_the_right_sheet_converges():
    uphill = parse_sheet_mistake("sign-update")
    assert uphill.columns == tuple(f"next_{w}" for w in WEIGHTS)
    assert sweep(Config(activation="linear"), [1.0], 200, mistake=uphill).statuses() == ["diverged"]
    assert sweep(Config(activation="linear"), [1.0], 200).statuses() == ["converged"]


def test_links_name_a_sheet_mistake_by_id_and_columns():
    assert parse_sheet_mistake(CLASSIC.text()) == CLASSIC
    assert parse_sheet_mistake("a_h1-for-a_h2: dE_dw4 , dE_dw3") == CLASSIC, "columns in any order"
    whole = parse_sheet_mistake("a_h1-for-a_h2")
    assert whole.columns == ("dE_dw3", "dE_dw4", "dE_dw6", "dE_dw8")
    assert sheet_mistakes()[0] == CLASSIC
    assert all(set(s.columns) <= set(DESCENT_COLUMNS) for s in sheet_mistakes())


@pytest.mark.parametrize(
    "text",
    [
        "no-such-mistake",
        "a_h1-for-a_h2:dE_dw1",  # the mistake does not change ∂E/∂w1
        "a_h1-for-a_h2:E_total",  # not a column descent follows
        "a_h1-for-a_h2:dE_dw3",  # not a set of columns the app offers (each would be a module to compile)
        "missing-half",  # changes only E, which moves no weight
        "old-weights",  # needs the previous step's weights
    ],
)
def test_a_link_with_a_bad_mistake_is_refused_in_one_line(text):
    with pytest.raises(ValueError) as error:
        parse_sheet_mistake(text)
    assert "\n" not in str(error.value)


def test_a_sigmoid_only_mistake_is_refused_for_tanh_with_the_reason():
    with pytest.raises(ValueError, match="cannot be made with tanh units"):
        parse_sheet_mistake("one-minus-a_o1-for-a_o2", activation="tanh")
    assert parse_sheet_mistake("one-minus-a_o1-for-a_o2").columns  # and accepted for the sigmoid
