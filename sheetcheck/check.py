"""Check a student's backpropagation workbook and name the wrong cells.

    report = check_workbook(data, "student.xlsx")     # data: the .xlsx file's bytes
    for sheet in report.sheets: sheet.findings        # one Finding per wrong column

Two checks, both against backprop_core.network, the one definition of the formulas:
- values: each cell the sheet shows is recomputed, row per row, from the sheet's own values of the
  quantities it is computed from (a_h1 from the sheet's h1, w1 of row k+1 from row k's w1, ∂E/∂w1
  and η). A mistake is then named where it is made, and does not spill into later columns or rows.
- formulas: every distinct formula of each column (rows copied down share one, as R1C1) is read into
  backprop_core's expression tree, its references as the quantities their columns hold, and evaluated
  at random networks beside the right tree (meaning.py). Mistakes the classroom values hide (t1 for t2
  while t1 = t2 = 0.5) then show, rewrites that mean the same never do, and a wrong tree is named in
  the words of backprop_core/mistakes.py's catalogue.

A sheet passes only when its whole table was checked. What could not be (a column not found, no η,
one row only, rows not computed) is listed in `unchecked`, and the verdict is then "incomplete",
never "ok".

The pieces, one idea each: workbook.py reads the upload, references.py, parse.py, trees.py and
formula_eval.py read and evaluate its formulas, recognise.py finds the iteration tables, meaning.py
says what a formula computes, expected.py says what each column should hold and how precisely,
hints.py phrases what a wrong formula does differently, budget.py bounds what one check may spend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from openpyxl.utils import get_column_letter, quote_sheetname

from backprop_core import COLUMNS, Config, ConfigError, sweep
from backprop_core.activations import ACTIVATIONS, Activation
from backprop_core.config import INPUTS, TARGETS, WEIGHTS, check_lr
from backprop_core.expr import plain_symbol

from .budget import Budget, TooLarge
from .expected import expected_columns, first_mismatch, tolerances
from .formula_eval import Evaluator
from .hints import expected_formula, found_references, hint_for, slide_hint
from .meaning import Point, SheetTrees, identify, name_mistake, sample
from .parse import row_pattern
from .recognise import (
    LEAVES,
    Layout,
    detect_activation,
    find_biases,
    find_eta,
    find_eta_by_label,
    find_layouts,
    typed_eta,
)
from .references import Ref
from .workbook import Workbook, WorkbookError, one_line

__all__ = [
    "EXIT_CODES",
    "Finding",
    "Report",
    "SheetReport",
    "TooLarge",
    "WorkbookError",
    "check_sheet",
    "check_workbook",
]

# The verdicts, from best to worst, and the command line's exit code for each. A batch's exit code is
# its worst workbook's.
VERDICTS = ("ok", "incomplete", "mistakes", "unreadable")
EXIT_CODES = {"ok": 0, "mistakes": 1, "unreadable": 2, "incomplete": 3}
CLASSROOM = Config()  # the classroom's starting values, for the "starts from w4 = 0.5" line

# Without cached values (a file written by a program that does not calculate), the values check
# evaluates the formulas itself; the `formulas` package takes about 1 ms a cell, so it stops after this
# many rows (the formulas check still reads every row's formula).
MAX_EVALUATED_ROWS = 20
# Distinct formulas (as R1C1) read in one column: a column copied down has one or two; past this many
# the rest of the column is named as not checked.
MAX_FORMULAS_PER_COLUMN = 64


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class Finding:
    column: str  # as backprop_core names it: dE_dw3
    cell: str  # the first wrong cell: Sheet1!Z33
    check: str  # "values", "formulas" or "pattern"
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
    name: str  # the sheet's name; "Sheet1 (table at row 40)" for the second and later stacked tables
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
    # What could not be checked, each a short phrase ("dE_dw1 (no such column)"): any makes the
    # sheet "incomplete" unless it has a mistake.
    unchecked: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)  # worth a line, not a mistake: other starting values

    @property
    def verdict(self) -> str:
        if not self.recognised:
            return "incomplete"
        if self.findings:
            return "mistakes"
        return "incomplete" if self.unchecked else "ok"

    def to_json(self) -> dict:
        out = {
            "name": self.name,
            "recognised": self.recognised,
            "verdict": self.verdict if self.recognised else None,
            "findings": [f.to_json() for f in self.findings],
            "unchecked": list(self.unchecked),
        }
        if self.info:
            out["info"] = list(self.info)
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
    def verdict(self) -> str:
        """ok: every table wholly checked and right; mistakes; incomplete: nothing wrong found, but not
        everything checked (or no table at all: an empty workbook is not a correct one)."""
        if not self.recognised:
            return "incomplete"
        return max((s.verdict for s in self.recognised), key=VERDICTS.index)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def others(self) -> list[str]:
        """The sheets that hold no table."""
        return [s.name for s in self.sheets if not s.recognised]

    def to_json(self) -> dict:
        out = {"file": self.file, "verdict": self.verdict, "sheets": [s.to_json() for s in self.sheets]}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


# ---------------------------------------------------------------------------------------------
# Checking


def check_workbook(data: bytes, name: str = "workbook.xlsx", budget: Budget | None = None) -> Report:
    """Check every table of every worksheet; raises WorkbookError if the file cannot be read at all,
    and TooLarge (a WorkbookError) when the check runs past its budget."""
    book = Workbook(data, budget)
    sheets = []
    for sheet in book.sheetnames:
        try:
            layouts = find_layouts(book, sheet)
            if not layouts:
                note = "not recognised: no header row naming t1, t2, i1, i2, w1…w8 and E_total"
                sheets.append(SheetReport(sheet, False, note=note))
            for i, layout in enumerate(layouts):
                label = sheet if i == 0 else f"{sheet} (table at row {layout.header_row})"
                sheets.append(check_table(book, layout, label))
        except TooLarge:
            raise
        except RecursionError:
            raise TooLarge("too deep to check: a chain of formulas, each reading the next") from None
        except Exception as error:  # one odd sheet must not stop the others being checked
            note = f"not recognised: could not be read ({one_line(error, 160)})"
            sheets.append(SheetReport(sheet, False, note=note))
    fill_expected_curves(sheets)
    return Report(name, sheets, book.warnings)


def check_sheet(book: Workbook, sheet: str) -> SheetReport:
    """The sheet's first table checked (a sheet without one: not recognised)."""
    layouts = find_layouts(book, sheet)
    if not layouts:
        return SheetReport(
            sheet, False, note="not recognised: no header row naming t1, t2, i1, i2, w1…w8 and E_total"
        )
    return check_table(book, layouts[0], sheet)


