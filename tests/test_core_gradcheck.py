"""The analytic gradients against central finite differences."""

from __future__ import annotations

import pytest

from backprop_core import ACTIVATIONS, MAZUR, Config, gradient_check, row


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("biases", [False, True])
def test_gradient_check_agrees(activation: str, biases: bool) -> None:
    config = Config(activation=activation, biases=biases, t1=0.1, t2=0.8, w3=-0.4, i2=0.7)
    report = gradient_check(config)
    assert list(report["weight"]) == [f"w{k}" for k in range(1, 9)]
    assert (report["abs_diff"] < 1e-9).all(), report


def test_finite_differences_by_hand() -> None:
    """Our own central difference of E_total, independent of gradient_check."""
    h = 1e-5
    analytic = row(MAZUR)
    for k in range(1, 9):
        w = f"w{k}"
        base = getattr(MAZUR, w)
        up = row(MAZUR, weights={w: base + h})["E_total"]
        down = row(MAZUR, weights={w: base - h})["E_total"]
        assert analytic[f"dE_d{w}"] == pytest.approx((up - down) / (2 * h), abs=1e-9)


def test_gradient_check_catches_a_wrong_gradient() -> None:
    """The check must be able to fail: compare with a deliberately shifted gradient."""
    report = gradient_check(Config())
    shifted = report["analytic"] * 1.001
    assert ((shifted - report["finite_difference"]).abs() > 1e-9).any()
