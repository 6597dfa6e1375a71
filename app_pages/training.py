"""MNIST training: choose a model, start `python -m training.mnist`, watch it learn, stop it, compare runs.

Thin on purpose: training/runs.py launches, tails and stops; this page only draws. Nothing that matters
lives in the session: every run is a folder under the runs directory, so a reload or a second tab finds
the same runs. The only session state is a byte offset per run, so the live view reads just new events.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from lab.format import number
from training import runs
from training.config import DEFAULT_LR, DEFAULT_MODEL, MAX_LR, TrainConfig
from training.data import missing_files, missing_message, resolve_data_dir
from training.models import MODELS, count_parameters, summary

REFRESH_S = 1.0  # how often the live view polls a running trainer
STATUS_COLORS = {runs.RUNNING: "blue", runs.DONE: "green", runs.FAILED: "red", runs.STOPPED: "orange"}


# --- run management (issue 13): who is looking, queue words, Cancel --------------------------------------
STATUS_COLORS |= {runs.QUEUED: "gray", runs.STARTING: "blue", runs.CANCELLED: "gray", runs.UNREADABLE: "red"}
LIVE = (runs.QUEUED, *runs.ACTIVE)  # statuses the live view keeps polling


def current_viewer() -> runs.Viewer:
    """The logged-in user (lab/auth.py, when login is configured), else the one local user."""
    try:
        from lab import auth
    except ImportError:
        return runs.LOCAL
    return auth.viewer()


def status_words(run_id: str, status: str) -> str:
    """ "queued, position 2 of 5" for a waiting run; the plain status otherwise."""
    position = runs.queue_position(run_id) if status == runs.QUEUED else None
    return f"queued, position {position[0]} of {position[1]}" if position else status


VIEWER = current_viewer()
# --- end of run management ---------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def model_summary(name: str) -> tuple[int, pd.DataFrame]:
    model = MODELS[name]()
    table = pd.DataFrame(summary(model))
    table["output_shape"] = table["output_shape"].map(lambda shape: " × ".join(map(str, shape)))
    for column in ("kernel", "stride"):  # None for layers without a window (BatchNorm): show a blank
        table[column] = table[column].map(lambda v: "" if v is None else str(v))
    return count_parameters(model), table


@st.cache_data(show_spinner=False)
def gpu_name() -> str | None:
    return runs.cuda_device_name()


def choose_config(data_dir) -> TrainConfig:
    """The settings widgets; returns what the user chose."""
    gpu = gpu_name()
    model_col, epochs_col, batch_col, lr_col, device_col = st.columns([2, 1, 1, 1.2, 2])
    model = model_col.selectbox(
        "Model",
        list(MODELS),
        index=list(MODELS).index(DEFAULT_MODEL),
        format_func=lambda name: f"{name} ({model_summary(name)[0]:,} parameters)",
    )
    defaults = TrainConfig()
    epochs = epochs_col.number_input("Epochs", min_value=1, max_value=100, value=defaults.epochs, step=1)
    batch_size = batch_col.number_input("Batch size", min_value=1, max_value=4096, value=defaults.batch_size)
    lr = lr_col.number_input(  # keyed by model: switching model shows that model's default rate
        "Learning rate",
        min_value=1e-5,
        max_value=MAX_LR,
        value=DEFAULT_LR[model],
        format="%g",
        key=f"lr-{model}",
    )
    device_labels = {"auto": f"auto ({'CUDA' if gpu else 'CPU'})", "cpu": "CPU", "cuda": "CUDA"}
    device = device_col.radio("Device", list(device_labels), format_func=device_labels.get, horizontal=True)
    device_col.caption(f"GPU: {gpu}" if gpu else "No CUDA GPU available here: training runs on the CPU.")
    config = TrainConfig(
        model=model,
        epochs=int(epochs),
        batch_size=int(batch_size),
        lr=float(lr),
        device=device,
        data_dir=str(data_dir),
    )
    if runs.tiny_runs_allowed() and st.checkbox(
        f"Tiny subset ({runs.TINY_SUBSET} images, for tests)", value=True
    ):
        config.limit_train = config.limit_test = runs.TINY_SUBSET
    return config


def show_model_summary(name: str, expanded: bool) -> None:
    params, table = model_summary(name)
    with st.expander(f"Model summary: {name}, {params:,} trainable parameters", expanded=expanded):
        st.dataframe(
            table[["layer", "type", "output_shape", "params", "kernel", "stride", "receptive_field"]],
            hide_index=True,
            column_config={"output_shape": "output (C × H × W)", "receptive_field": "receptive field (px)"},
        )
        st.caption(
            "The receptive field is how many input pixels (per side) one output value of the layer sees."
        )


def start(config: TrainConfig, gpu: str | None) -> None:
    if config.device == "cuda" and gpu is None:
        st.error("CUDA is not available on this machine: choose auto or CPU.")
        return
    try:
        run_id = runs.start_run(config, VIEWER)
    except runs.RunRefused as refusal:
        st.warning(f"Not started: {refusal}")
        return
    except runs.RunError as error:
        st.error(f"Not started: {error}")
        return
    st.query_params["run"] = run_id  # a reload keeps watching this run
    if runs.run_status(run_id) == runs.QUEUED:
        st.info(
            f"Every training slot is busy: your run is {status_words(run_id, runs.QUEUED)}. It starts by itself."
        )


def watched_run(ids: list[str], active: list[str]) -> str | None:
    """The run named in the URL if it is valid and exists, else the running one, else the newest."""
    requested = st.query_params.get("run")
    if requested is not None:
        try:
            if runs.check_run_id(requested) in ids:
                return requested
            st.warning(f"No run {requested} here (it may have been pruned); showing another.")
        except runs.RunError as error:
            st.warning(f"Ignoring the run in the address: {error}")
    return next((run_id for run_id in active if run_id in ids), ids[0] if ids else None)


def tracker(run_id: str) -> tuple[runs.EventTail, runs.RunProgress]:
    """Per session and run: the tail's byte offset and the events read so far."""
    trackers = st.session_state.setdefault("run_trackers", {})
    if run_id not in trackers:
        trackers[run_id] = (runs.EventTail(runs.run_dir(run_id) / "events.jsonl"), runs.RunProgress())
    return trackers[run_id]


