"""The mistakes students make, each written once as a change to the network's formula trees.

A Mistake takes the right formulas (`build_network(...).by_name()`) and returns them as a student with
that mistake writes them; `Mistake.tree(name, biases)` is then the wrong tree of one quantity, with
the intermediates (δ_o, ∂E/∂a_h, δ_h) written out the way a worksheet cell writes them. Its value is
that tree evaluated by the engine's own evaluator (Expr.evaluate) on the row's right values: the model
is one wrong cell in an otherwise right sheet, which is what a student checking one answer has.

    wrong = MISTAKES_BY_ID["a_h1-for-a_h2"].tree("dE_dw3")
    #   (δ_o1·w6 + δ_o2·w8) · a_h1(1 − a_h1) · i1, where a_h2's slope belongs

The exercise mode (lab/exercise.py) names the mistake behind a wrong answer with it; the worksheet
checker can name a wrong column with the same catalogue. A mistake that would read the previous step's
weights uses the symbols prev_w1 … prev_w8 (the row above, in a sheet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np

from .activations import ACTIVATIONS
from .config import TARGETS, WEIGHTS, Config
from .expr import ActivationSlope, Add, Expr, Mul, Num, Sub, Sym, inline, plain_symbol, transform
from .network import build_network

Formulas = Mapping[str, Expr]

# Quantities a worksheet has no column for: a cell that needs one writes its formula out instead.
INTERMEDIATES = ("delta_o1", "delta_o2", "dE_da_h1", "dE_da_h2", "delta_h1", "delta_h2")


def previous(weight: str) -> str:
    """The symbol of a weight's value one step earlier: w1 -> prev_w1."""
    return f"prev_{weight}"


# ---- Tree surgery: each kind of change in one place. ---------------------------------------------------


def rename(expr: Expr, names: Mapping[str, str]) -> Expr:
    """Every symbol in `names` replaced by its partner. A slope follows its activation: renaming a_h2 to
    a_h1 turns a_h2's slope into a_h1's (pre-activation h2 becomes h1 too, which ReLU's slope reads).
    Renaming an activation to something else (a_h1 to h1) leaves its slope alone: the mistake is in
    the value carried forward, not in the derivative."""

    def change(node: Expr) -> Expr | None:
        if isinstance(node, ActivationSlope):
            partner = names.get(node.post.name, "")
            return ActivationSlope(Sym(partner[2:]), Sym(partner)) if partner.startswith("a_") else node
        if isinstance(node, Sym) and node.name in names:
            return Sym(names[node.name])
        return None

    return transform(expr, change)


def _in(formulas: Formulas, names: tuple[str, ...], edit: Callable[[Expr], Expr]) -> dict[str, Expr]:
    """The formulas with `edit` applied to those named (all of them when names is empty)."""
    return {n: edit(e) if not names or n in names else e for n, e in formulas.items()}


def renaming(names: Mapping[str, str], only: tuple[str, ...] = ()) -> Callable[[Formulas], dict]:
    return lambda formulas: _in(formulas, only, lambda e: rename(e, names))


def swapping(a: str, b: str, only: tuple[str, ...] = ()) -> Callable[[Formulas], dict]:
    return renaming({a: b, b: a}, only)


def dropping_term(keep: int, names: tuple[str, ...]) -> Callable[[Formulas], dict]:
    """∂E/∂a_h = δ_o1·w + δ_o2·w' with only term `keep` left: one of the two paths forgotten."""
    return lambda formulas: _in(formulas, names, lambda e: e.terms[keep] if isinstance(e, Add) else e)


def _without_half(expr: Expr) -> Expr:
    def change(node: Expr) -> Expr | None:
        if isinstance(node, Mul) and Num(0.5) in node.factors:
            rest = tuple(f for f in node.factors if f != Num(0.5))
            return rest[0] if len(rest) == 1 else Mul(rest)
        return None

    return transform(expr, change)


def missing_half(formulas: Formulas) -> dict[str, Expr]:
    """E = (t − a_o)², without the ½; E_total read as the sum of the two squares."""
    changed = dict(formulas)
    for name in ("E1", "E2"):
        changed[name] = _without_half(formulas[name])
    changed["E_total"] = inline(formulas["E_total"], changed, ("E1", "E2"))
    return changed


def output_miss_reversed(formulas: Formulas) -> dict[str, Expr]:
    """(t − a_o) where (a_o − t) belongs in δ_o: every gradient comes out with the wrong sign."""

    def change(node: Expr) -> Expr | None:
        if isinstance(node, Sub) and isinstance(node.right, Sym) and node.right.name in TARGETS:
            return Sub(node.right, node.left)
        return None

    return _in(formulas, ("delta_o1", "delta_o2"), lambda e: transform(e, change))


