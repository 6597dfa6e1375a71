"""E_total per step for many learning rates at once, and a status for each.

Two calls, one rule for the statuses:
- sweep(): every row's E_total for each learning rate (the compared curves), a Sweep;
- outcomes(): per run, only what the status needs (first and last E_total, the row that reached the
  target, the last gradient), an Outcomes; runs may each start from their own weights. The dense scan
  and the convergence map ask for tens of thousands of runs and never hold their curves.
Both run compiled (backprop_core.compiled) where numba is there, else the numpy engine, with the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import compiled
from .config import MAX_SWEEP_CELLS, Config, ConfigError, check_steps
from .engine import check_lrs, descend, start_weights
from .mistakes import SheetMistake
from .network import GRADIENTS

CLASSROOM_LRS = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)
DEFAULT_TARGET_ERROR = 1e-6  # "converged" means E_total at or below this
VANISHED_GRADIENT = 1e-12  # largest |dE/dw| below this, far from the target: the units are saturated
STATUSES = ("converged", "still falling", "saturated", "diverged")
# runs x steps in one outcomes() call: 40,000 runs x 1,000 steps is about 1 s compiled on 2 cores. No
# curve is kept, so memory is not the bound; time is (the numpy fallback takes about 10x longer).
MAX_OUTCOME_CELLS = 100_000_000


def statuses(first, last, diverged_at, final_max_gradient, target_error: float) -> np.ndarray:
    """One status per run, the first that holds: diverged (stopped, or ended above where it began),
    converged (at or below the target), saturated (did not move, or no gradient left), still falling."""
    first, last = np.asarray(first), np.asarray(last)
    diverged = (np.asarray(diverged_at) >= 0) | (last > first)
    saturated = (last == first) | (np.asarray(final_max_gradient) < VANISHED_GRADIENT)
    return np.select(
        [diverged, last <= target_error, saturated], ["diverged", "converged", "saturated"], "still falling"
    )


@dataclass(frozen=True)
class Outcomes:
    lrs: np.ndarray  # (n,)
    first_errors: np.ndarray  # (n,): E_total at row 0
    final_errors: np.ndarray  # (n,): E_total at the last row (the last safe row after a blow-up)
    steps_to_target: np.ndarray  # (n,): the first row whose E_total <= target_error, or -1
    diverged_at: np.ndarray  # (n,): first row that could not be computed, or -1
    final_max_gradient: np.ndarray  # (n,): largest |dE/dw| in the last row
    target_error: float

    def statuses(self) -> list[str]:
        args = (self.first_errors, self.final_errors, self.diverged_at, self.final_max_gradient)
        return statuses(*args, self.target_error).tolist()

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "lr": self.lrs,
                "final_E_total": self.final_errors,
                "steps_to_target": self.steps_to_target,
                "status": self.statuses(),
            }
        )


@dataclass(frozen=True)
class Sweep:
    lrs: np.ndarray  # (n_lr,)
    errors: np.ndarray  # (n_lr, steps + 1): E_total at each row; held at the last safe row after a blow-up
    diverged_at: np.ndarray  # (n_lr,): first row that could not be computed, or -1
    final_max_gradient: np.ndarray  # (n_lr,): largest |dE/dw| in the last row
    target_error: float

    @property
    def final_errors(self) -> np.ndarray:
        return self.errors[:, -1]

    def steps_to_target(self) -> np.ndarray:
        """(n_lr,): the first row whose E_total <= target_error, or -1."""
        reached = self.errors <= self.target_error
        return np.where(reached.any(axis=1), reached.argmax(axis=1), -1)

    def outcomes(self) -> Outcomes:
        first = self.errors[:, 0]
        args = (self.diverged_at, self.final_max_gradient, self.target_error)
        return Outcomes(self.lrs, first, self.final_errors, self.steps_to_target(), *args)

    def statuses(self) -> list[str]:
        return self.outcomes().statuses()

    def status(self, i: int) -> str:
        return self.statuses()[i]

    def curve(self, i: int) -> np.ndarray:
        """E_total of learning rate i up to its last computed row (a diverged run is cut there)."""
        end = self.diverged_at[i] if self.diverged_at[i] >= 0 else self.errors.shape[1]
        return self.errors[i, :end]

    def summary(self) -> pd.DataFrame:
        return self.outcomes().summary()


def _checked(lrs, steps: int, max_cells: int) -> tuple[np.ndarray, int]:
    lrs, steps = check_lrs(lrs), check_steps(steps)
    if lrs.size == 0:
        raise ConfigError("give at least one learning rate")
    if lrs.size * (steps + 1) > max_cells:
        raise ConfigError(
            f"{lrs.size} runs x {steps} steps is too large; keep the product under {max_cells:,}"
        )
    return lrs, steps


def sweep(
    config: Config,
    lrs,
    steps: int,
    target_error: float = DEFAULT_TARGET_ERROR,
    mistake: SheetMistake | None = None,
) -> Sweep:
    """E_total of every row for each of `lrs`; with `mistake`, of a sheet with that mistake (its curve)."""
    lrs, steps = _checked(lrs, steps, MAX_SWEEP_CELLS)
    run = compiled.errors if compiled.enabled() else numpy_errors
    errors, diverged_at, last_gradient = run(config, lrs, steps, mistake)
    return Sweep(lrs, errors, diverged_at, last_gradient, float(target_error))


def numpy_errors(
    config: Config, lrs: np.ndarray, steps: int, mistake: SheetMistake | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference path of sweep(): E_total (n_lr, steps+1), diverged_at, the last row's largest |dE/dw|."""
    errors = np.empty((steps + 1, lrs.size))  # filled a row per step, transposed at the end
    last_gradient = np.zeros(lrs.size)

    def record(k: int, env: dict[str, np.ndarray]) -> None:
        errors[k] = env["E_total"]
        if k == steps:
            last_gradient[:] = np.max(np.abs([env[g] for g in GRADIENTS]), axis=0)

    diverged_at = descend(config, lrs, steps, record, mistake=mistake)
    errors = np.ascontiguousarray(errors.T)
    # Rows after a blow-up repeat the last safe row, so that the array holds only finite numbers.
    for i in np.flatnonzero(diverged_at >= 0):
        errors[i, diverged_at[i] :] = errors[i, diverged_at[i] - 1]
    return errors, diverged_at, last_gradient


