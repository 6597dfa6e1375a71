"""Numbers as the app shows them: enough digits to compare with a worksheet, never 'nan' or 'inf'."""

from __future__ import annotations

import math

TABLE_DIGITS = 12  # significant digits in tables: E_total 0.0141813779379 matches a sheet to 1e-13
RESULT_DIGITS = 10  # significant digits after "=" in a derivation


def number(value: float, digits: int = RESULT_DIGITS) -> str:
    """`value` with `digits` significant digits; a dash for a value that could not be computed."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(value):
        return "—"
    return f"{value + 0.0:.{digits}g}"  # + 0.0 turns -0.0 into 0: a student should not see "-0"


def show_number(value: float) -> str:
    """Shortest text that reads back as exactly the same float (0.15, not 0.15000000000000002): a value a
    student typed (a field, a link, a learning rate) is shown as typed, never rounded to a twin."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def show_lrs(lrs: tuple[float, ...]) -> str:
    return ", ".join(show_number(lr) for lr in lrs)
