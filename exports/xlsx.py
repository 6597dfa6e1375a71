"""The live worksheet: the classroom sheet as Excel formulas, printed from backprop_core.network.

    workbook_bytes(Config(), [0.1, 0.2, 0.5, 0.8, 1.0, 2.0], 100) -> the .xlsx file as bytes

Sheets: "Summary" (final errors, all curves in one chart), "Derivation" (every formula in words and
symbols) and one "LR <η>" sheet per learning rate: the update table, its step in A then the classroom
columns (t1 … ∂E/∂w8 in B … AF), as the app and the CSV lay it out, with η, the biases and row 0's inputs, targets and weights as the only
typed-in numbers. Every other cell is a formula, so a student who changes η or a starting weight in
Excel or LibreOffice sees the whole sheet recompute.

Every formula is `Formula.expr.excel(...)` of backprop_core.network: nothing here re-types maths.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName

from backprop_core import ACTIVATIONS, COLUMNS, Config, ConfigError, build_network, sweep
from backprop_core.config import WEIGHTS, check_lr, check_steps
from backprop_core.engine import WEIGHT_LIMIT
from backprop_core.expr import Sym, plain_symbol
from backprop_core.network import Network

MAX_EXPORT_LRS = 10  # sheets of one workbook
MAX_EXPORT_STEPS = 5_000  # updates per sheet: 5,001 rows x 32 columns stays a file Excel opens quickly

# Where things sit on a learning-rate sheet. Row 0 of the table is spreadsheet row FIRST_ROW.
ETA_CELL = "B3"  # row 1: title, row 2: how to use the sheet, row 3: the inputs η, b1, b2
BIAS_CELLS = {"b1": "E3", "b2": "H3"}  # b1, b2 are also cell names, so they are absolute references
HEADER_ROW = 5  # row 4: a note when backprop_core reports the run as diverged
FIRST_ROW = HEADER_ROW + 1
# The step number comes first, as in the app's table and the CSV (the charts' x axis); then the columns.
STEP_LETTER = "A"
LETTER = {name: get_column_letter(i + 2) for i, name in enumerate(COLUMNS)}  # t1 -> B ... dE_dw8 -> AF
ETA_NAME = "eta"  # a defined name scoped to each learning-rate sheet, so every sheet has its own η

# A formula is printed once per column with these markers where row numbers go, then stamped onto
# every row: 31 columns x 5,000 rows of tree printing would take seconds, a str.replace microseconds.
# Braces never occur in these formulas, and the activations treat "I{r}" as one cell reference, as "I6".
THIS_ROW = "{r}"
PREVIOUS_ROW = "{p}"

INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # the cells a student may change
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
CENTRED = Alignment(horizontal="center")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
NOTE_FONT = Font(italic=True, color="9C0006")
ERROR_FORMAT = "0.000000E+00"  # the summary's errors span orders of magnitude
COLUMN_WIDTH = 13  # fits "General": 0.5068745668 or 2.54680E-08

# The table's cells keep Excel's "General" number format on purpose: it shows as many digits as the
# column fits and turns to scientific notation as errors and gradients shrink, which no single fixed
# format does for both a weight (0.15) and a late gradient (3e-9). A per-cell format would also make
# openpyxl build a styled cell object for each of 190,000 cells and the export about 60% slower.


@dataclass(frozen=True)
class LrSheet:
    """One learning rate's sheet: its title and how many rows backprop_core could compute."""

    lr: float
    title: str
    rows: int  # table rows 0..rows-1
    diverged_at: int  # the row backprop_core could not compute, or -1

    @property
    def last_row(self) -> int:
        """The spreadsheet row of the table's last row."""
        return FIRST_ROW + self.rows - 1

    def cell(self, name: str, row: int | None = None) -> str:
        """An absolute reference from another sheet, e.g. 'LR 0.1'!$W$106 (default: the last row)."""
        row = self.last_row if row is None else row
        return f"{quote_sheetname(self.title)}!${LETTER[name]}${row}"

    def note(self) -> str:
        if self.diverged_at < 0:
            return ""
        return (
            f"backprop_core reports η = {self.lr:g} as diverged at row {self.diverged_at}: its weights would "
            f"pass {WEIGHT_LIMIT:g} there, so the table stops at row {self.diverged_at - 1} (Excel would overflow)."
        )


