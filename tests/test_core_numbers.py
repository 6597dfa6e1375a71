"""Published numbers: the classroom sheet and Matt Mazur's worked example."""

from __future__ import annotations

import math

import pytest

from backprop_core import MAZUR, Config, run_steps


def test_classroom_error_before_the_first_update() -> None:
    assert run_steps(Config(), lr=1.0, steps=0)["E_total"][0] == pytest.approx(
        0.014181377937891659, abs=1e-18
    )


def test_classroom_first_forward_values_by_hand() -> None:
    first = run_steps(Config(), lr=1.0, steps=0).iloc[0]
    h1 = 0.15 * 0.05 + 0.2 * 0.1
    a_h1 = 1 / (1 + math.exp(-h1))
    assert first["h1"] == pytest.approx(0.0275, abs=1e-15)
    assert first["a_h1"] == pytest.approx(a_h1, abs=1e-15)


def test_row_k_plus_1_holds_the_updated_weights() -> None:
    table = run_steps(Config(), lr=0.5, steps=3)
    for k in range(3):
        for w in ("w1", "w4", "w5", "w8"):
            assert table[w][k + 1] == table[w][k] - 0.5 * table[f"dE_d{w}"][k]


# Mazur, "A Step by Step Backpropagation Example" (2015): i 0.05/0.10, t 0.01/0.99, b 0.35/0.60, η = 0.5.
MAZUR_E_BEFORE = 0.298371109
MAZUR_E_AFTER = 0.291027924
MAZUR_NEW_WEIGHTS = {
    "w1": 0.149780716, "w2": 0.19956143, "w3": 0.24975114, "w4": 0.29950229,
    "w5": 0.35891648, "w6": 0.408666186, "w7": 0.511301270, "w8": 0.561370121,
}  # fmt: skip


def test_mazur_error_before_the_update() -> None:
    assert run_steps(MAZUR, lr=0.5, steps=0)["E_total"][0] == pytest.approx(MAZUR_E_BEFORE, abs=5e-10)


def test_mazur_updated_weights() -> None:
    after = run_steps(MAZUR, lr=0.5, steps=1).iloc[1]
    for w, published in MAZUR_NEW_WEIGHTS.items():
        assert after[w] == pytest.approx(published, abs=5e-9), w


def test_mazur_error_after_the_update() -> None:
    # Mazur printed 0.291027924; evaluating his own (rounded, published) new weights exactly gives
    # 0.2910277737, so his figure carries about 1.5e-7 of rounding. The engine agrees to 2e-7.
    assert run_steps(MAZUR, lr=0.5, steps=1)["E_total"][1] == pytest.approx(MAZUR_E_AFTER, abs=2e-7)
