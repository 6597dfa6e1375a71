"""Check a student's backpropagation workbook and name the wrong cells.

    report = check_workbook(data, "student.xlsx")     # data: the .xlsx file's bytes
    for sheet in report.sheets: sheet.findings        # one Finding per wrong column

Reading. Every worksheet whose header row names the table's columns (t1 … ∂E/∂w8, in any order,
on any row, with the spellings students use) is an iteration table. The learning rate η is the cell
that the weight-update formulas refer to besides the previous weight and its gradient. Structured
references (Table1[[#This Row],[w1]]) are rewritten to A1 cells first.

Two checks, both against backprop_core.network, the one definition of the formulas:
- values: each cell the sheet shows is recomputed, row per row, from the sheet's own values of the
  quantities it is computed from (a_h1 from the sheet's h1, w1 of row k+1 from row k's w1, ∂E/∂w1
  and η). A mistake is then named where it is made, and does not spill into later columns or rows.
- formulas: the student's own formulas of the first two rows are evaluated by a real formula engine
  (the `formulas` package) with other inputs (t1 != t2, other inputs, weights and η). That shows the
  mistakes the classroom values hide: t1 where t2 belongs while t1 = t2 = 0.5.

Hints compare the cells a wrong formula refers to with the quantities the right formula needs (the
formula trees, intermediates inlined, as the xlsx export would write them).
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import formulas as excel_engine
import numpy as np
import openpyxl
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries

from backprop_core import ACTIVATIONS, COLUMNS, Config, ConfigError, build_network, sweep
from backprop_core.activations import Activation
from backprop_core.config import INPUTS, MAX_STEPS, TARGETS, WEIGHTS, check_lr

from .safe_xlsx import UnsafeWorkbook, check_upload

# A cell agrees with backprop_core when |found - expected| <= REL_TOL * max(|expected|, FLOOR * scale),
# scale being the column's largest expected value. Excel and numpy round differently (EXP, the order of
# a sum) by about 1e-16 relative; the floor keeps differences such as a_o1 - t1 near convergence, where
# that noise is relatively large, from being flagged. Real mistakes differ by 1e-4 relative and more.
REL_TOL = 1e-9
FLOOR = 1e-3

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

# Limits that keep a hostile workbook from making one check slow: Excel's own formula length, the cells
# one range argument may span (SUM(A1:XFD1048576) would be 17 billion), and compiled formulas kept.
MAX_FORMULA_CHARS = 8192
MAX_RANGE_CELLS = 10_000
MAX_COMPILED = 2_000

LEAVES = INPUTS + TARGETS + WEIGHTS
REQUIRED = (*LEAVES, "E_total")  # a header row must name these to be an iteration table
ETA = "eta"


class WorkbookError(ValueError):
    """The file cannot be read as a workbook; the message says why, in one line."""


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
            "expected": self.expected,
            "found": self.found,
            "hint": self.hint,
        }


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
    expected_errors: list[float] = field(
        default_factory=list
    )  # backprop_core's, from the sheet's row 0 and η

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


def display(name: str) -> str:
    """How the sheets and the hints write a quantity: dE_dw3 -> ∂E/∂w3, eta -> η."""
    if name == ETA:
        return "η"
    return f"∂E/∂{name[4:]}" if name.startswith("dE_d") else name


# ---------------------------------------------------------------------------------------------
# Header labels


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


# ---------------------------------------------------------------------------------------------
# References and structured references


@dataclass(frozen=True)
class Ref:
    """A cell, or a rectangular range when (row2, col2) differ from (row, col)."""

    sheet: str
    row: int
    col: int
    row2: int
    col2: int

    @property
    def is_cell(self) -> bool:
        return (self.row, self.col) == (self.row2, self.col2)

    def address(self) -> str:
        first = f"{get_column_letter(self.col)}{self.row}"
        return first if self.is_cell else f"{first}:{get_column_letter(self.col2)}{self.row2}"


_A1 = re.compile(
    r"(?:(?P<sheet>'(?:[^']|'')+'|[^'!:]+)!)?\$?(?P<col>[A-Za-z]{1,3})\$?(?P<row>\d+)"
    r"(?::\$?(?P<col2>[A-Za-z]{1,3})\$?(?P<row2>\d+))?"
)


def _sheet_name(quoted: str | None, default: str) -> str:
    if not quoted:
        return default
    return quoted[1:-1].replace("''", "'") if quoted.startswith("'") else quoted


def resolve_operand(text: str, sheet: str, wb) -> Ref | None:
    """A1 text ('E33', '$G$31', 'Sheet2'!A1:B2) or a defined name (sheet-scoped first) -> Ref."""
    match = _A1.fullmatch(text)
    if match:
        col = column_index_from_string(match["col"].upper())
        row = int(match["row"])
        col2 = column_index_from_string(match["col2"].upper()) if match["col2"] else col
        row2 = int(match["row2"]) if match["row2"] else row
        return Ref(_sheet_name(match["sheet"], sheet), row, col, row2, col2)
    if sheet in wb.sheetnames and text in getattr(wb[sheet], "defined_names", {}):
        name = wb[sheet].defined_names[text]
    elif text in wb.defined_names:
        name = wb.defined_names[text]
    else:
        return None
    destinations = list(name.destinations)
    if len(destinations) != 1 or _A1.fullmatch(destinations[0][1]) is None:
        return None
    target_sheet, target = destinations[0]
    return resolve_operand(target, target_sheet, wb)


@dataclass(frozen=True)
class ExcelTable:
    """An Excel table (Insert > Table): where it is and its column names."""

    name: str
    sheet: str
    min_row: int
    max_row: int
    min_col: int
    columns: tuple[str, ...]

    def column_index(self, name: str) -> int | None:
        lowered = [c.strip().lower() for c in self.columns]
        key = name.strip().lower()
        return self.min_col + lowered.index(key) if key in lowered else None


def excel_tables(wb) -> list[ExcelTable]:
    found = []
    for ws in wb.worksheets:
        for name in ws.tables:
            table = ws.tables[name]
            min_col, min_row, _, max_row = range_boundaries(table.ref)
            columns = tuple(str(c.name) for c in table.tableColumns)
            found.append(ExcelTable(name, ws.title, min_row, max_row, min_col, columns))
    return found


# Table1[[#This Row],[w1]], Table1[ [#This Row],[t1] ], Table1[@w1], Table1[@[a_h1]], [@w1].
# Inside a column name, ' escapes the next character.
_STRUCTURED = re.compile(
    r"(?P<table>[A-Za-z_\\][\w.\\]*)?\[\s*(?:\[\s*#This Row\s*\]\s*,\s*\[(?P<a>(?:'.|[^\[\]'])*)\]"
    r"|@\s*(?:\[(?P<b>(?:'.|[^\[\]'])*)\]|(?P<c>(?:'.|[^\[\]'])+)))\s*\]",
    re.IGNORECASE,
)


def rewrite_structured(formula: str, sheet: str, row: int, tables: list[ExcelTable]) -> str:
    """Replace this-row structured references by A1 cells of `row`. Others stay (and fail to evaluate)."""
    if "[" not in formula:
        return formula

    def to_a1(match: re.Match) -> str:
        column = re.sub(r"'(.)", r"\1", match["a"] or match["b"] or match["c"] or "")
        if match["table"]:
            table = next((t for t in tables if t.name.lower() == match["table"].lower()), None)
        else:
            table = next((t for t in tables if t.sheet == sheet and t.min_row <= row <= t.max_row), None)
        index = table.column_index(column) if table else None
        if table is None or index is None:
            return match[0]
        prefix = "" if table.sheet == sheet else "'" + table.sheet.replace("'", "''") + "'!"
        return f"{prefix}{get_column_letter(index)}{row}"

    return _STRUCTURED.sub(to_a1, formula)


# ---------------------------------------------------------------------------------------------
# Evaluating formulas (never with Python eval: the `formulas` package parses and computes them)


class FormulaError(ValueError):
    pass


@dataclass(frozen=True)
class Parsed:
    canonical: str  # the formula with its i-th reference replaced by a placeholder cell
    refs: tuple[Ref, ...]


def _placeholder(i: int, ref: Ref) -> str:
    base = i * 10_000 + 1  # each reference gets its own block of rows, so placeholders never overlap
    if ref.is_cell:
        return f"A{base}"
    return f"A{base}:{get_column_letter(ref.col2 - ref.col + 1)}{base + ref.row2 - ref.row}"


class Workbook:
    """The student's workbook, read twice: the values Excel cached when it saved, and the formulas.

    Reading is most of a check's time, so both are read in openpyxl's streaming read-only mode: the
    values once, whole; the formulas only as far down a sheet as the check needs (the first rows, and
    the rows of wrong cells). Excel tables (structured references) need the full reader, which is the
    only one that exposes ws.tables.
    """

    def __init__(self, data: bytes):
        try:
            self.warnings = check_upload(data)
        except UnsafeWorkbook as error:
            raise WorkbookError(str(error)) from None
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            has_tables = any(n.lower().startswith("xl/tables/") for n in archive.namelist())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about data validation, headers, ...
                cached = openpyxl.load_workbook(
                    io.BytesIO(data), read_only=True, data_only=True, keep_links=False
                )
                self.values = {ws.title: _rows(ws) for ws in cached.worksheets}
                cached.close()
                self.formulas = openpyxl.load_workbook(
                    io.BytesIO(data), read_only=not has_tables, data_only=False, keep_links=False
                )
        except Exception as error:  # openpyxl raises many kinds on a damaged file
            message = " ".join(str(error).split())[:200] or type(error).__name__
            raise WorkbookError(f"openpyxl cannot read the workbook: {message}") from None
        self.sheetnames = [ws.title for ws in self.formulas.worksheets]
        self.tables = excel_tables(self.formulas) if has_tables else []
        self._formula_rows: dict[str, list[tuple]] = {}  # the rows read so far, from row 1
        self._complete: set[str] = set()  # sheets whose formulas were read to the end
        self._parsed: dict[tuple[str, int, int], Parsed | None] = {}

    def raw(self, sheet: str, row: int, col: int):
        """What the cell holds: a formula's text, a number, a string, or None."""
        rows = self._formula_rows_to(sheet, row)
        value = rows[row - 1][col - 1] if row <= len(rows) and col <= len(rows[row - 1]) else None
        return getattr(value, "text", value)  # an ArrayFormula holds its text in .text

    def cached_value(self, sheet: str, row: int, col: int):
        rows = self.values.get(sheet, [])
        return rows[row - 1][col - 1] if 1 <= row <= len(rows) and 1 <= col <= len(rows[row - 1]) else None

    def _formula_rows_to(self, sheet: str, row: int) -> list[tuple]:
        rows = self._formula_rows.get(sheet, [])
        if row > len(rows) and sheet not in self._complete and sheet in self.sheetnames:
            # Read ahead, so walking down a sheet reads it about twice at most; past 4,096 rows read it all.
            wanted = max(row, 2 * len(rows), 64)
            wanted = None if wanted > 4096 else wanted
            rows = _rows(self.formulas[sheet], wanted)
            if wanted is None or len(rows) < wanted:
                self._complete.add(sheet)
            self._formula_rows[sheet] = rows
        return rows

    def formula(self, sheet: str, row: int, col: int) -> str | None:
        """The cell's formula with structured references as A1 cells, or None for a value."""
        raw = self.raw(sheet, row, col)
        if not (isinstance(raw, str) and raw.startswith("=") and len(raw) > 1):
            return None
        return rewrite_structured(raw, sheet, row, self.tables)

    def parsed(self, sheet: str, row: int, col: int) -> Parsed | None:
        key = (sheet, row, col)
        if key not in self._parsed:
            text = self.formula(sheet, row, col)
            self._parsed[key] = None if text is None else self._parse(text, sheet)
        return self._parsed[key]

    def _parse(self, text: str, sheet: str) -> Parsed:
        if len(text) > MAX_FORMULA_CHARS:
            raise FormulaError(f"a formula of {len(text)} characters is longer than Excel allows")
        try:
            tokens = Tokenizer(text).items
        except Exception as error:
            raise FormulaError(f"cannot parse {text}: {error}") from None
        refs: dict[Ref, str] = {}
        parts = []
        for token in tokens:
            if token.type == Token.OPERAND and token.subtype == Token.RANGE:
                ref = resolve_operand(token.value, sheet, self.formulas)
                if ref is None:
                    raise FormulaError(f"unsupported reference {token.value!r}")
                parts.append(refs.setdefault(ref, _placeholder(len(refs), ref)))
            else:
                parts.append(token.value)
        return Parsed("=" + "".join(parts), tuple(refs))