def check_table(book: Workbook, layout: Layout, label: str) -> SheetReport:
    biases = find_biases(book, layout)
    if biases:
        cells = tuple((n, f"${get_column_letter(c)}${r}") for n, (_, r, c, _) in biases.items())
        layout = replace(layout, bias_cells=cells)
    found = identify(book, layout, find_eta(book, layout), biases)
    if found:  # columns under headers no spelling list knows, found by what they compute
        layout = replace(layout, columns=layout.columns | found)
    report = SheetReport(label, True, header_row=layout.header_row, rows=layout.n_rows)
    report.missing_columns = tuple(c for c in COLUMNS if c not in layout.columns)
    report.unchecked = [f"{c} (no such column)" for c in report.missing_columns]
    if layout.uncomputed:
        first, last = (
            layout.first_row + layout.n_rows,
            layout.first_row + layout.n_rows + layout.uncomputed - 1,
        )
        rows = f"row {first}" if first == last else f"rows {first}–{last}"
        report.unchecked.append(f"{rows} (not computed: no formulas, only zeros or blanks)")
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
            f"its formulas were evaluated for the first {n_rows} rows, the others read as formulas"
        )
    numbers, shown = _sheet_values(book, layout, None if cached else Evaluator(book), n_rows)
    numbers |= {name: np.full(n_rows, value) for name, (_, _, _, value) in biases.items()}
    for name in INPUTS + TARGETS:  # typed once, in the first row: a later empty cell means the same value
        blank = _blank_rows(book, layout, name, n_rows)
        numbers[name] = np.where(blank, numbers[name][0], numbers[name])
    if eta_ref is None and layout.n_rows > 1:
        report.eta, report.eta_cell, note = _eta_without_reference(book, layout, numbers)
        notes.append(note)
    formulas = _holds_formulas(book, layout)
    first_row = {n: float(numbers[n][0]) for n in LEAVES if n in numbers and len(numbers[n])}
    trees = SheetTrees(book, layout, eta_ref, biases, first_row) if formulas else None
    # η typed into each update formula is a number of the formula: the random points then use it.
    eta_at_points = report.eta if eta_ref is None else None
    act, point = _activation(trees, numbers, layout, bool(biases), eta_at_points)
    report.activation = act.name
    if layout.n_rows == 1:
        report.unchecked.append("the weight updates (one computed row: there is no iteration to check)")
    elif report.eta is None:
        report.unchecked.append("the weight updates (no learning rate η found)")
    context = _Context(book, layout, eta_ref, act, trees, point)
    # An update that reads a gradient column the checker could not find is not blamed for that column's
    # mistakes: with formulas, its own tree is checked (the column inlined) and, if wrong, named unchecked.
    blind = {w for w in WEIGHTS if f"dE_d{w}" not in layout.columns} if trees is not None else set()
    values_columns = [c for c in COLUMNS if c not in blind]
    report.findings = _compare(context, numbers, shown, report.eta, "values", values_columns)
    if trees is not None:
        already = {f.column for f in report.findings}
        expected = expected_columns(numbers, report.eta, act)
        report.findings += _formulas_check(context, already, expected, report)
    else:
        notes.append(
            "values only, no formulas (pasted as values): every value was checked, but a mistake the "
            "classroom values hide (t1 for t2 while t1 = t2) cannot show"
        )
    report.findings.sort(key=lambda f: COLUMNS.index(f.column))
    report.errors = [float(x) for x in numbers["E_total"]]
    report.start = _start(numbers, report.eta, act)
    report.info = _starting_values(numbers)
    report.note = "; ".join(notes)
    return report


