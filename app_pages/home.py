"""Network: the 2-2-2 network drawn with the values of the step being viewed."""

import streamlit as st

from backprop_core import build_network
from lab import state, views
from lab.diagram import network_svg
from lab.format import number, show_number

setup = state.sidebar()
st.title("The 2-2-2 network")
st.markdown(
    "Two inputs, two hidden units, two outputs, and eight weights. Each step runs the network forward, "
    "measures the error E_total, and moves every weight a little downhill. Choose a step to see the "
    "network's values at that point of training; change the numbers in the sidebar."
)
setup, frame, values = views.viewed_row(setup)
caption = f"Step {setup.step} · η = {show_number(setup.lr)} · {setup.config.activation}"
st.markdown(network_svg(values, caption), unsafe_allow_html=True)  # st.html would strip the SVG
st.caption("On a narrow screen, swipe the picture sideways; the same values are in the table below.")
views.error_metrics(frame, setup.step)

with st.expander("The same values as a table", expanded=False):
    network = build_network(setup.config.biases)
    names = list(network.leaves) + [f.name for f in network.stage("forward")]
    st.table({"quantity": names, "value": [number(values[n], 12) for n in names]})
