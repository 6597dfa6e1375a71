"""Forward pass, backward pass and gradient descent, by evaluating the formulas of network.py.

Every array here has a learning-rate axis: shape (n_lr,). One learning rate is n_lr = 1; a sweep of
1,000 learning rates runs the same numpy operations on arrays of 1,000, which is why it is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .activations import ACTIVATIONS
from .config import WEIGHTS, Config, check_lr, check_steps
from .network import build_network

# A weight beyond this ends that learning rate's run as "diverged". With |inputs| <= 100 every value
# computed from weights this size stays below about 1e130, far from float64's 1e308, so a blow-up
# is caught before anything overflows (no inf, no NaN, no warnings) at any learning rate up to 1e6.
WEIGHT_LIMIT = 1e30


def evaluate(config: Config, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every quantity of one row (forward values, gradients, next weights) from its leaves and eta."""
    network = build_network(config.biases)
    activation = ACTIVATIONS[config.activation]
    env = dict(values)
    for formula in network.formulas:
        env[formula.name] = formula.expr.evaluate(env, activation)
    return env


def row(config: Config, lr: float = 0.0, weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """One row as plain floats: the config's leaves, optionally other weights, and learning rate lr."""
    values = {**config.values(), **(weights or {}), "eta": float(lr)}
    env = evaluate(config, {k: np.array([v], dtype=np.float64) for k, v in values.items()})
    return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in env.items()}


def descend(
    config: Config,
    lrs: np.ndarray,
    steps: int,
    record: Callable[[int, dict[str, np.ndarray]], None],
) -> np.ndarray:
    """Run `steps` updates w <- w - eta * dE/dw for every learning rate at once.

    Calls record(k, env) for rows k = 0..steps (row 0: the initial weights). A learning rate whose
    next weights would leave [-WEIGHT_LIMIT, WEIGHT_LIMIT] is frozen at its last safe row.
    Returns diverged_at, shape (n_lr,): the first row that could not be computed, or -1.
    """
    lrs = np.asarray(lrs, dtype=np.float64).reshape(-1)
    for lr in lrs:
        check_lr(lr)
    steps = check_steps(steps)
    n = lrs.size
    values = {name: np.full(n, v) for name, v in config.values().items()}
    values["eta"] = lrs
    diverged_at = np.full(n, -1)
    for k in range(steps + 1):
        env = evaluate(config, values)
        record(k, env)
        if k == steps:
            break
        proposed = {w: env[f"next_{w}"] for w in WEIGHTS}
        # `not <=` is also true for NaN and inf.
        blown = np.logical_or.reduce([~(np.abs(proposed[w]) <= WEIGHT_LIMIT) for w in WEIGHTS])
        diverged_at[blown & (diverged_at < 0)] = k + 1
        moving = diverged_at < 0
        for w in WEIGHTS:
            values[w] = np.where(moving, proposed[w], values[w])
    return diverged_at