def uphill_update(formulas: Formulas) -> dict[str, Expr]:
    """w + η·∂E/∂w where w − η·∂E/∂w belongs: a step uphill."""
    updates = tuple(f"next_{w}" for w in WEIGHTS)
    return _in(formulas, updates, lambda e: Add((e.left, e.right)) if isinstance(e, Sub) else e)


def without_output_miss(output: str) -> Callable[[Formulas], dict]:
    """δ_o as the slope alone, its (a_o − t) factor left out."""
    name = f"delta_{output}"

    def edit(e: Expr) -> Expr:
        kept = tuple(f for f in e.factors if not isinstance(f, Sub))
        return kept[0] if len(kept) == 1 else Mul(kept)

    return lambda formulas: _in(formulas, (name,), edit)


def other_one_minus(output: str, other: str) -> Callable[[Formulas], dict]:
    """The sigmoid's slope a_o2(1 − a_o2) written a_o2(1 − a_o1): the wrong unit inside the bracket."""

    def change(node: Expr) -> Expr | None:
        if isinstance(node, ActivationSlope) and node.post.name == f"a_{output}":
            return node.post * (1 - Sym(f"a_{other}"))
        return None

    return lambda formulas: _in(formulas, (f"delta_{output}",), lambda e: transform(e, change))


# ---- The catalogue. ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    id: str  # stable, for links, tests and the checker
    says: str  # the mistake in plain words: "a_h1 where a_h2 belongs"
    change: Callable[[Formulas], dict[str, Expr]]  # the right formulas -> the formulas with this mistake
    activations: tuple[str, ...] = tuple(ACTIVATIONS)  # where the mistake can be made as written

    def tree(self, name: str, biases: bool = False, activation: str = "sigmoid") -> Expr | None:
        """The wrong tree of quantity `name` of the network (with or without biases), or None where this
        mistake does not change it."""
        return _wrong_tree(self, name, bool(biases)) if activation in self.activations else None

    def applies_to(self, biases: bool = False, activation: str = "sigmoid") -> tuple[str, ...]:
        """The quantities this mistake changes, in the network's order."""
        return tuple(n for n in _formulas(biases) if self.tree(n, biases, activation) is not None)


# Built once each: the sidebar lists every sheet mistake and the exercise tries every mistake on every
# answer, each asking for trees that a rerun would otherwise rebuild (about 0.2 s for the whole catalogue).
@cache
def _changed(mistake: Mistake, biases: bool) -> dict[str, Expr]:
    return mistake.change(_formulas(biases))


@cache
def right_tree(name: str, biases: bool = False) -> Expr:
    """The right tree of quantity `name`, intermediates written out (as expand does), built once."""
    return expand(_formulas(biases), name)


@cache
def _wrong_tree(mistake: Mistake, name: str, biases: bool) -> Expr | None:
    wrong = expand(_changed(mistake, biases), name)
    return None if wrong == right_tree(name, biases) else wrong


def expand(formulas: Formulas, name: str) -> Expr:
    """Quantity `name`'s tree with the intermediates written out, as one worksheet cell writes it."""
    return inline(formulas[name], formulas, INTERMEDIATES)


_DE_DA_H = ("dE_da_h1", "dE_da_h2")
_UPDATES = tuple(f"next_{w}" for w in WEIGHTS)