def _rows(ws, max_row: int | None = None) -> list[tuple]:
    """A sheet's rows of values from row 1, without trusting its stated dimensions (some writers get
    them wrong, and read-only mode would then cut rows short)."""
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about extensions it does not read
        return list(ws.iter_rows(max_row=max_row, values_only=True))


class Evaluator:
    """Computes cells from the workbook's formulas; `overrides` replace chosen cells' values."""

    _compiled: dict[str, Callable] = {}  # canonical formula -> compiled function, shared by all sheets

    def __init__(self, book: Workbook, overrides: Mapping[tuple[str, int, int], float] | None = None):
        self.book = book
        self.memo: dict[tuple[str, int, int], object] = dict(overrides or {})
        self.busy: set[tuple[str, int, int]] = set()

    def value(self, sheet: str, row: int, col: int):
        key = (sheet, row, col)
        if key in self.memo:
            return self.memo[key]
        if sheet not in self.book.sheetnames:
            return "#REF!"
        if key in self.busy:
            return "#CIRCULAR!"
        self.busy.add(key)
        try:
            result = self._compute(sheet, row, col)
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
        function = self._function(parsed.canonical)
        if function is None:
            return "#NAME?"
        placeholders = {_placeholder(i, ref): ref for i, ref in enumerate(parsed.refs)}
        if any(name not in placeholders for name in function.inputs):
            return "#NAME?"
        args = [self._argument(placeholders[name]) for name in function.inputs]
        try:
            result = function(*args)
        except Exception:
            return "#VALUE!"
        first = np.asarray(result, dtype=object).ravel()
        return first[0] if first.size else "#VALUE!"

    def _function(self, canonical: str):
        if canonical not in self._compiled:
            if len(self._compiled) >= MAX_COMPILED:
                self._compiled.clear()
            try:
                self._compiled[canonical] = excel_engine.Parser().ast(canonical)[1].compile()
            except Exception:
                self._compiled[canonical] = None
        return self._compiled[canonical]

    def _argument(self, ref: Ref):
        if ref.is_cell:
            return _excel_value(self.value(ref.sheet, ref.row, ref.col))
        rows = range(ref.row, ref.row2 + 1)
        cols = range(ref.col, ref.col2 + 1)
        if len(rows) * len(cols) > MAX_RANGE_CELLS:
            return "#RANGE!"
        return np.array(
            [[_excel_value(self.value(ref.sheet, r, c)) for c in cols] for r in rows], dtype=object
        )


