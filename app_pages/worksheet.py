"""Worksheet: the whole update table, laid out like the classroom sheet, as CSV or a live .xlsx."""

import streamlit as st

from lab import compute, exports_ui, state, views, worksheet
from lab.format import show_number

setup = state.sidebar()
st.title("The worksheet")
st.markdown(
    "Every row is one forward and backward pass: the weights of that step, the values they give, the error "
    "and the eight gradients. The next row's weights are these minus η times the gradients. "
    "Compare it with your own sheet, row by row."
)
frame = compute.table(compute.key(setup.config), setup.lr, setup.steps)
views.run_message(frame)
setup = state.step_controls(setup, len(frame) - 1)

st.subheader(f"Step {setup.step}")
current = worksheet.labelled(frame.iloc[[setup.step]])
st.dataframe(current, column_config=worksheet.column_config())

shown = worksheet.marked(frame, setup.step)
first, last = worksheet.window(len(frame), setup.step)
st.subheader(
    f"All {len(frame):,} rows" if (first, last) == (0, len(frame)) else f"Rows {first:,}–{last - 1:,}"
)
if (first, last) != (0, len(frame)):
    st.caption(f"A long run: these rows are around step {setup.step}; the CSV has all {len(frame):,}.")
st.dataframe(shown, column_config=worksheet.column_config(), height=420)

st.download_button(
    "Download .csv",
    data=lambda: worksheet.csv_bytes(frame),  # written on click: 100,000 rows take seconds and 38 MB
    file_name=f"backprop-lr-{show_number(setup.lr)}-{setup.steps}-steps.csv",
    mime="text/csv",
    icon=":material/download:",
)
exports_ui.xlsx_button(setup.config, (setup.lr,), setup.steps, key="worksheet_xlsx")
