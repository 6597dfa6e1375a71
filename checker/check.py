"""Check a student's backpropagation workbook and name the wrong cells.

    report = check_workbook(data, "student.xlsx")     # data: the .xlsx file's bytes
    for sheet in report.sheets: sheet.findings        # one Finding per wrong column

Two checks, both against backprop_core.network, the one definition of the formulas:
- values: each cell the sheet shows is recomputed, row per row, from the sheet's own values of the
  quantities it is computed from (a_h1 from the sheet's h1, w1 of row k+1 from row k's w1, ∂E/∂w1
  and η). A mistake is then named where it is made, and does not spill into later columns or rows.
- formulas: the student's own formulas of the first two rows are evaluated by a real formula engine
  (the `formulas` package) with other inputs (t1 != t2, other inputs, weights and η). That shows the
  mistakes the classroom values hide: t1 where t2 belongs while t1 = t2 = 0.5.

The pieces, one idea each: workbook.py reads the upload, references.py and formula_eval.py read and
evaluate its formulas, recognise.py finds the iteration table, expected.py says what each column
should hold, hints.py phrases what a wrong formula does differently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from openpyxl.utils import get_column_letter, quote_sheetname

from backprop_core import COLUMNS, Config, ConfigError, sweep
from backprop_core.activations import Activation
from backprop_core.config import INPUTS, TARGETS, WEIGHTS, check_lr

from .expected import expected_columns, first_mismatch
from .formula_eval import Evaluator
from .hints import expected_formula, found_references, hint_for
from .recognise import LEAVES, Layout, detect_activation, find_eta, find_layout, typed_eta
from .references import Ref
from .workbook import Workbook, WorkbookError, one_line

__all__ = ["Finding", "Report", "SheetReport", "WorkbookError", "check_sheet", "check_workbook"]

# The formulas check's inputs: every quantity differs from every other, t1 != t2, and no weight is
# the classroom's, so a formula that uses a wrong cell gives a wrong number.
PERTURBED = {
    "t1": 0.15, "t2": 0.85, "i1": 0.3, "i2": -0.2,
    "w1": 0.11, "w2": -0.23, "w3": 0.37, "w4": 0.42, "w5": -0.51, "w6": 0.29, "w7": 0.61, "w8": -0.17,
}  # fmt: skip
PERTURBED_ETA = 0.7

# Without cached values (a file written by a program that does not calculate), the values check
# evaluates the formulas itself; the `formulas` package takes about 1 ms a cell, so it stops after this
# many rows (the formulas check still covers the first two rows with other inputs).
MAX_EVALUATED_ROWS = 20


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class Finding:
    column: str  # as backprop_core names it: dE_dw3
    cell: str  # the first wrong cell: Sheet1!Z33
    check: str  # "values" or "formulas"
    expected: float
    found: float | str | None
    hint: str
    formula: str | None = None  # the student's formula in that cell
    expected_formula: str | None = None  # the right formula, in the student's own cells

    def to_json(self) -> dict:
        return {
            "column": self.column,
            "cell": self.cell,
            "check": self.check,
            "expected": _json_value(self.expected),
            "found": _json_value(self.found),
            "hint": self.hint,
        }


def _json_value(value):
    """JSON has no NaN or infinity: a cell that holds no finite number (an error, #NUM!) is written as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass
class SheetReport:
    name: str
    recognised: bool
    findings: list[Finding] = field(default_factory=list)
    note: str = ""  # why a sheet is not recognised, or what could not be checked
    header_row: int | None = None
    rows: int = 0
    eta: float | None = None
    eta_cell: str | None = None
    activation: str = "sigmoid"
    missing_columns: tuple[str, ...] = ()
    errors: list[float] = field(default_factory=list)  # the sheet's own E_total, row by row
    start: Config | None = None  # the sheet's first row as a Config (for the correct curve)
    # backprop_core's E_total, row by row, from the sheet's first row and η
    expected_errors: list[float] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {
            "name": self.name,
            "recognised": self.recognised,
            "findings": [f.to_json() for f in self.findings],
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Report:
    file: str
    sheets: list[SheetReport]
    warnings: list[str] = field(default_factory=list)  # about the file as a whole (links to other files)

    @property
    def recognised(self) -> list[SheetReport]:
        return [s for s in self.sheets if s.recognised]

    @property
    def mistakes(self) -> int:
        return sum(len(s.findings) for s in self.sheets)

    @property
    def ok(self) -> bool:
        """No mistake, and at least one table was found (an empty workbook is not a correct one)."""
        return bool(self.recognised) and self.mistakes == 0

    def to_json(self) -> dict:
        out = {"file": self.file, "sheets": [s.to_json() for s in self.sheets]}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


# ---------------------------------------------------------------------------------------------
# Checking


def check_workbook(data: bytes, name: str = "workbook.xlsx") -> Report:
    """Check every worksheet; raises WorkbookError if the file cannot be read at all."""
    book = Workbook(data)
    sheets = []
    for sheet in book.sheetnames:
        try:
            sheets.append(check_sheet(book, sheet))
        except Exception as error:  # one odd sheet must not stop the others being checked
            note = f"not recognised: could not be read ({one_line(error, 160)})"
            sheets.append(SheetReport(sheet, False, note=note))
    fill_expected_curves(sheets)
    return Report(name, sheets, book.warnings)


def check_sheet(book: Workbook, sheet: str) -> SheetReport:
    layout = find_layout(book, sheet)
    if layout is None:
        return SheetReport(
            sheet, False, note="not recognised: no header row naming t1, t2, i1, i2, w1…w8 and E_total"
        )
    report = SheetReport(sheet, True, header_row=layout.header_row, rows=layout.n_rows)
    report.missing_columns = tuple(c for c in COLUMNS if c not in layout.columns)
    eta_ref = find_eta(book, layout)
    cached = _has_cached_values(book, layout)
    if eta_ref is not None:
        report.eta_cell = f"{eta_ref.sheet}!{eta_ref.address()}"
        report.eta = _eta_value(book, eta_ref, cached)
    notes = []
    n_rows = layout.n_rows if cached else min(layout.n_rows, MAX_EVALUATED_ROWS)
    if not cached:
        notes.append(
            "the file holds no saved values (written by a program that does not calculate); "
            f"its formulas were evaluated for the first {n_rows} rows"
        )
    numbers, shown = _sheet_values(book, layout, None if cached else Evaluator(book), n_rows)
    act = detect_activation(numbers)
    report.activation = act.name
    if eta_ref is None and layout.n_rows > 1:
        report.eta = typed_eta(numbers)
        notes.append(_typed_eta_note(report.eta))
    values_findings = _compare(book, layout, numbers, shown, report.eta, eta_ref, act, "values", COLUMNS)
    already_named = {f.column for f in values_findings}
    report.findings = values_findings + _formulas_check(book, layout, eta_ref, act, already_named)
    report.findings.sort(key=lambda f: COLUMNS.index(f.column))
    report.errors = [float(x) for x in numbers["E_total"]]
    report.start = _start(numbers, report.eta, act)
    report.note = "; ".join(notes)
    return report


def _typed_eta_note(eta: float | None) -> str:
    outcome = f"η = {eta:g} read from the first update" if eta else "the updates were not checked"
    return f"no learning-rate cell in the weight updates (η typed into each formula?); {outcome}"


def _formulas_check(
    book: Workbook, layout: Layout, eta_ref: Ref | None, act: Activation, already: set[str]
) -> list[Finding]:
    """Evaluate the student's first two rows with PERTURBED inputs and compare with backprop_core."""
    overrides = {(layout.sheet, layout.first_row, layout.columns[n]): v for n, v in PERTURBED.items()}
    if eta_ref is not None:
        overrides[(eta_ref.sheet, eta_ref.row, eta_ref.col)] = PERTURBED_ETA
    evaluator = Evaluator(book, overrides)
    numbers, shown = _sheet_values(book, layout, evaluator, min(layout.n_rows, 2))
    computed = [c for c in COLUMNS if c not in INPUTS + TARGETS and c not in already]
    eta = PERTURBED_ETA if eta_ref is not None else None
    return _compare(book, layout, numbers, shown, eta, eta_ref, act, "formulas", computed)


def _compare(
    book: Workbook,
    layout: Layout,
    numbers: dict[str, np.ndarray],  # column -> its rows as floats (NaN where a cell is not a number)
    shown: dict[str, list],  # column -> what its cells show
    eta: float | None,
    eta_ref: Ref | None,
    act: Activation,
    check: str,  # "values" or "formulas", for the Finding
    columns: Sequence[str],
) -> list[Finding]:
    """A Finding for each of `columns` whose numbers differ from what backprop_core computes from the
    sheet's own numbers: the first wrong row, with a hint and the right formula in the sheet's cells."""
    expected = expected_columns(numbers, eta, act)
    eta_cell = _absolute(eta_ref, layout.sheet) if eta_ref else None
    findings = []
    for column in columns:
        if column not in expected or column not in numbers:
            continue
        start = 1 if column in WEIGHTS else 0  # the first row's weights are the sheet's own choice
        k = first_mismatch(expected[column], numbers[column], start)
        if k is None:
            continue
        value = float(expected[column][k])
        found = _shown(shown[column][k])
        refs = found_references(book, layout, k, column, eta_ref)
        findings.append(
            Finding(
                column=column,
                cell=f"{layout.sheet}!{layout.cell(column, k)}",
                check=check,
                expected=value,
                found=found,
                hint=hint_for(column, value, found, refs, act, layout, eta_cell),
                formula=book.formula(layout.sheet, layout.first_row + k, layout.columns[column]),
                expected_formula=expected_formula(column, k, layout, eta_cell, act),
            )
        )
    return findings


# ---------------------------------------------------------------------------------------------
# Reading the sheet's numbers


def _has_cached_values(book: Workbook, layout: Layout) -> bool:
    """Whether Excel (or LibreOffice) saved the formulas' values: openpyxl-written files hold none."""
    for k in range(min(layout.n_rows, 3)):
        for col in layout.columns.values():
            row = layout.first_row + k
            if book.formula(layout.sheet, row, col) and book.cached_value(layout.sheet, row, col) is None:
                return False
    return True


def _eta_value(book: Workbook, eta_ref: Ref, cached: bool) -> float | None:
    """η as saved, else computed from its cell's formula; None unless a finite number."""
    saved = book.cached_value(eta_ref.sheet, eta_ref.row, eta_ref.col) if cached else None
    if saved is None:
        saved = Evaluator(book).value(eta_ref.sheet, eta_ref.row, eta_ref.col)
    eta = _as_number(saved)
    return eta if np.isfinite(eta) else None


def _sheet_values(
    book: Workbook, layout: Layout, evaluator: Evaluator | None, n_rows: int
) -> tuple[dict[str, np.ndarray], dict[str, list]]:
    """Per column: numbers (NaN where not a number) and what the cells show, for rows 0..n_rows-1:
    the values saved in the file, or with an evaluator the values it computes."""
    numbers, shown = {}, {}
    rows = range(layout.first_row, layout.first_row + n_rows)
    for name, col in layout.columns.items():
        if evaluator:
            cells = [evaluator.value(layout.sheet, row, col) for row in rows]
        else:
            cells = [book.cached_value(layout.sheet, row, col) for row in rows]
        shown[name] = cells
        numbers[name] = np.array([_as_number(v) for v in cells], dtype=np.float64)
    return numbers, shown


def _as_number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return float("nan")
    return float(value)


def _shown(value) -> float | str | None:
    """A cell's value as a Finding reports it: a finite number, or else its text."""
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value)
    if isinstance(value, int | float | np.floating | np.integer):
        number = float(value)
        return number if np.isfinite(number) else str(number)
    return str(value)


def _absolute(ref: Ref, sheet: str) -> str:
    cell = f"${get_column_letter(ref.col)}${ref.row}"
    return cell if ref.sheet == sheet else f"{quote_sheetname(ref.sheet)}!{cell}"


# ---------------------------------------------------------------------------------------------
# The correct curve beside the sheet's


def _start(numbers: dict[str, np.ndarray], eta: float | None, act: Activation) -> Config | None:
    """The sheet's first row and η as a Config, if backprop_core accepts them (else no correct curve)."""
    try:
        check_lr(eta)
        return Config(**{n: float(numbers[n][0]) for n in LEAVES}, activation=act.name)
    except (ConfigError, TypeError, ValueError):
        return None


def fill_expected_curves(sheets: list[SheetReport]) -> None:
    """backprop_core's E_total for each sheet's start and η: one vectorised sweep per shared start."""
    groups: dict[tuple[Config, int], list[SheetReport]] = {}
    for sheet in sheets:
        if sheet.start is not None and sheet.eta is not None and len(sheet.errors) > 0:
            groups.setdefault((sheet.start, len(sheet.errors)), []).append(sheet)
    for (config, rows), members in groups.items():
        try:
            result = sweep(config, [s.eta for s in members], rows - 1)
        except ConfigError:  # too many cells for one sweep: the page then shows the sheet's curve alone
            continue
        for i, sheet in enumerate(members):
            sheet.expected_errors = [float(x) for x in result.curve(i)]
