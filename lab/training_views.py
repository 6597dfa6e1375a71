"""The MNIST page's views: the designer (line, presets, layer table, checklist), the settings, the live view
of a run with its Cancel/Stop button, the history and the comparison. app_pages/training.py only lays them
out.

Who is looking (a runs.Viewer) is passed to every call into training/runs.py, which applies the owners'
rules itself (training/owners.py): a student lists, watches, downloads and stops only their own runs.

User text (the architecture line) is shown with st.text_input, st.code and dataframe cells, never inside
Markdown; messages about it go through st.code too, since they quote the offending token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from lab import auth
from lab.format import number
from lab.training_charts import accuracy_chart, loss_chart
from training import arch, runs
from training.config import TrainConfig, TrainConfigError

REFRESH_S = 1.0  # how often the live view polls a running (or waiting) trainer
STATUS_COLORS = {
    runs.QUEUED: "gray", runs.STARTING: "blue", runs.RUNNING: "blue", runs.DONE: "green", runs.FAILED: "red",
    runs.STOPPED: "orange", runs.CANCELLED: "gray", runs.UNREADABLE: "red",
}  # fmt: skip
LIVE = (runs.QUEUED, *runs.ACTIVE)  # statuses the live view keeps polling: a queued run starts by itself
DASH = "–"
FORMULAS = (
    r"n_\text{out} = \left\lfloor \frac{n_\text{in} + 2p - k}{s} \right\rfloor + 1 \qquad "
    r"r_\text{out} = r_\text{in} + (k - 1)\, j_\text{in} \qquad j_\text{out} = j_\text{in}\, s"
)


# --- small formats ---------------------------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"  # m:ss, short enough for a metric


def format_started(stamp: str | None) -> str:
    """ "2026-12-01T08:28:17+0000" -> "2026-12-01 08:28 UTC"; a stamp without a zone ("2026-12-01 09:28:17",
    as runs.RunSummary.started_at writes it) is the server's local time; a dash for anything unreadable."""
    for layout in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"):
        try:
            when = dt.datetime.strptime(stamp, layout)
        except (TypeError, ValueError):
            continue
        return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")  # naive: taken as local
    return DASH


def percent(value: float | None) -> str:
    return DASH if value is None else number(value, 4)


# --- who is looking, and the queue ----------------------------------------------------------------------


def current_viewer() -> runs.Viewer:
    """The logged-in user when login is configured, else the one local user, who owns every run."""
    return auth.viewer()


def status_words(run_id: str, status: str) -> str:
    """ "queued, position 2 of 5" for a waiting run; the plain status otherwise."""
    position = runs.queue_position(run_id) if status == runs.QUEUED else None
    return f"queued, position {position[0]} of {position[1]}" if position else status


# --- the designer ----------------------------------------------------------------------------------------


@dataclass
class Choice:
    preset: str  # whose recipe (and, for the reference, whose network)
    line: str | None  # the line in the box; None for the named reference net
    design: arch.Design | None  # the parsed line; None when invalid or the reference
    error: str | None  # the sentence saying why the line is not a model


def _pick_preset(name: str) -> None:
    st.session_state.design_preset = name
    st.session_state.design_line = arch.PRESETS[name].line or ""


