"""Recognise a sheet's iteration table: its header row, its filled rows, η and the activation.

Every worksheet whose header row names the table's columns (t1 … ∂E/∂w8, in any order, on any row,
with the spellings students use) is an iteration table. The learning rate η is the cell that the
weight-update formulas refer to besides the previous weight and its gradient, or, typed into each
formula, the number the first update agrees on.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from openpyxl.utils import get_column_letter

from backprop_core import ACTIVATIONS, COLUMNS, build_network
from backprop_core.activations import Activation
from backprop_core.config import BIASES, INPUTS, MAX_STEPS, TARGETS, WEIGHTS
from backprop_core.expr import Activate, Sym

from .expected import UPDATE_READS, first_mismatch, resolution, update_step
from .parse import FormulaError
from .references import Ref
from .workbook import Workbook

LEAVES = INPUTS + TARGETS + WEIGHTS  # what a row is computed from
REQUIRED = (*LEAVES, "E_total")  # a header row must name these to be an iteration table

_PLAIN_LABELS = {c.replace("_", "").lower(): c for c in COLUMNS}
# Every partial sign students type (∂, 𝝏, 𝟃, δ, ð, ...) becomes "d" once NFKC has folded the
# mathematical alphabets' ∂s into U+2202; "d" itself is the plain-text spelling (dE/dw1).
_PARTIAL = str.maketrans({"∂": "d", "δ": "d", "ð": "d", "Δ": "d"})
# ∂E/∂w1, E∂w1, dE/dw1, Edw1, Etotaldw1, E_tot/w1, ∂Etotal/∂w1, dE_dw1 -> dE_dw1
# ∂E_t/∂w1, ∂Et/∂w1 too; a spelling no pattern knows is found by what the column computes (meaning.identify).
_GRADIENT_LABEL = re.compile(r"d?e(?:total|tot|t)?(?:/d|/|d)(w[1-8])")
# out_h1, act_h1, a_h1, ah1, σ(h1), sigmoid(h1), outo1 -> a_h1; net_h1, in_h1, z_h1 -> h1
_ACTIVATION_LABEL = re.compile(r"(?:out|act|a|σ|sigma|sigmoid|sig|f)\(?([ho][12])\)?")
_PRE_ACTIVATION_LABEL = re.compile(r"(?:net|in|z)\(?([ho][12])\)?")
_TOTAL_LABELS = ("etot", "etotal", "etotalerror", "totalerror")


def _normalised(label: str) -> str:
    text = unicodedata.normalize("NFKC", label).translate(_PARTIAL)
    return re.sub(r"[\s_:=]", "", text).lower().translate(_PARTIAL)


def column_for_label(label: object) -> str | None:
    """The backprop_core column a header cell names, or None: '∂E/∂w1', 'E𝝏w1', 'dE/dw1' -> dE_dw1.

    Helper columns some students add (∂o1/∂a_h1, ∂E/∂a_o1, ∂E/∂a_h1) name none of the classroom
    columns, so they are left out of the table rather than taken for one of its columns."""
    if not isinstance(label, str) or len(label) > 40:
        return None
    text = _normalised(label)
    gradient = _GRADIENT_LABEL.fullmatch(text)
    if gradient:
        return f"dE_d{gradient[1]}"
    if text in _TOTAL_LABELS:
        return "E_total"
    post = _ACTIVATION_LABEL.fullmatch(text)
    if post:
        return f"a_{post[1]}"
    pre = _PRE_ACTIVATION_LABEL.fullmatch(text)
    if pre:
        return pre[1]
    return _PLAIN_LABELS.get(text)


@dataclass(frozen=True)
class Layout:
    """Where a sheet's iteration table is."""

    sheet: str
    header_row: int
    columns: dict[str, int]  # backprop_core column name -> sheet column index (1-based)
    first_row: int
    n_rows: int
    # With biases: b1, b2 -> their cells as a formula writes them ($E$3); empty for the classroom's network.
    bias_cells: tuple[tuple[str, str], ...] = ()
    # Rows below the table's last computed row left as a template: no formulas, only zeros or blanks.
    # They make the sheet incomplete, not wrong.
    uncomputed: int = 0

    def cell(self, name: str, k: int) -> str:
        """The A1 address of `name` in the table's row k (0 is the first row)."""
        return f"{get_column_letter(self.columns[name])}{self.first_row + k}"

    def name_of(self, col: int) -> str | None:
        return next((n for n, c in self.columns.items() if c == col), None)