def outcomes(
    config: Config,
    lrs,
    steps: int,
    target_error: float = DEFAULT_TARGET_ERROR,
    starts: np.ndarray | None = None,
) -> Outcomes:
    """Run j descends from starts[j] (w1..w8; default: the config's weights) with learning rate lrs[j]."""
    lrs, steps = _checked(lrs, steps, MAX_OUTCOME_CELLS)
    starts = start_weights(config, lrs.size) if starts is None else np.asarray(starts, dtype=np.float64)
    if starts.shape != (lrs.size, 8) or not np.isfinite(starts).all():
        raise ConfigError(f"give {lrs.size} rows of 8 finite starting weights, got shape {starts.shape}")
    run = compiled.outcomes if compiled.enabled() else numpy_outcomes
    result = run(config, lrs, steps, float(target_error), starts)
    return Outcomes(lrs, *result, float(target_error))


def numpy_outcomes(config: Config, lrs: np.ndarray, steps: int, target_error: float, starts: np.ndarray):
    """The reference path of outcomes(): first, last, steps_to_target, diverged_at, final gradient."""
    first, last = np.empty(lrs.size), np.empty(lrs.size)
    reached = np.full(lrs.size, -1)
    last_gradient = np.zeros(lrs.size)

    def record(k: int, env: dict[str, np.ndarray]) -> None:
        error = env["E_total"]
        if k == 0:
            first[:] = error
        reached[(reached < 0) & (error <= target_error)] = k
        if k == steps:
            last[:] = error
            last_gradient[:] = np.max(np.abs([env[g] for g in GRADIENTS]), axis=0)

    diverged_at = descend(config, lrs, steps, record, starts)
    return first, last, reached, diverged_at, last_gradient
