"""Analytic gradients against central finite differences, weight by weight."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .config import WEIGHTS, Config
from .engine import row


def gradient_check(
    config: Config, weights: Mapping[str, float] | None = None, h: float = 1e-6
) -> pd.DataFrame:
    """(E(w + h) - E(w - h)) / 2h next to dE/dw, for w1..w8.

    Away from the minimum they agree to about 1e-9. Near it, or with huge weights, the estimate itself
    loses its digits (E changes by less than float64 can resolve), so a mismatch there is the estimate's.
    """
    base = {w: getattr(config, w) for w in WEIGHTS} | dict(weights or {})
    analytic = row(config, weights=base)
    records = []
    for w in WEIGHTS:
        up = row(config, weights={**base, w: base[w] + h})["E_total"]
        down = row(config, weights={**base, w: base[w] - h})["E_total"]
        numeric = (up - down) / (2 * h)
        exact = analytic[f"dE_d{w}"]
        records.append(
            {
                "weight": w,
                "analytic": exact,
                "finite_difference": numeric,
                "abs_diff": abs(exact - numeric),
                "rel_diff": abs(exact - numeric) / max(abs(exact), abs(numeric), 1e-300),
            }
        )
    return pd.DataFrame.from_records(records)
