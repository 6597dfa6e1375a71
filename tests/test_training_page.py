"""The MNIST training page, driven with Streamlit's AppTest against the real trainer on a tiny subset.

Each test gets its own runs folder; BACKPROP_LAB_TINY_RUN=1 makes the page offer the 256-image subset, so
a one-epoch run takes seconds. A new AppTest instance is a new browser session: it has none of the first
one's session state, which is what a reload or a second tab has.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.processes import group_exists, process_exists
from training import runs, store
from training.owners import LOCAL

REPO = Path(__file__).resolve().parent.parent
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"
PAGE_TIMEOUT_S = 60  # the first run imports torch and builds the model summaries

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(), reason=f"MNIST files not found in {MNIST_DIR}"
)


@pytest.fixture
def runs_folder(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(folder))
    monkeypatch.setenv("MNIST_DIR", str(MNIST_DIR))
    monkeypatch.setenv(runs.TINY_RUN_ENV, "1")
    monkeypatch.delenv(runs.MAX_RUNS_ENV, raising=False)
    yield folder
    for run_id in store.list_ids(folder):  # whatever a failing test left running or queued
        try:
            runs.stop_run(run_id, LOCAL, folder, grace=2)
        except runs.RunError:
            continue


def open_page() -> AppTest:
    """A fresh session on the MNIST page, entered through app.py's navigation as a user would."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=PAGE_TIMEOUT_S)
    at.switch_page("app_pages/training.py")
    at.run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no {label!r} button; buttons: {[b.label for b in at.button]}"
    return matches[0]


def start_training(at: AppTest, epochs: int) -> None:
    [epochs_input] = [n for n in at.number_input if n.label == "Epochs"]
    epochs_input.set_value(epochs)
    button(at, "Start training").click()
    at.run()
    assert not at.exception, at.exception


def page_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.code]
    parts += [e.value for e in (*at.error, *at.warning, *at.info)]
    return "\n".join(str(p) for p in parts)


def shown_status(at: AppTest, run_id: str) -> str | None:
    """The status word the page shows beside the run's id: "**Run `<id>`**: :color[**<status>**]"."""
    for markdown in at.markdown:
        if f"Run `{run_id}`" in markdown.value:
            found = re.search(r"\[\*\*([^*]+)\*\*\]", markdown.value)
            return found and found.group(1)
    return None


def wait_for_status(at: AppTest, run_id: str, status: str, timeout: float = 90) -> None:
    """Rerun the page (as its live fragment would) until it shows `status` for the run."""
    deadline = time.monotonic() + timeout
    while shown_status(at, run_id) != status:
        assert time.monotonic() < deadline, f"no {status!r} after {timeout} s:\n{page_text(at)}"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception


def only_run(folder: Path) -> str:
    [run_id] = store.list_ids(folder)
    return run_id


def trainer_pid(folder: Path, run_id: str) -> int:
    """The trainer's pid from process.json, read as plain JSON; waits for the trainer to be recorded."""
    path = folder / run_id / "process.json"
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, "the trainer was never recorded"
        time.sleep(0.1)
    return json.loads(path.read_text())["pid"]


def history_row(at: AppTest, run_id: str) -> dict:
    table = at.dataframe[-1].value
    return table.set_index("run").loc[run_id].to_dict()