@dataclass
class _Context:
    """What naming a wrong cell needs: where the table is, η's cell, the activation, the trees."""

    book: Workbook
    layout: Layout
    eta_ref: Ref | None
    act: Activation
    trees: SheetTrees | None
    point: Point | None

    @property
    def eta_cell(self) -> str | None:
        return _absolute(self.eta_ref, self.layout.sheet) if self.eta_ref else None

    def hint(self, column: str, k: int, value: float, found, named: str | None = None) -> str:
        refs = found_references(self.book, self.layout, k, column, self.eta_ref)
        if named is None and self.trees is not None and refs is not None:
            meaning = self.trees.meaning(column, self.layout.first_row + k, self.point)
            if meaning.status == "wrong":
                named = name_mistake(column, meaning.values, self.point)
        return hint_for(column, value, found, refs, self.act, self.layout, self.eta_cell, named)

    def finding(self, column: str, k: int, check: str, value: float, found, hint: str) -> Finding:
        row = self.layout.first_row + k
        return Finding(
            column=column,
            cell=f"{self.layout.sheet}!{self.layout.cell(column, k)}",
            check=check,
            expected=value,
            found=found,
            hint=hint,
            formula=self.book.formula(self.layout.sheet, row, self.layout.columns[column]),
            expected_formula=expected_formula(column, k, self.layout, self.eta_cell, self.act),
        )


# The quantities whose formulas tell the activation apart (ReLU from linear where a unit's sum is < 0).
_ACTIVATED = ("a_h1", "a_h2", "a_o1", "a_o2", "dE_dw5", "dE_dw1")


