"""Step through: one step of gradient descent, every formula with its numbers."""

import streamlit as st

from backprop_core import ACTIVATIONS
from lab import compute, exercise, state, views
from lab.derivations import CAPTION, derivations
from lab.format import RESULT_DIGITS, number, show_number

TAB_KEY = "step_tab"  # the open tab: "Forward", "Backward" or "Next forward"
SMALL = r"\footnotesize "  # KaTeX's default size makes the longest chains wider than the column

setup = state.sidebar()
st.title("Step through one update")
st.markdown(
    "One step of gradient descent has three parts: run the network **forward** to get the error, go "
    "**backward** with the chain rule to get ∂E/∂w for every weight, then move each weight against its "
    "gradient and run the **next forward** pass."
)
setup, frame, values = views.viewed_row(setup)
# Exercise mode: while a quantity is hidden, nothing below is drawn (it would give the answer away).
if exercise.panel(setup, frame, values, state.SETUP_KEY):
    st.stop()
views.error_metrics(frame, setup.step)
config = setup.config
activation = ACTIVATIONS[config.activation]


def forward_tab() -> None:
    st.markdown(
        f"Each unit adds up its weighted inputs, then applies the **{config.activation}** activation. "
        f"{activation.why} The error is half the squared miss of each output."
    )
    st.caption(CAPTION)
    for item in derivations(config, "forward", values):
        st.latex(SMALL + item.latex)
        st.caption(item.why)


def backward_tab() -> None:
    st.markdown(
        "The chain rule, from the error back to each weight. **δ** is ∂E/∂(a unit's sum): for an output "
        "it is (a_o − t) times the activation's slope, and only that output's error depends on it, so E2 "
        "drops out of ∂E/∂w5. A hidden unit feeds **both** outputs, so two paths reach w1 (through o1 and "
        "w5, through o2 and w7) and their contributions add up. Each gradient is written with its named "
        "factors, then with the chain written out, then with numbers."
    )
    st.caption(CAPTION)
    for item in derivations(config, "backward", values):
        st.latex(SMALL + item.latex)
        st.caption(item.why)


def update_tab() -> None:
    st.markdown(
        f"Every weight moves against its gradient, scaled by the learning rate "
        f"η = {show_number(setup.lr)}: w ← w − η·∂E/∂w. "
        "All eight use the gradients of the same forward pass, so the order does not matter."
    )
    st.caption(CAPTION)
    for item in derivations(config, "update", values):
        st.latex(SMALL + item.latex)
    st.subheader("The next forward pass")
    after = views.next_forward(setup, frame, values)
    if after is not None:
        st.markdown(
            "The same forward pass, now with the new weights: w1 … w8 below stand for the values just "
            "computed, so this is the row of the next step."
        )
        for item in derivations(config, "forward", after):
            st.latex(SMALL + item.latex)


TABS = {"Forward": forward_tab, "Backward": backward_tab, "Next forward": update_tab}
lessons, check = st.columns([5, 3], gap="medium")
with lessons:
    # Only the open tab is drawn (a click on another reruns the page): about 50 KaTeX formulas in all made
    # the page settle 0.7 s later in Chromium when every tab was drawn (benchmarks/bench_play.py).
    tabs = st.tabs(list(TABS), key=TAB_KEY, on_change="rerun")
    for tab, draw in zip(tabs, TABS.values(), strict=True):
        if tab.open:
            with tab:
                draw()

with check:
    st.subheader("Gradient check")
    st.markdown(
        "The chain rule's answer against a numerical estimate: nudge one weight by ±h (h = 10⁻⁶), rerun "
        "the forward pass, and divide the change in E_total by 2h. Wherever float64 can measure that "
        "change, they agree to many digits."
    )
    gradients = compute.gradient_check(compute.key(config), compute.weights_at(frame, setup.step))
    st.table(
        {
            "weight": gradients["weight"].tolist(),
            "chain rule": [number(v) for v in gradients["analytic"]],
            "finite difference": [number(v) for v in gradients["finite_difference"]],
        }
    )
    st.caption(f"Numbers to {RESULT_DIGITS} significant digits: enough to see how far the two agree.")
    worst = gradients.loc[gradients["abs_diff"].idxmax()]
    difference = (
        f"{number(worst['abs_diff'], 2)} (for {worst['weight']}; relative {number(worst['rel_diff'], 2)})"
    )
    if compute.estimate_agrees(gradients):
        st.caption(
            f"Largest difference: {difference}: the estimate's own error, far below any mistake in a formula."
        )
    else:
        st.caption(
            f"Here they differ, by up to {difference}: at this step the gradients are so small, or the "
            "values so large, that the estimate's own error (float64 rounding in E_total, and the h² term "
            "a finite difference leaves out) is no longer small beside the gradients. The chain rule needs no "
            "nudge."
        )
