"""What a sheet's formulas compute: each read into backprop_core's expression tree and compared, at
random points, with the network's own trees.

    trees = SheetTrees(book, layout, eta_ref, biases, first_row_values)
    point = sample(biases=False, act=ACTIVATIONS["sigmoid"])
    trees.meaning("dE_dw3", row=34, point=point)   # Meaning("wrong", values, tree)

A reference to a column of the table becomes the quantity that column holds, in its row's frame:
a_h1 in the formula's own row is Sym("a_h1"), w1 of the row above is Sym("prev_w1"), the η cell is
Sym("eta"). A reference to any other cell that holds a formula (a helper column such as δ_o1 or
∂E/∂a_h1, a cell beside the table) is inlined as that cell's own tree; a typed number elsewhere is a
constant, which may stand for an input it equals.

Two formulas mean the same when their trees agree at random points: a pair of rows of a random
network (random inputs, targets, weights, η), the second row computed from the first row's updated
weights, so that every quantity, in both frames, holds its right value. Commuted products, extra
brackets, POWER(x,2), SUM, EXP(x)/(1+EXP(x)), /2 against *0.5 and $-anchors then never differ; a
formula that reads a_h1 where a_h2 belongs does, and each column is judged by its own formula alone,
whatever the sheet's other columns hold (an update that correctly reads a wrong gradient is right).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np

from backprop_core import ACTIVATIONS, COLUMNS, build_network
from backprop_core.activations import Activation
from backprop_core.config import BIASES, INPUTS, TARGETS, WEIGHTS
from backprop_core.expr import Call, Expr, Num, Sym, plain_symbol, transform
from backprop_core.mistakes import INTERMEDIATES, MISTAKES

from .budget import TooLarge
from .parse import FormulaError
from .recognise import Layout
from .references import Ref, resolve_operand
from .trees import to_tree
from .workbook import Workbook

POINTS = 8  # random networks a formula is evaluated on: a wrong formula that agrees on all 8 is chance
# Two evaluations agree within this relative difference: Excel-style rewrites round differently by
# about 1e-16, and a ROUND to 10 digits by about 1e-10; a real mistake moves a value by 1e-4 and more.
REL_TOL = 1e-8
MAX_DEPTH = 40  # helper cells inlined into one formula, each reading the next
MAX_RANGE_CELLS = 200  # a range argument's cells (SUM(D5:E5) has 2)
MAX_BINDINGS = 64
MAX_TREE_SIZE = 50_000  # nodes of one formula with its helper cells written out; a real one has < 300  # ways to read the constants of one formula as the inputs they equal
FIXED = INPUTS + TARGETS  # the same in every row: a reference to any row of their column means them


def _size(tree: Expr, sizes: dict[int, int]) -> int:
    """The tree's nodes counted as evaluation walks them (a shared subtree once per reading)."""
    key = id(tree)
    if key not in sizes:
        children = [v for v in vars(tree).values() if isinstance(v, Expr)]
        for v in vars(tree).values():
            if isinstance(v, tuple):
                children.extend(x for x in v if isinstance(x, Expr))
        sizes[key] = 1 + sum(_size(c, sizes) for c in children)
    return sizes[key]


def previous(name: str) -> str:
    """The symbol of a quantity in the row above: w1 -> prev_w1."""
    return f"prev_{name}"


def framed(name: str, offset: int) -> str:
    """A table column's quantity as a formula in another row reads it: offset 0 is its own row."""
    if name in FIXED or offset == 0:
        return name
    return previous(name) if offset == -1 else f"{name}@{offset:+d}"  # no such point: evaluates to NaN


class _Env(dict):
    """A point's values; a symbol with none (another row, text, a circular reference) is NaN."""

    def __missing__(self, key):
        return np.float64("nan")


@dataclass(frozen=True)
class Point:
    """Random networks: every quantity of two consecutive rows, at POINTS points at once."""

    env: Mapping[str, np.ndarray]
    act: Activation
    biases: bool