def _excel_value(value):
    return value if isinstance(value, int | float | str | bool) else str(value)


def _as_number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        return float("nan")
    return float(value)


# ---------------------------------------------------------------------------------------------
# Finding the iteration table of a sheet


@dataclass(frozen=True)
class Layout:
    sheet: str
    header_row: int
    columns: dict[str, int]  # backprop_core column name -> sheet column index (1-based)
    first_row: int
    n_rows: int

    def cell(self, name: str, k: int) -> str:
        return f"{get_column_letter(self.columns[name])}{self.first_row + k}"

    def name_of(self, col: int) -> str | None:
        return next((n for n, c in self.columns.items() if c == col), None)


def find_layout(book: Workbook, sheet: str) -> Layout | None:
    """The first row that names t1, t2, i1, i2, w1..w8 and E_total, and the filled rows below it."""
    header_row, columns = None, {}
    for r, values in enumerate(book.values.get(sheet, []), start=1):
        labels: dict[str, int] = {}
        for c, value in enumerate(values, start=1):
            name = column_for_label(value)
            if name is not None:
                labels.setdefault(name, c)
        if all(n in labels for n in REQUIRED):
            header_row, columns = r, labels
            break
    if header_row is None:
        return None
    w1 = columns["w1"]
    # A file saved by Excel or LibreOffice holds every formula's value: count filled rows by those.
    # A file from a writer that does not calculate (openpyxl) holds none: count rows by the formulas.
    uncached = book.cached_value(sheet, header_row + 2, w1) is None and book.raw(sheet, header_row + 2, w1)
    if uncached:
        book.raw(sheet, MAX_STEPS + header_row + 2, w1)  # one read of the whole sheet's formulas
    n = 0
    while n <= MAX_STEPS and _filled(book, sheet, header_row + 1 + n, w1, bool(uncached)):
        n += 1
    if n == 0:
        return None
    return Layout(sheet, header_row, columns, header_row + 1, n)


