"""The xlsx export is a live worksheet: LibreOffice's recalculation of it agrees with backprop_core.

openpyxl writes formulas without values, so the oracle is LibreOffice headless: it computes every
formula cell of the exported file, and each value must match what backprop_core computes for the
same row within

    |sheet - engine| <= 1e-12 * max(|sheet|, |engine|) + 1e-15

(relative 1e-12, with an absolute floor of 1e-15 for values near 0; LibreOffice stores 15 significant
digits, about 5e-15 relative). All workbooks are recalculated in one soffice run, since each start costs
seconds.

Measured beyond these cases: at η = 2 after about 500 steps o1 and o2 fall to ~1e-15, the cancellation
of two terms near 0.3, and there LibreOffice's and numpy's roundings differ by up to 6.5e-15 absolute;
every other column of a 1,000-step sheet still agrees to the bound above.
"""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

from backprop_core import ACTIVATIONS, CLASSROOM_LRS, COLUMNS, Config, ConfigError, build_network, run_steps
from backprop_core.expr import plain_symbol
from exports.__main__ import main as exports_main
from exports.xlsx import (
    BIAS_CELLS,
    ETA_CELL,
    FIRST_ROW,
    HEADER_ROW,
    LETTER,
    STEP_LETTER,
    sheet_title,
    workbook_bytes,
)
from tests.recalc import RecalcError, recalculate_many

RELATIVE = 1e-12
ABSOLUTE_FLOOR = 1e-15
NO_SOFFICE = (
    "LibreOffice (soffice) is not installed; it is the oracle that recalculates the exported formulas"
)


def requires_soffice(test):
    return pytest.mark.soffice(pytest.mark.skipif(shutil.which("soffice") is None, reason=NO_SOFFICE)(test))


ACTIVATION_LR, ACTIVATION_STEPS = 0.5, 5
C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"  # the chart parts' XML namespace


def close(a: float, b: float) -> bool:
    return abs(a - b) <= RELATIVE * max(abs(a), abs(b)) + ABSOLUTE_FLOOR


def load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


# --------------------------------------------------------------------------------------------------
# Without LibreOffice: what the file holds


def test_table_cells_are_formulas_except_the_typed_in_inputs():
    book = load(workbook_bytes(Config(biases=True), [0.5], 3))
    ws = book[sheet_title(0.5)]
    leaves = set(build_network(True).leaves)
    for step in range(4):
        for name in COLUMNS:
            value = ws[f"{LETTER[name]}{FIRST_ROW + step}"].value
            if step == 0 and name in leaves:
                assert isinstance(value, float), (name, value)
            else:
                assert isinstance(value, str) and value.startswith("="), (step, name, value)
    # Updates read the sheet's own η through its name; the biases through absolute references.
    assert "eta" in ws[f"{LETTER['w1']}{FIRST_ROW + 1}"].value
    assert "$E$3" in ws[f"{LETTER['h1']}{FIRST_ROW}"].value
    assert ws.defined_names["eta"].attr_text == f"'{ws.title}'!$B$3"
    assert ws[f"{LETTER['dE_dw1']}{FIRST_ROW - 1}"].value == "∂E/∂w1"
    assert ws.freeze_panes == f"A{FIRST_ROW}"


def test_the_sheet_lays_out_its_columns_as_the_app_and_the_csv_do():
    from lab.worksheet import csv_bytes

    config = Config()
    ws = load(workbook_bytes(config, [0.5], 2))[sheet_title(0.5)]
    header = [cell.value for cell in ws[HEADER_ROW]]
    csv_header = csv_bytes(run_steps(config, 0.5, 2)).decode("utf-8-sig").splitlines()[0].split(",")
    assert header == csv_header and header[:3] == ["step", "t1", "t2"], (
        "the step first, then the sheet's columns"
    )
    assert [ws[f"A{FIRST_ROW + k}"].value for k in range(3)] == [0, 1, 2]