def sample(biases: bool, act: Activation, eta: float | None = None, seed: int = 0) -> Point:
    """A pair of rows of POINTS random networks; η random in [0.1, 1] unless the sheet's is given
    (typed into its formulas). Inputs and weights may be negative, so that ReLU's two branches show."""
    rng = np.random.default_rng(seed)
    leaves = {n: rng.uniform(-1, 1, POINTS) for n in INPUTS + WEIGHTS}
    leaves |= {n: rng.uniform(0.05, 0.95, POINTS) for n in TARGETS}
    leaves |= {n: rng.uniform(-0.5, 0.5, POINTS) for n in BIASES} if biases else {}
    eta_values = np.full(POINTS, float(eta)) if eta is not None else rng.uniform(0.1, 1.0, POINTS)
    network = build_network(biases)

    def row(values: dict) -> dict:
        env = dict(values) | {"eta": eta_values}
        with np.errstate(all="ignore"):
            for formula in network.formulas:
                env[formula.name] = np.asarray(formula.expr.evaluate(env, act), dtype=np.float64)
        return env

    first = row(leaves)
    second = row(leaves | {w: first[f"next_{w}"] for w in WEIGHTS})
    env = _Env({previous(k): v for k, v in first.items()})
    env.update(second)
    return Point(env, act, biases)


def agree(a, b) -> bool:
    """Whether two evaluations at the same points are one value (every point finite and close)."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if a.shape != (POINTS,) or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    scale = float(np.max(np.abs(b))) or 1.0
    return bool(np.all(np.abs(a - b) <= REL_TOL * np.maximum(np.abs(b), 1e-3 * scale) + 1e-300))


def evaluate(tree: Expr, point: Point, extra: Mapping[str, float] | None = None) -> np.ndarray:
    """The tree's values at the point (NaN where it has none: text, an error, a range used as a number)."""
    env = point.env
    if extra:
        env = _Env(env)
        env.update({k: np.asarray(v, dtype=np.float64) for k, v in extra.items()})
    try:
        with np.errstate(all="ignore"):
            value = tree.evaluate(env, point.act)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (POINTS,))
    except Exception:  # a range where a number belongs, text in arithmetic: not a number, as in Excel
        return np.full(POINTS, np.nan)


def expected(column: str, point: Point) -> np.ndarray:
    """What the column's cell holds at the point: row 1's quantity (a weight: row 0's update)."""
    return np.asarray(point.env[column], dtype=np.float64)


@dataclass(frozen=True)
class Meaning:
    status: str  # "right", "wrong", "typed" (a number, no formula), "unreadable"
    values: np.ndarray | None = None  # the formula at the point
    reason: str = ""  # unreadable: why