def designer() -> Choice:
    """Presets one click away, a text box holding the line, both mirrored in the URL (?model=&arch=)."""
    state = st.session_state
    if "design_preset" not in state:  # a new session: start from the address, else the classroom model
        model = st.query_params.get("model", arch.DEFAULT_PRESET)
        state.design_preset = model if model in arch.PRESETS else arch.DEFAULT_PRESET
        line = st.query_params.get("arch")
        state.design_line = (
            line[: arch.MAX_LINE_CHARS * 2] if line else arch.PRESETS[state.design_preset].line or ""
        )
    columns = st.columns(len(arch.PRESETS) + 1)
    columns[0].markdown("**Presets**")
    for column, (name, preset) in zip(columns[1:], arch.PRESETS.items(), strict=True):
        column.button(name, key=f"preset-{name}", help=preset.about, on_click=_pick_preset, args=(name,),
                      type="primary" if state.design_preset == name else "secondary")  # fmt: skip
    reference = arch.PRESETS[state.design_preset].line is None
    st.text_input(
        "Architecture line",
        key="design_line",
        disabled=reference,
        placeholder="pytorch/examples' net: a named model, not a line" if reference else "c16 m c32 g o",
        help="c16 (3×3 conv → BatchNorm → ReLU), c16k5p2 (kernel 5, padding 2), d0.05 (Dropout2d), "
        "m (2×2 max-pool), g (global average pool), o (1×1 conv to the 10 classes)",
    )
    st.query_params["model"] = state.design_preset
    if reference:
        st.query_params.pop("arch", None)
        return Choice(state.design_preset, None, None, None)
    line = state.design_line
    st.query_params["arch"] = line[: arch.MAX_LINE_CHARS * 2]
    try:
        return Choice(state.design_preset, line, arch.parse(line), None)
    except arch.ArchError as error:
        return Choice(state.design_preset, line, None, str(error))


def design_table(design: arch.Design) -> pd.DataFrame:
    """The layer table with every cell already text or a whole number: no "nan", no "3.0"."""
    return pd.DataFrame(
        {
            "#": [r.index for r in design.rows],
            "token": [r.token for r in design.rows],
            "layer": [r.layer for r in design.rows],
            "output size": [f"{r.size}×{r.size}" for r in design.rows],
            "channels": [r.channels for r in design.rows],
            "kernel k": [arch.blank(r.kernel) for r in design.rows],
            "stride s": [arch.blank(r.stride) for r in design.rows],
            "padding p": [arch.blank(r.padding) for r in design.rows],
            "jump j": [r.jump for r in design.rows],
            "receptive field r": [r.receptive_field for r in design.rows],
            "parameters": [r.params for r in design.rows],
        }
    )


@st.cache_data(show_spinner=False)
def reference_table() -> tuple[int, pd.DataFrame]:
    """The named reference net, summarised by running it once (torch), formatted as text."""
    from training.models import MODELS, count_parameters, summary

    model = MODELS["reference"]()
    rows = summary(model)
    table = pd.DataFrame(
        {
            "layer": [r["layer"] for r in rows],
            "type": [r["type"] for r in rows],
            "output (C × H × W)": [" × ".join(map(str, r["output_shape"])) for r in rows],
            "kernel k": [arch.blank(r["kernel"]) for r in rows],
            "stride s": [arch.blank(r["stride"]) for r in rows],
            "jump j": [r["jump"] for r in rows],
            "receptive field r": [r["receptive_field"] for r in rows],
            "parameters": [r["params"] for r in rows],
        }
    )
    return count_parameters(model), table


def show_design(choice: Choice, epochs: int) -> None:
    """The live layer table, the formulas once, and the assignment's checklist; or why the line is not a
    model (as code: the sentence quotes the user's token)."""
    if choice.error is not None:
        st.error("This line is not a model yet:")
        st.code(choice.error, language=None, wrap_lines=True)
        return
    st.latex(FORMULAS)
    st.caption(
        "Per side, from n = 28, r = 1, j = 1 at the image. A global pool is a window as large as its input."
    )
    if choice.design is None:
        params, table = reference_table()
        st.dataframe(table, hide_index=True)
        st.markdown(f"**{params:,} parameters** (pytorch/examples' net, for comparison)")
        return
    st.dataframe(design_table(choice.design), hide_index=True)
    st.markdown(f"**{choice.design.params:,} parameters**")
    checks = arch.checklist(choice.design, epochs)
    st.markdown("  \n".join(f"{'✓' if c.ok else '✗'} {c.label}: **{c.value}**" for c in checks))


# --- settings and starting --------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def gpu_name() -> str | None:
    return runs.cuda_device_name()


