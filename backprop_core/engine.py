"""Forward pass, backward pass and gradient descent, by evaluating the formulas of network.py.

Every array here has a learning-rate axis: shape (n_lr,). One learning rate is n_lr = 1; a sweep of
1,000 learning rates runs the same numpy operations on arrays of 1,000, which is why it is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

import numpy as np

from .activations import ACTIVATIONS
from .config import MAX_LR, WEIGHTS, Config, check_lr, check_steps
from .mistakes import SheetMistake
from .network import build_network

# A weight beyond this ends that learning rate's run as "diverged". With |inputs| <= 100 every value
# computed from weights this size stays below about 1e130, far from float64's 1e308, so a blow-up
# is caught before anything overflows (no inf, no NaN, no warnings) at any learning rate up to 1e6.
WEIGHT_LIMIT = 1e30


def row_formulas(biases: bool, activation: str, mistake: SheetMistake | None = None):
    """(name, tree) of every quantity of one row, in order: the network's, or a sheet with `mistake`."""
    if mistake is None:
        return tuple((f.name, f.expr) for f in build_network(biases).formulas)
    return mistake.formulas(biases, activation)


@cache
def _compiled(
    biases: bool, activation: str, mistake: SheetMistake | None
) -> tuple[tuple[str, Callable], ...]:
    act = ACTIVATIONS[activation]
    return tuple((name, expr.compile(act)) for name, expr in row_formulas(biases, activation, mistake))


def evaluate(
    config: Config, values: Mapping[str, np.ndarray], mistake: SheetMistake | None = None
) -> dict[str, np.ndarray]:
    """Every quantity of one row (forward values, gradients, next weights) from its leaves and eta;
    with `mistake`, as a sheet with that mistake in its columns computes them."""
    env = dict(values)
    for name, compute in _compiled(config.biases, config.activation, mistake):
        env[name] = compute(env)
    return env


def row(config: Config, lr: float = 0.0, weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """One row as plain floats: the config's leaves, optionally other weights, and learning rate lr."""
    values = {**config.values(), **(weights or {}), "eta": float(lr)}
    env = evaluate(config, {k: np.array([v], dtype=np.float64) for k, v in values.items()})
    return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in env.items()}


def check_lrs(lrs) -> np.ndarray:
    """Learning rates as a flat float64 array, each checked as config.check_lr checks one (its message)."""
    lrs = np.asarray(lrs, dtype=np.float64).reshape(-1)
    bad = ~((lrs > 0) & (lrs <= MAX_LR))  # also True for NaN; one pass, not 40,000 calls, for the map
    if bad.any():
        check_lr(lrs[bad.argmax()])
    return lrs


def start_weights(config: Config, n: int) -> np.ndarray:
    """(n, 8): the config's starting weights w1..w8, the same for each of n runs."""
    leaves = config.values()
    return np.tile(np.array([leaves[w] for w in WEIGHTS], dtype=np.float64), (n, 1))


def descend(
    config: Config,
    lrs: np.ndarray,
    steps: int,
    record: Callable[[int, dict[str, np.ndarray]], None],
    starts: np.ndarray | None = None,
    mistake: SheetMistake | None = None,
) -> np.ndarray:
    """Run `steps` updates w <- w - eta * dE/dw for every learning rate at once.

    Calls record(k, env) for rows k = 0..steps (row 0: the initial weights). A learning rate whose
    next weights would leave [-WEIGHT_LIMIT, WEIGHT_LIMIT] is frozen at its last safe row.
    `starts` (n_lr, 8) gives each run its own starting w1..w8 (the convergence map); default: the config's.
    `mistake`: descend as a sheet with that mistake does (its wrong columns move the weights).
    Returns diverged_at, shape (n_lr,): the first row that could not be computed, or -1.
    """
    lrs = check_lrs(lrs)
    steps = check_steps(steps)
    leaves = config.values()
    starts = start_weights(config, lrs.size) if starts is None else np.asarray(starts, dtype=np.float64)
    weights = np.ascontiguousarray(starts.T)  # (8, n_lr)
    values = {name: np.full(lrs.size, v) for name, v in leaves.items() if name not in WEIGHTS}
    values["eta"] = lrs
    diverged_at = np.full(lrs.size, -1)
    frozen = False  # has any learning rate been stopped?
    for k in range(steps + 1):
        values.update(zip(WEIGHTS, weights, strict=True))
        env = evaluate(config, values, mistake)
        record(k, env)
        if k == steps:
            break
        proposed = np.array([env[f"next_{w}"] for w in WEIGHTS])  # (8, n_lr)
        safe = np.abs(proposed).max(axis=0) <= WEIGHT_LIMIT  # False for NaN and inf too
        if safe.all() and not frozen:  # the usual case: every learning rate takes its step
            weights = proposed
            continue
        diverged_at[~safe & (diverged_at < 0)] = k + 1
        frozen = True
        weights = np.where(diverged_at < 0, proposed, weights)
    return diverged_at