def check_export(lrs: Sequence[float], steps: int) -> tuple[list[float], int]:
    """The learning rates and steps of an export, or a one-line ConfigError."""
    lrs = [check_lr(lr) for lr in lrs]
    steps = check_steps(steps)
    if not lrs:
        raise ConfigError("give at least one learning rate")
    if len(lrs) > MAX_EXPORT_LRS:
        raise ConfigError(f"at most {MAX_EXPORT_LRS} learning rates per workbook, got {len(lrs)}")
    if steps > MAX_EXPORT_STEPS:
        raise ConfigError(f"at most {MAX_EXPORT_STEPS} steps per sheet in a workbook, got {steps}")
    titles = [sheet_title(lr) for lr in lrs]
    if len(set(titles)) < len(titles):
        raise ConfigError("each learning rate may appear only once")
    return lrs, steps


def sheet_title(lr: float) -> str:
    return f"LR {lr:.15g}"


def workbook_bytes(config: Config, lrs: Sequence[float], steps: int) -> bytes:
    """The live workbook for `config` with one sheet per learning rate, as the bytes of an .xlsx file."""
    lrs, steps = check_export(lrs, steps)
    runs = sweep(config, lrs, steps)  # only for where each run diverges: one vectorised pass
    sheets = []
    for lr, diverged_at in zip(lrs, runs.diverged_at, strict=True):
        rows = int(diverged_at) if diverged_at >= 0 else steps + 1
        sheets.append(LrSheet(lr, sheet_title(lr), rows, int(diverged_at)))

    book = Workbook(write_only=True)  # streams rows to disk: 6 x 1,000 rows in well under a second
    write_summary(book.create_sheet("Summary"), config, steps, sheets)
    write_derivation(book.create_sheet("Derivation"), config)
    for sheet in sheets:
        write_lr_sheet(book.create_sheet(sheet.title), config, sheet)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------
# Learning-rate sheets