@needs_mnist
@pytest.mark.slow  # a real trainer process
def test_a_tiny_run_trains_and_a_new_session_finds_it_with_its_accuracy(runs_folder):
    at = open_page()
    assert at.title[0].value == "MNIST training"
    start_training(at, epochs=1)
    run_id = only_run(runs_folder)
    assert f"Run `{run_id}`" in page_text(at)

    # A second tab (a new session) opened while it trains finds the same run.
    second_tab = open_page()
    assert shown_status(second_tab, run_id) in (runs.RUNNING, runs.DONE)

    wait_for_status(at, run_id, runs.DONE)
    epochs = [json.loads(line) for line in (runs_folder / run_id / "events.jsonl").read_text().splitlines()]
    test_acc = [e["test_acc"] for e in epochs if e["event"] == "epoch"]
    assert len(test_acc) == 1  # one epoch, as asked
    assert float(history_row(at, run_id)["final test accuracy (%)"]) == pytest.approx(test_acc[-1], abs=0.01)
    assert (runs_folder / run_id / "best.pt").is_file()

    # After the run: a reload finds it, done, with the same accuracy in its history row.
    reloaded = open_page()
    assert shown_status(reloaded, run_id) == runs.DONE
    assert float(history_row(reloaded, run_id)["final test accuracy (%)"]) == pytest.approx(
        test_acc[-1], abs=0.01
    )
    downloads = [b.label for b in reloaded.get("download_button")]
    assert downloads == ["Download log", "Download checkpoint (best.pt)"]


@needs_mnist
@pytest.mark.slow  # a real trainer process
def test_two_finished_runs_can_be_compared(runs_folder):
    at = open_page()
    finished = []
    for _ in range(2):
        start_training(at, epochs=1)
        finished.append(store.list_ids(runs_folder)[0])
        wait_for_status(at, finished[-1], runs.DONE)
    at.run()  # the page's own full rerun when a run ends (AppTest reruns only when asked)
    [chooser] = [m for m in at.multiselect if m.label == "Compare runs"]
    assert sorted(chooser.value) == sorted(finished)
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    [comparison] = [f for f in figures if f["layout"]["title"]["text"] == "Test accuracy per epoch"]
    assert sorted(trace["name"] for trace in comparison["data"]) == sorted(f"{i}: test" for i in finished)
    for trace, run_id in zip(comparison["data"], chooser.value, strict=True):
        history = [
            json.loads(line) for line in (runs_folder / run_id / "events.jsonl").read_text().splitlines()
        ]
        assert trace["y"] == [e["test_acc"] for e in history if e["event"] == "epoch"]


@needs_mnist
@pytest.mark.slow  # a real trainer process
def test_a_second_start_is_queued_can_be_cancelled_and_stop_ends_the_run(runs_folder):
    at = open_page()
    start_training(at, epochs=50)  # long enough to still be running when the second tab clicks
    run_id = only_run(runs_folder)
    pid = trainer_pid(runs_folder, run_id)

    other_tab = open_page()
    start_training(other_tab, epochs=1)
    queued = store.list_ids(runs_folder)[0]
    assert queued != run_id
    assert any("your run is queued, position 1 of 1" in i.value for i in other_tab.info)
    assert shown_status(other_tab, queued) == "queued, position 1 of 1"
    assert not (runs_folder / queued / "process.json").exists()  # waiting: no second trainer launched
    # A second queued run of the same person is refused: one waiting run each.
    start_training(other_tab, epochs=1)
    assert any("You already have a run waiting" in w.value for w in other_tab.warning)
    button(other_tab, "Cancel").click()
    other_tab.run()
    assert runs.run_status(queued, runs_folder) == runs.CANCELLED

    wait_for_status(at, run_id, runs.RUNNING)
    button(at, "Stop").click()
    at.run()
    wait_for_status(at, run_id, runs.STOPPED)
    assert any("Stopped on request" in i.value for i in at.info)
    assert not group_exists(pid)  # the trainer and anything it started are gone
    assert not process_exists(pid)  # and reaped: no zombie
    assert "Stop" not in [b.label for b in at.button]
    assert not (runs_folder / queued / "process.json").exists()  # the cancelled run never started


@needs_mnist
@pytest.mark.slow  # a real trainer process
def test_a_killed_trainer_shows_failed_with_its_last_lines(runs_folder):
    at = open_page()
    start_training(at, epochs=50)
    run_id = only_run(runs_folder)
    wait_for_status(at, run_id, runs.RUNNING)
    events = runs_folder / run_id / "events.jsonl"
    deadline = time.monotonic() + 60
    while not events.exists() or '"event": "batch"' not in events.read_text():  # let it print something
        assert time.monotonic() < deadline
        time.sleep(0.2)

    os.killpg(trainer_pid(runs_folder, run_id), signal.SIGKILL)  # as the OOM killer would
    wait_for_status(at, run_id, runs.FAILED)
    assert any("killed by SIGKILL" in e.value for e in at.error)
    assert "epoch 1/50 batch" in page_text(at)  # the last log lines are on the page


