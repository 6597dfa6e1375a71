"""MNIST training: design a network as one line (or pick a preset), size-check it against the assignment,
train it in the background (`python -m training.mnist`), watch it learn, stop it, compare runs.

Thin on purpose: lab/training_views.py draws, training/arch.py checks the line, training/runs.py queues,
launches, tails, stops and cancels, for the viewer (the logged-in user, else the one local user). Nothing that matters lives in the session: the design is in the URL, and every run is a
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

viewer = views.current_viewer()
data_dir = resolve_data_dir(None).resolve()
missing = missing_files(data_dir)

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
    views.start(config, viewer)
st.caption(
    f"At most {limit} training run{'s' if limit > 1 else ''} at a time on this server; more wait in a queue, "
    "one per person, and start by themselves."
)

rows = views.history_rows(viewer)
ids = [i for i, row in rows.items() if row.summary.status != runs.UNREADABLE]  # the watchable runs
active = [i for i in ids if rows[i].summary.status in runs.ACTIVE]
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
    status = rows[run_id].summary.status
    views.run_button(run_id, status, viewer)
    live = status in views.LIVE
    st.fragment(views.live_view, run_every=views.REFRESH_S if live else None)(run_id, viewer)
    views.downloads(run_id, viewer)

if rows:  # also when every run is unreadable: each is a row saying why
    st.subheader("History")
    views.history(list(rows.values()))
    views.compare(list(rows.values()))
