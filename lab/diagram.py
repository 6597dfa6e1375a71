"""The 2-2-2 network drawn as SVG with one row's values, like the classroom picture.

    i1 ─w1─► [h1 | a_h1] ─w5─► [o1 | a_o1]   t1, E1
       ╲w3 ╱              ╲w7 ╱
       ╱w2 ╲              ╱w6 ╲
    i2 ─w4─► [h2 | a_h2] ─w8─► [o2 | a_o2]   t2, E2          E_total

Two views of the same picture. Forward: each edge's thickness is |w| and its colour w's sign, the
units show their sum and activation. Backward: each edge shows ∂E/∂w (thickness |∂E/∂w|, colour its
sign) and each unit its δ = ∂E/∂(its sum).

The drawing is written once here. Every piece of it that changes with the values carries a data-k
attribute; labels() and edges() say what each one reads for a row, and the player (lab/player.py)
ships exactly those for every frame, so its JavaScript only copies text and widths onto the picture.

The drawing has a minimum width so that its labels stay legible; on a phone it scrolls sideways
inside its box instead of shrinking. Every piece of text in it is escaped; nothing comes from a user
except numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from backprop_core.config import WEIGHTS

from .format import error_number, number

WIDTH, HEIGHT = 840, 470
TOP, BOTTOM = 130, 310  # y of the first and second unit of each layer
INPUT_X, HIDDEN_X, OUTPUT_X, ERROR_X = 62, 305, 565, 662
BOX_W, BOX_H, INPUT_R = 150, 72, 36
DIGITS = 6  # significant digits on the picture (the legend says so; the tables below give 12)
VIEWS = ("forward", "backward")

# Edge thickness in px: MIN_WIDTH for 0, MAX_WIDTH for the largest magnitude in view (see edge_width).
MIN_WIDTH, MAX_WIDTH = 1.5, 12.0
POSITIVE, NEGATIVE = "#2563eb", "#ea580c"  # blue for > 0, orange for < 0: distinct for colour-blind eyes too

# (weight, from, to): which unit each weight connects, by layer row (0 = top, 1 = bottom).
INPUT_EDGES = (("w1", 0, 0), ("w2", 1, 0), ("w3", 0, 1), ("w4", 1, 1))
OUTPUT_EDGES = (("w5", 0, 0), ("w6", 1, 0), ("w7", 0, 1), ("w8", 1, 1))

STYLE = f"""
.bp-net {{ font-family: "Source Sans Pro", system-ui, sans-serif; font-size: 15px; fill: #1f2937; }}
.bp-net .edge {{ stroke: {POSITIVE}; stroke-linecap: round; }}
.bp-net .edge.neg {{ stroke: {NEGATIVE}; }}
.bp-net .unit {{ fill: #eef2ff; stroke: #4f46e5; stroke-width: 2; }}
.bp-net .input {{ fill: #ecfdf5; stroke: #059669; stroke-width: 2; }}
.bp-net .tag {{ fill: #ffffff; fill-opacity: 0.92; stroke: #cbd5e1; }}
.bp-net .name {{ font-weight: 700; }}
.bp-net .total {{ font-weight: 700; font-size: 17px; }}
.bp-net .step {{ font-weight: 700; font-size: 20px; }}
.bp-net .legend {{ font-size: 13px; fill: #475569; }}
"""


def edge_width(magnitude: float, largest: float) -> float:
    """Thickness in px of an edge whose value has size `magnitude`, when the largest in view is `largest`:
    MIN_WIDTH + (MAX_WIDTH − MIN_WIDTH)·magnitude/largest, so 0 is a hairline and the largest is MAX_WIDTH."""
    if not largest > 0:
        return MIN_WIDTH
    return MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * min(abs(magnitude) / largest, 1.0)


def edge_value(view: str, weight: str) -> str:
    """The quantity an edge shows in `view`: the weight, or its gradient ∂E/∂w."""
    return weight if view == "forward" else f"dE_d{weight}"


def labels(values: Mapping[str, float], view: str, caption: str = "") -> dict[str, str]:
    """The text of every changing label (by data-k) for one row in `view`."""
    forward = view == "forward"
    text = {"caption": caption}
    for weight in WEIGHTS:
        shown = weight if forward else f"∂E/∂{weight}"
        text[weight] = f"{shown} = {number(values[edge_value(view, weight)], DIGITS)}"
    for index in ("1", "2"):
        for layer in ("h", "o"):
            total, active = f"{layer}{index}", f"a_{layer}{index}"
            if forward:
                text[f"{total}-top"] = f"{total} = {number(values[total], DIGITS)}"
                text[f"{total}-bottom"] = f"{active} = {number(values[active], DIGITS)}"
            else:
                text[f"{total}-top"] = f"{active} = {number(values[active], DIGITS)}"
                text[f"{total}-bottom"] = f"δ_{total} = {number(values[f'delta_{total}'], DIGITS)}"
        text[f"t{index}"] = f"t{index} = {number(values[f't{index}'], DIGITS)}"
        text[f"E{index}"] = f"E{index} = {number(values[f'E{index}'], DIGITS)}"
    for name in ("i1", "i2"):
        text[name] = number(values[name], DIGITS)
    if "b1" in values:
        text["b1"] = f"+ b1 = {number(values['b1'], DIGITS)} (both)"
        text["b2"] = f"+ b2 = {number(values['b2'], DIGITS)} (both)"
    text["E_total"] = f"E_total = E1 + E2 = {error_number(values['E_total'], DIGITS)}"
    return text


def edges(values: Mapping[str, float], view: str, largest: float) -> dict[str, tuple[float, bool]]:
    """(thickness in px, is negative) of every edge for one row in `view`, scaled by `largest`."""
    return {
        w: (edge_width(values[edge_value(view, w)], largest), values[edge_value(view, w)] < 0)
        for w in WEIGHTS
    }


def largest(values: Mapping[str, float], view: str) -> float:
    """The largest magnitude among the eight edges of one row in `view`."""
    return max(abs(values[edge_value(view, w)]) for w in WEIGHTS)


LEGEND = {
    "forward": "Forward: thickness = |w|, blue w > 0, orange w < 0 · values to 6 significant digits",
    "backward": "Backward: thickness = |∂E/∂w| (this step's largest is thickest), blue > 0, orange < 0 · "
    "δ = ∂E/∂(unit's sum) · 6 significant digits",
}


def _y(row: int) -> int:
    return TOP if row == 0 else BOTTOM


def _text(x: float, y: float, content: str, cls: str = "", anchor: str = "middle", k: str = "") -> str:
    key = f' data-k="{k}"' if k else ""
    return f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" class="{cls}"{key}>{escape(content)}</text>'


def _edge_label(weight: str, content: str, x1: float, y1: float, x2: float, y2: float) -> str:
    """A weight's label on its edge: at the middle of a straight edge, near the start of a crossing one
    (so the two crossing labels do not sit on top of each other)."""
    t = 0.5 if y1 == y2 else 0.27
    x, y = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
    width = 150  # fits "∂E/∂w1 = -0.000123456" at 15 px
    return (
        f'<rect class="tag" x="{x - width / 2:.0f}" y="{y - 12:.0f}" width="{width}" height="22" rx="5"/>'
        + _text(x, y + 4, content, k=weight)
    )


def network_svg(values: Mapping[str, float], caption: str = "", view: str = "forward") -> str:
    """SVG markup of the network with `values` (a backprop_core.row: inputs, weights, h/a_h/o/a_o, E, δ)."""
    text = labels(values, view, caption)
    widths = edges(values, view, largest(values, view))
    parts = [f"<style>{STYLE}</style>"]
    lines, tags = [], []
    for weights, x_from, x_to, gap_from, gap_to in (
        (INPUT_EDGES, INPUT_X, HIDDEN_X, INPUT_R, BOX_W / 2),
        (OUTPUT_EDGES, HIDDEN_X, OUTPUT_X, BOX_W / 2, BOX_W / 2),
    ):
        for weight, source, target in weights:
            x1, y1, x2, y2 = x_from + gap_from, _y(source), x_to - gap_to, _y(target)
            width, negative = widths[weight]
            lines.append(
                f'<line class="edge{" neg" if negative else ""}" data-edge="{weight}" x1="{x1:.0f}" y1="{y1}" '
                f'x2="{x2:.0f}" y2="{y2}" stroke-width="{width:.2f}"/>'
            )
            tags.append(_edge_label(weight, text[weight], x1, y1, x2, y2))
    parts += lines + tags
    for row, name in enumerate(("i1", "i2")):
        y = _y(row)
        parts.append(f'<circle class="input" cx="{INPUT_X}" cy="{y}" r="{INPUT_R}"/>')
        parts.append(_text(INPUT_X, y - 4, name, "name"))
        parts.append(_text(INPUT_X, y + 16, text[name], k=name))
    for row, index in enumerate(("1", "2")):
        y = _y(row)
        for x, layer in ((HIDDEN_X, "h"), (OUTPUT_X, "o")):
            unit = f"{layer}{index}"
            parts.append(
                f'<rect class="unit" x="{x - BOX_W / 2:.0f}" y="{y - BOX_H / 2:.0f}" width="{BOX_W}" '
                f'height="{BOX_H}" rx="10"/>'
            )
            parts.append(_text(x, y - 10, text[f"{unit}-top"], k=f"{unit}-top"))
            parts.append(_text(x, y + 18, text[f"{unit}-bottom"], "name", k=f"{unit}-bottom"))
        parts.append(_text(ERROR_X, y - 10, text[f"t{index}"], anchor="start", k=f"t{index}"))
        parts.append(_text(ERROR_X, y + 18, text[f"E{index}"], "name", "start", k=f"E{index}"))
    if "b1" in values:  # biases on: each feeds both units of its layer
        below = BOTTOM + BOX_H / 2 + 24
        parts.append(_text(HIDDEN_X, below, text["b1"], k="b1"))
        parts.append(_text(OUTPUT_X, below, text["b2"], k="b2"))
    parts.append(_text(WIDTH - 20, HEIGHT - 62, text["E_total"], "total", "end", k="E_total"))
    parts.append(_text(20, 34, caption, "step", "start", k="caption"))
    parts.append(_text(20, HEIGHT - 18, LEGEND[view], "legend", "start", k="legend"))
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
    return f'<div class="bp-net-box" style="overflow-x:auto;-webkit-overflow-scrolling:touch">{svg}</div>'
