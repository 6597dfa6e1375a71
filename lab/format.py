"""Numbers as the app shows them: enough digits to compare with a worksheet, never 'nan' or 'inf'."""

from __future__ import annotations

import math
import sys

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


# E_total = ½(t1 − a_o1)² + ½(t2 − a_o2)². a_o comes out of some ten float64 operations on values near 1,
# each rounding by up to half an ulp (2.2e-16), so a miss |t − a_o| below ~64 ulps is rounding, not
# error: E_total at or below (64·eps)² ≈ 2e-28 is 0 as far as float64 can tell (5.2e-31 is noise).
FLOAT64_FLOOR = (64 * sys.float_info.epsilon) ** 2


def at_float64_floor(error: float) -> bool:
    """Whether an E_total is 0 to float64 precision (see FLOAT64_FLOOR)."""
    return 0 <= error <= FLOAT64_FLOOR


def error_number(error: float, digits: int = RESULT_DIGITS) -> str:
    """An E_total as number() writes it, or "0 (to float64 precision)" at float64's rounding floor."""
    return "0 (to float64 precision)" if at_float64_floor(error) else number(error, digits)


def show_number(value: float) -> str:
    """Shortest text that reads back as exactly the same float (0.15, not 0.15000000000000002): a value a
    student typed (a field, a link, a learning rate) is shown as typed, never rounded to a twin."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def show_lrs(lrs: tuple[float, ...]) -> str:
    return ", ".join(show_number(lr) for lr in lrs)