class SheetTrees:
    """The trees of one table's cells, with its columns as quantities (see the module's docstring)."""

    def __init__(
        self,
        book: Workbook,
        layout: Layout,
        eta_ref: Ref | None,
        biases: Mapping[str, tuple[str, int, int, float]],
        first_row: Mapping[str, float],
    ):
        self.book, self.layout = book, layout
        self.by_col = {col: name for name, col in layout.columns.items()}
        self.rows = range(layout.first_row, layout.first_row + layout.n_rows)
        self.named: dict[tuple[str, int, int], str] = {}
        if eta_ref is not None:
            self.named[(eta_ref.sheet, eta_ref.row, eta_ref.col)] = "eta"
        for name, (_, row, col, _) in biases.items():
            self.named[(layout.sheet, row, col)] = name
        self.first_row = {k: float(v) for k, v in first_row.items() if np.isfinite(v)}
        self.constants: dict[str, float] = {}  # a typed number's symbol -> its value
        self._memo: dict[tuple, Expr] = {}
        self._sizes: dict[int, int] = {}
        self._own: tuple[str, int, int] | None = None
        self._alias_leaves()

    def _alias_leaves(self) -> None:
        """A leaf column whose first cell only copies another cell (=$B$2) makes that cell the leaf too."""
        for name in FIXED + WEIGHTS:
            if name not in self.layout.columns:
                continue
            text = self.book.formula(self.layout.sheet, self.layout.first_row, self.layout.columns[name])
            match = re.fullmatch(r"=\s*\+?\s*([^\s()+\-*/^&=<>,]+)\s*", text or "")
            ref = resolve_operand(match[1], self.layout.sheet, self.book.formulas) if match else None
            if ref is not None and ref.is_cell and (ref.sheet, ref.row, ref.col) not in self.named:
                if not (ref.sheet == self.layout.sheet and ref.col in self.by_col and ref.row in self.rows):
                    self.named[(ref.sheet, ref.row, ref.col)] = name

    # ---- Trees ----

    def tree(self, row: int, col: int) -> Expr | None:
        """The tree of the formula in (row, col) of the table's sheet, None for a cell without one;
        FormulaError if it cannot be read, TooLarge past the check's budget."""
        sheet = self.layout.sheet
        if self.book.formula(sheet, row, col) is None:
            return None
        self._own = (sheet, row, col)
        try:
            return self._formula(sheet, row, col, row, 0)
        except RecursionError:
            raise TooLarge("too deep to check: a chain of formulas, each reading the next") from None

    def _formula(self, sheet: str, row: int, col: int, base: int, depth: int) -> Expr:
        key = (sheet, row, col, base)
        if key not in self._memo:
            if depth > MAX_DEPTH:
                raise TooLarge(f"too deep to check: a chain of more than {MAX_DEPTH} formulas")
            self.book.budget.evaluate()
            text = self.book.formula(sheet, row, col)
            tree = to_tree(text, lambda operand: self._operand(operand, sheet, base, depth))
            # Inlined helper cells are shared, but evaluating walks them as often as they are read: a
            # chain of cells each reading the one before twice would double at every link.
            if _size(tree, self._sizes) > MAX_TREE_SIZE:
                raise TooLarge("too large to check: formulas that read each other over and over")
            self._memo[key] = tree
        return self._memo[key]

    def _operand(self, text: str, sheet: str, base: int, depth: int) -> Expr:
        ref = resolve_operand(text, sheet, self.book.formulas)
        if ref is None:
            raise FormulaError(f"the reference {text!r} is not one the checker can follow")
        if ref.is_cell:
            return self._reference(ref.sheet, ref.row, ref.col, base, depth)
        size = (ref.row2 - ref.row + 1) * (ref.col2 - ref.col + 1)
        if size > MAX_RANGE_CELLS:
            raise FormulaError(f"a range of {size:,} cells is more than a backpropagation formula reads")
        cells = [(r, c) for r in range(ref.row, ref.row2 + 1) for c in range(ref.col, ref.col2 + 1)]
        return Call("ARRAY", tuple(self._reference(ref.sheet, r, c, base, depth) for r, c in cells))

    def _reference(self, sheet: str, row: int, col: int, base: int, depth: int) -> Expr:
        key = (sheet, row, col)
        if key == self._own:
            return Sym("#circular")  # a cell reading itself has no value
        if key in self.named:
            return Sym(self.named[key])
        if sheet == self.layout.sheet and col in self.by_col and row in self.rows:
            return Sym(framed(self.by_col[col], row - base))
        if sheet not in self.book.sheetnames:
            return Sym("#ref")
        if self.book.formula(sheet, row, col) is not None:
            return self._formula(sheet, row, col, base, depth + 1)
        value = self.book.cached_value(sheet, row, col)
        value = self.book.raw(sheet, row, col) if value is None else value
        if value is None:
            return Num(0.0)  # an empty cell counts as 0, as in Excel
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Sym("#text")
        symbol = f"#const {sheet}!{row},{col}"
        self.constants[symbol] = float(value)
        return Sym(symbol)

    # ---- Meaning ----

    def meaning(self, column: str, row: int, point: Point) -> Meaning:
        """Whether the cell of `column` in `row` computes what the column must hold."""
        col = self.layout.columns[column]
        try:
            tree = self.tree(row, col)
        except FormulaError as error:
            return Meaning("unreadable", reason=str(error))
        if tree is None:
            return Meaning("typed")
        target = expected(column, point)
        values = None
        for binding in self._bindings(tree, row, point):
            values = evaluate(tree, point, binding)
            if agree(values, target):
                return Meaning("right", values)
        return Meaning("wrong", values)

    def _bindings(self, tree: Expr, row: int, point: Point):
        """Ways to read the tree's typed constants: as themselves, or as an input, target or (in the
        first row) starting weight whose value they equal (an i1 typed in B2 above the table)."""
        constants = sorted(s for s in tree.symbols() if s in self.constants)
        leaves = FIXED + (WEIGHTS if row == self.layout.first_row else ())
        choices = []
        for symbol in constants:
            value = self.constants[symbol]
            same = [point.env[n] for n in leaves if self.first_row.get(n) == value]
            choices.append([np.float64(value), *same])
        for chosen in itertools.islice(itertools.product(*choices), MAX_BINDINGS):
            yield dict(zip(constants, chosen, strict=True))


# ---- Naming a wrong formula ----

# Every quantity a cell could hold by mistake in place of another: "that is ∂E/∂w1".
_QUANTITIES = tuple(f.name for f in build_network(False).formulas if not f.name.startswith("next_"))