@needs_mnist
@pytest.mark.slow  # a real trainer process
def test_a_corrupt_data_set_fails_with_the_trainers_error(runs_folder, tmp_path, monkeypatch):
    broken = tmp_path / "broken-mnist"
    broken.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):  # fmt: skip
        (broken / name).write_bytes(b"not an IDX file at all")
    monkeypatch.setenv("MNIST_DIR", str(broken))

    at = open_page()
    start_training(at, epochs=1)
    wait_for_status(at, only_run(runs_folder), runs.FAILED)
    assert any(e.value.startswith("Training failed") for e in at.error)
    assert any("not an MNIST file" in c.value for c in at.code)  # the trainer's own words, as text


def test_a_missing_data_set_says_where_to_put_the_files(runs_folder, tmp_path, monkeypatch):
    empty = tmp_path / "no-mnist-here"
    monkeypatch.setenv("MNIST_DIR", str(empty))
    at = open_page()
    [error] = at.error
    assert str(empty) in error.value
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):  # fmt: skip
        assert name in error.value
    assert button(at, "Start training").disabled
    assert store.list_ids(runs_folder) == []


def test_a_bad_run_id_in_the_address_is_refused_politely(runs_folder):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=PAGE_TIMEOUT_S)
    at.switch_page("app_pages/training.py")
    at.query_params["run"] = "../../etc/passwd"
    (runs_folder / runs.new_run_id()).mkdir(parents=True)  # a folder without run.json is not a run
    at.run()
    assert not at.exception, at.exception
    assert any("Ignoring the run in the address: not a run id" in w.value for w in at.warning)
    # With no runs at all there is nothing to watch, and the bad id was never turned into a path.
    assert not any("Run `" in m.value for m in at.markdown)


def test_before_launch_the_page_shows_each_presets_table_and_the_devices(runs_folder):
    from training.models import MODELS

    at = open_page()
    for name in ("lean", "classroom"):
        button(at, name).click()
        at.run()
        weights = sum(p.numel() for p in MODELS[name]().parameters())  # torch's own count, the oracle
        layers = at.dataframe[0].value
        assert layers["parameters"].sum() == weights
        assert f"**{weights:,} parameters**" in [m.value for m in at.markdown]
        assert layers["receptive field r"].is_monotonic_increasing  # each layer sees at least the last's
        assert layers["receptive field r"].iloc[0] == 3  # a first 3x3 conv sees 3 pixels a side
        assert at.query_params["model"] == name
        assert "nan" not in layers.to_string() and "3.0" not in layers.to_string()

    device = at.radio[0]
    assert device.options == ["auto (CPU)", "CPU", "CUDA"] or "GPU:" in " ".join(c.value for c in at.caption)
    if device.options[0] == "auto (CPU)":  # no GPU here: asking for CUDA is refused before anything starts
        assert any("No CUDA GPU available" in c.value for c in at.caption)
        device.set_value("cuda")
        button(at, "Start training").click()
        at.run()
        assert any("CUDA is not available" in e.value for e in at.error)
        assert store.list_ids(runs_folder) == []


