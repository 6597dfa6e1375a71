"""Backprop Lab's custom components (st.components.v2): the player, the learning-rate race and the scan.

Each is lab/<stem>.js and lab/<stem>.css, with lab/svg.js's shared helpers put in front of its script, so
an axis tick or an SVG element is written once for all three.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_HERE = Path(__file__).parent


def component(name: str, stem: str):
    """The st.components.v2 component `name`, from lab/<stem>.js and lab/<stem>.css."""
    helpers = (_HERE / "svg.js").read_text(encoding="utf-8")
    return st.components.v2.component(
        name,
        css=(_HERE / f"{stem}.css").read_text(encoding="utf-8"),
        js=helpers + (_HERE / f"{stem}.js").read_text(encoding="utf-8"),
    )
