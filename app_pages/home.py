"""Network: the 2-2-2 network drawn with the values of the step being viewed."""

import streamlit as st

from backprop_core import build_network
from lab import state, views
from lab.format import number

setup = state.sidebar()
st.title("The 2-2-2 network")
st.markdown(
    "Two inputs, two hidden units, two outputs, and eight weights. Each step runs the network forward, "
    "measures the error E_total, and moves every weight a little downhill. Choose a step to see the "
    "network's values at that point of training; change the numbers in the sidebar. Press **Play** to "
    "watch it learn: Pause stops on the step shown, and the rest of the page follows it."
)
setup, frame, values = views.viewed_row(setup)
st.caption(
    "On a narrow screen, swipe the picture sideways; the same values are in the table below. "
    "Click on the error curve to jump to a step."
)
views.error_metrics(frame, setup.step)

with st.expander("The same values as a table", expanded=False):
    network = build_network(setup.config.biases)
    names = list(network.leaves) + [f.name for f in network.stage("forward")]
    st.table({"quantity": names, "value": [number(values[n], 12) for n in names]})
