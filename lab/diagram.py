"""The 2-2-2 network drawn as SVG with one row's values, like the classroom picture.

    i1 ─w1─► [h1 | a_h1] ─w5─► [o1 | a_o1]   t1, E1
       ╲w3 ╱              ╲w7 ╱
       ╱w2 ╲              ╱w6 ╲
    i2 ─w4─► [h2 | a_h2] ─w8─► [o2 | a_o2]   t2, E2          E_total

The drawing has a fixed minimum width so that its labels stay legible; on a phone it scrolls sideways
inside its box instead of shrinking. The same numbers are also given as a table by the page.
Pages show it with st.markdown(..., unsafe_allow_html=True): st.html's sanitiser drops inline SVG.
Every piece of text in it is escaped; nothing comes from a user except numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from .format import number

WIDTH, HEIGHT = 840, 420
TOP, BOTTOM = 120, 300  # y of the first and second unit of each layer
INPUT_X, HIDDEN_X, OUTPUT_X, ERROR_X = 62, 305, 565, 662
BOX_W, BOX_H, INPUT_R = 150, 72, 36
DIGITS = 6  # on the picture; the tables below give 12

# (weight, from, to): which unit each weight connects, by layer row (0 = top, 1 = bottom).
INPUT_EDGES = (("w1", 0, 0), ("w2", 1, 0), ("w3", 0, 1), ("w4", 1, 1))
OUTPUT_EDGES = (("w5", 0, 0), ("w6", 1, 0), ("w7", 0, 1), ("w8", 1, 1))

STYLE = """
.bp-net { font-family: "Source Sans Pro", system-ui, sans-serif; font-size: 15px; fill: #1f2937; }
.bp-net .edge { stroke: #94a3b8; stroke-width: 2; }
.bp-net .unit { fill: #eef2ff; stroke: #4f46e5; stroke-width: 2; }
.bp-net .input { fill: #ecfdf5; stroke: #059669; stroke-width: 2; }
.bp-net .tag { fill: #ffffff; stroke: #cbd5e1; }
.bp-net .name { font-weight: 700; }
.bp-net .total { font-weight: 700; font-size: 17px; }
"""


def _y(row: int) -> int:
    return TOP if row == 0 else BOTTOM


def _text(x: float, y: float, content: str, cls: str = "", anchor: str = "middle") -> str:
    return f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" class="{cls}">{escape(content)}</text>'


def _edge_label(weight: str, value: float, x1: float, y1: float, x2: float, y2: float) -> str:
    """A weight's label on its edge: at the middle of a straight edge, near the start of a crossing one
    (so the two crossing labels do not sit on top of each other)."""
    t = 0.5 if y1 == y2 else 0.27
    x, y = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
    label = f"{weight} = {number(value, DIGITS)}"
    width = 8.0 * len(label) + 10
    return (
        f'<rect class="tag" x="{x - width / 2:.0f}" y="{y - 12:.0f}" width="{width:.0f}" height="22" rx="5"/>'
        + _text(x, y + 4, label)
    )


def _unit(x: float, y: float, pre: str, post: str, values: Mapping[str, float]) -> str:
    left, top = x - BOX_W / 2, y - BOX_H / 2
    return (
        f'<rect class="unit" x="{left:.0f}" y="{top:.0f}" width="{BOX_W}" height="{BOX_H}" rx="10"/>'
        + _text(x, y - 10, f"{pre} = {number(values[pre], DIGITS)}")
        + _text(x, y + 18, f"{post} = {number(values[post], DIGITS)}", "name")
    )


def network_svg(values: Mapping[str, float], caption: str = "") -> str:
    """SVG markup of the network with `values` (a backprop_core.row: inputs, weights, h/a_h/o/a_o, E)."""
    parts = [f"<style>{STYLE}</style>"]
    edges, labels = [], []
    for weights, x_from, x_to, gap_from, gap_to in (
        (INPUT_EDGES, INPUT_X, HIDDEN_X, INPUT_R, BOX_W / 2),
        (OUTPUT_EDGES, HIDDEN_X, OUTPUT_X, BOX_W / 2, BOX_W / 2),
    ):
        for weight, source, target in weights:
            x1, y1, x2, y2 = x_from + gap_from, _y(source), x_to - gap_to, _y(target)
            edges.append(f'<line class="edge" x1="{x1:.0f}" y1="{y1}" x2="{x2:.0f}" y2="{y2}"/>')
            labels.append(_edge_label(weight, values[weight], x1, y1, x2, y2))
    parts += edges + labels
    for row, name in enumerate(("i1", "i2")):
        y = _y(row)
        parts.append(f'<circle class="input" cx="{INPUT_X}" cy="{y}" r="{INPUT_R}"/>')
        parts.append(_text(INPUT_X, y - 4, name, "name"))
        parts.append(_text(INPUT_X, y + 16, number(values[name], DIGITS)))
    for row, index in enumerate(("1", "2")):
        parts.append(_unit(HIDDEN_X, _y(row), f"h{index}", f"a_h{index}", values))
        parts.append(_unit(OUTPUT_X, _y(row), f"o{index}", f"a_o{index}", values))
        y = _y(row)
        parts.append(
            _text(ERROR_X, y - 10, f"t{index} = {number(values[f't{index}'], DIGITS)}", anchor="start")
        )
        parts.append(
            _text(ERROR_X, y + 18, f"E{index} = {number(values[f'E{index}'], DIGITS)}", "name", "start")
        )
    if "b1" in values:  # biases on: each feeds both units of its layer
        below = BOTTOM + BOX_H / 2 + 24
        parts.append(_text(HIDDEN_X, below, f"+ b1 = {number(values['b1'], DIGITS)} (both)"))
        parts.append(_text(OUTPUT_X, below, f"+ b2 = {number(values['b2'], DIGITS)} (both)"))
    parts.append(
        _text(WIDTH - 20, HEIGHT - 22, f"E_total = E1 + E2 = {number(values['E_total'])}", "total", "end")
    )
    if caption:
        parts.append(_text(20, 30, caption, "name", "start"))
    description = (
        f"Inputs i1 {number(values['i1'])} and i2 {number(values['i2'])}; "
        f"outputs a_o1 {number(values['a_o1'])} and a_o2 {number(values['a_o2'])}; "
        f"total error {number(values['E_total'])}."
    )
    svg = (
        f'<svg class="bp-net" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="bp-net-title bp-net-desc" '
        f'style="width:100%;min-width:600px;max-width:980px;background:#ffffff;border-radius:12px">'
        f'<title id="bp-net-title">The 2-2-2 network with its current values</title>'
        f'<desc id="bp-net-desc">{escape(description)}</desc>' + "".join(parts) + "</svg>"
    )
    return f'<div style="overflow-x:auto;-webkit-overflow-scrolling:touch">{svg}</div>'
