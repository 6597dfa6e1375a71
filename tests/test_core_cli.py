"""python -m backprop_core as a user runs it: output format, flags, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM_HEADER = (
    "t1,t2,i1,i2,w1,w2,w3,w4,h1,a_h1,h2,a_h2,w5,w6,w7,w8,o1,a_o1,o2,a_o2,E1,E2,E_total,"
    "dE_dw1,dE_dw2,dE_dw3,dE_dw4,dE_dw5,dE_dw6,dE_dw7,dE_dw8"
)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backprop_core", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_table_as_csv() -> None:
    result = run_cli("table", "--lr", "1.0", "--steps", "100", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.stdout.splitlines()[0] == CLASSROOM_HEADER
    assert len(rows) == 101
    assert float(rows[0]["E_total"]) == 0.014181377937891659
    assert float(rows[100]["E_total"]) < float(rows[0]["E_total"])


def test_table_as_text_by_default() -> None:
    result = run_cli("table", "--steps", "2")
    assert result.returncode == 0
    assert "E_total" in result.stdout and "dE_dw8" in result.stdout and "," not in result.stdout


def test_flags_set_config_fields() -> None:
    result = run_cli(
        "table", "--steps", "0", "--format", "csv", "--t1", "0.01", "--t2", "0.99", "--biases", "--b1", "0.35",
        "--b2", "0.6",
    )  # fmt: skip
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert float(row["E_total"]) == pytest.approx(0.298371109, abs=5e-10)  # Mazur's published figure


def test_every_activation_is_accepted() -> None:
    outputs = {
        a: run_cli("table", "--steps", "1", "--format", "csv", "--activation", a) for a in ("tanh", "relu")
    }
    assert all(r.returncode == 0 for r in outputs.values())
    assert outputs["tanh"].stdout != outputs["relu"].stdout


@pytest.mark.parametrize(
    "args",
    [
        ["table", "--lr", "abc"],
        ["table", "--lr", "nan"],
        ["table", "--lr", "inf"],
        ["table", "--w3", "NaN"],
        ["table", "--steps", "-1"],
        ["table", "--steps", "100001"],
        ["table", "--steps", "1.5"],
        ["table", "--activation", "softmax"],
        ["table", "--lr", "-0.5"],
        ["table", "--lr", "1e7"],
        ["sweep", "--lrs", "0.1,abc"],
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_sweep_and_gradcheck_commands() -> None:
    sweep = run_cli("sweep", "--lrs", "0.1,2.0", "--steps", "1000", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(sweep.stdout)))
    assert [r["status"] for r in rows] == ["still falling", "converged"]
    check = run_cli("gradcheck", "--format", "csv")
    assert all(float(r["abs_diff"]) < 1e-9 for r in csv.DictReader(io.StringIO(check.stdout)))
