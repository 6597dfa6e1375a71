"""What each column of a sheet should hold, by backprop_core.network, and when a cell agrees with it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np

from backprop_core import build_network
from backprop_core.activations import Activation
from backprop_core.config import BIASES, INPUTS, TARGETS, WEIGHTS

ETA = "eta"  # backprop_core's name for the learning rate in the update formulas
UPDATES = {w: build_network(False).by_name()[f"next_{w}"] for w in WEIGHTS}  # w -> its update's tree
# What each weight's update reads besides η, from its tree: w1 -> (dE_dw1, w1), of the row above.
UPDATE_READS = {w: tuple(sorted(tree.symbols() - {ETA})) for w, tree in UPDATES.items()}


def update_step(w: str, values: Mapping[str, np.ndarray], act: Activation) -> np.ndarray:
    """How far one unit of η moves `w` in each row: next_w(η=0) − next_w(η=1), from the update's tree."""
    env = {n: np.asarray(values[n], dtype=np.float64) for n in UPDATE_READS[w]}
    return UPDATES[w].evaluate(env | {ETA: np.float64(0)}, act) - UPDATES[w].evaluate(
        env | {ETA: np.float64(1)}, act
    )


# A cell agrees with backprop_core when |found - expected| <= REL_TOL * max(|expected|, FLOOR * scale)
# plus what the stored precision allows (see tolerance), scale being the column's largest expected
# value. Excel and numpy round differently (EXP, the order of a sum) by about 1e-16 relative; the floor
# keeps differences such as a_o1 - t1 near convergence, or a gradient crossing zero, where that noise is
# relatively large, from being flagged. Real mistakes differ by 1e-4 relative and more.
REL_TOL = 1e-9
FLOOR = 1e-3
FULL_PRECISION_DIGITS = 15  # a column stored with this many significant digits is taken as exact
JITTER_SAMPLES = 6  # re-evaluations with the inputs moved within their stored precision


def expected_columns(values: Mapping[str, np.ndarray], eta: float | None, act: Activation) -> dict:
    """For each column the sheet holds: backprop_core's value, row by row, computed from the sheet's
    own values of what that column depends on. Columns the sheet lacks are computed as intermediates.
    A sheet with biases has b1 and b2 among `values`: backprop_core's network with biases then."""
    network = build_network(all(b in values for b in BIASES))
    env = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    for name in (
        INPUTS + TARGETS
    ):  # fixed for the whole table: the first row's (later rows may leave them empty)
        if name in env and len(env[name]):
            env[name] = np.full(len(env[name]), env[name][0])
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
            expected[name] = np.full(n, env[name][0])
        for name in BIASES:
            expected.pop(
                name, None
            )  # the biases are the sheet's fixed inputs, not a column to check  # inputs and targets stay as in the first row
        if eta is not None and n > 1:
            previous = {k: v[:-1] for k, v in env.items()} | {ETA: np.float64(eta)}
            by_name = network.by_name()
            for w in WEIGHTS:
                updated = by_name[f"next_{w}"].evaluate(previous, act)
                expected[w] = np.concatenate([env[w][:1], updated])
    return expected


def first_mismatch(
    expected: np.ndarray, found: np.ndarray, start: int = 0, allowed: np.ndarray | float = 0.0
) -> int | None:
    """The first row (from `start`) where `found` differs from a finite `expected` by more than the
    floating-point noise and `allowed` (the stored precision's share, see tolerances), or None."""
    expected = np.asarray(expected, dtype=np.float64)[start:]
    found = np.asarray(found, dtype=np.float64)[start:]
    allowed = np.broadcast_to(np.asarray(allowed, dtype=np.float64), (len(expected) + start,))[start:]
    finite = np.isfinite(expected)
    if not finite.any():
        return None
    scale = float(np.max(np.abs(expected[finite])))
    with np.errstate(all="ignore"):
        tolerance = REL_TOL * np.maximum(np.abs(expected), FLOOR * scale) + np.nan_to_num(allowed)
        bad = finite & ~(np.abs(found - expected) <= tolerance)  # NaN found (text, an error) is bad
    hits = np.flatnonzero(bad)
    return int(hits[0]) + start if hits.size else None


def resolution(values: np.ndarray) -> np.ndarray:
    """Half a unit in the last digit each value was stored with: 0 for full precision.

    Some workbooks hold 10 significant digits, some pasted values rounded to 4 decimals. The column's
    precision is its longest value's: the most significant digits, the most decimals (so 0.5 in a column
    of 10-digit numbers is not taken as rounded to one digit)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    # Most columns are stored at full precision: a few values show it, without reading them all.
    sample = finite[:: max(1, finite.size // 16)]
    if any(float(f"{x:.{FULL_PRECISION_DIGITS - 1}g}") != x for x in sample):
        return np.zeros_like(values)
    digits, decimals = 0, 0
    for x in finite:
        d = Decimal(repr(float(x))).normalize().as_tuple()
        digits = max(digits, len(d.digits))
        decimals = max(decimals, -int(d.exponent))
    if digits >= FULL_PRECISION_DIGITS:
        return np.zeros_like(values)
    with np.errstate(all="ignore"):
        exponent = np.floor(np.log10(np.abs(values)))
        by_digits = np.where(values != 0, 0.5 * 10.0 ** (exponent - digits + 1), np.inf)
    res = np.minimum(by_digits, 0.5 * 10.0**-decimals)
    return np.where(np.isfinite(res), res, 0.0)


def tolerances(
    values: Mapping[str, np.ndarray],
    eta: float | None,
    act: Activation,
    exact: tuple[str, ...],
    expected: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """How far each column's cells may be from `expected` by the precision the sheet stores.

    A cell's own rounding, plus how far the expected value moves when the values it is computed from move
    within their stored precision (found by re-evaluating backprop_core's trees with the inputs moved;
    this also covers a small difference of rounded numbers near a sign change). `exact` columns (the
    typed inputs and targets) and the first row's weights are taken as typed, not rounded."""
    expected = expected if expected is not None else expected_columns(values, eta, act)
    res = {}
    for name, column in values.items():
        r = np.zeros(len(column)) if name in exact else resolution(column)
        if name in WEIGHTS and len(r):
            r = r.copy()
            r[0] = 0.0  # the starting weights are typed
        res[name] = r
    spread = {name: np.zeros(len(v)) for name, v in expected.items()}
    if any(r.any() for r in res.values()):
        rng = np.random.default_rng(0)
        for _ in range(JITTER_SAMPLES):
            moved = {n: v + rng.uniform(-1, 1, len(v)) * res[n] for n, v in values.items()}
            again = expected_columns(moved, eta, act)
            with np.errstate(all="ignore"):
                for name in spread:
                    spread[name] = np.fmax(spread[name], np.abs(again[name] - expected[name]))
    return {name: res.get(name, 0.0) + 2 * spread[name] for name in expected}
