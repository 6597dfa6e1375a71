"""Hints for a wrong cell: what its formula reads that the right formula does not, and the reverse.

The right formula's references come from backprop_core.network's formula trees, intermediates
inlined, as the xlsx export would write them (a sigmoid's slope as a·(1−a)). The student's come from
the formula in the cell. Pairing a missing reference with an extra one of the same kind turns two
lists into one sentence: "uses a_h1 (column J) where ∂E/∂w3 needs a_h2 (column L)".
"""

from __future__ import annotations

import re

import numpy as np
from openpyxl.utils import get_column_letter

from backprop_core import COLUMNS, build_network
from backprop_core.activations import Activation
from backprop_core.config import INPUTS, TARGETS, WEIGHTS
from backprop_core.expr import plain_symbol
from exports.xlsx import plain_text  # symbols as the exported sheets write them

from .expected import ETA, UPDATE_READS
from .parse import FormulaError
from .recognise import Layout
from .references import Ref
from .workbook import Workbook


def network_of(layout: Layout) -> dict:
    """backprop_core's formulas for the sheet's network: with biases when the sheet has b1 and b2."""
    return build_network(bool(layout.bias_cells)).by_name()


# What a formula reads: (quantity, row offset from the formula's own row), e.g. ("a_h1", 0) or
# ("w1", -1); a student's formula may also read ("cell", "G31") or ("range", "Sheet2!A1:B2").
Operand = tuple[str, int | str]

_MARK = re.compile(r"\{\{(\w+)\}\}")


def expected_references(
    column: str, act: Activation, present=COLUMNS, layout: Layout | None = None
) -> set[Operand]:
    """The quantities (name, row offset) the right formula of `column` reads, intermediates and the
    columns not `present` inlined, as the xlsx export writes it (a sigmoid's slope as a·(1−a))."""
    if column in WEIGHTS:
        return {(name, -1) for name in UPDATE_READS[column]} | {(ETA, 0)}
    if column in INPUTS + TARGETS:
        return set()
    formulas = build_network(bool(layout and layout.bias_cells)).by_name()
    biases = dict(layout.bias_cells) if layout else {}
    text = formulas[column].excel(
        act, lambda n: "{{" + n + "}}" if n in present or n in biases else None, formulas
    )
    return {
        ("cell", biases[name].replace("$", "")) if name in biases else (name, 0)
        for name in _MARK.findall(text)
    }


def expected_formula(
    column: str, k: int, layout: Layout, eta_cell: str | None, act: Activation
) -> str | None:
    """The right formula for row k of `column`, written in the student's own cells."""
    if column in WEIGHTS:
        if k == 0 or eta_cell is None:
            return None
        name, row = f"next_{column}", k - 1  # row k's weight is the update of row k-1's
    elif column in INPUTS + TARGETS:
        return None
    else:
        name, row = column, k

    biases = dict(layout.bias_cells)

    def ref(symbol: str) -> str | None:
        if symbol == ETA:
            return eta_cell
        if symbol in biases:
            return biases[symbol]
        return layout.cell(symbol, row) if symbol in layout.columns else None

    formulas = network_of(layout)
    try:
        return "=" + formulas[name].excel(act, ref, formulas)
    except KeyError:
        return None


def found_references(
    book: Workbook, layout: Layout, k: int, column: str, eta_ref: Ref | None
) -> set[Operand] | None:
    """What the student's formula in row k of `column` reads: (name, row offset), or ("cell", address).

    None when the cell holds no formula the checker can read.
    """
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


def describe(item: Operand, layout: Layout) -> str:
    """A reference as a hint writes it: "a_h1 (column J)", "w1 (column E of the row above)", "cell G31"."""
    name, offset = item
    if name in ("cell", "range"):
        return f"{name} {offset}"
    if name == ETA:
        return "η"
    where = {0: "", -1: " of the row above", 1: " of the row below"}.get(offset, f" {offset:+d} rows away")
    if name not in layout.columns:  # a quantity the sheet has no column for: written out in the formula
        return plain_symbol(name) + (where and f" ({where.strip()})")
    return f"{plain_symbol(name)} (column {get_column_letter(layout.columns[name])}{where})"