@cache
def _catalogue(column: str, biases: bool, activation: str) -> tuple[tuple[str, Expr], ...]:
    """(words, wrong tree) of each catalogue mistake that changes `column`, in the cell's own frame
    (a weight's update reads the row above: its symbols are the previous row's)."""
    quantity = f"next_{column}" if column in WEIGHTS else column
    out = []
    for mistake in MISTAKES:
        tree = mistake.tree(quantity, biases, activation)
        if tree is None:
            continue
        if column in WEIGHTS:
            tree = transform(
                tree, lambda n: Sym(previous(n.name)) if isinstance(n, Sym) and n.name != "eta" else None
            )
        out.append((mistake.says, tree))
    return tuple(out)


def name_mistake(column: str, values: np.ndarray, point: Point) -> str | None:
    """The mistake a wrong cell's values show, in the catalogue's words (backprop_core/mistakes.py, the
    exercise mode's words too), or the quantity it equals instead; None when neither fits."""
    what = plain_symbol(column)
    right = expected(column, point)
    says = [
        w
        for w, tree in _catalogue(column, point.biases, point.act.name)
        if agree(values, evaluate(tree, point))
    ]
    if says:
        return f"{what} is written with " + "; or with ".join(dict.fromkeys(says))
    if agree(values, -right):
        return f"{what} has the wrong sign: it is −1 × the right value (check the order in (a_o − t) or w − η·∂E/∂w)"
    if column in WEIGHTS:
        if agree(values, point.env[previous(column)]):
            return f"the update leaves {column} as it was: the step −η·∂E/∂{column} is missing"
        return None
    same = [q for q in (*_QUANTITIES, *INTERMEDIATES) if q != column and agree(values, point.env[q])]
    if same:
        return f"that is {plain_symbol(same[0])}, not {what}"
    return None


# ---- Finding a column by what it computes ----


def identify(
    book: Workbook, layout: Layout, eta_ref: Ref | None, biases: Mapping[str, tuple[str, int, int, float]]
) -> dict[str, int]:
    """Columns the header did not name, found by what their first formula computes: quantity -> column.

    A column is a quantity when its tree is right for that quantity and no other, under one activation
    for the whole table; or when it computes a catalogued mistake of one quantity that its header
    names (w3 in "grad w3"), which the check then reports. Helper columns (δ_o1, ∂E/∂a_h1) compute none
    of the table's quantities and stay helpers. A column still ambiguous is left out, never guessed."""
    header = book.values.get(layout.sheet, [])[layout.header_row - 1]
    known = set(layout.columns.values())
    leaves = FIXED + WEIGHTS
    missing = [q for q in COLUMNS if q not in layout.columns and q not in leaves]
    candidates = [
        c
        for c, _ in enumerate(header, start=1)
        if c not in known and book.formula(layout.sheet, layout.first_row, c) is not None
    ]
    if not missing or not candidates:
        return {}
    trees = SheetTrees(book, layout, eta_ref, biases, {})
    computed = {}
    for c in candidates:
        try:
            computed[c] = trees.tree(layout.first_row, c)
        except FormulaError:
            continue
    best: dict[str, int] = {}
    for act in ACTIVATIONS.values():
        point = sample(bool(biases), act)
        values = {c: evaluate(tree, point) for c, tree in computed.items()}
        found: dict[str, list[int]] = {}
        for c, v in values.items():
            right = [q for q in missing if agree(v, point.env[q])]
            if len(right) == 1:
                found.setdefault(right[0], []).append(c)
        chosen = {q: cols[0] for q, cols in found.items() if len(cols) == 1}
        for c, v in values.items():
            if c in chosen.values():
                continue
            label = _label(header[c - 1])
            wrong = [
                q
                for q in missing
                if q not in chosen
                and _tag(q) in label
                and any(agree(v, evaluate(t, point)) for _, t in _catalogue(q, point.biases, act.name))
            ]
            if len(wrong) == 1:
                chosen[wrong[0]] = c
        if len(chosen) > len(best):
            best = chosen
    return best


def _label(value) -> str:
    return re.sub(r"[\s_:=]", "", str(value or "")).lower()


def _tag(quantity: str) -> str:
    """What a header names a quantity by: dE_dw3 -> w3, a_h1 -> h1, E1 -> e1."""
    return quantity.rsplit("_d", 1)[-1].removeprefix("a_").lower()