def loss_chart(progress: runs.RunProgress) -> go.Figure:
    fig = go.Figure()
    if progress.batch_losses:
        x, y = zip(*progress.batch_losses, strict=True)
        fig.add_scatter(x=x, y=y, mode="lines", name="batch loss", line={"width": 1})
    epochs = [e["epoch"] for e in progress.epochs]
    fig.add_scatter(
        x=epochs,
        y=[e.get("train_loss") for e in progress.epochs],
        mode="lines+markers",
        name="train loss (epoch)",
    )
    fig.add_scatter(
        x=epochs, y=[e.get("test_loss") for e in progress.epochs], mode="lines+markers", name="test loss"
    )
    fig.update_layout(
        title="Loss", xaxis_title="epoch", yaxis_title="cross-entropy", height=320, margin={"t": 40, "b": 40}
    )
    return fig


def accuracy_chart(curves: dict[str, list[dict]], title: str = "Accuracy") -> go.Figure:
    """Test (and, for a single run, train) accuracy per epoch; `curves` maps a name to its epoch events."""
    fig = go.Figure()
    for name, epochs in curves.items():
        x = [e["epoch"] for e in epochs]
        label = "" if len(curves) == 1 else f"{name}: "
        fig.add_scatter(x=x, y=[e.get("test_acc") for e in epochs], mode="lines+markers", name=f"{label}test")
        if len(curves) == 1:
            fig.add_scatter(x=x, y=[e.get("train_acc") for e in epochs], mode="lines+markers", name="train")
    fig.update_layout(
        title=title, xaxis_title="epoch", yaxis_title="accuracy (%)", height=320, margin={"t": 40, "b": 40}
    )
    return fig


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"  # m:ss, short enough for a metric


def live_view(run_id: str) -> None:
    """Status, progress, speed, charts and log tail of one run; re-run every second while it trains."""
    tail, progress = tracker(run_id)
    progress.add(tail.read_new())
    try:
        config = runs.read_run(run_id, VIEWER).config
        state = runs.run_state(run_id, progress=progress)
    except runs.RunError as error:  # pruned by another tab since this page listed it, or damaged
        st.warning(f"{error}: it may have been pruned.")
        return
    status, total_epochs = state.status, config.epochs

    st.markdown(f"**Run `{run_id}`**: :{STATUS_COLORS[status]}[**{status_words(run_id, status)}**]")
    epoch = progress.current_epoch()
    batch = progress.last_batch or {}
    text = f"Epoch {max(epoch, 1)} of {total_epochs}"
    if batch and status == runs.RUNNING:
        text += f", batch {batch['batch']} of {batch['of']}"
    st.progress(progress.epoch_fraction(), text=text)

    speed, start_event = progress.images_per_s(), progress.start or {}
    accuracies = [e["test_acc"] for e in progress.epochs if "test_acc" in e]
    cols = st.columns(4)
    cols[0].metric("Images/s", f"{speed:,.0f}" if speed else "–")
    eta = progress.eta_s(total_epochs, config.batch_size) if status == runs.RUNNING else None
    cols[1].metric("ETA (m:ss)", format_seconds(eta))
    cols[2].metric("Test accuracy", f"{number(accuracies[-1], 4)} %" if accuracies else "–")
    cols[3].metric("Device", str(start_event.get("device", "–")))

    if status == runs.FAILED:
        st.error(f"Training failed: {state.reason or 'the trainer exited without finishing'}.")
    elif status == runs.STOPPED:
        st.info("Stopped on request. The best checkpoint so far is kept.")

    left, right = st.columns(2)
    left.plotly_chart(loss_chart(progress), key=f"loss-{run_id}")
    right.plotly_chart(accuracy_chart({run_id: progress.epochs}), key=f"acc-{run_id}")
    st.caption("Log: the last lines of stdout.log")
    st.code(runs.log_tail(run_id, VIEWER) or "(waiting for output)", language="text", wrap_lines=True)

    # When a run's status changes (queued -> running -> done), redraw the whole page once: the history,
    # the Cancel/Stop button and the poll rate change with it.
    seen = st.session_state.setdefault("seen_status", {})
    previous, seen[run_id] = seen.get(run_id), status
    if previous is not None and previous != status:
        st.rerun(scope="app")


