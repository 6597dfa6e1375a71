"""The MNIST page's formats and charts, as a new user saw them go wrong: "nan", "3.0", "None", raw
timestamps, an empty chart from -1 to 4, a checkpoint promised after a stop that left none."""

from __future__ import annotations

import json

from lab import training_charts, training_views
from training import arch, runs


def test_timestamps_are_shown_as_a_date_and_a_time_in_utc():
    assert training_views.format_started("2026-12-01T08:28:17+0000") == "2026-12-01 08:28 UTC"
    assert training_views.format_started("2026-12-01T09:28:17+0100") == "2026-12-01 08:28 UTC"
    assert training_views.format_started("") == training_views.DASH
    assert training_views.format_started(None) == training_views.DASH


def test_history_of_a_run_without_epochs_shows_dashes_never_none():
    summary = runs.RunSummary(id="20261201-082817-abcdef", status=runs.FAILED, model="classroom", epochs=15,
                              epochs_done=0, final_test_acc=None, best_test_acc=None, started_at="")  # fmt: skip
    row = training_views.HistoryRow(summary, "c8 g o", None, [], 0, None, [])
    text = training_views.history_table([row]).to_string()
    assert "None" not in text and "nan" not in text
    table = training_views.history_table([row]).iloc[0]
    assert table["best test accuracy (%)"] == table["parameters"] == table["time (m:ss)"] == "–"


def test_layer_table_cells_are_whole_numbers_or_blank():
    table = training_views.design_table(arch.parse(arch.PRESETS["classroom"].line))
    dropout = table[table["token"] == "d0.05"].iloc[0]
    assert dropout["kernel k"] == dropout["stride s"] == dropout["padding p"] == ""
    assert list(table["kernel k"][:2]) == ["3", "3"]  # not "3.0"
    assert "nan" not in table.to_string()


def test_an_empty_accuracy_chart_runs_over_the_runs_epochs_and_0_to_100_percent():
    fig = training_charts.accuracy_chart({"run": []}, epochs=15)
    assert tuple(fig.layout.xaxis.range) == (0, 15)
    assert tuple(fig.layout.yaxis.range) == (0, 100)
    full = training_charts.accuracy_chart({"run": [{"epoch": 1, "test_acc": 98.0, "train_acc": 97.0}]})
    assert full.layout.xaxis.range is None  # with data, plotly fits the axes


def test_a_stop_before_the_first_epoch_does_not_promise_a_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(tmp_path))
    run_id = runs.new_run_id()
    (tmp_path / run_id).mkdir()
    (tmp_path / run_id / "run.json").write_text(json.dumps({"config": {}}))
    assert "no checkpoint" in training_views.checkpoint_note(run_id)
    (tmp_path / run_id / "best.pt").write_bytes(b"weights")
    assert "is kept" in training_views.checkpoint_note(run_id)


def test_a_queued_run_says_its_place_in_the_queue(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(runs, "queue_position", lambda run_id: (2, 5) if run_id == "waiting" else None)
    assert training_views.status_words("waiting", runs.QUEUED) == "queued, position 2 of 5"
    assert training_views.status_words("done-one", runs.DONE) == "done"
