"""A formula's text read into a canonical form and the cells it references (never Python's eval).

openpyxl's tokenizer splits a formula into tokens; every reference is replaced by a placeholder
cell, so "=E33*(1-E33)" and "=E34*(1-E34)" become one canonical formula, which formula_eval compiles
once and calls with each row's values, and which check.py compares row by row (a cell that breaks its
column's pattern has another canonical form, or other relative offsets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import get_column_letter

from .references import Ref, resolve_operand

MAX_FORMULA_CHARS = 8192  # Excel's own limit on a formula's length
# Functions that reach outside the workbook (the web, a DLL, another file, a live data feed): never
# computed, and no backpropagation formula needs them; the cell is then reported as not a number.
UNSUPPORTED_FUNCTIONS = frozenset(
    "WEBSERVICE FILTERXML HYPERLINK CALL REGISTER.ID RTD INDIRECT INFO CELL DDE EXEC".split()
)


class FormulaError(ValueError):
    """A formula the checker cannot read: too long, not a formula, or a reference it cannot resolve."""


@dataclass(frozen=True)
class Parsed:
    canonical: str  # the formula with its i-th reference replaced by a placeholder cell
    refs: tuple[Ref, ...]


def placeholder(i: int, ref: Ref) -> str:
    """The cell (or range of the same shape) that stands for a formula's i-th reference."""
    base = i * 10_000 + 1  # each reference gets its own block of rows, so placeholders never overlap
    if ref.is_cell:
        return f"A{base}"
    return f"A{base}:{get_column_letter(ref.col2 - ref.col + 1)}{base + ref.row2 - ref.row}"


def parse_formula(text: str, sheet: str, wb) -> Parsed:
    """Split `text` (a formula of `sheet`, A1 references only) into its canonical form and references."""
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(f"a formula of {len(text)} characters is longer than Excel allows")
    try:
        tokens = Tokenizer(text).items
    except Exception as error:
        raise FormulaError(f"cannot parse {text}: {error}") from None
    refs: dict[Ref, str] = {}
    parts = []
    for token in tokens:
        if token.type == Token.FUNC and token.value.rstrip("(").upper().removeprefix("_XLFN.") in (
            UNSUPPORTED_FUNCTIONS
        ):
            raise FormulaError(f"the function {token.value.rstrip('(')} is not computed by the checker")
        if token.type == Token.OPERAND and token.subtype == Token.RANGE:
            ref = resolve_operand(token.value, sheet, wb)
            if ref is None:
                raise FormulaError(f"unsupported reference {token.value!r}")
            parts.append(refs.setdefault(ref, placeholder(len(refs), ref)))
        else:
            parts.append(token.value)
    return Parsed("=" + "".join(parts), tuple(refs))


# An A1 reference in a formula's text: not part of a name (LOG10( is a function, not cell LOG10).
_A1_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_.\[])(\$?)([A-Za-z]{1,3})(\$?)(\d+)(?![\d(A-Za-z_\]])")


def row_pattern(formula: str, row: int, table_rows: range) -> str:
    """The formula as its column's pattern reads it (R1C1 for the table's own rows).

    A reference to a row of the table becomes an offset from the formula's own row (E33 in row 34
    is R[-1]), so every row of a correct column has one pattern. A reference outside the table stays
    absolute, as η's cell must: a relative η reference that slides down (G31, G32, ...) and a frozen
    row (Z$41) then break the pattern in the row where they go wrong. Plain text work, no tokenizer:
    it runs on every cell of a table, and a rare misread applies alike to every row."""

    def rewrite(match: re.Match) -> str:
        number = int(match[4])
        if number in table_rows and not match[3]:
            return f"{match[2].upper()}R[{number - row}]"
        return f"{match[2].upper()}{number}"

    return _A1_IN_TEXT.sub(rewrite, formula)