def file_bytes(run_id: str, name: str) -> bytes:
    """A file's bytes when the download is clicked (checked against the viewer); empty if it is gone."""
    try:
        return runs.run_file(run_id, name, VIEWER)
    except runs.RunError:
        return b""


def downloads(run_id: str) -> None:
    folder = runs.run_dir(run_id)
    log_col, checkpoint_col = st.columns(2)
    log_col.download_button(
        "Download log",
        data=lambda: file_bytes(run_id, "stdout.log"),
        file_name=f"{run_id}-stdout.log",
        mime="text/plain",
        on_click="ignore",
    )
    if (folder / "best.pt").is_file():
        checkpoint_col.download_button(
            "Download checkpoint (best.pt)",
            data=lambda: file_bytes(run_id, "best.pt"),
            file_name=f"{run_id}-best.pt",
            on_click="ignore",
        )


def summaries() -> dict[str, runs.RunSummary]:
    """id -> history row of every run the viewer may see; a damaged run is a row that says so."""
    return {row.id: row for row in runs.history(VIEWER)}


def history(rows: list[runs.RunSummary]) -> None:
    table = pd.DataFrame(
        {
            "run": [r.id for r in rows],
            "status": [r.label for r in rows],
            "model": [r.model for r in rows],
            "epochs": [f"{r.epochs_done} / {r.epochs}" for r in rows],
            "final test accuracy (%)": [r.final_test_acc for r in rows],
            "best test accuracy (%)": [r.best_test_acc for r in rows],
            "started": [r.started_at for r in rows],
        }
    )
    percent = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(
        table,
        hide_index=True,
        column_config={"final test accuracy (%)": percent, "best test accuracy (%)": percent},
    )


def compare(rows: list[runs.RunSummary]) -> None:
    with_epochs = [r.id for r in rows if r.epochs_done]
    if len(with_epochs) < 2:
        st.caption("Once two runs have finished an epoch, their curves can be compared here.")
        return
    chosen = st.multiselect("Compare runs", with_epochs, default=with_epochs[:2])
    if chosen:
        curves = {run_id: runs.load_progress(run_id).epochs for run_id in chosen}
        st.plotly_chart(accuracy_chart(curves, title="Test accuracy per epoch"), key="compare")


st.title("MNIST training")
st.caption(
    "Train a small CNN on the 60,000 MNIST digits in a separate process (`python -m training.mnist`). "
    "It keeps running if you close the tab; come back to watch it or stop it."
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
config = choose_config(data_dir)
show_model_summary(config.model, expanded=not active)
if missing:
    st.error(missing_message(data_dir, missing))
    st.markdown(
        f"Put the four MNIST files (`.gz` as downloaded, or uncompressed) in `{data_dir}`, or start the app "
        "with `MNIST_DIR=/path/to/mnist streamlit run app.py`. Then reload this page."
    )
if st.button("Start training", type="primary", disabled=bool(missing)):
    start(config, gpu_name())
    active = runs.active_runs()
st.caption(
    f"At most {limit} training run{'s' if limit > 1 else ''} at a time on this server; more wait in a queue, "
    "one per person, and start by themselves."
)

rows = summaries()
ids = [run_id for run_id, row in rows.items() if row.status != runs.UNREADABLE]  # watchable runs
run_id = watched_run(ids, active)
if run_id is not None:
    st.subheader("Run")
    if len(ids) > 1:
        choice = st.selectbox(
            "Show run", ids, index=ids.index(run_id), format_func=lambda i: f"{i} ({rows[i].status})"
        )
        if choice != run_id:
            run_id = choice
            st.query_params["run"] = run_id
    if rows[run_id].status in (runs.QUEUED, *runs.ACTIVE) and st.button(
        "Cancel" if rows[run_id].status == runs.QUEUED else "Stop"
    ):
        with st.spinner("Stopping…"):
            try:
                runs.stop_run(run_id, VIEWER)
            except runs.RunError as error:
                st.error(str(error))
            else:
                st.rerun()
    running = rows[run_id].status in LIVE
    st.fragment(live_view, run_every=REFRESH_S if running else None)(run_id)
    downloads(run_id)

    st.subheader("History")
    history(list(rows.values()))
    compare(list(rows.values()))
