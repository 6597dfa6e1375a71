"""What each column of a sheet should hold, by backprop_core.network, and when a cell agrees with it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from backprop_core import build_network
from backprop_core.activations import Activation
from backprop_core.config import INPUTS, TARGETS, WEIGHTS

ETA = "eta"  # backprop_core's name for the learning rate in the update formulas

# A cell agrees with backprop_core when |found - expected| <= REL_TOL * max(|expected|, FLOOR * scale),
# scale being the column's largest expected value. Excel and numpy round differently (EXP, the order of
# a sum) by about 1e-16 relative; the floor keeps differences such as a_o1 - t1 near convergence, where
# that noise is relatively large, from being flagged. Real mistakes differ by 1e-4 relative and more.
REL_TOL = 1e-9
FLOOR = 1e-3


def expected_columns(values: Mapping[str, np.ndarray], eta: float | None, act: Activation) -> dict:
    """For each column the sheet holds: backprop_core's value, row by row, computed from the sheet's
    own values of what that column depends on. Columns the sheet lacks are computed as intermediates."""
    network = build_network(False)
    env = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    expected = {}
    with np.errstate(all="ignore"):
        for formula in network.formulas:
            if formula.stage == "update":
                continue
            result = np.broadcast_to(formula.expr.evaluate(env, act), env["w1"].shape)
            if formula.name in values:
                expected[formula.name] = result
            else:
                env[formula.name] = result
        n = env["w1"].shape[0]
        for name in INPUTS + TARGETS:
            expected[name] = np.full(n, env[name][0])  # inputs and targets stay as in the first row
        if eta is not None and n > 1:
            previous = {k: v[:-1] for k, v in env.items()} | {ETA: np.float64(eta)}
            by_name = network.by_name()
            for w in WEIGHTS:
                updated = by_name[f"next_{w}"].evaluate(previous, act)
                expected[w] = np.concatenate([env[w][:1], updated])
    return expected


def first_mismatch(expected: np.ndarray, found: np.ndarray, start: int = 0) -> int | None:
    """The first row (from `start`) where `found` differs from a finite `expected`, or None."""
    expected = np.asarray(expected, dtype=np.float64)[start:]
    found = np.asarray(found, dtype=np.float64)[start:]
    finite = np.isfinite(expected)
    if not finite.any():
        return None
    scale = float(np.max(np.abs(expected[finite])))
    with np.errstate(all="ignore"):
        tolerance = REL_TOL * np.maximum(np.abs(expected), FLOOR * scale)
        bad = finite & ~(np.abs(found - expected) <= tolerance)  # NaN found (text, an error) is bad
    hits = np.flatnonzero(bad)
    return int(hits[0]) + start if hits.size else None