def choose_settings(choice: Choice, data_dir: Path) -> TrainConfig:
    """The settings widgets; the config trains exactly the design shown."""
    gpu = gpu_name()
    defaults = TrainConfig(model=choice.preset)
    epochs_col, batch_col, lr_col, device_col = st.columns([1, 1, 1.2, 2])
    epochs = epochs_col.number_input("Epochs", min_value=1, max_value=100, value=defaults.epochs, step=1)
    batch_size = batch_col.number_input("Batch size", min_value=1, max_value=4096, value=defaults.batch_size)
    lr = lr_col.number_input(  # keyed by preset: switching preset shows that preset's rate
        "Learning rate", min_value=1e-5, max_value=10.0, value=defaults.recipe()[0], format="%g",
        key=f"lr-{choice.preset}",
    )  # fmt: skip
    device_labels = {"auto": f"auto ({'CUDA' if gpu else 'CPU'})", "cpu": "CPU", "cuda": "CUDA"}
    device = device_col.radio("Device", list(device_labels), format_func=device_labels.get, horizontal=True)
    device_col.caption(f"GPU: {gpu}" if gpu else "No CUDA GPU available here: training runs on the CPU.")
    config = TrainConfig(
        model=choice.preset, arch=choice.line or "", epochs=int(epochs), batch_size=int(batch_size),
        lr=float(lr), device=device, data_dir=str(data_dir),
    )  # fmt: skip
    if runs.tiny_runs_allowed() and st.checkbox(
        f"Tiny subset ({runs.TINY_SUBSET} images, for tests)", value=True
    ):
        config.limit_train = config.limit_test = runs.TINY_SUBSET
    return config


def start(config: TrainConfig, viewer: runs.Viewer) -> None:
    """Submit the run; it starts now or waits in the queue, and the address names it either way."""
    if config.device == "cuda" and gpu_name() is None:
        st.error("CUDA is not available on this machine: choose auto or CPU.")
        return
    try:  # checked here too, so a message quoting the user's line is shown as code, not Markdown
        config.check()
        config.to_args()
    except TrainConfigError as error:
        st.error("Not started:")
        st.code(str(error), language=None, wrap_lines=True)
        return
    try:
        run_id = runs.start_run(config, viewer)
    except runs.RunRefused as refusal:
        st.warning(f"Not started: {refusal}")
        return
    except runs.RunError as error:  # the server's side (e.g. a read-only runs folder): one plain sentence
        st.error(f"Not started: {error}")
        return
    st.query_params["run"] = run_id  # a reload keeps watching this run
    if runs.run_status(run_id) == runs.QUEUED:
        st.info(
            f"Every training slot is busy: your run is {status_words(run_id, runs.QUEUED)}. It starts by itself."
        )


def run_button(run_id: str, status: str, viewer: runs.Viewer) -> None:
    """Cancel for a waiting run, Stop for a starting or running one; nothing for a finished one."""
    if status not in LIVE:
        return
    queued = status == runs.QUEUED
    if not st.button("Cancel" if queued else "Stop"):
        return
    with st.spinner("Cancelling…" if queued else "Stopping…"):
        try:
            (runs.cancel_run if queued else runs.stop_run)(run_id, viewer)
        except runs.RunError as error:  # started meanwhile, not theirs, or the folder cannot be written
            st.error(str(error))
            return
    st.rerun()


# --- one run, live ----------------------------------------------------------------------------------------


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


def checkpoint_note(run_id: str) -> str:
    """What a stopped run kept: its checkpoint's epoch and accuracy, or that no epoch finished."""
    path = runs.run_dir(run_id) / "best.pt"
    if not path.is_file():
        return "No epoch finished before the stop, so there is no checkpoint."
    return "The best checkpoint so far (best.pt) is kept."