MISTAKES: tuple[Mistake, ...] = (
    Mistake("a_h1-for-a_h2", "a_h1 where a_h2 belongs", renaming({"a_h2": "a_h1"})),
    Mistake("a_h2-for-a_h1", "a_h2 where a_h1 belongs", renaming({"a_h1": "a_h2"})),
    Mistake("targets-swapped", "t1 and t2 swapped (t2 where t1 belongs, and t1 where t2 belongs)",
            swapping("t1", "t2")),
    Mistake("missing-path-o2", "a missing path: ∂E/∂a_h without its path through o2 (only δ_o1·w5 or δ_o1·w6)",
            dropping_term(0, _DE_DA_H)),
    Mistake("missing-path-o1", "a missing path: ∂E/∂a_h without its path through o1 (only δ_o2·w7 or δ_o2·w8)",
            dropping_term(1, _DE_DA_H)),
    Mistake("sign-output-miss", "a sign error: (t − a_o) where (a_o − t) belongs", output_miss_reversed),
    Mistake("sign-update", "a sign error: w + η·∂E/∂w where w − η·∂E/∂w belongs (a step uphill)", uphill_update),
    Mistake("h1-for-a_h1", "h1 where a_h1 belongs (the sum before the activation)", renaming({"a_h1": "h1"})),
    Mistake("h2-for-a_h2", "h2 where a_h2 belongs (the sum before the activation)", renaming({"a_h2": "h2"})),
    Mistake("o1-for-a_o1", "o1 where a_o1 belongs (the sum before the activation)", renaming({"a_o1": "o1"})),
    Mistake("o2-for-a_o2", "o2 where a_o2 belongs (the sum before the activation)", renaming({"a_o2": "o2"})),
    Mistake("missing-half", "a missing ½: (t − a_o)² where ½(t − a_o)² belongs", missing_half),
    Mistake("old-weights", "the previous step's weights where this step's (the updated ones) belong",
            renaming({w: previous(w) for w in WEIGHTS})),
    Mistake("w6-w7-swapped", "w6 and w7 swapped in ∂E/∂a_h (w6 where w7 belongs, and w7 where w6 belongs)",
            swapping("w6", "w7", _DE_DA_H)),
    Mistake("w5-w7-for-w6-w8", "w5 and w7 where w6 and w8 belong (∂E/∂a_h1's weights in ∂E/∂a_h2)",
            renaming({"w6": "w5", "w8": "w7"}, ("dE_da_h2",))),
    Mistake("w6-w8-for-w5-w7", "w6 and w8 where w5 and w7 belong (∂E/∂a_h2's weights in ∂E/∂a_h1)",
            renaming({"w5": "w6", "w7": "w8"}, ("dE_da_h1",))),
    Mistake("one-minus-a_o1-for-a_o2", "(1 − a_o1) where (1 − a_o2) belongs", other_one_minus("o2", "o1"),
            ("sigmoid",)),
    Mistake("one-minus-a_o2-for-a_o1", "(1 − a_o2) where (1 − a_o1) belongs", other_one_minus("o1", "o2"),
            ("sigmoid",)),
    Mistake("missing-miss-o1", "a missing (a_o1 − t1) factor in δ_o1", without_output_miss("o1")),
    Mistake("missing-miss-o2", "a missing (a_o2 − t2) factor in δ_o2", without_output_miss("o2")),
    Mistake("gradients-w1-w3-swapped", "∂E/∂w1 where ∂E/∂w3 belongs in the update (and w2's for w4's, and back)",
            renaming({"dE_dw1": "dE_dw3", "dE_dw3": "dE_dw1", "dE_dw2": "dE_dw4", "dE_dw4": "dE_dw2"}, _UPDATES)),
)  # fmt: skip
MISTAKES_BY_ID = {m.id: m for m in MISTAKES}


# ---- Values under a mistake. ---------------------------------------------------------------------------


@cache
def _formulas(biases: bool) -> Formulas:
    return build_network(biases).by_name()


# Everything one row computes (the leaves, inputs, targets and weights, are given): what the exercise can hide.
QUANTITIES = tuple(_formulas(False))


def value_under(
    mistake: Mistake | None, config: Config, name: str, values: Mapping[str, float]
) -> float | None:
    """Quantity `name` computed with `mistake` (None: the right formula) from a row's right `values`
    (a backprop_core.row, plus prev_w1 … prev_w8 where there is a previous step).

    None where the mistake does not change this quantity, or needs a value `values` does not hold (the
    previous weights at step 0), or gives no finite number.
    """
    if mistake is None:
        tree = right_tree(name, config.biases)
    else:
        tree = mistake.tree(name, config.biases, config.activation)
    if tree is None or not tree.symbols() <= values.keys():
        return None
    env = {k: np.float64(v) for k, v in values.items()}
    with np.errstate(all="ignore"):
        value = float(np.asarray(tree.evaluate(env, ACTIVATIONS[config.activation])).reshape(-1)[0])
    return value if np.isfinite(value) else None


# ---- A whole sheet with a mistake: what its error curve shows. -----------------------------------------

# The columns descent can carry a mistake in: a gradient moves the next weights, an update is them.
# (A wrong E column changes only what is shown, not where descent goes.)
DESCENT_COLUMNS = tuple(f"dE_d{w}" for w in WEIGHTS) + _UPDATES