def test_charts_plot_e_total_of_every_sheet():
    """openpyxl reads charts back poorly, so read the chart parts of the file itself."""
    data = workbook_bytes(Config(), [0.1, 1.0, 2.0], 20)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        charts = [ElementTree.fromstring(archive.read(n)) for n in names]
    assert len(charts) == 3 + 1  # one per learning-rate sheet, and the summary's

    def series(chart) -> list[tuple[str, str]]:
        """(x reference, y reference) of each line."""
        return [(s.find(f"{C}xVal//{C}f").text, s.find(f"{C}yVal//{C}f").text) for s in chart.iter(f"{C}ser")]

    e_total, step = LETTER["E_total"], STEP_LETTER
    expected = {
        (
            f"'{sheet_title(lr)}'!${step}${FIRST_ROW}:${step}${FIRST_ROW + 20}",
            f"'{sheet_title(lr)}'!${e_total}${FIRST_ROW}:${e_total}${FIRST_ROW + 20}",
        )
        for lr in (0.1, 1.0, 2.0)
    }
    lines = [series(chart) for chart in charts]
    assert sorted(len(s) for s in lines) == [1, 1, 1, 3]
    assert set(max(lines, key=len)) == expected  # the summary: every learning rate in one chart
    assert {s[0] for s in lines if len(s) == 1} == expected  # and each sheet its own
    summary = max(charts, key=lambda chart: len(series(chart)))
    assert summary.find(f".//{C}valAx/{C}scaling/{C}logBase").get("val") == "10"


def test_derivation_sheet_lists_every_formula_with_its_sentence():
    config = Config(activation="relu", biases=True)
    ws = load(workbook_bytes(config, [0.5], 1))["Derivation"]
    rows = {row[1]: row for row in ws.iter_rows(min_row=5, values_only=True)}
    network = build_network(True)
    assert len(rows) == len(network.formulas)
    for formula in network.formulas:
        stage, _, short, full, why, latex = rows[plain_symbol(formula.name)]
        assert (stage, why) == (formula.stage, formula.why)
        assert latex == formula.expr.latex(ACTIVATIONS["relu"])
    # ∂E/∂w1 written out in full names no intermediate: everything from the forward pass and the leaves.
    full_w1 = rows["∂E/∂w1"][3]
    assert "δ" not in full_w1 and "∂E/∂a_h1" not in full_w1
    assert {"a_o1", "t1", "w5", "a_o2", "t2", "w7", "h1", "i1"} <= set(re.findall(r"[a-z]\w*", full_w1))


@pytest.mark.parametrize(
    ("lrs", "steps", "message"),
    [
        ([0.1] * 0, 10, "at least one learning rate"),
        (list(range(1, 12)), 10, "at most 10 learning rates"),
        ([0.1], 5001, "at most 5000 steps"),
        ([0.1, 0.1], 10, "only once"),
        ([0.0], 10, "greater than 0"),
        ([float("nan")], 10, "finite"),
        ([0.1], 2.5, "whole number"),
    ],
)
def test_bad_requests_get_one_line_errors(lrs, steps, message):
    with pytest.raises(ConfigError, match=message) as error:
        workbook_bytes(Config(), lrs, steps)
    assert "\n" not in str(error.value)