def _filled(book: Workbook, sheet: str, row: int, col: int, uncached: bool) -> bool:
    value = book.raw(sheet, row, col) if uncached else book.cached_value(sheet, row, col)
    return value not in (None, "")


# ---------------------------------------------------------------------------------------------
# What each column should hold


def expected_columns(values: Mapping[str, np.ndarray], eta: float | None, act: Activation) -> dict:
    """For each column the sheet holds: backprop_core's value, row by row, computed from the sheet's
    own values of what that column depends on. Columns the sheet lacks are computed as intermediates."""
    network = build_network(False)
    env = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    expected = {}
    with np.errstate(all="ignore"):
        for formula in network.formulas:
            if formula.stage == "update":
                continue
            result = np.broadcast_to(formula.expr.evaluate(env, act), env["w1"].shape)
            if formula.name in values:
                expected[formula.name] = result
            else:
                env[formula.name] = result
        n = env["w1"].shape[0]
        for name in INPUTS + TARGETS:
            expected[name] = np.full(n, env[name][0])  # inputs and targets stay as in the first row
        if eta is not None and n > 1:
            previous = {k: v[:-1] for k, v in env.items()} | {ETA: np.float64(eta)}
            by_name = network.by_name()
            for w in WEIGHTS:
                updated = by_name[f"next_{w}"].evaluate(previous, act)
                expected[w] = np.concatenate([env[w][:1], updated])
    return expected