def hint_for(column: str, expected: float, found, refs_found: set[Operand] | None, act: Activation,
             layout: Layout, eta_cell: str | None, named: str | None = None) -> str:  # fmt: skip
    """A plain sentence: what the wrong formula does differently from the right one. `named` is the
    mistake its tree shows (sheetcheck.meaning.name_mistake, the catalogue's words), when one fits."""
    what = plain_symbol(column)
    if column in INPUTS + TARGETS:
        return f"{column} changes from the first row's value; inputs and targets stay the same in every row"
    if refs_found is None:
        if isinstance(found, str):
            return f"the cell shows {found!r} instead of a number"
        return f"the cell holds a typed number where {what} needs a formula"
    sentences = _reference_sentences(column, refs_found, act, layout, eta_cell)
    if named:
        return named + (f" ({'; '.join(sentences)})" if sentences else "")
    if (
        isinstance(found, float)
        and np.isfinite(found)
        and expected != 0
        and abs(found + expected) <= 1e-6 * abs(expected)
    ):
        return f"{what} has the wrong sign: it is −1 × the right value (check the order in (a_o − t) or w − η·∂E/∂w)"
    if not sentences:
        return f"reads the right cells but combines them wrongly: {what} is " + _formula_of(
            column, act, layout
        )
    return "; ".join(sentences)


def _reference_sentences(
    column: str, refs_found: set[Operand], act: Activation, layout: Layout, eta_cell: str | None
) -> list[str]:
    """Each wrong reference paired, where it can be, with the right one it stands in for."""
    what = plain_symbol(column)
    expected_refs = expected_references(column, act, tuple(layout.columns), layout)
    extra = sorted(refs_found - expected_refs, key=str)
    missing = sorted(expected_refs - refs_found, key=str)
    sentences = []
    if (ETA, 0) in missing and extra:
        wrong = next((e for e in extra if e[0] == "cell"), extra[0])
        extra.remove(wrong)
        missing.remove((ETA, 0))
        where = f"η is in {eta_cell}" if eta_cell else "η belongs"
        sentences.append(f"uses {describe(wrong, layout)} as the learning rate where {where}")
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
    return sentences


def _pair_key(item: Operand) -> str:
    """What two references must share to be paired: the quantity without its number (a_h1 ~ a_h2)."""
    return re.sub(r"\d+$", "", item[0]) if item[0] not in ("cell", "range") else "cell"


def _formula_of(column: str, act: Activation, layout: Layout) -> str:
    """The symbolic formula (quantity names, intermediates inlined), for a hint."""
    name = f"next_{column}" if column in WEIGHTS else column
    formulas = network_of(layout)
    return plain_text(
        formulas[name].excel(
            act, lambda n: plain_symbol(n) if n in COLUMNS or n in ("eta", "b1", "b2") else None, formulas
        )
    )


def slide_hint(
    book: Workbook, layout: Layout, column: str, k_ref: int, k_bad: int, eta_ref: Ref | None
) -> str | None:
    """Why row k_bad's update no longer reads η where row k_ref's did: a relative reference that slides."""
    bad = found_references(book, layout, k_bad, column, eta_ref)
    right = found_references(book, layout, k_ref, column, eta_ref)
    if bad is None or right is None or eta_ref is None:
        return None
    moved = [e for e in sorted(bad - right, key=str) if e[0] == "cell"]
    if (ETA, 0) in right - bad and moved:
        return (
            f"the reference to η is relative, so it slides down the rows: from here the update multiplies by "
            f"{describe(moved[0], layout)} instead of η ({eta_ref.address()}); make it absolute ($ before the row)"
        )
    return None