def test_damaged_run_folders_are_history_rows_and_break_nothing(runs_folder):
    """Hand-made run folders: one whole finished run and one of each kind of damage. The page must show
    the whole one as usual and each damaged one as "unreadable: <why>", with no exception for anyone."""
    import time as clock

    from training.config import TrainConfig

    def folder(run_json: bytes | None, **files: bytes) -> str:
        clock.sleep(0.002)
        run_id = runs.new_run_id()
        path = runs_folder / run_id
        path.mkdir(parents=True)
        if run_json is not None:
            (path / "run.json").write_bytes(run_json.replace(b"@ID@", run_id.encode()))
        for name, data in files.items():
            (path / name.replace("_", ".")).write_bytes(data)
        return run_id

    whole = runs.RunRecord("@ID@", "local", "you", TrainConfig(epochs=1), ("python",), clock.time(), "local")
    good_json = json.dumps(whole.to_json()).encode()
    finished = {
        "launch_json": b'{"at_unix": 1}',
        "process_json": b'{"pid": 1, "create_time": 0, "started_unix": 1}',
    }
    good = folder(
        good_json,
        **finished,
        events_jsonl=b'{"event": "epoch", "epoch": 1, "test_acc": 97.25}\n{"event": "end", "status": "done"}\n',
    )
    damaged = {
        folder(b'{"id": "@ID@", "config": {'): "unreadable: run.json is not valid JSON",
        folder(good_json.replace(b'"epochs": 1', b'"epochs": "many"')): "unreadable: run.json: config: epochs",
        folder(None): "unreadable: run.json is missing",
        folder(good_json, launch_json=b'{"at_unix": 1}', process_json=b'{"pid": "x"}'): "unreadable: process.json",
        folder(good_json, **finished, events_jsonl=b'{"event": "epoch", "epoch": "3", "test_acc": 90}\n{"event": "ep'): "failed; unreadable: events.jsonl line 1",
    }  # fmt: skip
    at = open_page()
    table = at.dataframe[-1].value.set_index("run")
    assert table.loc[good, "status"] == "done"
    assert float(table.loc[good, "final test accuracy (%)"]) == 97.25  # every cell is text (no "nan")
    for run_id, why in damaged.items():
        assert table.loc[run_id, "status"].startswith(why), table.loc[run_id, "status"]
    # A second session, and one watching a damaged run by its address, are just as whole.
    other = AppTest.from_file(str(REPO / "app.py"), default_timeout=PAGE_TIMEOUT_S)
    other.switch_page("app_pages/training.py")
    other.query_params["run"] = next(iter(damaged))
    other.run()
    assert not other.exception, other.exception


@needs_mnist
def test_a_read_only_runs_folder_is_one_sentence_on_the_page(runs_folder):
    """Start on a runs folder mounted read-only (a bind mount in a private mount namespace: root ignores
    chmod, so only a real read-only mount is an honest test). The page says one sentence and goes on."""
    import subprocess
    import sys

    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -m is not permitted here (needs CAP_SYS_ADMIN)")
    runs_folder.mkdir()
    script = f"""
import json
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(REPO / "app.py")!r}, default_timeout={PAGE_TIMEOUT_S})
at.switch_page("app_pages/training.py")
at.run()
[start] = [b for b in at.button if b.label == "Start training"]
start.click()
at.run()
print(json.dumps({{"exception": [str(e.value) for e in at.exception], "errors": [e.value for e in at.error]}}))
"""
    shell = 'mount --bind -o ro "$0" "$0" && exec "$1" -c "$2"'
    result = subprocess.run(["unshare", "-m", "sh", "-c", shell, str(runs_folder), sys.executable, script],
                            cwd=REPO, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["exception"] == []
    [error] = shown["errors"]
    assert error.startswith(
        f"Not started: The runs folder {runs_folder} cannot be written (Read-only file system)"
    )
    assert ".lock" not in error and "Errno" not in error


def test_the_line_lives_in_the_url_and_an_invalid_one_is_explained_and_not_trained(runs_folder):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=PAGE_TIMEOUT_S)
    at.switch_page("app_pages/training.py")
    at.query_params["arch"] = "c8 m c16k1 c16 g o"
    at.run()
    assert at.text_input[0].value == "c8 m c16k1 c16 g o"
    table = at.dataframe[0].value
    assert list(table["receptive field r"]) == [3, 4, 4, 8, 28, 28]  # worked by hand in test_training_arch
    checklist = [m.value for m in at.markdown if "parameters <" in m.value][0]
    assert (
        "✗ Dropout used: **0 layers**" in checklist
        and "✓ last layer's receptive field covers 28×28: **28×28**" in checklist
    )

    at.text_input[0].set_value("c8 <b>x</b> g o")
    at.run()
    assert not at.exception
    assert "token 2 '<b>x</b>': not a layer; use c16, c16k5p2, d0.05, m, g or o" in [c.value for c in at.code]
    assert at.query_params["arch"] == "c8 <b>x</b> g o"
    assert button(at, "Start training").disabled
    assert not any("<b>" in m.value for m in at.markdown)  # user text never reaches Markdown


