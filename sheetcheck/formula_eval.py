"""Evaluate a workbook's formulas, bounded, and never with Python's eval.

parse.py turns each formula into a canonical form ("=A1*(1-A1)" for every row's "=E33*(1-E33)"),
compiled here once by the `formulas` package and called with each row's values. The caps below and
the check's Budget keep a hostile workbook from making a check slow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import numpy as np

from .budget import TooLarge
from .parse import FormulaError, placeholder
from .references import Ref
from .workbook import Workbook


def quiet_third_party_logs() -> None:
    """The formulas package (through schedula) logs a 40-line traceback for every function it cannot
    run (WEBSERVICE, CALL, ...): the checker reports such a cell itself, in one line."""
    for name in ("formulas", "schedula"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


_engine = None  # the formulas package, imported on first use


def engine():
    """The formulas package, imported and warmed on first use (about 1.5 s: it imports scipy and its
    function libraries). Only a file saved without values needs it: a workbook saved by Excel or
    LibreOffice is checked from its saved values and its formulas' trees (meaning.py)."""
    global _engine
    if _engine is None:
        import formulas

        quiet_third_party_logs()
        formulas.Parser().ast("=EXP(1)*(1-1)+ABS(-1)+MAX(1,2)+IF(1>0,1,0)")[1].compile()
        _engine = formulas
    return _engine


# The cells one range argument may span (SUM(A1:XFD1048576) would be 17 billion), and the compiled
# formulas kept.
MAX_RANGE_CELLS = 10_000
MAX_COMPILED = 2_000


_compiled: dict[str, Callable | None] = {}  # canonical formula -> compiled function, shared by all sheets


def compiled(canonical: str) -> Callable | None:
    """The `formulas` package's function for a canonical formula, or None if it cannot compile it."""
    if canonical not in _compiled:
        if len(_compiled) >= MAX_COMPILED:
            _compiled.clear()
        try:
            _compiled[canonical] = engine().Parser().ast(canonical)[1].compile()
        except Exception:
            _compiled[canonical] = None
    return _compiled[canonical]


class Evaluator:
    """Computes cells from the workbook's formulas; `overrides` replace chosen cells' values.

    A cell's result is an Excel value: a number, a string, a bool, or an error text such as "#NAME?".
    """

    def __init__(self, book: Workbook, overrides: Mapping[tuple[str, int, int], float] | None = None):
        self.book = book
        self.memo: dict[tuple[str, int, int], object] = dict(overrides or {})
        self.busy: set[tuple[str, int, int]] = set()  # cells being computed: one met again is a cycle
        self.budget = book.budget  # shared by every Evaluator of one check
        if _engine is None:  # the import is the checker's cost, not the student's workbook's
            started = time.monotonic()
            engine()
            self.budget.started += time.monotonic() - started

    def value(self, sheet: str, row: int, col: int):
        key = (sheet, row, col)
        if key in self.memo:
            return self.memo[key]
        if sheet not in self.book.sheetnames:
            return "#REF!"
        if key in self.busy:
            return "#CIRCULAR!"
        self.budget.deeper(len(self.busy))
        self.busy.add(key)
        try:
            result = self._compute(sheet, row, col)
        except RecursionError:  # deeper than Python allows, before the budget's own depth: not the student's
            raise TooLarge("too deep to check: a chain of formulas, each reading the next") from None
        finally:
            self.busy.discard(key)
        self.memo[key] = result
        return result

    def _compute(self, sheet: str, row: int, col: int):
        try:
            parsed = self.book.parsed(sheet, row, col)
        except FormulaError:
            return "#NAME?"
        if parsed is None:
            raw = self.book.raw(sheet, row, col)
            return 0.0 if raw is None else raw  # an empty cell counts as 0 in arithmetic, as in Excel
        self.budget.evaluate()
        function = compiled(parsed.canonical)
        if function is None:
            return "#NAME?"
        placeholders = {placeholder(i, ref): ref for i, ref in enumerate(parsed.refs)}
        if any(name not in placeholders for name in function.inputs):
            return "#NAME?"
        args = [self._argument(placeholders[name]) for name in function.inputs]
        try:
            result = function(*args)
        except Exception:
            return "#VALUE!"
        first = np.asarray(result, dtype=object).ravel()
        return first[0] if first.size else "#VALUE!"

    def _argument(self, ref: Ref):
        if ref.is_cell:
            return _excel_value(self.value(ref.sheet, ref.row, ref.col))
        rows = range(ref.row, ref.row2 + 1)
        cols = range(ref.col, ref.col2 + 1)
        if len(rows) * len(cols) > MAX_RANGE_CELLS:
            return "#RANGE!"
        self.budget.evaluate(len(rows) * len(cols))
        return np.array(
            [[_excel_value(self.value(ref.sheet, r, c)) for c in cols] for r in rows], dtype=object
        )


def _excel_value(value):
    """An input the `formulas` package accepts: anything else (a date, an engine error) as its text."""
    return value if isinstance(value, int | float | str | bool) else str(value)