def _activation(
    trees: SheetTrees | None, numbers: dict, layout: Layout, biases: bool, eta: float | None
) -> tuple[Activation, Point | None]:
    """The activation the sheet's formulas compute (the one under which most of its activation and
    slope formulas are right), else the one its first row's values fit; and the random points for it."""
    by_values = detect_activation(numbers)
    if trees is None:
        return by_values, None
    best, best_hits, best_point = by_values, -1, None
    for act in (by_values, *(a for a in ACTIVATIONS.values() if a != by_values)):
        point = sample(biases, act, eta)
        hits = sum(
            trees.meaning(q, layout.first_row, point).status == "right"
            for q in _ACTIVATED
            if q in layout.columns
        )
        if hits > best_hits:
            best, best_hits, best_point = act, hits, point
    return best, best_point


def _formulas_check(
    context: _Context, already: set[str], expected: dict[str, np.ndarray], report: SheetReport
) -> list[Finding]:
    """Each column's distinct formulas (rows copied down share one R1C1 pattern), read as trees and
    compared with backprop_core's at random points: the first cell whose tree means something else."""
    book, layout, trees, point = context.book, context.layout, context.trees, context.point
    table_rows = range(layout.first_row, layout.first_row + layout.n_rows)
    findings = []
    for column, col in layout.columns.items():
        if column in INPUTS + TARGETS or column in already:
            continue
        if column in WEIGHTS and report.eta is None:
            continue  # the updates are named unchecked: no η to check them with
        cells = range(1 if column in WEIGHTS else 0, layout.n_rows)
        has_formulas = any(book.formula(layout.sheet, layout.first_row + k, col) for k in cells)
        if not has_formulas:
            continue  # values only (pasted): the values check covers the column
        seen: dict[str, int] = {}
        for k in cells:
            row = layout.first_row + k
            raw = book.raw(layout.sheet, row, col)
            if raw is None:
                continue  # an empty cell: the values check names it
            text = book.formula(layout.sheet, row, col)
            key = row_pattern(text, row, table_rows) if text else f"typed {raw!r}"
            if key in seen:
                continue
            if len(seen) >= MAX_FORMULAS_PER_COLUMN:
                report.unchecked.append(
                    f"{column} from {layout.cell(column, k)} on (more than {MAX_FORMULAS_PER_COLUMN} different formulas)"
                )
                break
            meaning = trees.meaning(column, row, point)
            if meaning.status == "right":
                seen[key] = k
                continue
            if column in WEIGHTS and f"dE_d{column}" not in layout.columns:
                report.unchecked.append(
                    f"{column} (its update reads ∂E/∂{column} from a column the checker could not identify)"
                )
                break
            value = (
                float(expected[column][k])
                if column in expected and k < len(expected[column])
                else float("nan")
            )
            found = _shown(book.cached_value(layout.sheet, row, col))
            if meaning.status == "typed":
                hint = f"holds a typed number where {plain_symbol(column)} needs a formula"
            elif meaning.status == "unreadable":
                hint = f"the checker cannot read this formula: {meaning.reason}"
            else:
                named = name_mistake(column, meaning.values, point)
                right_k = next(iter(seen.values()), None)
                slid = (
                    slide_hint(book, layout, column, right_k, k, context.eta_ref)
                    if right_k is not None
                    else None
                )
                hint = slid or context.hint(column, k, value, found, named)
            findings.append(context.finding(column, k, "formulas", value, found, hint))
            break
    return findings


def _blank_rows(book: Workbook, layout: Layout, column: str, n_rows: int) -> np.ndarray:
    """Which of the column's first n_rows cells are empty (no value, no formula)."""
    col = layout.columns[column]
    rows = range(layout.first_row, layout.first_row + n_rows)
    return np.array(
        [
            book.raw(layout.sheet, r, col) is None and book.cached_value(layout.sheet, r, col) is None
            for r in rows
        ]
    )


def _holds_formulas(book: Workbook, layout: Layout) -> bool:
    """Whether any computed cell of the table's first two rows holds a formula (else pasted values)."""
    computed = [c for n, c in layout.columns.items() if n not in INPUTS + TARGETS]
    rows = range(layout.first_row, layout.first_row + min(layout.n_rows, 2))
    return any(book.formula(layout.sheet, r, c) for r in rows for c in computed)


