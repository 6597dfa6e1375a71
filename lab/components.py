"""Backprop Lab's custom components (st.components.v2): the player, the learning-rate race and the scan.

Each is lab/<stem>.js and lab/<stem>.css, with lab/svg.js's shared helpers put in front of its script and
lab/svg.css's shared rules in front of its style, so a plot's frame, ticks and grid are written once for
all three.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_HERE = Path(__file__).parent


def component(name: str, stem: str):
    """The st.components.v2 component `name`, from lab/<stem>.js and lab/<stem>.css."""

    def read(name: str) -> str:
        return (_HERE / name).read_text(encoding="utf-8")

    return st.components.v2.component(
        name, css=read("svg.css") + read(f"{stem}.css"), js=read("svg.js") + read(f"{stem}.js")
    )
