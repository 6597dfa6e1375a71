"""The compiled path (backprop_core.compiled) against the numpy engine and torch autograd, to 1e-12.

The numpy engine is the reference; torch autograd (tests/torch_oracle.py) is the independent oracle.
The printer's scalar source is checked formula by formula against the same tree's numpy evaluation.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_core import (
    ACTIVATIONS,
    COLUMNS,
    MAX_LR,
    Config,
    build_network,
    compiled,
    evaluate,
    run_steps,
    sweep,
)
from backprop_core.config import WEIGHTS
from backprop_core.engine import start_weights
from backprop_core.expr import inline
from backprop_core.sweep import numpy_errors, numpy_outcomes, outcomes
from backprop_core.table import numpy_table
from tests.test_core_autograd import assert_matches, configs, oracle_values
from tests.torch_oracle import forward_and_gradients

TOLERANCE = 1e-12  # relative, with an absolute floor of 1e-12, as in test_core_autograd
NETWORKS = [(b, a) for b in (False, True) for a in sorted(ACTIVATIONS)]
pytestmark = pytest.mark.skipif(not compiled.enabled(), reason="numba is not importable here")


def assert_close(ours, reference) -> None:
    ours, reference = np.asarray(ours, dtype=float), np.asarray(reference, dtype=float)
    assert ours.shape == reference.shape
    scale = np.maximum(1.0, np.abs(reference))
    worst = np.max(np.abs(ours - reference) / scale, initial=0.0)
    assert worst <= TOLERANCE, f"differs by {worst:.3g} (relative)"


# Learning rates from 1e-3 to the cap, spread evenly in log so that huge ones are drawn as often as small.
learning_rates = st.floats(min_value=-3.0, max_value=math.log10(MAX_LR)).map(lambda e: min(10.0**e, MAX_LR))


def scalar_function(expr, act):
    """The printer's source of one tree as a Python function of its symbols (the source comes from the
    trees in network.py, never from user text)."""
    names = sorted(expr.symbols())
    namespace = {"exp": math.exp, "tanh": math.tanh}
    code = compile(f"lambda {', '.join(names)}: {expr.source(act)}", "<printer>", "eval")
    return names, eval(code, namespace)  # noqa: S307


@pytest.mark.parametrize("biases, activation", NETWORKS)
def test_printer_source_of_every_formula_matches_the_numpy_tree(biases: bool, activation: str) -> None:
    """Each formula alone, and each written out in full (intermediates inlined, which nests sums inside
    products): the scalar source must compute what the numpy tree computes."""
    act, network = ACTIVATIONS[activation], build_network(biases)
    formulas = network.by_name()
    intermediates = tuple(f.name for f in network.formulas if f.name not in network.leaves)
    rng = np.random.default_rng(7)
    for f in network.formulas:
        for expr in (f.expr, inline(f.expr, formulas, intermediates)):
            names, function = scalar_function(expr, act)
            for _ in range(20):
                env = {name: rng.uniform(-3, 3) for name in names}
                expected = float(
                    np.asarray(expr.evaluate({k: np.array([v]) for k, v in env.items()}, act))[0]
                )
                assert_close(function(**env), expected)


def test_generated_module_is_compiled_from_the_printed_step() -> None:
    source = compiled.module_source(False, "sigmoid")
    for f in build_network(False).formulas:
        assert f"{f.name} = {f.expr.source(ACTIVATIONS['sigmoid'])}" in source
    assert "@njit(cache=True" in source


def assert_rows_are_steps(config: Config, lr: float, rows: np.ndarray, oracle_every: int = 1) -> None:
    """Each row of a compiled table, recomputed from that row's own weights by the numpy engine (all
    rows at once, on the learning-rate axis) and by torch autograd (every `oracle_every`-th row), and
    each row's weights the update of the row before. Row by row, so that no run can amplify a 1-ulp
    difference (libm's exp and tanh against numpy's and torch's) past the tolerance."""
    columns = {name: rows[:, i] for i, name in enumerate(COLUMNS)}
    n = len(rows)
    leaves = {k: np.full(n, v) for k, v in config.values().items() if k not in WEIGHTS}
    env = evaluate(config, {**leaves, **{w: columns[w] for w in WEIGHTS}, "eta": np.full(n, lr)})
    for name in COLUMNS:
        assert_close(columns[name], env[name])
    for w in WEIGHTS:
        assert_close(columns[w][1:], env[f"next_{w}"][:-1])
    for k in range(0, n, oracle_every):
        values = {**oracle_values(config), **{w: columns[w][k] for w in WEIGHTS}}
        oracle = forward_and_gradients(values, config.activation, config.biases)
        assert_matches({name: columns[name][k] for name in COLUMNS}, oracle)


@settings(max_examples=120, deadline=None)
@given(configs(), learning_rates, st.integers(min_value=0, max_value=12))
def test_compiled_table_matches_numpy_and_autograd(config: Config, lr: float, steps: int) -> None:
    """Any configuration and learning rate up to 1e6: the same rows and the same freeze as numpy,
    every row the torch step of the row before, nothing but finite numbers, no warning."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        fast, fast_diverged = compiled.table(config, lr, steps)
        reference, diverged = numpy_table(config, lr, steps)
    assert fast_diverged == diverged and fast.shape == reference.shape  # frozen at the same row
    assert np.isfinite(fast).all()
    assert_rows_are_steps(config, lr, fast)
    assert_close(fast[: min(len(fast), 3)], reference[:3])  # the first rows, before any amplification


@settings(max_examples=60, deadline=None)
@given(
    configs(),
    st.lists(learning_rates, min_size=1, max_size=6),
    st.integers(min_value=0, max_value=12),
    st.floats(min_value=0.5, max_value=2.0),
)
def test_compiled_sweep_and_outcomes_match_numpy(
    config: Config, lrs: list[float], steps: int, scale: float
) -> None:
    lrs = np.array(lrs)
    errors, diverged_at, gradient = compiled.errors(config, lrs, steps)
    ref_errors, ref_diverged, ref_gradient = numpy_errors(config, lrs, steps)
    np.testing.assert_array_equal(diverged_at, ref_diverged)
    assert_close(errors, ref_errors)
    assert_close(gradient, ref_gradient)
    # Each run from its own start, as the convergence map runs them: the config's weights, scaled.
    starts = start_weights(config, lrs.size) * np.linspace(scale, 1 / scale, lrs.size)[:, None]
    fast = compiled.outcomes(config, lrs, steps, 1e-6, starts)
    reference = numpy_outcomes(config, lrs, steps, 1e-6, starts)
    for ours, theirs in zip(fast, reference, strict=True):
        assert_close(ours, theirs)


@pytest.mark.parametrize("biases, activation", NETWORKS)
@pytest.mark.parametrize("lr", [0.5, 3.0, 300.0])
def test_long_compiled_runs_are_numpy_and_torch_steps(biases: bool, activation: str, lr: float) -> None:
    config = Config(activation=activation, biases=biases, t1=0.1, t2=0.8, w5=-1.5, w8=2.0)
    rows, _ = compiled.table(config, lr, 2000)
    assert_rows_are_steps(config, lr, rows, oracle_every=97)


@pytest.mark.parametrize("biases, activation", NETWORKS)
def test_blow_ups_freeze_at_the_same_row(biases: bool, activation: str) -> None:
    config = Config(activation=activation, biases=biases, t1=0.01, t2=0.99, w5=3.0, w8=-2.0)
    lrs = np.array([MAX_LR, 3e4, 100.0, 1.0])
    for steps in (0, 1, 50, 500):
        fast, fast_at = compiled.table(config, MAX_LR, steps)
        reference, reference_at = numpy_table(config, MAX_LR, steps)
        assert fast_at == reference_at and fast.shape == reference.shape
        assert_close(fast, reference)
        fast_sweep, ref_sweep = compiled.errors(config, lrs, steps), numpy_errors(config, lrs, steps)
        np.testing.assert_array_equal(fast_sweep[1], ref_sweep[1])
        assert_close(fast_sweep[0], ref_sweep[0])


def test_linear_blow_up_is_caught_at_the_numpy_row() -> None:
    config = Config(activation="linear")
    (_, at), (_, reference_at) = compiled.table(config, 1e6, 100), numpy_table(config, 1e6, 100)
    assert at == reference_at > 0
    result = outcomes(config, [1e6, 1.0], 100)
    assert result.diverged_at[0] == at and result.statuses() == ["diverged", "converged"]


def test_step_cap_runs_compiled_and_finite() -> None:
    result = sweep(Config(), [0.1, 2.0, MAX_LR], 100_000)
    assert result.errors.shape == (3, 100_001) and np.isfinite(result.errors).all()
    table = run_steps(Config(activation="tanh", biases=True), MAX_LR, 100_000)
    assert np.isfinite(table.to_numpy()).all()


def test_the_numpy_path_serves_with_the_same_results(monkeypatch) -> None:
    config = Config(activation="tanh", biases=True, t1=0.2, t2=0.9)
    fast_table, fast_sweep = run_steps(config, 0.7, 300), sweep(config, [0.1, 2.0, 1e6], 300)
    fast_outcomes = outcomes(config, [0.1, 2.0, 1e6], 300)
    monkeypatch.setenv(compiled.ENGINE_VARIABLE, "numpy")
    assert not compiled.enabled()
    slow_table, slow_sweep = run_steps(config, 0.7, 300), sweep(config, [0.1, 2.0, 1e6], 300)
    assert_close(fast_table.to_numpy(), slow_table.to_numpy())
    assert fast_table.attrs == slow_table.attrs
    assert_close(fast_sweep.errors, slow_sweep.errors)
    assert fast_sweep.statuses() == slow_sweep.statuses()
    slow_outcomes = outcomes(config, [0.1, 2.0, 1e6], 300)
    assert_close(fast_outcomes.final_errors, slow_outcomes.final_errors)
    assert fast_outcomes.statuses() == slow_outcomes.statuses() == fast_sweep.statuses()
    np.testing.assert_array_equal(fast_outcomes.steps_to_target, slow_outcomes.steps_to_target)


def test_without_numba_the_engine_still_answers() -> None:
    """numba hidden from the import system: the numpy engine serves, and gives the classroom numbers."""
    script = (
        "import sys; sys.modules['numba'] = None\n"
        "from backprop_core import Config, compiled, run_steps, sweep\n"
        "assert not compiled.enabled()\n"
        "print(repr(float(run_steps(Config(), 1.0, 0)['E_total'][0])), sweep(Config(), [2.0], 1000).statuses()[0])\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    error, status = done.stdout.split()
    assert abs(float(error) - 0.014181377937891659) < 1e-18 and status == "converged"


def test_cache_folder_falls_back_when_the_configured_one_is_not_writable(monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(compiled.CACHE_VARIABLE, str(blocker))  # a file cannot hold a folder
    folder = compiled.cache_dir()
    assert folder.is_dir() and os.access(folder, os.W_OK)