def first_mismatch(expected: np.ndarray, found: np.ndarray, start: int = 0) -> int | None:
    """The first row (from `start`) where `found` differs from a finite `expected`, or None."""
    expected = np.asarray(expected, dtype=np.float64)[start:]
    found = np.asarray(found, dtype=np.float64)[start:]
    finite = np.isfinite(expected)
    if not finite.any():
        return None
    scale = float(np.max(np.abs(expected[finite])))
    with np.errstate(all="ignore"):
        tolerance = REL_TOL * np.maximum(np.abs(expected), FLOOR * scale)
        bad = finite & ~(np.abs(found - expected) <= tolerance)
    hits = np.flatnonzero(bad)
    return int(hits[0]) + start if hits.size else None


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


# ---------------------------------------------------------------------------------------------
# Hints from the formula trees

_MARK = re.compile(r"\{\{(\w+)\}\}")


def expected_references(column: str, act: Activation, present=COLUMNS) -> set[tuple[str, int]]:
    """The quantities (name, row offset) the right formula of `column` reads, intermediates and the
    columns not `present` inlined, as the xlsx export writes it (a sigmoid's slope as a·(1−a))."""
    if column in WEIGHTS:
        return {(column, -1), (f"dE_d{column}", -1), (ETA, 0)}
    if column in INPUTS + TARGETS:
        return set()
    formulas = build_network(False).by_name()
    text = formulas[column].excel(act, lambda n: "{{" + n + "}}" if n in present else None, formulas)
    return {(name, 0) for name in _MARK.findall(text)}


def expected_formula(
    column: str, k: int, layout: Layout, eta_cell: str | None, act: Activation
) -> str | None:
    """The right formula for row k of `column`, written in the student's own cells."""
    formulas = build_network(False).by_name()
    if column in WEIGHTS:
        if k == 0 or eta_cell is None:
            return None
        name, row = f"next_{column}", k - 1
    elif column in INPUTS + TARGETS:
        return None
    else:
        name, row = column, k

    def ref(symbol: str) -> str | None:
        if symbol == ETA:
            return eta_cell
        return layout.cell(symbol, row) if symbol in layout.columns else None

    try:
        return "=" + formulas[name].excel(act, ref, formulas)
    except KeyError:
        return None


def found_references(book: Workbook, layout: Layout, k: int, column: str, eta_ref: Ref | None) -> set | None:
    """What the student's formula in row k of `column` reads: (name, row offset), or ("cell", address)."""
    row = layout.first_row + k
    try:
        parsed = book.parsed(layout.sheet, row, layout.columns[column])
    except FormulaError:
        return None
    if parsed is None:
        return None
    found = set()
    for ref in parsed.refs:
        name = layout.name_of(ref.col) if ref.sheet == layout.sheet and ref.is_cell else None
        in_table = layout.first_row <= ref.row < layout.first_row + layout.n_rows
        if eta_ref is not None and ref == eta_ref:
            found.add((ETA, 0))
        elif name is not None and in_table:
            found.add((name, ref.row - row))
        else:
            prefix = "" if ref.sheet == layout.sheet else f"{ref.sheet}!"
            found.add(("cell" if ref.is_cell else "range", prefix + ref.address()))
    return found