def live_view(run_id: str, viewer: runs.Viewer) -> None:
    """Status, progress, speed, charts and log tail of one run; re-run every second while it waits or trains."""
    tail, progress = tracker(run_id)
    progress.add(tail.read_new())
    try:
        config = runs.read_run(run_id, viewer).config
        state = runs.run_state(run_id, progress=progress)
    except runs.RunError as error:  # pruned by another tab since this page listed it, or damaged
        st.warning(f"{error}: it may have been pruned.")
        return
    status, total_epochs = state.status, config.epochs

    st.markdown(f"**Run `{run_id}`**: :{STATUS_COLORS[status]}[**{status_words(run_id, status)}**]")
    line = config.arch or arch.PRESETS.get(config.model, arch.PRESETS["reference"]).line
    st.code(line or config.model, language=None)
    epoch = progress.current_epoch()
    batch = progress.last_batch or {}
    text = f"Epoch {max(epoch, 1)} of {total_epochs}"
    if batch and status == runs.RUNNING:
        text += f", batch {batch['batch']} of {batch['of']}"
    st.progress(progress.epoch_fraction(), text=text)

    speed, start_event = progress.images_per_s(), progress.start or {}
    accuracies = [e["test_acc"] for e in progress.epochs if "test_acc" in e]
    cols = st.columns(4)
    cols[0].metric("Images/s", f"{speed:,.0f}" if speed else DASH)
    eta = progress.eta_s(total_epochs, config.batch_size) if status == runs.RUNNING else None
    cols[1].metric("ETA (m:ss)", format_seconds(eta))
    cols[2].metric("Test accuracy", f"{number(accuracies[-1], 4)} %" if accuracies else DASH)
    cols[3].metric("Device", str(start_event.get("device", DASH)))

    if status == runs.FAILED:
        error = (progress.end or {}).get("error")
        if error:  # the trainer's own words (they may quote a file or a setting): as text
            st.error("Training failed:")
            st.code(str(error), language=None, wrap_lines=True)
        else:  # no end event: status.py's own sentence, e.g. "the trainer was killed by SIGKILL (…)"
            st.error(f"Training failed: {state.reason or 'the trainer exited without finishing'}.")
    elif status == runs.STOPPED:
        st.info(f"Stopped on request. {checkpoint_note(run_id)}")

    left, right = st.columns(2)
    left.plotly_chart(loss_chart(progress, total_epochs), key=f"loss-{run_id}")
    right.plotly_chart(accuracy_chart({run_id: progress.epochs}, epochs=total_epochs), key=f"acc-{run_id}")
    st.caption("Log: the last lines of stdout.log")
    st.code(runs.log_tail(run_id, viewer) or "(waiting for output)", language="text", wrap_lines=True)

    # When a run's status changes (queued -> starting -> running -> done), redraw the whole page once: the
    # history, the Cancel/Stop button and the poll rate change with it.
    seen = st.session_state.setdefault("seen_status", {})
    previous, seen[run_id] = seen.get(run_id), status
    if previous is not None and previous != status:
        st.rerun(scope="app")


def file_bytes(run_id: str, name: str, viewer: runs.Viewer) -> bytes:
    """A run file's bytes when the download is clicked (checked against the viewer); empty if it is gone."""
    try:
        return runs.run_file(run_id, name, viewer)
    except runs.RunError:
        return b""


def downloads(run_id: str, viewer: runs.Viewer) -> None:
    log_col, checkpoint_col = st.columns(2)
    log_col.download_button("Download log", data=lambda: file_bytes(run_id, "stdout.log", viewer),
                            file_name=f"{run_id}-stdout.log", mime="text/plain", on_click="ignore")  # fmt: skip
    if (runs.run_dir(run_id) / "best.pt").is_file():
        checkpoint_col.download_button("Download checkpoint (best.pt)", data=lambda: file_bytes(run_id, "best.pt", viewer),
                                       file_name=f"{run_id}-best.pt", on_click="ignore")  # fmt: skip


# --- history and comparison -------------------------------------------------------------------------------


@dataclass
class HistoryRow:
    """One run as the history lists it: its runs.RunSummary plus what the assignment asks about."""

    summary: runs.RunSummary
    design: str  # the line, or the named model
    params: int | None
    last3: list[float]  # test accuracy of the last (up to) three epochs
    at_target: int  # epochs with test accuracy >= 99.4 %
    seconds: float | None  # the trainer's own time for the run
    epochs: list[dict]  # the epoch events, for the comparison chart


