"""Every forward value and every gradient of backprop_core against torch autograd (float64)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_core import ACTIVATIONS, COLUMNS, Config, row, run_steps
from tests.torch_oracle import descend, forward_and_gradients

TOLERANCE = 1e-12  # relative, with an absolute floor of 1e-12 for values near 0


def close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= TOLERANCE * max(1.0, abs(theirs))


def assert_matches(ours: dict[str, float], oracle: dict[str, float]) -> None:
    wrong = {k: (ours[k], v) for k, v in oracle.items() if not close(ours[k], v)}
    assert not wrong, f"differs from torch autograd: {wrong}"


small = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def configs(draw) -> Config:
    fields = {f"w{k}": draw(small) for k in range(1, 9)}
    fields.update(
        i1=draw(small), i2=draw(small), t1=draw(unit), t2=draw(unit), b1=draw(small), b2=draw(small)
    )
    return Config(activation=draw(st.sampled_from(sorted(ACTIVATIONS))), biases=draw(st.booleans()), **fields)


def oracle_values(config: Config) -> dict[str, float]:
    return {
        k: getattr(config, k) for k in (*Config.__dataclass_fields__,) if k not in ("activation", "biases")
    }


@settings(max_examples=300, deadline=None)
@given(configs())
def test_one_row_matches_autograd(config: Config) -> None:
    oracle = forward_and_gradients(oracle_values(config), config.activation, config.biases)
    assert_matches(row(config), oracle)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("biases", [False, True])
def test_update_table_matches_autograd_descent(activation: str, biases: bool) -> None:
    config = Config(activation=activation, biases=biases, t1=0.2, t2=0.9)
    table = run_steps(config, lr=0.7, steps=25)
    oracle_rows = descend(oracle_values(config), activation, biases, lr=0.7, steps=25)
    assert len(table) == len(oracle_rows) == 26
    for k, oracle in enumerate(oracle_rows):
        assert_matches(table.iloc[k].to_dict(), oracle)


@settings(max_examples=40, deadline=None)
@given(configs(), st.floats(min_value=0.01, max_value=5.0))
def test_random_descent_matches_autograd(config: Config, lr: float) -> None:
    table = run_steps(config, lr=lr, steps=5)
    oracle_rows = descend(oracle_values(config), config.activation, config.biases, lr=lr, steps=5)
    for k, oracle in enumerate(oracle_rows[: len(table)]):
        assert_matches(table.iloc[k].to_dict(), oracle)


def test_table_columns_are_the_classroom_sheet() -> None:
    expected = (
        "t1 t2 i1 i2 w1 w2 w3 w4 h1 a_h1 h2 a_h2 w5 w6 w7 w8 o1 a_o1 o2 a_o2 E1 E2 E_total "
        "dE_dw1 dE_dw2 dE_dw3 dE_dw4 dE_dw5 dE_dw6 dE_dw7 dE_dw8"
    ).split()
    assert list(COLUMNS) == expected
    assert list(run_steps(Config(), 1.0, 2).columns) == expected
    assert all(math.isfinite(v) for v in run_steps(Config(), 1.0, 2).to_numpy().ravel())