def describe(item: tuple[str, int | str], layout: Layout) -> str:
    name, offset = item
    if name in ("cell", "range"):
        return f"{name} {offset}"
    if name == ETA:
        return "η"
    letter = get_column_letter(layout.columns[name]) if name in layout.columns else "?"
    where = {0: "", -1: " of the row above", 1: " of the row below"}.get(offset, f" {offset:+d} rows away")
    return f"{display(name)} (column {letter}{where})"


def _pair_key(item: tuple[str, int | str]) -> str:
    return re.sub(r"\d+$", "", item[0]) if item[0] not in ("cell", "range") else "cell"


def hint_for(column: str, expected: float, found, refs_found: set | None, act: Activation,
             layout: Layout, eta_cell: str | None) -> str:  # fmt: skip
    """A plain sentence: what the wrong formula does differently from the right one."""
    what = display(column)
    if (
        isinstance(found, float)
        and np.isfinite(found)
        and expected != 0
        and abs(found + expected) <= 1e-6 * abs(expected)
    ):
        return f"{what} has the wrong sign: it is −1 × the right value (check the order in (a_o − t) or w − η·∂E/∂w)"
    if column in INPUTS + TARGETS:
        return f"{column} changes from the first row's value; inputs and targets stay the same in every row"
    if refs_found is None:
        if isinstance(found, str):
            return f"the cell shows {found!r} instead of a number"
        return f"the cell holds a typed number where {what} needs a formula"
    expected_refs = expected_references(column, act, tuple(layout.columns))
    extra = sorted(refs_found - expected_refs, key=str)
    missing = sorted(expected_refs - refs_found, key=str)
    sentences = []
    if (ETA, 0) in missing and extra:
        wrong = next((e for e in extra if e[0] == "cell"), extra[0])
        extra.remove(wrong)
        missing.remove((ETA, 0))
        sentences.append(f"uses {describe(wrong, layout)} as the learning rate where η is in {eta_cell}")
    for lost in list(missing):
        partner = next((e for e in extra if _pair_key(e) == _pair_key(lost)), None)
        if partner is None and len(missing) == len(extra) == 1:
            partner = extra[0]
        if partner is None:
            continue
        extra.remove(partner)
        missing.remove(lost)
        sentence = f"uses {describe(partner, layout)} where {what} needs {describe(lost, layout)}"
        if {partner[0], lost[0]} == {"t1", "t2"}:
            sentence += ": the targets are swapped (invisible while t1 = t2)"
        sentences.append(sentence)
    if missing:
        sentences.append(f"misses {', '.join(describe(m, layout) for m in missing)}, which {what} needs")
    if extra:
        sentences.append(
            f"also uses {', '.join(describe(e, layout) for e in extra)}, which {what} does not need"
        )
    if not sentences:
        return f"reads the right cells but combines them wrongly: {what} is " + _formula_of(column, act)
    return "; ".join(sentences)


def _formula_of(column: str, act: Activation) -> str:
    """The symbolic formula (quantity names, intermediates inlined), for a hint."""
    formulas = build_network(False).by_name()
    name = f"next_{column}" if column in WEIGHTS else column
    text = formulas[name].excel(act, lambda n: display(n) if n in COLUMNS or n == ETA else None, formulas)
    return text.replace("*", "·")


# ---------------------------------------------------------------------------------------------
# Checking one sheet


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


def _sheet_values(book: Workbook, layout: Layout, evaluator: Evaluator | None, n_rows: int):
    """Per column: numbers (NaN where not a number) and what the cells show, for rows 0..n_rows-1."""
    numbers, shown = {}, {}
    for name, col in layout.columns.items():
        cells = []
        for k in range(n_rows):
            row = layout.first_row + k
            cells.append(
                evaluator.value(layout.sheet, row, col)
                if evaluator
                else book.cached_value(layout.sheet, row, col)
            )
        shown[name] = cells
        numbers[name] = np.array([_as_number(v) for v in cells], dtype=np.float64)
    return numbers, shown


def _has_cached_values(book: Workbook, layout: Layout) -> bool:
    """Whether Excel (or LibreOffice) saved the formulas' values: openpyxl-written files hold none."""
    for k in range(min(layout.n_rows, 3)):
        for col in layout.columns.values():
            row = layout.first_row + k
            if book.formula(layout.sheet, row, col) and book.cached_value(layout.sheet, row, col) is None:
                return False
    return True