@dataclass(frozen=True)
class SheetMistake:
    """A worksheet that is right except in `columns`, where every row's cell is written with `mistake`
    (each from that row's right values, as a student's cell reads the cells beside it). Descending with
    its formulas (engine.descend(..., mistake=...)) draws the error curve that student's sheet shows.
    CLASSIC, below, is the w3/w4 mistake: a_h1 where a_h2 belongs, in ∂E/∂w3 and ∂E/∂w4."""

    mistake: str  # an id of MISTAKES_BY_ID
    columns: tuple[str, ...]  # some of DESCENT_COLUMNS, each changed by the mistake

    @property
    def says(self) -> str:
        return MISTAKES_BY_ID[self.mistake].says

    def columns_text(self) -> str:
        """The columns for a person: "∂E/∂w3, ∂E/∂w4", or "every ∂E/∂w" / "every update" for all eight."""
        if self.columns == DESCENT_COLUMNS[:8]:
            return "every ∂E/∂w"
        if self.columns == DESCENT_COLUMNS[8:]:
            return "every update"
        return ", ".join(plain_symbol(c) for c in self.columns)

    def label(self) -> str:
        """For a person: "with ∂E/∂w3, ∂E/∂w4 written with a_h1 where a_h2 belongs"."""
        return f"with {self.columns_text()} written with {self.says}"

    def text(self) -> str:
        """As a link writes it: a_h1-for-a_h2:dE_dw3,dE_dw4."""
        return f"{self.mistake}:{','.join(self.columns)}"

    def formulas(self, biases: bool, activation: str) -> tuple[tuple[str, Expr], ...]:
        """The network's formulas in order, with the mistake's trees in its columns."""
        right = _formulas(biases)
        mistake = MISTAKES_BY_ID[self.mistake]
        out = []
        for name, expr in right.items():
            wrong = mistake.tree(name, biases, activation) if name in self.columns else None
            out.append((name, expr if wrong is None else wrong))
        return tuple(out)


@cache  # the sidebar lists the sheet mistakes on every rerun: build each tree once per network
def carried(mistake: Mistake, name: str, biases: bool = False, activation: str = "sigmoid") -> bool:
    """Whether descent can follow `mistake` in column `name`: a descent column that the mistake changes,
    computed from values a row holds (not the previous step's weights, which a descent row has not)."""
    right = _formulas(biases)
    tree = mistake.tree(name, biases, activation) if name in DESCENT_COLUMNS else None
    return tree is not None and tree.symbols() <= set(right) | set(build_network(biases).leaves) | {"eta"}


def in_sheet(mistake: Mistake, biases: bool = False, activation: str = "sigmoid") -> SheetMistake | None:
    """`mistake` in every descent column it changes (None where it changes none descent can follow)."""
    columns = tuple(n for n in DESCENT_COLUMNS if carried(mistake, n, biases, activation))
    return SheetMistake(mistake.id, columns) if columns else None


CLASSIC = SheetMistake("a_h1-for-a_h2", ("dE_dw3", "dE_dw4"))


@cache
def sheet_mistakes(biases: bool = False, activation: str = "sigmoid") -> tuple[SheetMistake, ...]:
    """What the error curve can be compared with: the classic w3/w4 mistake first, then each catalogue
    mistake in every descent column it changes."""
    found = (in_sheet(m, biases, activation) for m in MISTAKES)
    return tuple(dict.fromkeys((CLASSIC, *(s for s in found if s is not None))))


def parse_sheet_mistake(text: str, biases: bool = False, activation: str = "sigmoid") -> SheetMistake:
    """One of sheet_mistakes() from a link's text (`id`, or `id:column,column` in any order), or
    ValueError with one line. Only those: each other choice of columns would be a numba module of its
    own to compile, and a link is a stranger's text."""
    mistake_id, _, columns = str(text).strip().partition(":")
    mistake = MISTAKES_BY_ID.get(mistake_id.strip())
    if mistake is None:
        raise ValueError("not a mistake of the catalogue")
    if activation not in mistake.activations:
        raise ValueError(f"{mistake.id} cannot be made with {activation} units")
    offered = [s for s in sheet_mistakes(biases, activation) if s.mistake == mistake.id]
    if not offered:
        raise ValueError(f"{mistake.id} changes no gradient or update that descent could follow")
    names = {c.strip() for c in columns.split(",") if c.strip()}
    if not names:
        return offered[-1]  # the mistake in every column it changes
    for sheet in offered:
        if set(sheet.columns) == names:
            return sheet
    choices = " or ".join(",".join(s.columns) for s in offered)
    raise ValueError(f"{mistake.id} is drawn in the columns {choices}")