def print_setup(ws, title_row: int | None = None) -> None:
    """Landscape, one page wide, the header repeated on every page: the sheet is handed in printed too."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0  # 0: as many pages tall as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    if title_row is not None:
        ws.print_title_rows = f"{title_row}:{title_row}"


def absolute(cell: str) -> str:
    """B3 -> $B$3."""
    letters = cell.rstrip("0123456789")
    return f"${letters}${cell[len(letters) :]}"


def fixed_reference(name: str) -> str | None:
    """η and the biases are single cells every row refers to; delta_o1 and friends have no cell (None)."""
    if name == "eta":
        return ETA_NAME
    if name in BIAS_CELLS:
        return absolute(BIAS_CELLS[name])
    return None


def row_templates(config: Config) -> tuple[list[str | None], list[str]]:
    """The formulas of row 0 (None where a leaf is typed in) and of every later row, with row markers.

    Forward and backward columns refer to their own row; a later row's weights are next_w1..8 of the
    row before, and its inputs and targets are the row before's (the leaf printed against that row).
    Intermediates without a column (δ_o1, ∂E/∂a_h1, …) are inlined, as the classroom sheet writes ∂E/∂w1.
    """
    network = build_network(config.biases)
    act = ACTIVATIONS[config.activation]
    formulas = network.by_name()

    def this_row(name: str) -> str | None:
        return LETTER[name] + THIS_ROW if name in LETTER else fixed_reference(name)

    def previous_row(name: str) -> str | None:
        return LETTER[name] + PREVIOUS_ROW if name in LETTER else fixed_reference(name)

    first: list[str | None] = []
    later: list[str] = []
    for name in COLUMNS:
        if name in network.leaves:
            first.append(None)
            carried = formulas[f"next_{name}"] if name in WEIGHTS else Sym(name)
            later.append("=" + carried.excel(act, previous_row, formulas))
        else:
            formula = "=" + formulas[name].excel(act, this_row, formulas)
            first.append(formula)
            later.append(formula)
    return first, later


def _styled(
    ws, value, *, number_format=None, fill=None, font=None, alignment=None, text=False
) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value)
    if text:
        cell.data_type = "s"  # a label that starts with "=" must stay text, never become a formula
    if number_format:
        cell.number_format = number_format
    if fill:
        cell.fill = fill
    if font:
        cell.font = font
    if alignment:
        cell.alignment = alignment
    return cell


def _at(template: str, row: int) -> str:
    """A row template stamped onto spreadsheet row `row` (its previous row is row - 1)."""
    return template.replace(THIS_ROW, str(row)).replace(PREVIOUS_ROW, str(row - 1))


def write_lr_sheet(ws, config: Config, sheet: LrSheet) -> None:
    ws.freeze_panes = f"A{FIRST_ROW}"  # the header row stays in view
    print_setup(ws, HEADER_ROW)
    for letter in [STEP_LETTER, *LETTER.values()]:
        ws.column_dimensions[letter].width = COLUMN_WIDTH
    ws.defined_names[ETA_NAME] = DefinedName(
        ETA_NAME, attr_text=f"{quote_sheetname(ws.title)}!{absolute(ETA_CELL)}"
    )

    biases = "biases b1, b2 on" if config.biases else "no biases"
    title = (
        f"Backprop Lab: the classroom network, learning rate η = {sheet.lr:g} ({config.activation}, {biases})"
    )
    ws.append([_styled(ws, title, font=TITLE)])
    hint = (
        "Yellow cells are the inputs: change η, a bias or any value of row 0 and the whole sheet recomputes. "
        "Every other cell is a formula."
    )
    ws.append([_styled(ws, hint, text=True)])
    # Row 3: "η =" [η], and with biases "b1 =" [b1], "b2 =" [b2]; each label sits left of its input cell.
    inputs = {"eta": (ETA_CELL, sheet.lr)}
    if config.biases:
        inputs |= {name: (cell, getattr(config, name)) for name, cell in BIAS_CELLS.items()}
    top: list = [None] * max(column_index_from_string(cell[:-1]) for cell, _ in inputs.values())
    for name, (cell, value) in inputs.items():
        column = column_index_from_string(cell[:-1])
        top[column - 2] = _styled(ws, f"{plain_symbol(name)} =", font=BOLD)
        top[column - 1] = _styled(ws, value, fill=INPUT_FILL, font=BOLD)
    ws.append(top)
    ws.append([_styled(ws, sheet.note(), font=NOTE_FONT, text=True)] if sheet.note() else [])
    header = ["step", *(plain_symbol(name) for name in COLUMNS)]
    ws.append(
        [_styled(ws, text, fill=HEADER_FILL, font=BOLD, text=True, alignment=CENTRED) for text in header]
    )

    first, later = row_templates(config)
    values = config.values()
    row0 = [
        _styled(ws, values[name], fill=INPUT_FILL) if template is None else _at(template, FIRST_ROW)
        for name, template in zip(COLUMNS, first, strict=True)
    ]
    ws.append([0, *row0])
    for step in range(1, sheet.rows):
        row = FIRST_ROW + step
        ws.append([step, *(_at(template, row) for template in later)])

    chart = error_chart([sheet], f"E_total against step, η = {sheet.lr:g}", log_scale=False)
    chart.legend = None  # one line: the title names it
    last_column = column_index_from_string(LETTER[COLUMNS[-1]])
    ws.add_chart(chart, f"{get_column_letter(last_column + 2)}{HEADER_ROW}")  # one empty column after it


def error_chart(sheets: Sequence[LrSheet], title: str, log_scale: bool) -> ScatterChart:
    """E_total against step, one line per learning-rate sheet."""
    chart = ScatterChart()
    chart.title = title
    chart.style = 2
    chart.height, chart.width = 9, 16
    chart.x_axis.title = "step"
    chart.y_axis.title = "E_total"
    chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides both axes unless told
    if log_scale:
        chart.y_axis.scaling.logBase = 10
    error_column = column_index_from_string(LETTER["E_total"])
    step_column = column_index_from_string(STEP_LETTER)
    for sheet in sheets:
        ws_ref = _SheetRef(sheet.title)
        xs = Reference(ws_ref, min_col=step_column, min_row=FIRST_ROW, max_row=sheet.last_row)
        ys = Reference(ws_ref, min_col=error_column, min_row=FIRST_ROW, max_row=sheet.last_row)
        series = Series(ys, xs, title=f"η = {sheet.lr:g}")
        series.marker.symbol = "none"
        series.smooth = False
        chart.series.append(series)
    return chart


@dataclass(frozen=True)
class _SheetRef:
    """What openpyxl's Reference needs of a worksheet: its title (the sheet may not exist yet)."""

    title: str


