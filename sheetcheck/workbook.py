"""Read a student's .xlsx upload: refused unless safe, then its saved values and its formulas."""

from __future__ import annotations

import io
import warnings
import zipfile

import openpyxl

from .budget import Budget, TooLarge
from .parse import Parsed, parse_formula
from .references import excel_tables, rewrite_structured
from .safe_xlsx import UnsafeWorkbook, check_upload
from .workbook_error import WorkbookError, one_line

__all__ = ["TooLarge", "Workbook", "WorkbookError", "one_line"]


# Sheets' XML the full reader (needed for Excel tables) may load; darshana's table workbook has 1 MB.
MAX_FULL_LOAD_BYTES = 8 * 1024 * 1024


class Workbook:
    """The student's workbook, read twice: the values Excel cached when it saved, and the formulas.

    Reading is most of a check's time, so both are read in openpyxl's streaming read-only mode, once
    each: the values of every sheet, the formulas of the sheets that hold a table. Excel tables (structured references) need the full reader, which is the
    only one that exposes ws.tables.
    """

    def __init__(self, data: bytes, budget: Budget | None = None):
        self.budget = budget or Budget()
        try:
            self.warnings = check_upload(data)
        except UnsafeWorkbook as error:
            raise WorkbookError(str(error)) from None
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
        has_tables = any(m.filename.lower().startswith("xl/tables/") for m in members)
        sheets_size = sum(m.file_size for m in members if m.filename.lower().startswith("xl/worksheets/"))
        if has_tables and sheets_size > MAX_FULL_LOAD_BYTES:
            # openpyxl exposes Excel tables only in its full reader, which holds every cell as an object
            # (about 25 bytes of memory per byte of XML): a dummy xl/tables/ part must not buy that.
            raise TooLarge(
                f"too large to check: an Excel table in sheets of {sheets_size / 1e6:.0f} MB "
                f"(Excel tables are read up to {MAX_FULL_LOAD_BYTES / 1e6:.0f} MB of sheets)"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # openpyxl warns about data validation, headers, ...
                cached = openpyxl.load_workbook(
                    io.BytesIO(data), read_only=True, data_only=True, keep_links=False
                )
                self.values = {ws.title: _rows(ws, self.budget) for ws in cached.worksheets}
                cached.close()
                self.formulas = openpyxl.load_workbook(
                    io.BytesIO(data), read_only=not has_tables, data_only=False, keep_links=False
                )
        except TooLarge:
            raise
        except Exception as error:  # openpyxl raises many kinds on a damaged file
            raise WorkbookError(f"openpyxl cannot read the workbook: {one_line(error, 200)}") from None
        self.sheetnames = [ws.title for ws in self.formulas.worksheets]
        self.tables = excel_tables(self.formulas) if has_tables else []
        self._formula_rows: dict[str, list[tuple]] = {}  # the rows read so far, from row 1
        self._complete: set[str] = set()  # sheets whose formulas were read to the end
        self._parsed: dict[tuple[str, int, int], Parsed | None] = {}

    def raw(self, sheet: str, row: int, col: int):
        """What the cell holds: a formula's text, a number, a string, or None."""
        rows = self._formula_rows_to(sheet, row)
        value = rows[row - 1][col - 1] if 1 <= row <= len(rows) and 1 <= col <= len(rows[row - 1]) else None
        return getattr(value, "text", value)  # an ArrayFormula holds its text in .text

    def cached_value(self, sheet: str, row: int, col: int):
        """The value the cell showed when the file was saved (None if the writer did not calculate)."""
        rows = self.values.get(sheet, [])
        return rows[row - 1][col - 1] if 1 <= row <= len(rows) and 1 <= col <= len(rows[row - 1]) else None

    def _formula_rows_to(self, sheet: str, row: int) -> list[tuple]:
        rows = self._formula_rows.get(sheet, [])
        if row > len(rows) and sheet not in self._complete and sheet in self.sheetnames:
            # Each table's every formula is compared with its column's pattern, so a sheet with a table is
            # read whole, once (a sheet read only for its header row is never read here).
            rows = _rows(self.formulas[sheet], self.budget)
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
        """The cell's formula parsed (cached), None for a value; FormulaError if it cannot be read."""
        key = (sheet, row, col)
        if key not in self._parsed:
            text = self.formula(sheet, row, col)
            self._parsed[key] = None if text is None else parse_formula(text, sheet, self.formulas)
        return self._parsed[key]


def _rows(ws, budget: Budget, max_row: int | None = None) -> list[tuple]:
    """A sheet's rows of values from row 1, without trusting its stated dimensions (some writers get
    them wrong, and read-only mode would then cut rows short). Every cell read counts on the budget."""
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about extensions it does not read
        for row in ws.iter_rows(max_row=max_row, values_only=True):
            budget.read(len(row) + 1)
            rows.append(row)
    return rows
