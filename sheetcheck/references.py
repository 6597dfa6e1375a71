"""Where a formula's references point: A1 text, defined names and Excel tables' structured references.

    resolve_operand("'Sheet 2'!$A$1:B2", "Sheet1", wb)   -> Ref("Sheet 2", 1, 1, 2, 2)
    rewrite_structured("=Table1[@w1]*2", "Sheet1", 5, tables) -> "=C5*2"

Structured references are rewritten to A1 cells before anything else reads a formula, so the rest
of the checker only ever sees A1 references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries


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
    # Only a name for one plain A1 cell or range: a name for a formula or for several areas is not a Ref.
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
    """Every Excel table of the workbook (wb must be openpyxl's full reader: read-only mode has no ws.tables)."""
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
        else:  # [@w1] without a table name: the table the formula's own cell is in
            table = next((t for t in tables if t.sheet == sheet and t.min_row <= row <= t.max_row), None)
        index = table.column_index(column) if table else None
        if table is None or index is None:
            return match[0]
        prefix = "" if table.sheet == sheet else "'" + table.sheet.replace("'", "''") + "'!"
        return f"{prefix}{get_column_letter(index)}{row}"

    return _STRUCTURED.sub(to_a1, formula)