# ---------------------------------------------------------------------------------------------------
# Summary and derivation


def write_summary(ws, config: Config, steps: int, sheets: Sequence[LrSheet]) -> None:
    print_setup(ws)
    for letter, width in zip("ABCDEF", (12, 14, 8, 18, 18, 70), strict=True):
        ws.column_dimensions[letter].width = width
    biases = f"biases on (b1 = {config.b1:g}, b2 = {config.b2:g})" if config.biases else "no biases"
    ws.append([_styled(ws, "Backprop Lab: learning rates compared", font=TITLE)])
    ws.append(
        [
            _styled(
                ws,
                f"Activation {config.activation}, {biases}, {steps} steps. Each value below is a "
                "formula reading its learning rate's sheet, so it follows any change made there.",
                text=True,
            )
        ]
    )
    ws.append([])
    header = ["η", "sheet", "rows", "E_total at step 0", "final E_total", "note"]
    ws.append([_styled(ws, text, fill=HEADER_FILL, font=BOLD, text=True) for text in header])
    for sheet in sheets:
        ws.append(
            [
                _styled(ws, f"={quote_sheetname(sheet.title)}!{absolute(ETA_CELL)}", number_format="General"),
                _styled(ws, sheet.title, text=True),
                sheet.rows,
                _styled(ws, f"={sheet.cell('E_total', FIRST_ROW)}", number_format=ERROR_FORMAT),
                _styled(ws, f"={sheet.cell('E_total')}", number_format=ERROR_FORMAT),
                _styled(ws, sheet.note(), font=NOTE_FONT, text=True) if sheet.note() else None,
            ]
        )
    chart = error_chart(sheets, "E_total against step, every learning rate (log scale)", log_scale=True)
    chart.height, chart.width = 12, 22
    ws.add_chart(chart, f"A{len(sheets) + 7}")


def write_derivation(ws, config: Config) -> None:
    network = build_network(config.biases)
    act = ACTIVATIONS[config.activation]
    formulas = network.by_name()
    for letter, width in zip("ABCDEF", (10, 11, 30, 70, 80, 60), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A5"
    print_setup(ws, 4)
    biases = "with biases b1 (hidden) and b2 (outputs)" if config.biases else "without biases"
    ws.append(
        [
            _styled(
                ws,
                f"How every column is computed: {config.activation} units, {biases}",
                font=TITLE,
            )
        ]
    )
    ws.append([_styled(ws, act.why, text=True)])
    ws.append(
        [
            _styled(
                ws,
                "Printed from backprop_core.network, the formula trees every cell of the learning-rate sheets is "
                "printed from. 'written out in full' inlines δ and ∂E/∂a_h the way those cells do.",
                text=True,
            )
        ]
    )
    header = ["stage", "quantity", "formula", "written out in full", "why", "LaTeX"]
    ws.append([_styled(ws, text, fill=HEADER_FILL, font=BOLD, text=True) for text in header])
    wrap = Alignment(wrap_text=True, vertical="top")
    inline = _symbol_or_inline(network)
    for formula in network.formulas:
        short = plain_text(formula.expr.excel(act, plain_symbol, formulas))
        full = plain_text(formula.expr.excel(act, inline, formulas)) if formula.stage == "backward" else short
        cells = [
            formula.stage,
            plain_symbol(formula.name),
            short,
            full if full != short else "",
            formula.why,
            formula.expr.latex(act),
        ]
        ws.append([_styled(ws, text, alignment=wrap, text=True) for text in cells])


def _symbol_or_inline(network: Network) -> Callable[[str], str | None]:
    """Name forward quantities and leaves; inline the backward intermediates (δ_o1, ∂E/∂a_h1, …)."""
    backward = {f.name for f in network.stage("backward")}
    return lambda name: None if name in backward else plain_symbol(name)


def plain_text(excel: str) -> str:
    """An Excel expression of symbols as a student writes it: w1·i1+w2·i2."""
    return excel.replace("*", "·")
