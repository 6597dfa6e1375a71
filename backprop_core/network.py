"""The 2-2-2 network, written once.

Every quantity of one row of the classroom sheet is a Formula: a name, an expression tree, a sentence
for the student. The engine evaluates these trees, the app prints them as LaTeX, the xlsx export
prints them as Excel formulas and the checker compares against them. Fix a formula here and all four
change together.

    i1 ─w1─► h1 → a_h1 ─w5─► o1 → a_o1      E1 = ½(t1 − a_o1)²
       ╲w3 ╱               ╲w7 ╱
       ╱w2 ╲               ╱w6 ╲
    i2 ─w4─► h2 → a_h2 ─w8─► o2 → a_o2      E2 = ½(t2 − a_o2)²
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .config import BIASES, INPUTS, TARGETS, WEIGHTS
from .expr import Activate, ActivationSlope, Expr, Num, Square, Sym

# The classroom sheet's columns, in its order. Row k of the table holds these for the k-th weights.
COLUMNS = (
    "t1 t2 i1 i2 w1 w2 w3 w4 h1 a_h1 h2 a_h2 w5 w6 w7 w8 o1 a_o1 o2 a_o2 E1 E2 E_total "
    "dE_dw1 dE_dw2 dE_dw3 dE_dw4 dE_dw5 dE_dw6 dE_dw7 dE_dw8"
).split()
GRADIENTS = tuple(f"dE_d{w}" for w in WEIGHTS)


@dataclass(frozen=True)
class Formula:
    name: str  # the quantity, as in COLUMNS (or an intermediate such as delta_o1)
    expr: Expr
    stage: str  # "forward", "backward" or "update"
    why: str  # a plain sentence for the student


@dataclass(frozen=True)
class Network:
    """The formulas of one row, in an order where each only uses earlier ones."""

    formulas: tuple[Formula, ...]
    biases: bool

    def by_name(self) -> dict[str, Expr]:
        return {f.name: f.expr for f in self.formulas}

    def stage(self, stage: str) -> tuple[Formula, ...]:
        return tuple(f for f in self.formulas if f.stage == stage)

    @property
    def leaves(self) -> tuple[str, ...]:
        """What a row starts from: inputs, targets, weights, and the fixed biases when on."""
        return INPUTS + TARGETS + WEIGHTS + (BIASES if self.biases else ())


def _hidden(first: str, second: str, biases: bool) -> Expr:
    z = Sym(first) * Sym("i1") + Sym(second) * Sym("i2")
    return z + Sym("b1") if biases else z


def _output(first: str, second: str, biases: bool) -> Expr:
    z = Sym(first) * Sym("a_h1") + Sym(second) * Sym("a_h2")
    return z + Sym("b2") if biases else z


@cache
def build_network(biases: bool = False) -> Network:
    f = Formula
    d = Sym  # short alias: reads like the maths below
    forward = (
        f("h1", _hidden("w1", "w2", biases), "forward", "Each hidden unit sums its weighted inputs."),
        f("a_h1", Activate(d("h1")), "forward", "The activation squashes the sum."),
        f("h2", _hidden("w3", "w4", biases), "forward", "h2 uses the other two input weights."),
        f("a_h2", Activate(d("h2")), "forward", "The same activation, on h2."),
        f("o1", _output("w5", "w6", biases), "forward", "Each output sums the weighted hidden activations."),
        f("a_o1", Activate(d("o1")), "forward", "The output activation is the network's prediction."),
        f("o2", _output("w7", "w8", biases), "forward", "o2 uses the other two output weights."),
        f("a_o2", Activate(d("o2")), "forward", "The second prediction."),
        f("E1", Num(0.5) * Square(d("t1") - d("a_o1")), "forward", "Half the squared miss of output 1."),
        f("E2", Num(0.5) * Square(d("t2") - d("a_o2")), "forward", "Half the squared miss of output 2."),
        f("E_total", d("E1") + d("E2"), "forward", "The error that gradient descent makes smaller."),
    )
    backward = (
        # ∂E/∂o = ∂E/∂a_o · ∂a_o/∂o: how the error moves with each output's pre-activation.
        f(
            "delta_o1",
            (d("a_o1") - d("t1")) * ActivationSlope(d("o1"), d("a_o1")),
            "backward",
            "Only E1 depends on o1, so E2 drops out: ∂E/∂o1 = (a_o1 − t1) times the activation's slope.",
        ),
        f(
            "delta_o2",
            (d("a_o2") - d("t2")) * ActivationSlope(d("o2"), d("a_o2")),
            "backward",
            "Likewise only E2 depends on o2.",
        ),
        f("dE_dw5", d("delta_o1") * d("a_h1"), "backward", "w5 carries a_h1 into o1, so ∂o1/∂w5 = a_h1."),
        f("dE_dw6", d("delta_o1") * d("a_h2"), "backward", "w6 carries a_h2 into o1."),
        f("dE_dw7", d("delta_o2") * d("a_h1"), "backward", "w7 carries a_h1 into o2."),
        f("dE_dw8", d("delta_o2") * d("a_h2"), "backward", "w8 carries a_h2 into o2."),
        f(
            "dE_da_h1",
            d("delta_o1") * d("w5") + d("delta_o2") * d("w7"),
            "backward",
            "a_h1 reaches the error along two paths, through o1 (w5) and through o2 (w7): the two add up.",
        ),
        f(
            "dE_da_h2",
            d("delta_o1") * d("w6") + d("delta_o2") * d("w8"),
            "backward",
            "a_h2 also reaches both outputs, through w6 and w8.",
        ),
        f(
            "delta_h1",
            d("dE_da_h1") * ActivationSlope(d("h1"), d("a_h1")),
            "backward",
            "Back through the hidden activation: multiply by its slope at h1.",
        ),
        f(
            "delta_h2",
            d("dE_da_h2") * ActivationSlope(d("h2"), d("a_h2")),
            "backward",
            "Back through the second hidden activation: its slope at h2 (a_h2, not a_h1).",
        ),
        f("dE_dw1", d("delta_h1") * d("i1"), "backward", "w1 carries i1 into h1."),
        f("dE_dw2", d("delta_h1") * d("i2"), "backward", "w2 carries i2 into h1."),
        f("dE_dw3", d("delta_h2") * d("i1"), "backward", "w3 carries i1 into h2, so it needs a_h2's slope."),
        f("dE_dw4", d("delta_h2") * d("i2"), "backward", "w4 carries i2 into h2, so it needs a_h2's slope."),
    )
    update = tuple(
        f(
            f"next_{w}",
            d(w) - d("eta") * d(f"dE_d{w}"),
            "update",
            "Step against the gradient, scaled by the learning rate η.",
        )
        for w in WEIGHTS
    )
    return Network(forward + backward + update, biases)
