"""Cases that teach, one click each in the sidebar and each a permalink an instructor can share.

A preset is a whole Setup (network, η, steps, compared rates), so its link is encode_params(setup)
like any other link: opening it and clicking the button give exactly the same page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from backprop_core import Config
from backprop_core.config import MAZUR
from backprop_core.mistakes import CLASSIC

from .params import CLASSROOM, Setup, as_plain_text, encode_params


@dataclass(frozen=True)
class Preset:
    id: str
    title: str  # the button's label
    what: str  # one sentence: what to look at
    setup: Setup

    def query(self) -> str:
        """The preset as a link's query string: ?i1=0.05&… (every field, like any link the app writes)."""
        return "?" + urlencode(encode_params(self.setup))


PRESETS: tuple[Preset, ...] = (
    Preset(
        "classroom",
        "Classroom values",
        "The course's sheet: i1 = 0.05, i2 = 0.1, t1 = t2 = 0.5, w1 … w8 = 0.15 … 0.55, η = 1.",
        CLASSROOM,
    ),
    Preset(
        "mazur",
        "Mazur's example",
        "Matt Mazur's worked example: biases 0.35 and 0.60 (fixed), targets 0.01 and 0.99, η = 0.5. His "
        "post's E_total after 10,000 rounds, 0.0000351085, is step 9,999 here (10,000 forward passes).",
        Setup(config=MAZUR, lr=0.5, steps=10_000, lrs=(0.1, 0.5, 1.0, 2.0)),
    ),
    Preset(
        "diverges",
        "Too large a step diverges",
        "Linear units, η = 50: each step overshoots the minimum by more than the last, and the weights blow "
        "up. η = 1 and 10 still converge.",
        Setup(config=Config(activation="linear"), lr=50.0, steps=200, lrs=(1.0, 10.0, 50.0)),
    ),
    Preset(
        "saturated",
        "Saturated start",
        "Large starting weights push every sigmoid to its flat end, where its slope a(1 − a) is almost 0: "
        "the gradients vanish and the error stays at 0.25 at any η (vanishing gradients).",
        Setup(
            config=Config(w1=60, w2=80, w3=70, w4=90, w5=14, w6=16, w7=15, w8=17),
            lr=1.0,
            steps=1000,
            lrs=(0.5, 1.0, 10.0),
        ),
    ),
    Preset(
        "targets-apart",
        "t1 ≠ t2",
        "Targets 0.1 and 0.9, far apart and far from 0.5, so the hidden units must learn too; both start "
        "nearly off (a_h1 ≈ 0.004, a_h2 ≈ 0.011). The dashed curve is a sheet with the classic mistake, "
        "a_h1 where a_h2 belongs in ∂E/∂w3 and ∂E/∂w4: h2 learns with h1's flatter slope and the error "
        "sits near 0.15 for hundreds of steps while the right sheet converges. With the classroom's "
        "t1 = t2 = 0.5 the two curves agree to 5 digits.",
        Setup(
            config=Config(
                i1=1, i2=2, t1=0.1, t2=0.9, w1=0.5, w2=-3, w3=-0.5, w4=-2, w5=-0.5, w6=-1, w7=-2, w8=2
            ),
            lr=1.0,
            steps=1000,
            mistake=CLASSIC,
        ),
    ),
)
PRESETS_BY_ID = {p.id: p for p in PRESETS}


def sidebar_buttons(container, choose: Callable[[Setup], None]) -> None:
    """One button per preset (choose(setup) runs as its callback), and the links to share.

    The links are Markdown links to "?…" (this page with the preset's query), so a right-click copies the
    whole address. Not st.code blocks: their highlighter made every backprop page settle 0.4 s later
    in Chromium (benchmarks/bench_play.py)."""
    with container.expander("Cases that teach (presets)"):
        for preset in PRESETS[1:]:  # the classroom values have their own Reset button above
            st.button(preset.title, key=f"preset_{preset.id}", help=preset.what, on_click=choose,
                      args=(preset.setup,), width="stretch")  # fmt: skip
        st.caption("Each case is also a link: right-click one to copy it and share it with a class.")
        st.markdown("\n".join(f"- [{as_plain_text(p.title)}]({p.query()})" for p in PRESETS))
