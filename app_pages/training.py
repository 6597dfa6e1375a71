"""MNIST training: design a network as one line (or pick a preset), size-check it against the assignment,
train it in the background (`python -m training.mnist`), watch it learn, stop it, compare runs.

Thin on purpose: lab/training_views.py draws, training/arch.py checks the line, training/runs.py launches,
tails and stops. Nothing that matters lives in the session: the design is in the URL, and every run is a
folder under the runs directory, so a reload or a second tab finds the same runs.
"""

from __future__ import annotations

import streamlit as st

from lab import training_views as views
from training import runs
from training.data import missing_files, missing_message, resolve_data_dir

st.title("MNIST training")
st.caption(
    "Design a CNN for the 28×28 MNIST digits, check it against the assignment (99.4 % test accuracy with "
    "fewer than 20,000 parameters in fewer than 20 epochs, with BatchNorm, Dropout and global average "
    "pooling), then train it in a separate process. It keeps running if you close the tab."
)

try:
    limit = runs.max_concurrent_runs()
    runs.runs_to_keep()
except runs.RunError as error:
    st.error(f"The server's settings are wrong: {error}")
    st.stop()

data_dir = resolve_data_dir(None).resolve()
missing = missing_files(data_dir)
active = runs.active_runs()

st.subheader("Design")
choice = views.designer()
config = views.choose_settings(choice, data_dir)
views.show_design(choice, config.epochs)
if missing:
    st.error(missing_message(data_dir, missing))
    st.markdown(
        f"Put the four MNIST files (`.gz` as downloaded, or uncompressed) in `{data_dir}`, or start the app "
        "with `MNIST_DIR=/path/to/mnist streamlit run app.py`. Then reload this page."
    )
if st.button("Start training", type="primary", disabled=bool(missing) or choice.error is not None):
    views.start(config)
    active = runs.active_runs()
st.caption(f"At most {limit} training run{'s' if limit > 1 else ''} at a time on this server.")

rows = views.history_rows(runs.list_runs())
ids = list(rows)
run_id = views.watched_run(ids, active)
if run_id is not None:
    st.subheader("Run")
    if len(ids) > 1:
        choice_id = st.selectbox(
            "Show run", ids, index=ids.index(run_id), format_func=lambda i: f"{i} ({rows[i].summary.status})"
        )
        if choice_id != run_id:
            run_id = choice_id
            st.query_params["run"] = run_id
    if run_id in active and st.button("Stop"):
        with st.spinner("Stopping…"):
            runs.stop_run(run_id)
        st.rerun()
    running = rows[run_id].summary.status == runs.RUNNING
    st.fragment(views.live_view, run_every=views.REFRESH_S if running else None)(run_id)
    views.downloads(run_id)

    st.subheader("History")
    views.history(list(rows.values()))
    views.compare(list(rows.values()))