def find_layouts(book: Workbook, sheet: str) -> list[Layout]:
    """Every iteration table of a sheet, top to bottom: a row that names t1, t2, i1, i2, w1..w8 and
    E_total, and the filled rows below it. Students stack one table per learning rate on one sheet."""
    rows = book.values.get(sheet, [])
    layouts: list[Layout] = []
    r = 1
    while r <= len(rows):
        columns = _header_columns(book, sheet, rows, r)
        if columns is None:
            r += 1
            continue
        n = _filled_rows(book, sheet, r, columns)
        computed = n - _template_rows(book, sheet, r + 1, n, columns)
        if computed:
            layouts.append(Layout(sheet, r, columns, r + 1, computed, uncomputed=n - computed))
        r += n + 1
    return layouts


def find_layout(book: Workbook, sheet: str) -> Layout | None:
    """The sheet's first iteration table, or None."""
    layouts = find_layouts(book, sheet)
    return layouts[0] if layouts else None


def _header_columns(book: Workbook, sheet: str, rows: list[tuple], r: int) -> dict[str, int] | None:
    """Each column's index if row r names every REQUIRED column, else None.

    A label can appear twice on a header row: a column of labels beside the table (i1, i2, W1, ...
    written downwards) puts one of them on the header row too. The table's own column is the one with a
    number or formula below it, nearest to the other columns."""
    candidates: dict[str, list[int]] = {}
    for c, value in enumerate(rows[r - 1], start=1):
        name = column_for_label(value)
        if name is not None:
            candidates.setdefault(name, []).append(c)
    if not all(n in candidates for n in REQUIRED):
        return None
    unique = [cols[0] for cols in candidates.values() if len(cols) == 1]
    middle = float(np.median(unique)) if unique else 0.0
    columns = {}
    for name, cols in candidates.items():
        numeric = [c for c in cols if _holds_a_number(book, sheet, r + 1, c)] or cols
        columns[name] = min(numeric, key=lambda c: (abs(c - middle), c))
    return columns


def _holds_a_number(book: Workbook, sheet: str, row: int, col: int) -> bool:
    value = book.cached_value(sheet, row, col)
    if value is None:
        value = book.raw(sheet, row, col)
    if isinstance(value, str):
        return value.startswith("=")
    return isinstance(value, int | float) and not isinstance(value, bool)


def _filled_rows(book: Workbook, sheet: str, header_row: int, columns: dict[str, int]) -> int:
    """The table's rows below its header: up to the first row that is not an iteration, one whose w1
    holds no number or formula (empty, text such as a title "L.R. 0.2"), or that names a column again
    (the next table's header)."""
    w1 = columns["w1"]
    # A file saved by Excel or LibreOffice holds every formula's value: count filled rows by those.
    # A file from a writer that does not calculate (openpyxl) holds none: count rows by the formulas.
    # Asked of the table's second row, as the first one's weights are usually typed numbers.
    uncached = book.cached_value(sheet, header_row + 2, w1) is None and book.raw(sheet, header_row + 2, w1)
    if uncached:
        book.raw(sheet, MAX_STEPS + header_row + 2, w1)  # one read of the whole sheet's formulas
    labels = [c for n, c in columns.items() if n in LEAVES]
    n = 0
    while n <= MAX_STEPS:
        row = header_row + 1 + n
        value = book.raw(sheet, row, w1) if uncached else book.cached_value(sheet, row, w1)
        if uncached and not (isinstance(value, str) and value.startswith("=")):
            value = book.cached_value(sheet, row, w1) if value is None else value
        if not _is_number_or_formula(value):
            break
        if sum(column_for_label(book.cached_value(sheet, row, c)) is not None for c in labels) >= 3:
            break  # a header row without a gap: the next table
        n += 1
    return n


def _is_number_or_formula(value) -> bool:
    if isinstance(value, str):
        return value.startswith("=")
    return isinstance(value, int | float) and not isinstance(value, bool)


def _template_rows(book: Workbook, sheet: str, first_row: int, n: int, columns: dict[str, int]) -> int:
    """How many of the table's last rows are a template left uncomputed: no formula in any computed
    column and every computed cell 0 or empty."""
    computed = [c for name, c in columns.items() if name not in INPUTS + TARGETS + WEIGHTS]
    count = 0
    for row in range(first_row + n - 1, first_row - 1, -1):
        cells = [book.raw(sheet, row, c) for c in computed]
        if any(isinstance(v, str) and v.startswith("=") for v in cells):
            break
        if any(v not in (None, 0, 0.0, "") for v in cells):
            break
        count += 1
    return count


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
        own = {(row - 1, layout.columns.get(n, -1)) for n in UPDATE_READS[w]}
        others = [r for r in parsed.refs if not (r.sheet == layout.sheet and (r.row, r.col) in own)]
        if len(others) == 1 and others[0].is_cell:
            votes[others[0]] += 1
    return votes.most_common(1)[0][0] if votes else None


