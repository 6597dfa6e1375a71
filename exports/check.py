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

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from openpyxl.utils import get_column_letter

from backprop_core import ACTIVATIONS, COLUMNS, Config, ConfigError, build_network, sweep
from backprop_core.activations import Activation
from backprop_core.config import INPUTS, MAX_STEPS, TARGETS, WEIGHTS, check_lr

from .formula_eval import MAX_COMPILED, MAX_FORMULA_CHARS, MAX_RANGE_CELLS, Evaluator, FormulaError, Parsed
from .references import ExcelTable, Ref, excel_tables, resolve_operand, rewrite_structured
from .workbook import Workbook, WorkbookError

# Re-exported: callers and tests import these from exports.check.
__all__ = [
    "MAX_COMPILED", "MAX_FORMULA_CHARS", "MAX_RANGE_CELLS", "Evaluator", "ExcelTable", "FormulaError", "Parsed",
    "Ref", "Workbook", "WorkbookError", "excel_tables", "resolve_operand", "rewrite_structured",
]  # fmt: skip


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

LEAVES = INPUTS + TARGETS + WEIGHTS
REQUIRED = (*LEAVES, "E_total")  # a header row must name these to be an iteration table
ETA = "eta"


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