def test_cli_writes_the_workbook(tmp_path, capsys):
    out = tmp_path / "sheet.xlsx"
    argv = [
        "xlsx",
        "--lrs",
        "0.5,2",
        "--steps",
        "7",
        "--activation",
        "tanh",
        "--w1",
        "-0.3",
        "--out",
        str(out),
    ]
    assert exports_main(argv) == 0
    assert "wrote" in capsys.readouterr().out
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Summary", "Derivation", "LR 0.5", "LR 2"]
    ws = book["LR 2"]
    assert ws[f"{LETTER['w1']}{FIRST_ROW}"].value == -0.3
    assert ws[ETA_CELL].value == 2.0
    assert ws[f"{STEP_LETTER}{FIRST_ROW + 7}"].value == 7 and ws[f"A{FIRST_ROW + 8}"].value is None
    assert "TANH(" in ws[f"{LETTER['a_h1']}{FIRST_ROW}"].value


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{tmp}/sheet.xls"], "must end with .xlsx"),
        (["--out", "{tmp}/missing/sheet.xlsx"], "does not exist"),
        (["--out", "{tmp}/s.xlsx", "--lrs", "0.1,abc"], "not a number"),
        (["--out", "{tmp}/s.xlsx", "--steps", "5001"], "at most 5000 steps"),
        (["--out", "{tmp}/s.xlsx", "--lrs", ",".join(["0.1"] * 2)], "only once"),
        (["--out", "{tmp}/s.xlsx", "--w1", "1e9"], "w1 must be between"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        exports_main(["xlsx", *(a.format(tmp=tmp_path) for a in args)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())  # nothing written, no half file left behind


def test_recalc_says_when_soffice_is_missing(tmp_path, monkeypatch):
    (tmp_path / "a.xlsx").write_bytes(workbook_bytes(Config(), [0.5], 1))
    (tmp_path / "out").mkdir()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RecalcError, match="soffice .* not installed"):
        recalculate_many([tmp_path / "a.xlsx"], tmp_path / "out")


def test_recalc_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(RecalcError, match="not an .xlsx"):
        recalculate_many([tmp_path / "missing.xlsx"], tmp_path)
    (tmp_path / "a.xlsx").write_bytes(workbook_bytes(Config(), [0.5], 1))
    with pytest.raises(RecalcError, match="must differ"):
        recalculate_many([tmp_path / "a.xlsx"], tmp_path)


def live_processes_naming(text: str) -> list[str]:
    """Command lines of the running (not zombie) processes whose arguments contain `text`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # exited while we looked
        if state not in ("Z", "X") and text in command:
            found.append(command)
    return found


@requires_soffice
def test_recalc_timeout_leaves_no_soffice_running(tmp_path):
    """soffice forks soffice.bin; a timeout must end that too, or it keeps running and writing."""
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "in" / "a.xlsx").write_bytes(workbook_bytes(Config(), [0.5], 1))
    try:
        recalculate_many([tmp_path / "in" / "a.xlsx"], tmp_path / "out", timeout_s=0.5)
    except RecalcError as error:
        assert "did not finish within" in str(error)
    else:
        pytest.skip("soffice finished within 0.5 s here, so there was no timeout to test")
    assert live_processes_naming(str(tmp_path / "out")) == []


# --------------------------------------------------------------------------------------------------
# With LibreOffice: the formulas compute what backprop_core computes


def _activation_case(activation: str, biases: bool) -> str:
    return f"{activation}-{'biases' if biases else 'plain'}"


LIVE_CONFIG = Config(activation="tanh", biases=True)
LIVE_EDIT = {"eta": 0.9, "w1": -0.3, "w6": 0.8, "b1": 0.1}  # what the student types into the file
LIVE_STEPS = 12


def _scenarios() -> dict[str, tuple[bytes, Config, list[float], int]]:
    """name -> (exported bytes, config, learning rates, steps) of every workbook the tests recalc."""
    cases = {"classroom": (Config(), list(CLASSROOM_LRS), 100)}
    for activation in ("sigmoid", "tanh", "relu", "linear"):
        for biases in (False, True):
            config = Config(activation=activation, biases=biases)
            cases[_activation_case(activation, biases)] = (config, [ACTIVATION_LR], ACTIVATION_STEPS)
    cases["diverged"] = (Config(activation="linear"), [0.1, 1e6], 50)
    cases["live"] = (LIVE_CONFIG, [0.5], LIVE_STEPS)
    cases["stale"] = (Config(), [0.5], 3)
    return {name: (workbook_bytes(c, lrs, steps), c, lrs, steps) for name, (c, lrs, steps) in cases.items()}


def _edit_like_a_student(data: bytes, path: Path) -> None:
    """Change η, two starting weights and b1 in the exported file, as a student would in Excel."""
    book = load(data)
    ws = book[sheet_title(0.5)]
    ws[ETA_CELL] = LIVE_EDIT["eta"]
    ws[f"{LETTER['w1']}{FIRST_ROW}"] = LIVE_EDIT["w1"]
    ws[f"{LETTER['w6']}{FIRST_ROW}"] = LIVE_EDIT["w6"]
    ws[BIAS_CELLS["b1"]] = LIVE_EDIT["b1"]
    book.save(path)


def _with_stale_values(data: bytes, path: Path) -> None:
    """The workbook with a wrong cached value (999) behind every formula, like a file saved before an edit."""
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            part = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                part = part.replace(b"</f>", b"</f><v>999</v>")
            target.writestr(item, part)


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory):
    """name -> (exported workbook with formulas, recalculated workbook with values)."""
    if shutil.which("soffice") is None:
        pytest.skip(NO_SOFFICE)
    exported = tmp_path_factory.mktemp("exported")
    out = tmp_path_factory.mktemp("recalculated")
    scenarios = _scenarios()
    paths = []
    for name, (data, *_) in scenarios.items():
        path = exported / f"{name}.xlsx"
        if name == "live":
            _edit_like_a_student(data, path)
        elif name == "stale":
            _with_stale_values(data, path)
        else:
            path.write_bytes(data)
        paths.append(path)
    copies = recalculate_many(paths, out)
    return {
        name: (openpyxl.load_workbook(path), openpyxl.load_workbook(copy, data_only=True))
        for name, path, copy in zip(scenarios, paths, copies, strict=True)
    }


def check_against_engine(
    formulas_book, values_book, config: Config, lrs: list[float], steps: int, titles=None
) -> int:
    """Every formula cell of the workbook equals backprop_core's value; returns how many were compared.

    titles: the sheets of the learning rates, by default their exported titles.
    """
    checked: set[tuple[str, str]] = set()

    def compare(sheet: str, coordinate: str, expected: float) -> None:
        got = values_book[sheet][coordinate].value
        assert isinstance(got, int | float), f"{sheet}!{coordinate} = {got!r} (formula error?)"
        assert close(got, expected), f"{sheet}!{coordinate}: LibreOffice {got!r}, backprop_core {expected!r}"
        checked.add((sheet, coordinate))

    for i, (lr, title) in enumerate(zip(lrs, titles or [sheet_title(lr) for lr in lrs], strict=True)):
        table = run_steps(config, lr, steps)
        assert values_book[title][f"{STEP_LETTER}{FIRST_ROW + len(table) - 1}"].value == len(table) - 1
        assert values_book[title][f"A{FIRST_ROW + len(table)}"].value is None  # no row beyond the engine's
        for step, values in enumerate(table.itertuples(index=False)):
            for name, expected in zip(COLUMNS, values, strict=True):
                coordinate = f"{LETTER[name]}{FIRST_ROW + step}"
                if str(formulas_book[title][coordinate].value).startswith("="):
                    compare(title, coordinate, expected)
        summary_row = 5 + i
        compare("Summary", f"A{summary_row}", lr)
        compare("Summary", f"D{summary_row}", table["E_total"].iloc[0])
        compare("Summary", f"E{summary_row}", table["E_total"].iloc[-1])

    every_formula = {
        (ws.title, cell.coordinate)
        for ws in formulas_book
        for row in ws.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value.startswith("=")
    }
    assert every_formula == checked, sorted(every_formula - checked)[:5]
    return len(checked)


@requires_soffice
def test_classroom_sheet_recalculates_to_the_engine(recalculated):
    formulas_book, values_book = recalculated["classroom"]
    count = check_against_engine(formulas_book, values_book, Config(), list(CLASSROOM_LRS), 100)
    assert count == len(CLASSROOM_LRS) * (101 * len(COLUMNS) - 12 + 3)
    # The course's published first error, computed by LibreOffice from the exported formulas.
    assert close(values_book["LR 0.1"][f"{LETTER['E_total']}{FIRST_ROW}"].value, 0.014181377937891659)


@requires_soffice
@pytest.mark.parametrize("biases", [False, True], ids=["no-biases", "biases"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_every_activation_recalculates_to_the_engine(recalculated, activation, biases):
    formulas_book, values_book = recalculated[_activation_case(activation, biases)]
    config = Config(activation=activation, biases=biases)
    check_against_engine(formulas_book, values_book, config, [ACTIVATION_LR], ACTIVATION_STEPS)


@requires_soffice
def test_changing_eta_and_weights_in_the_file_recomputes_the_whole_sheet(recalculated):
    formulas_book, values_book = recalculated["live"]
    edited = Config(
        **{**LIVE_CONFIG.to_dict(), "w1": LIVE_EDIT["w1"], "w6": LIVE_EDIT["w6"], "b1": LIVE_EDIT["b1"]}
    )
    # The sheet keeps its exported title; every formula on it and on the summary follows the edit.
    check_against_engine(formulas_book, values_book, edited, [LIVE_EDIT["eta"]], LIVE_STEPS, ["LR 0.5"])
    # The edit really moved the numbers: the exported run ends far from the edited one.
    before = run_steps(LIVE_CONFIG, 0.5, LIVE_STEPS)["E_total"].iloc[-1]
    after = values_book["Summary"]["E5"].value
    assert not close(before, after)


@requires_soffice
def test_diverged_learning_rate_stops_at_the_engines_last_finite_row(recalculated):
    formulas_book, values_book = recalculated["diverged"]
    config = Config(activation="linear")
    table = run_steps(config, 1e6, 50)
    k = table.attrs["diverged_at"]
    assert 0 < k < 50 and len(table) == k
    check_against_engine(formulas_book, values_book, config, [0.1, 1e6], 50)
    note = values_book[sheet_title(1e6)]["A4"].value
    assert f"diverged at row {k}" in note
    assert f"diverged at row {k}" in values_book["Summary"]["F6"].value
    assert values_book["Summary"]["F5"].value is None  # the healthy learning rate has no note


@requires_soffice
def test_recalculation_ignores_stale_cached_values(recalculated):
    """recalc.py makes LibreOffice recompute every formula, not trust the values a file carries."""
    formulas_book, values_book = recalculated["stale"]
    assert check_against_engine(formulas_book, values_book, Config(), [0.5], 3) > 100