def typed_eta(numbers: Mapping[str, np.ndarray]) -> float | None:
    """η from the first update (w(row 1) = w(row 0) − η × the update's step), when every weight agrees on it
    within the precision the sheet stores (pasted values rounded to a few digits agree only roughly);
    the shortest decimal that fits every estimate (0.5, not 0.49987)."""
    estimates, spreads = [], []
    for w in WEIGHTS:
        if len(numbers[w]) < 2 or not all(n in numbers for n in UPDATE_READS[w]):
            continue
        with np.errstate(all="ignore"):
            step = float(
                update_step(w, {n: numbers[n][:1] for n in UPDATE_READS[w]}, ACTIVATIONS["sigmoid"])[0]
            )
        if not np.isfinite(step) or step == 0:
            continue
        rounding = sum(float(resolution(numbers[n][:2]).max()) for n in UPDATE_READS[w])
        estimates.append((numbers[w][0] - numbers[w][1]) / step)
        spreads.append(rounding / abs(step) * (1 + abs(estimates[-1])) + 1e-6 * abs(estimates[-1]))
    if not estimates or not np.all(np.isfinite(estimates)):
        return None
    estimates, spreads = np.array(estimates), np.array(spreads)
    for digits in range(1, 16):
        candidate = float(f"{float(np.median(estimates)):.{digits}g}")
        if np.all(np.abs(estimates - candidate) <= spreads):
            return candidate if candidate > 0 else None
    return None


# Labels of the learning rate's cell, as students write them (normalised: no spaces, "_", ":" or "=").
ETA_LABELS = ("η", "eta", "lr", "learningrate", "alpha", "α", "h", "n", "rate")
_ETA_IN_TEXT = re.compile(r"(?:η|eta|lr|learningrate|alpha|α)\(?([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\)?")
ETA_SEARCH_ROWS = 40  # how far above a table's header its η may sit


def find_eta_by_label(book: Workbook, layout: Layout) -> tuple[str, float] | None:
    """(cell, η) from a cell labelled η, LR, LR=, lr, alpha, α or h with a number beside or below it
    (or "η = 0.5" in one cell), nearest above the table; the header row and the rows just below count too."""
    found = labelled_number(book, layout, ETA_LABELS, _ETA_IN_TEXT)
    return (found[0], found[3]) if found and found[3] > 0 else None


def find_biases(book: Workbook, layout: Layout) -> dict[str, tuple[str, int, int, float]]:
    """The bias cells of a sheet with biases (labelled b1 and b2, as the export writes them): name ->
    (cell, row, column, value). Empty for the classroom's network without biases."""
    found = {}
    for name in BIASES:
        cell = labelled_number(book, layout, (name,), None)
        if cell is not None:
            found[name] = cell
    return found if len(found) == len(BIASES) else {}


def labelled_number(
    book: Workbook, layout: Layout, labels: tuple[str, ...], inline: re.Pattern | None
) -> tuple[str, int, int, float] | None:
    """(cell, row, column, value): the number beside or below a cell whose text is one of `labels`
    (normalised), nearest above the table; or a number written into the label cell (`inline`)."""
    rows = book.values.get(layout.sheet, [])
    last = min(layout.header_row + 2, len(rows))
    for r in range(last, max(layout.header_row - ETA_SEARCH_ROWS, 1) - 1, -1):
        for c, value in enumerate(rows[r - 1], start=1):
            if not isinstance(value, str) or len(value) > 30:
                continue
            text = _normalised(value)
            in_text = inline.fullmatch(text) if inline else None
            if in_text:
                return f"{get_column_letter(c)}{r}", r, c, float(in_text[1])
            if text not in labels:
                continue
            for rr, cc in ((r, c + 1), (r + 1, c)):
                number = book.cached_value(layout.sheet, rr, cc)
                if number is None:
                    number = book.raw(layout.sheet, rr, cc)
                if isinstance(number, int | float) and not isinstance(number, bool):
                    return f"{get_column_letter(cc)}{rr}", rr, cc, float(number)
    return None


# (pre-activation, activation) pairs, from the network's trees: a_h1 = act(h1), ...
ACTIVATED = tuple(
    (f.expr.arg.name, f.name)
    for f in build_network(False).formulas
    if isinstance(f.expr, Activate) and isinstance(f.expr.arg, Sym)
)


def detect_activation(*samples: Mapping[str, np.ndarray]) -> Activation:
    """The activation whose forward pass matches the sheet's a_h1 … a_o2 on the first row of each sample
    (the sheet's own values; check.py asks the formulas' trees first, where negative pre-activations
    tell ReLU from linear); sigmoid if none matches."""
    best, best_hits = ACTIVATIONS["sigmoid"], -1
    for act in ACTIVATIONS.values():
        hits = 0
        for values in samples:
            with np.errstate(all="ignore"):
                hits += sum(
                    first_mismatch(act.forward(values[p][:1]), values[a][:1]) is None
                    for p, a in ACTIVATED
                    if p in values and a in values
                )
        if hits > best_hits:
            best, best_hits = act, hits
    return best
