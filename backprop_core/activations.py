"""The course's activation table. Each activation is defined once, for numpy, LaTeX, Excel and scalar source.

The scalar source forms are Python expressions (bracketed by whoever pastes them) over float64 scalars (the names `exp`, `tanh` come from
`math`); backprop_core.compiled pastes them into the one-step function it compiles with numba. They are
written to round the way the numpy forms round (the same operations in the same order), so the
compiled path and the numpy path agree to the last few ulps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def stable_sigmoid(z):
    """1 / (1 + e^-z) without overflow: exp only ever sees -|z|, so it stays in (0, 1].

    For z < 0 this is e^z / (1 + e^z), which keeps full relative precision for tiny outputs.
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    r = 1.0 / (1.0 + e)
    return np.where(z >= 0, r, e * r)


def _group(text: str) -> str:
    """Parenthesise an Excel or LaTeX argument unless it is a single name, cell or number."""
    return text if re.fullmatch(r"[A-Za-z0-9_.{}$\\]+", text) else f"({text})"


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable  # numpy: z -> a
    slope: Callable  # numpy: (z, a) -> da/dz
    latex_forward: Callable[[str], str]
    latex_slope: Callable[[str, str], str]  # (z, a) -> LaTeX of da/dz
    excel_forward: Callable[[str], str]
    excel_slope: Callable[[str, str], str]  # (z, a) -> Excel of da/dz
    source_forward: Callable[[str], str]  # scalar Python source of a, given the source of z
    source_slope: Callable[[str, str], str]  # (z, a) -> scalar Python source of da/dz
    why: str  # one sentence for the student


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            name="sigmoid",
            forward=stable_sigmoid,
            slope=lambda z, a: a * (1.0 - a),
            latex_forward=lambda z: rf"\sigma\left({z}\right)",
            latex_slope=lambda z, a: rf"{a}\left(1 - {a}\right)",
            excel_forward=lambda z: f"1/(1+EXP(-{_group(z)}))",
            excel_slope=lambda z, a: f"{a}*(1-{a})",
            # stable_sigmoid for one number: exp only sees -|z|; e * (1/(1+e)) for z < 0, as numpy does.
            source_forward=lambda z: (
                f"1.0 / (1.0 + exp(-abs({z}))) if {z} >= 0.0 "
                f"else exp(-abs({z})) * (1.0 / (1.0 + exp(-abs({z}))))"
            ),
            source_slope=lambda z, a: f"{a} * (1.0 - {a})",
            why="The sigmoid squashes any number into (0, 1) and its slope is a(1-a), "
            "so the backward pass reuses the value already computed in the forward pass.",
        ),
        Activation(
            name="tanh",
            forward=np.tanh,
            slope=lambda z, a: 1.0 - a * a,
            latex_forward=lambda z: rf"\tanh\left({z}\right)",
            latex_slope=lambda z, a: rf"1 - {_group(a)}^2",
            excel_forward=lambda z: f"TANH({z})",
            excel_slope=lambda z, a: f"(1-{a}^2)",
            source_forward=lambda z: f"tanh({z})",
            source_slope=lambda z, a: f"1.0 - {a} * {a}",
            why="tanh squashes into (-1, 1), centred on 0; its slope 1 - a^2 also comes from the forward value.",
        ),
        Activation(
            name="relu",
            forward=lambda z: np.maximum(z, 0.0),
            slope=lambda z, a: np.where(np.asarray(z) > 0, 1.0, 0.0),
            latex_forward=lambda z: rf"\max\left(0, {z}\right)",
            latex_slope=lambda z, a: rf"\mathbb{{1}}\left[{z} > 0\right]",
            excel_forward=lambda z: f"MAX(0,{z})",
            excel_slope=lambda z, a: f"IF({z}>0,1,0)",
            source_forward=lambda z: f"max({z}, 0.0)",
            source_slope=lambda z, a: f"1.0 if {z} > 0.0 else 0.0",
            why="ReLU passes positive inputs unchanged and blocks negative ones; "
            "its slope is 1 or 0, so a unit with a negative input passes back no gradient.",
        ),
        Activation(
            name="linear",
            forward=lambda z: np.asarray(z, dtype=np.float64) * 1.0,
            slope=lambda z, a: np.ones_like(np.asarray(z, dtype=np.float64)),
            latex_forward=lambda z: z,
            latex_slope=lambda z, a: "1",
            excel_forward=lambda z: z,
            excel_slope=lambda z, a: "1",
            source_forward=lambda z: f"{z} * 1.0",
            source_slope=lambda z, a: "1.0",
            why="A linear unit passes its input through; with no squashing, "
            "a large learning rate can make the weights grow without bound.",
        ),
    )
}
