"""Derivations in LaTeX, printed from backprop_core.network's formula trees (nothing is re-typed here).

Each line reads   name = formula = formula with numbers = value,   e.g.
    h_1 = w_1 i_1 + w_2 i_2 = 0.15 · 0.05 + 0.2 · 0.1 = 0.0275
A gradient that goes through intermediates (δ_o1, ∂E/∂a_h1, δ_h1) also gets its chain written out, by
substituting those intermediates' own trees into it (see CHAINS for how far).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from backprop_core import ACTIVATIONS, Config, build_network
from backprop_core.expr import SIGNIFICANT_DIGITS, Expr, inline, latex_symbol
from backprop_core.network import Formula

from .format import number

# One precision per view: the result after the last "=" has as many digits as the numbers substituted
# before it (a 10-digit result after 6-digit inputs reads as if the extra digits came from nowhere).
DIGITS = SIGNIFICANT_DIGITS
CAPTION = f"Numbers to {DIGITS} significant digits."

# The backward intermediates, named so that the chain rule can be followed one factor at a time. A
# derivation writes its chain out through the first group that appears in it: a hidden-layer gradient
# through ∂E/∂a_h and δ_h, down to the two output paths δ_o1·w5 + δ_o2·w7 (δ_o is derived just above
# it, and expanding it too makes a line no screen can show); an output-layer gradient through δ_o,
# down to (a_o1 − t1)·a_o1(1 − a_o1)·a_h1.
CHAINS = (("dE_da_h1", "dE_da_h2", "delta_h1", "delta_h2"), ("delta_o1", "delta_o2"))


@dataclass(frozen=True)
class Derivation:
    name: str  # the quantity, e.g. "dE_dw1"
    latex: str  # the whole aligned derivation
    why: str  # the formula's sentence for the student


def derivations(config: Config, stage: str, values: Mapping[str, float]) -> list[Derivation]:
    """One Derivation per formula of `stage` ("forward", "backward" or "update"), numbers from `values`
    (a backprop_core.row: every quantity of the row, intermediates and eta included)."""
    network = build_network(config.biases)
    act = ACTIVATIONS[config.activation]
    trees = network.by_name()
    return [_derive(formula, act, trees, values) for formula in network.stage(stage)]


def _derive(formula: Formula, act, trees: Mapping[str, Expr], values: Mapping[str, float]) -> Derivation:
    chain = formula.expr
    if not formula.name.startswith("dE_da_"):  # ∂E/∂a_h is already the two paths, δ_o1·w5 + δ_o2·w7
        chain = next(
            (c for names in CHAINS if (c := inline(formula.expr, trees, names)) != formula.expr), chain
        )
    lines = [formula.expr.latex(act)]
    if chain != formula.expr:  # the chain rule written out, then with its numbers
        lines.append(chain.latex(act))
    lines.append(chain.latex(act, values=values))
    lines.append(_value(values[formula.name]))
    body = r" \\ &= ".join(lines)
    latex = rf"\begin{{aligned}} {latex_symbol(formula.name)} &= {body} \end{{aligned}}"
    return Derivation(formula.name, latex, formula.why)


def _value(value: float) -> str:
    """A result in LaTeX: 0.0275, 4.38 \times 10^{-4}; a dash if it could not be computed."""
    text = number(value, DIGITS)
    if text == "—":
        return r"\text{—}"
    mantissa, _, exponent = text.partition("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}" if exponent else mantissa