# run id -> (events.jsonl size, row): a run that has not moved on is not read again (a finished run's size
# never changes); one entry per run, replaced as a running run grows. Rows do not depend on who looks:
# runs.history(viewer) decides which runs a viewer gets.
_history_cache: dict[str, tuple[int, HistoryRow]] = {}


def history_row(summary: runs.RunSummary, viewer: runs.Viewer) -> HistoryRow:
    """The row for one of runs.history's summaries; a damaged folder is a row of dashes whose status says
    why ("unreadable: <why>")."""
    if summary.status == runs.UNREADABLE:
        return HistoryRow(summary, DASH, None, [], 0, None, [])
    events = runs.run_dir(summary.id) / "events.jsonl"
    size = events.stat().st_size if events.exists() else 0
    cached_size, cached = _history_cache.get(summary.id, (None, None))
    if cached is not None and cached_size == size and cached.summary == summary:
        return cached
    progress = runs.load_progress(summary.id)
    config = runs.read_run(summary.id, viewer).config
    preset = arch.PRESETS.get(config.model)
    design = config.arch or (preset.line if preset else None) or config.model
    accuracies = progress.test_accuracies()
    seconds = (progress.end or {}).get("seconds")
    if not isinstance(seconds, int | float):
        seconds = sum(
            e.get("seconds", 0) for e in progress.epochs if isinstance(e.get("seconds"), int | float)
        )
    params = (progress.start or {}).get("params")
    row = HistoryRow(summary, design, params if isinstance(params, int) else None, accuracies[-3:],
                     sum(a >= arch.TARGET_ACCURACY for a in accuracies), seconds or None, progress.epochs)  # fmt: skip
    _history_cache[summary.id] = (size, row)
    return row


def history_rows(viewer: runs.Viewer) -> dict[str, HistoryRow]:
    """id -> history row of every run the viewer may see, newest first; a run pruned by another tab since
    it was listed is left out, not an error."""
    rows = {}
    for summary in runs.history(viewer):
        try:
            rows[summary.id] = history_row(summary, viewer)
        except (runs.RunError, OSError):
            continue
    return rows


def history_table(rows: list[HistoryRow]) -> pd.DataFrame:
    """Every cell text: a dash where a run has no number yet, never "None" or "nan"."""
    return pd.DataFrame(
        {
            "run": [r.summary.id for r in rows],
            "status": [r.summary.label for r in rows],  # "unreadable: <why>" for a damaged folder
            "design": [r.design for r in rows],
            "parameters": [DASH if r.params is None else f"{r.params:,}" for r in rows],
            "epochs": [f"{r.summary.epochs_done} / {r.summary.epochs}" for r in rows],
            "best test accuracy (%)": [percent(r.summary.best_test_acc) for r in rows],
            "final test accuracy (%)": [percent(r.summary.final_test_acc) for r in rows],
            "last 3 epochs (%)": [" / ".join(percent(a) for a in r.last3) or DASH for r in rows],
            f"epochs ≥ {arch.TARGET_ACCURACY} %": [r.at_target for r in rows],
            "time (m:ss)": [format_seconds(r.seconds) for r in rows],
            "started": [format_started(r.summary.started_at) for r in rows],
        }
    )


def history(rows: list[HistoryRow]) -> None:
    st.dataframe(history_table(rows), hide_index=True)


def compare(rows: list[HistoryRow]) -> None:
    with_epochs = [r.summary.id for r in rows if r.epochs]
    if len(with_epochs) < 2:
        st.caption("Once two runs have finished an epoch, their curves can be compared here.")
        return
    chosen = st.multiselect("Compare runs", with_epochs, default=with_epochs[:2])
    if chosen:
        by_id = {r.summary.id: r for r in rows}
        curves = {run_id: by_id[run_id].epochs for run_id in chosen}
        epochs = max(len(c) for c in curves.values())
        st.plotly_chart(accuracy_chart(curves, title="Test accuracy per epoch", epochs=epochs), key="compare")
