"""The classroom sheet's update table: one row per update, the sheet's columns in the sheet's order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import compiled
from .config import Config, check_lr, check_steps
from .engine import descend
from .network import COLUMNS


def run_steps(config: Config, lr: float, steps: int) -> pd.DataFrame:
    """Rows 0..steps: row 0 holds the initial weights, row k+1 the weights after the k-th update.

    If the run blows up (see engine.WEIGHT_LIMIT) the table ends at its last finite row;
    table.attrs["diverged_at"] then names the row that could not be computed (else -1).
    Compiled (backprop_core.compiled) where numba is there, else the numpy engine: the same numbers.
    """
    lr, steps = check_lr(lr), check_steps(steps)
    values, diverged_at = (compiled.table if compiled.enabled() else numpy_table)(config, lr, steps)
    table = pd.DataFrame(values, columns=list(COLUMNS), copy=False)
    table.index.name = "step"
    table.attrs.update(lr=float(lr), diverged_at=diverged_at)
    return table


def numpy_table(config: Config, lr: float, steps: int) -> tuple[np.ndarray, int]:
    """The reference path: (rows, 31) for rows 0..steps, cut before diverged_at; and diverged_at."""
    rows: list[np.ndarray] = []
    diverged_at = int(descend(config, np.array([lr]), steps, lambda k, env: rows.append(_columns_of(env)))[0])
    last = diverged_at if diverged_at >= 0 else len(rows)
    return np.array(rows[:last]).reshape(last, len(COLUMNS)), diverged_at


def _columns_of(env: dict[str, np.ndarray]) -> np.ndarray:
    return np.array([env[c][0] for c in COLUMNS], dtype=np.float64)
