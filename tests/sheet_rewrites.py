"""Classroom workbooks written the many ways students write them, for the checker's property tests.

`rewrite` prints one of backprop_core's formula trees as Excel in a random form that means the same:
terms and factors commuted, extra brackets, POWER(x,2) or x*x for a square, SUM and PRODUCT, /2 for
*0.5, a - b as a+-b or -(b-a), the sigmoid as 1/(1+EXP(-z)) or EXP(z)/(1+EXP(z)), $-anchors. It is
written here, by hand and apart from the checker, so that the checker is tested against forms it
was not written from; LibreOffice (tests/recalc.py) computes what each form holds.

`workbook` writes a whole table in a random layout: header spellings no list of the checker's holds,
a step column, a label column, text above the table, helper columns (δ_o, ∂E/∂a_h), inputs as
constants, copies of the row above or constant formulas, and optionally a second table below.
`plant` puts one catalogue mistake (backprop_core/mistakes.py) into one column.
"""

from __future__ import annotations

import io
import random

import openpyxl
from openpyxl.utils import get_column_letter

from backprop_core import COLUMNS, Config, build_network
from backprop_core.config import INPUTS, TARGETS, WEIGHTS
from backprop_core.expr import Activate, ActivationSlope, Add, Expr, Mul, Num, Square, Sub, Sym
from backprop_core.mistakes import MISTAKES_BY_ID

NETWORK = build_network(False).by_name()
HELPERS = ("delta_o1", "delta_o2", "dE_da_h1", "dE_da_h2", "delta_h1", "delta_h2")
LEAVES = INPUTS + TARGETS + WEIGHTS

# Header spellings the checker's label patterns do not list: only what the column computes names it.
UNLISTED = {f"dE_dw{n}": f"grad w{n}" for n in range(1, 9)} | {f"dE_dw{n}": f"∂E_t/∂w{n}" for n in (2, 5)}


def rewrite(expr: Expr, ref, rng: random.Random, act: str = "sigmoid") -> str:
    """`expr` as an Excel expression, in a random equivalent form; ref(name) is a symbol's cell, or
    None to write that symbol's own formula out."""

    def go(e: Expr) -> str:
        text = node(e)
        return f"({text})" if rng.random() < 0.15 else text

    def node(e: Expr) -> str:
        if isinstance(e, Sym):
            cell = ref(e.name)
            return cell if cell is not None else f"({go(NETWORK[e.name])})"
        if isinstance(e, Num):
            if e.value == 0.5:
                return rng.choice(["0.5", "(1/2)", "0.50"])
            return repr(e.value)
        if isinstance(e, Add):
            terms = [f"({go(t)})" for t in e.terms]
            rng.shuffle(terms)
            return f"SUM({','.join(terms)})" if rng.random() < 0.3 else "+".join(terms)
        if isinstance(e, Sub):
            left, right = go(e.left), go(e.right)
            return rng.choice([f"({left})-({right})", f"({left})+-({right})", f"-(({right})-({left}))"])
        if isinstance(e, Mul):
            half = Num(0.5) in e.factors
            factors = [f"({go(f)})" for f in e.factors if not (half and f == Num(0.5))]
            rng.shuffle(factors)
            body = f"PRODUCT({','.join(factors)})" if rng.random() < 0.25 else "*".join(factors)
            return (f"({body})/2" if rng.random() < 0.5 else f"0.5*({body})") if half else body
        if isinstance(e, Square):
            base = go(e.base)
            return rng.choice([f"({base})^2", f"POWER({base},2)", f"({base})*({base})"])
        if isinstance(e, Activate):
            z = go(e.arg)
            return {
                "sigmoid": rng.choice([f"1/(1+EXP(-({z})))", f"EXP({z})/(1+EXP({z}))"]),
                "tanh": f"TANH({z})",
                "relu": rng.choice([f"MAX(0,{z})", f"IF(({z})>0,({z}),0)"]),
                "linear": f"({z})",
            }[act]
        if isinstance(e, ActivationSlope):
            a, z = go(e.post), go(e.pre)
            return {
                "sigmoid": rng.choice([f"({a})*(1-({a}))", f"(({a})-({a})^2)"]),
                "tanh": rng.choice([f"(1-({a})^2)", f"(1-POWER({a},2))"]),
                "relu": f"IF(({z})>0,1,0)",
                "linear": "1",
            }[act]
        raise TypeError(type(e).__name__)

    return go(expr)