def _starting_values(numbers: dict[str, np.ndarray]) -> list[str]:
    """'starts from w4 = 0.5, the classroom value is 0.3': not a mistake in the formulas, worth a line."""
    lines = []
    for name in LEAVES:
        first = numbers[name][0] if name in numbers and len(numbers[name]) else float("nan")
        classroom = getattr(CLASSROOM, name)
        if np.isfinite(first) and not math.isclose(first, classroom, rel_tol=1e-9, abs_tol=1e-12):
            lines.append(f"starts from {name} = {first:.10g}, the classroom value is {classroom:g}")
    return lines


def _eta_without_reference(
    book: Workbook, layout: Layout, numbers: dict[str, np.ndarray]
) -> tuple[float | None, str | None, str]:
    """η when the updates read no η cell: typed into each formula (or pasted values), read back from
    the first update; else a cell labelled η, LR, alpha, ... above or beside the table."""
    typed = typed_eta(numbers)
    labelled = find_eta_by_label(book, layout)
    label_cell = f"{layout.sheet}!{labelled[0]}" if labelled else None
    if typed is not None:
        note = f"no learning-rate cell in the weight updates (η typed into each formula, or values only); η = {typed:g} read from the first update"
        if labelled and not math.isclose(labelled[1], typed, rel_tol=1e-6):
            note += f" (the cell labelled η, {label_cell}, says {labelled[1]:g})"
        return typed, None, note
    if labelled:
        note = (
            f"the weight updates read no η cell; η = {labelled[1]:g} from the cell labelled η ({label_cell})"
        )
        return labelled[1], label_cell, note
    return (
        None,
        None,
        "no learning-rate cell in the weight updates and none labelled η; the updates were not checked",
    )


def _compare(
    context: _Context,
    numbers: dict[str, np.ndarray],  # column -> its rows as floats (NaN where a cell is not a number)
    shown: dict[str, list],  # column -> what its cells show
    eta: float | None,
    check: str,
    columns: Sequence[str],
) -> list[Finding]:
    """A Finding for each of `columns` whose numbers differ from what backprop_core computes from the
    sheet's own numbers: the first wrong row, with a hint and the right formula in the sheet's cells."""
    book, layout, act = context.book, context.layout, context.act
    expected = expected_columns(numbers, eta, act)
    # The saved values are as precise as the file stores them (10 digits, pasted rounded values).
    exact = INPUTS + TARGETS + ("b1", "b2")
    allowed = tolerances(numbers, eta, act, exact, expected)
    findings = []
    for column in columns:
        if column not in expected or column not in numbers:
            continue
        start = 1 if column in WEIGHTS else 0  # the first row's weights are the sheet's own choice
        found_numbers = numbers[column]
        if column in INPUTS + TARGETS:
            # Inputs and targets typed once, in the first row, with the later rows' cells left empty, are
            # no mistake (a formula that reads an empty cell is wrong, and named in its own column).
            blank = _blank_rows(book, layout, column, len(found_numbers))
            found_numbers = np.where(blank, expected[column], found_numbers)
        k = first_mismatch(expected[column], found_numbers, start, allowed.get(column, 0.0))
        if k is None:
            continue
        value = float(expected[column][k])
        found = _shown(shown[column][k])
        findings.append(
            context.finding(column, k, check, value, found, context.hint(column, k, value, found))
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
    if evaluator:
        # Row by row, so that each row's chain of formulas starts from the row above, already computed:
        # the depth of a computation is one row's (about 10), not the whole table's.
        by_row = [
            [evaluator.value(layout.sheet, row, col) for col in layout.columns.values()] for row in rows
        ]
        columns = {name: [cells[i] for cells in by_row] for i, name in enumerate(layout.columns)}
    else:
        columns = {
            name: [book.cached_value(layout.sheet, row, col) for row in rows]
            for name, col in layout.columns.items()
        }
    for name, cells in columns.items():
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
        biases = {b: float(numbers[b][0]) for b in ("b1", "b2") if b in numbers}
        return Config(
            **{n: float(numbers[n][0]) for n in LEAVES}, **biases, biases=bool(biases), activation=act.name
        )
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