@needs_mnist
@pytest.mark.slow  # a real trainer process
def test_a_custom_line_from_the_page_trains_exactly_that_design(runs_folder):
    line = "c4 m c8 c8p1 d0.1 g o"
    at = open_page()
    at.text_input[0].set_value(line)
    at.run()
    start_training(at, epochs=1)
    run_id = only_run(runs_folder)
    wait_for_status(at, run_id, runs.DONE)
    record = runs.read_run(run_id, LOCAL, runs_folder)
    assert record.config.arch == line and "--arch" in record.command
    log = [json.loads(x) for x in (runs_folder / run_id / "events.jsonl").read_text().splitlines()]
    assert log[0]["arch"] == line
    assert log[0]["params"] == (9 * 4 + 8) + (4 * 8 * 9 + 16) + (8 * 8 * 9 + 16) + (8 * 10 + 10)  # by hand
    at.run()
    row = history_row(at, run_id)
    assert row["design"] == line and row["parameters"] == f"{log[0]['params']:,}"
    assert row["started"].endswith("UTC") and "None" not in str(row)


def finished_run(folder: Path, owner: str, test_acc: float) -> str:
    """A hand-made run folder of a finished one-epoch run owned by `owner` (a Viewer.id)."""
    from training.config import TrainConfig

    time.sleep(0.002)  # run ids are stamped to the millisecond
    run_id = runs.new_run_id()
    path = folder / run_id
    path.mkdir(parents=True)
    record = runs.RunRecord(run_id, owner, owner, TrainConfig(epochs=1), ("python",), time.time(), "local")
    (path / "run.json").write_text(json.dumps(record.to_json()))
    (path / "launch.json").write_text('{"at_unix": 1}')
    (path / "process.json").write_text('{"pid": 1, "create_time": 0, "started_unix": 1}')
    (path / "events.jsonl").write_text(
        json.dumps({"event": "epoch", "epoch": 1, "test_acc": test_acc})
        + '\n{"event": "end", "status": "done"}\n'
    )
    return run_id


def test_a_logged_in_student_sees_and_reaches_only_their_own_runs(runs_folder, monkeypatch):
    """With login configured (lab/auth.py, whose viewer() is made to answer for a student),
    the page lists and watches only the student's own runs, and another's id in the address reads as no
    such run: its existence is not theirs to learn."""
    import sys
    import types

    import lab
    from training.owners import logged_in

    student = logged_in("ada@example.org", "Ada")
    try:  # the real lab/auth.py, with its viewer() answering for a logged-in student
        import lab.auth as auth
    except ModuleNotFoundError:  # a branch without login: a stand-in module where lab/auth.py would be
        auth = types.ModuleType("lab.auth")
        monkeypatch.setitem(sys.modules, "lab.auth", auth)
        monkeypatch.setattr(lab, "auth", auth, raising=False)
    monkeypatch.setattr(auth, "viewer", lambda: student, raising=False)
    theirs = finished_run(runs_folder, "bob@example.org", 91.5)
    mine = finished_run(runs_folder, student.id, 97.25)

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=PAGE_TIMEOUT_S)
    at.switch_page("app_pages/training.py")
    at.query_params["run"] = theirs
    at.run()
    assert not at.exception, at.exception
    assert list(at.dataframe[-1].value["run"]) == [mine]
    assert any(f"No run {theirs} here" in w.value for w in at.warning)
    assert shown_status(at, mine) == runs.DONE and shown_status(at, theirs) is None
    assert "91.5" not in page_text(at)