def plant(mistake: str, column: str) -> dict[str, Expr]:
    """The trees of a sheet right but for `column`, written with catalogue mistake `mistake`."""
    quantity = f"next_{column}" if column in WEIGHTS else column
    wrong = MISTAKES_BY_ID[mistake].tree(quantity)
    assert wrong is not None, f"{mistake} does not change {column}"
    return {quantity: wrong}


def workbook(
    seed: int,
    rows: int = 5,
    wrong: dict[str, Expr] | None = None,
    stacked: bool = False,
    config: Config | None = None,
) -> bytes:
    """A correct classroom table (or one with `wrong` trees) in a random student layout."""
    rng = random.Random(seed)
    config = config or Config()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = rng.choice(["Sheet1", "Backprop", "LR=0.5"])
    ws["A1"] = "Backpropagation by hand"  # text above the table
    ws["A2"], ws["B2"] = rng.choice(["η", "LR", "eta", "alpha"]), 0.5
    top = rng.randint(4, 8)
    top = _table(ws, rng, top, "$B$2", rows, wrong or {}, config)
    if stacked:
        ws.cell(top + 1, 1, "L.R. 1")  # a title row, then the second table's own header
        ws["C2"] = 1.0
        _table(ws, rng, top + 2, "$C$2", rows, wrong or {}, config)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _table(ws, rng: random.Random, header: int, eta: str, rows: int, wrong: dict, config: Config) -> int:
    """One table with its header on row `header`; returns its last row."""
    order = list(COLUMNS)
    helpers = [h for h in HELPERS if rng.random() < 0.4]  # δ and ∂E/∂a_h columns some students add
    order += helpers
    rng.shuffle(order)
    left = rng.choice([2, 3])  # a step column in A, and sometimes a column of notes in B
    letter = {name: get_column_letter(left + i) for i, name in enumerate(order)}
    ws.cell(header, 1, "step")
    if left == 3:
        ws.cell(header + 1, 2, "start")
    labels = {n: rng.choice([n, UNLISTED.get(n, n)]) for n in order}
    for name in order:
        ws[f"{letter[name]}{header}"] = labels[name] if name not in HELPERS else f"helper {name}"
    inputs_as = rng.choice(["constant", "copy", "formula"])
    values = config.values()
    for k in range(rows):
        row = header + 1 + k
        ws.cell(row, 1, k)
        for name in order:
            cell = ws[f"{letter[name]}{row}"]
            if name in INPUTS + TARGETS:
                if k == 0 or inputs_as == "constant":
                    cell.value = values[name]
                elif inputs_as == "copy":
                    cell.value = f"={letter[name]}{row - 1}"
                else:
                    cell.value = f"={values[name]!r}"
                continue
            if name in WEIGHTS and k == 0:
                cell.value = values[name]
                continue
            quantity = f"next_{name}" if name in WEIGHTS else name
            tree = wrong.get(quantity, NETWORK[quantity])
            if k == 0 and any(x.startswith("prev_") for x in tree.symbols()):
                tree = NETWORK[quantity]  # the first row has no row before it to read by mistake
            same_row = k if name not in WEIGHTS else k - 1  # an update reads the row above

            def ref(symbol: str, r=header + 1 + same_row) -> str | None:
                if symbol == "eta":
                    return eta
                if symbol.startswith("prev_"):  # the old-weights mistake: the row before
                    return f"{letter[symbol[5:]]}{r - 1}"
                return f"{letter[symbol]}{r}" if symbol in letter else None

            cell.value = "=" + rewrite(tree, ref, rng, config.activation)
    return header + rows
