"""Recognise a sheet's iteration table: its header row, its filled rows, η and the activation.

Every worksheet whose header row names the table's columns (t1 … ∂E/∂w8, in any order, on any row,
with the spellings students use) is an iteration table. The learning rate η is the cell that the
weight-update formulas refer to besides the previous weight and its gradient, or, typed into each
formula, the number the first update agrees on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from openpyxl.utils import get_column_letter

from backprop_core import ACTIVATIONS, COLUMNS
from backprop_core.activations import Activation
from backprop_core.config import INPUTS, MAX_STEPS, TARGETS, WEIGHTS

from .expected import first_mismatch
from .parse import FormulaError
from .references import Ref
from .workbook import Workbook

LEAVES = INPUTS + TARGETS + WEIGHTS  # what a row is computed from
REQUIRED = (*LEAVES, "E_total")  # a header row must name these to be an iteration table

_PLAIN_LABELS = {c.replace("_", "").lower(): c for c in COLUMNS}
_GRADIENT_LABEL = re.compile(r"d?e(?:total|tot)?/?d(w[1-8])")


def column_for_label(label: object) -> str | None:
    """The backprop_core column a header cell names, or None: '∂E/∂w1', 'E∂w1', 'dE/dw1' -> dE_dw1."""
    if not isinstance(label, str) or len(label) > 40:
        return None
    text = re.sub(r"[\s_]", "", label).lower().replace("∂", "d").replace("δ", "d")
    gradient = _GRADIENT_LABEL.fullmatch(text)
    if gradient:
        return f"dE_d{gradient[1]}"
    if text in ("etot", "etotal"):
        return "E_total"
    return _PLAIN_LABELS.get(text)


@dataclass(frozen=True)
class Layout:
    """Where a sheet's iteration table is."""

    sheet: str
    header_row: int
    columns: dict[str, int]  # backprop_core column name -> sheet column index (1-based)
    first_row: int
    n_rows: int

    def cell(self, name: str, k: int) -> str:
        """The A1 address of `name` in the table's row k (0 is the first row)."""
        return f"{get_column_letter(self.columns[name])}{self.first_row + k}"

    def name_of(self, col: int) -> str | None:
        return next((n for n, c in self.columns.items() if c == col), None)


def find_layout(book: Workbook, sheet: str) -> Layout | None:
    """The first row that names t1, t2, i1, i2, w1..w8 and E_total, and the filled rows below it."""
    header_row, columns = _find_header(book.values.get(sheet, []))
    if header_row is None:
        return None
    w1 = columns["w1"]
    # A file saved by Excel or LibreOffice holds every formula's value: count filled rows by those.
    # A file from a writer that does not calculate (openpyxl) holds none: count rows by the formulas.
    # Asked of the table's second row, as the first one's weights are usually typed numbers.
    uncached = book.cached_value(sheet, header_row + 2, w1) is None and book.raw(sheet, header_row + 2, w1)
    if uncached:
        book.raw(sheet, MAX_STEPS + header_row + 2, w1)  # one read of the whole sheet's formulas
    n = 0
    while n <= MAX_STEPS and _filled(book, sheet, header_row + 1 + n, w1, bool(uncached)):
        n += 1
    if n == 0:
        return None
    return Layout(sheet, header_row, columns, header_row + 1, n)


def _find_header(rows: list[tuple]) -> tuple[int | None, dict[str, int]]:
    """The first row (1-based) whose labels name every REQUIRED column, and each column's index."""
    for r, values in enumerate(rows, start=1):
        labels: dict[str, int] = {}
        for c, value in enumerate(values, start=1):
            name = column_for_label(value)
            if name is not None:
                labels.setdefault(name, c)  # a label that repeats: the leftmost cell is the column
        if all(n in labels for n in REQUIRED):
            return r, labels
    return None, {}


def _filled(book: Workbook, sheet: str, row: int, col: int, uncached: bool) -> bool:
    value = book.raw(sheet, row, col) if uncached else book.cached_value(sheet, row, col)
    return value not in (None, "")


def find_eta(book: Workbook, layout: Layout) -> Ref | None:
    """The cell the weight updates read besides the previous weight and its gradient (majority vote)."""
    if layout.n_rows < 2:
        return None
    votes: Counter = Counter()
    row = layout.first_row + 1
    for w in WEIGHTS:
        try:
            parsed = book.parsed(layout.sheet, row, layout.columns[w])
        except FormulaError:
            continue
        if parsed is None:
            continue
        own = {(row - 1, layout.columns[w]), (row - 1, layout.columns.get(f"dE_d{w}", -1))}
        others = [r for r in parsed.refs if not (r.sheet == layout.sheet and (r.row, r.col) in own)]
        if len(others) == 1 and others[0].is_cell:
            votes[others[0]] += 1
    return votes.most_common(1)[0][0] if votes else None


def typed_eta(numbers: Mapping[str, np.ndarray]) -> float | None:
    """η from the first update, w(row 1) = w(row 0) − η·∂E/∂w(row 0), when every weight agrees on it."""
    estimates = []
    for w in WEIGHTS:
        gradient = numbers.get(f"dE_d{w}")
        if gradient is not None and len(gradient) > 1 and np.isfinite(gradient[0]) and gradient[0] != 0:
            estimates.append((numbers[w][0] - numbers[w][1]) / gradient[0])
    if not estimates or not np.all(np.isfinite(estimates)):
        return None
    middle = float(np.median(estimates))
    agree = all(abs(e - middle) <= 1e-6 * abs(middle) for e in estimates)
    return middle if agree and middle > 0 else None


def detect_activation(values: Mapping[str, np.ndarray]) -> Activation:
    """The activation whose forward pass matches the sheet's a_h1 … a_o2 on the first row (else sigmoid)."""
    pairs = [
        (p, a) for p, a in (("h1", "a_h1"), ("h2", "a_h2"), ("o1", "a_o1"), ("o2", "a_o2")) if a in values
    ]
    best, best_hits = ACTIVATIONS["sigmoid"], -1
    for act in ACTIVATIONS.values():
        with np.errstate(all="ignore"):
            hits = sum(
                first_mismatch(act.forward(values[p][:1]), values[a][:1]) is None
                for p, a in pairs
                if p in values
            )
        if hits > best_hits:
            best, best_hits = act, hits
    return best
