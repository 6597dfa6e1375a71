"""Learning rate: the same network trained with several learning rates, and a dense scan of 1,000."""

from dataclasses import replace

import streamlit as st

from backprop_core import ConfigError
from lab import charts, compute, convergence_map, exports_ui, params, race, scan_view, state
from lab.format import show_lrs

setup = state.sidebar()
st.title("How the learning rate changes training")
st.markdown(
    "The same network, the same starting weights, trained with different learning rates η for "
    f"{setup.steps:,} steps. Too small and the error falls slowly; too large and each step jumps past "
    "the minimum."
)

state.seed_field("lrs", show_lrs(setup.lrs))
text = st.text_input(
    "Learning rates to compare (comma-separated)",
    key=state.field_key("lrs"),
    help=f"Up to {params.MAX_COMPARED_LRS}, each greater than 0 and at most 1e6.",
)
try:
    lrs = params.parse_lrs(text)
except ConfigError as error:
    st.error(f"{error}. Still showing {show_lrs(setup.lrs)}.", icon=":material/warning:")
    lrs = setup.lrs
if lrs != setup.lrs:
    setup = replace(setup, lrs=lrs)
    state.save(setup)
log_y = st.toggle("Log scale for E_total", value=True, key="lr_log_y")

config = compute.key(setup.config)
try:
    result = compute.sweep(config, lrs, setup.steps)
except ConfigError as error:
    st.error(str(error), icon=":material/warning:")
    st.stop()

st.caption(
    "Press ▶ Play the race: every rate's curve is drawn step by step, side by side. An error at "
    "float64's rounding floor (0 to float64 precision) runs along the bottom of a log axis."
)
race.race(config, lrs, setup.steps, log_y)
for sentence in charts.reading(result, setup.config):
    st.markdown(f"- {sentence}")
st.dataframe(charts.summary_table(result), hide_index=True)

st.subheader("A dense scan: 1,000 learning rates from 0.01 to 100")
scan_steps = compute.scan_steps(setup.steps)
if scan_steps < setup.steps:
    st.caption(f"The scan runs the first {scan_steps:,} steps of each (1,000 runs at once).")
scan = compute.scan(config, setup.steps)
scan_view.scan(compute.scan_chart(config, setup.steps, lrs))
st.markdown(charts.scan_reading(scan))

exports_ui.xlsx_button(setup.config, lrs, setup.steps)

# The convergence map: its computation, figure and click handling live in lab/convergence_map.py.
convergence_map.section(setup)
