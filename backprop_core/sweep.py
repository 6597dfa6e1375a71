"""E_total per step for many learning rates at once, and a status for each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import MAX_SWEEP_CELLS, Config, ConfigError
from .engine import descend
from .network import GRADIENTS

CLASSROOM_LRS = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)
DEFAULT_TARGET_ERROR = 1e-6  # "converged" means E_total at or below this
VANISHED_GRADIENT = 1e-12  # largest |dE/dw| below this, far from the target: the units are saturated
STATUSES = ("converged", "still falling", "saturated", "diverged")


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

    def statuses(self) -> list[str]:
        return [self.status(i) for i in range(self.lrs.size)]

    def status(self, i: int) -> str:
        first, last = self.errors[i, 0], self.errors[i, -1]
        if self.diverged_at[i] >= 0 or last > first:
            return "diverged"
        if last <= self.target_error:
            return "converged"
        if last == first or self.final_max_gradient[i] < VANISHED_GRADIENT:
            return "saturated"
        return "still falling"

    def curve(self, i: int) -> np.ndarray:
        """E_total of learning rate i up to its last computed row (a diverged run is cut there)."""
        end = self.diverged_at[i] if self.diverged_at[i] >= 0 else self.errors.shape[1]
        return self.errors[i, :end]

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "lr": self.lrs,
                "final_E_total": self.final_errors,
                "steps_to_target": self.steps_to_target(),
                "status": self.statuses(),
            }
        )


def sweep(config: Config, lrs, steps: int, target_error: float = DEFAULT_TARGET_ERROR) -> Sweep:
    lrs = np.asarray(lrs, dtype=np.float64).reshape(-1)
    if lrs.size == 0:
        raise ConfigError("give at least one learning rate")
    if lrs.size * (int(steps) + 1) > MAX_SWEEP_CELLS:
        raise ConfigError(
            f"{lrs.size} learning rates x {steps} steps is too large; keep the product under {MAX_SWEEP_CELLS:,}"
        )
    errors = np.empty((int(steps) + 1, lrs.size))  # filled a row per step, transposed at the end
    last_gradient = np.zeros(lrs.size)

    def record(k: int, env: dict[str, np.ndarray]) -> None:
        errors[k] = env["E_total"]
        if k == steps:
            last_gradient[:] = np.max(np.abs([env[g] for g in GRADIENTS]), axis=0)

    diverged_at = descend(config, lrs, steps, record)
    errors = np.ascontiguousarray(errors.T)
    # Rows after a blow-up repeat the last safe row, so that the array holds only finite numbers.
    for i in np.flatnonzero(diverged_at >= 0):
        errors[i, diverged_at[i] :] = errors[i, diverged_at[i] - 1]
    return Sweep(lrs, errors, diverged_at, last_gradient, float(target_error))