def _shown(value) -> float | str | None:
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value)
    if isinstance(value, int | float | np.floating | np.integer):
        number = float(value)
        return number if np.isfinite(number) else str(number)
    return str(value)


def _compare(book, layout, numbers, shown, eta, eta_ref, act, check, columns) -> list[Finding]:
    expected = expected_columns(numbers, eta, act)
    eta_cell = _absolute(eta_ref, layout.sheet) if eta_ref else None
    findings = []
    for column in columns:
        if column not in expected or column not in numbers:
            continue
        start = 1 if column in WEIGHTS else 0
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


def _absolute(ref: Ref, sheet: str) -> str:
    cell = f"${get_column_letter(ref.col)}${ref.row}"
    return cell if ref.sheet == sheet else f"'{ref.sheet}'!{cell}"


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
    evaluator = None if cached else Evaluator(book)
    if eta_ref is not None:
        report.eta_cell = (
            f"{sheet}!{eta_ref.address()}"
            if eta_ref.sheet == sheet
            else f"{eta_ref.sheet}!{eta_ref.address()}"
        )
        raw_eta = book.cached_value(eta_ref.sheet, eta_ref.row, eta_ref.col) if cached else None
        report.eta = _as_number(
            raw_eta if raw_eta is not None else Evaluator(book).value(eta_ref.sheet, eta_ref.row, eta_ref.col)
        )
        if not np.isfinite(report.eta):
            report.eta = None
    notes = []
    n_rows = layout.n_rows if cached else min(layout.n_rows, MAX_EVALUATED_ROWS)
    if not cached:
        notes.append(
            "the file holds no saved values (written by a program that does not calculate); "
            f"its formulas were evaluated for the first {n_rows} rows"
        )
    numbers, shown = _sheet_values(book, layout, evaluator, n_rows)
    act = detect_activation(numbers)
    report.activation = act.name
    if eta_ref is None and layout.n_rows > 1:
        report.eta = typed_eta(numbers)
        notes.append(
            "no learning-rate cell in the weight updates (η typed into each formula?); "
            + (
                f"η = {report.eta:g} read from the first update"
                if report.eta
                else "the updates were not checked"
            )
        )
    values_findings = _compare(book, layout, numbers, shown, report.eta, eta_ref, act, "values", COLUMNS)
    report.findings = values_findings + _formulas_check(
        book, layout, eta_ref, act, {f.column for f in values_findings}
    )
    report.findings.sort(key=lambda f: COLUMNS.index(f.column))
    report.errors = [float(x) for x in numbers["E_total"]]
    report.start = _start(numbers, report.eta, act)
    report.note = "; ".join(notes)
    return report


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


def _formulas_check(book, layout, eta_ref, act, already: set[str]) -> list[Finding]:
    """Evaluate the student's first two rows with PERTURBED inputs and compare with backprop_core."""
    overrides = {(layout.sheet, layout.first_row, layout.columns[n]): v for n, v in PERTURBED.items()}
    if eta_ref is not None:
        overrides[(eta_ref.sheet, eta_ref.row, eta_ref.col)] = PERTURBED_ETA
    evaluator = Evaluator(book, overrides)
    numbers, shown = _sheet_values(book, layout, evaluator, min(layout.n_rows, 2))
    computed = [c for c in COLUMNS if c not in INPUTS + TARGETS and c not in already]
    eta = PERTURBED_ETA if eta_ref is not None else None
    return _compare(book, layout, numbers, shown, eta, eta_ref, act, "formulas", computed)


def _start(numbers, eta: float | None, act: Activation) -> Config | None:
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


def check_workbook(data: bytes, name: str = "workbook.xlsx") -> Report:
    """Check every worksheet; raises WorkbookError if the file cannot be read at all."""
    book = Workbook(data)
    sheets = []
    for sheet in book.sheetnames:
        try:
            sheets.append(check_sheet(book, sheet))
        except Exception as error:  # one odd sheet must not stop the others being checked
            message = " ".join(str(error).split())[:160] or type(error).__name__
            sheets.append(SheetReport(sheet, False, note=f"not recognised: could not be read ({message})"))
    fill_expected_curves(sheets)
    return Report(name, sheets, book.warnings)
