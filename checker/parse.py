"""A formula's text read into a canonical form and the cells it references (never Python's eval).

openpyxl's tokenizer splits a formula into tokens; every reference is replaced by a placeholder
cell, so "=E33*(1-E33)" and "=E34*(1-E34)" become one canonical formula, which formula_eval compiles
once and calls with each row's values, and which check.py compares row by row (a cell that breaks its
column's pattern has another canonical form, or other relative offsets).
"""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.utils import get_column_letter

from .references import Ref, resolve_operand

MAX_FORMULA_CHARS = 8192  # Excel's own limit on a formula's length


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
        if token.type == Token.OPERAND and token.subtype == Token.RANGE:
            ref = resolve_operand(token.value, sheet, wb)
            if ref is None:
                raise FormulaError(f"unsupported reference {token.value!r}")
            parts.append(refs.setdefault(ref, placeholder(len(refs), ref)))
        else:
            parts.append(token.value)
    return Parsed("=" + "".join(parts), tuple(refs))
