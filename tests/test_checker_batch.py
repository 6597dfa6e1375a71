"""A whole class at once, and hostile uploads that must cost little (issue 11)."""

import csv
import io
import time
import zipfile

import openpyxl
import pytest

from backprop_core import Config
from exports.xlsx import FIRST_ROW, LETTER, workbook_bytes
from sheetcheck import batch, cli
from sheetcheck.check import TooLarge, WorkbookError, check_workbook

SHEET = "LR 0.5"


@pytest.fixture(scope="module")
def good() -> bytes:
    return workbook_bytes(Config(), [0.5], 3)


def edited(data: bytes, cells: dict[str, object], sheet: str = SHEET) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for address, value in cells.items():
        wb[sheet][address] = value
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def a_h1_in_dE_dw3(good: bytes) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(good))
    ws = wb[SHEET]
    for row in range(FIRST_ROW, ws.max_row + 1):
        cell = ws[f"{LETTER['dE_dw3']}{row}"]
        cell.value = cell.value.replace(f"{LETTER['a_h2']}{row}", f"{LETTER['a_h1']}{row}")
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# A class at once


def test_files_folders_and_zips_one_line_each_a_report_row_per_wrong_column(tmp_path, capsys, good):
    folder = tmp_path / "class"
    (folder / "late").mkdir(parents=True)
    (folder / "alice.xlsx").write_bytes(good)
    (folder / "late" / "bob.xlsx").write_bytes(a_h1_in_dE_dw3(good))
    (folder / "carol.xlsx").write_bytes(b"not a workbook at all")
    bomb = b"\x00" * (5 * 1024 * 1024)  # inflates 1,000 times: refused on its own row
    (tmp_path / "section2.zip").write_bytes(
        zipped({"dan.xlsx": good, "eve.xlsx": bomb, "__MACOSX/._dan.xlsx": b"junk", "notes.txt": b"hi"})
    )
    report = tmp_path / "class.csv"
    code = cli.main([str(folder), str(tmp_path / "section2.zip"), "--report", str(report)])
    assert code == 2  # the worst verdict: an unreadable file
    lines = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    verdicts = {fields[0].rsplit("/", 1)[-1]: fields[1] for fields in lines[:-1]}
    assert verdicts == {
        "alice.xlsx": "ok",
        "carol.xlsx": "unreadable",
        "bob.xlsx": "mistakes",
        "dan.xlsx": "ok",
        "eve.xlsx": "unreadable",
    }
    bob = next(fields for fields in lines if fields[0].endswith("bob.xlsx"))
    assert "∂E/∂w3" in bob[2] and f"{SHEET}!{LETTER['dE_dw3']}{FIRST_ROW}" in bob[2]
    assert "zip bomb" in next(fields for fields in lines if fields[0].endswith("eve.xlsx"))[2]
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 5
    wrong = [r for r in rows if r["column"]]
    assert [(r["file"].rsplit("/", 1)[-1], r["column"], r["first wrong cell"]) for r in wrong] == [
        ("bob.xlsx", "∂E/∂w3", f"{SHEET}!{LETTER['dE_dw3']}{FIRST_ROW}")
    ]


def test_the_report_as_xlsx_and_exit_the_worst_verdict(tmp_path, capsys, good):
    (tmp_path / "a.xlsx").write_bytes(good)
    (tmp_path / "b.xlsx").write_bytes(a_h1_in_dE_dw3(good))
    out = tmp_path / "class.xlsx"
    assert cli.main([str(tmp_path / "a.xlsx"), str(tmp_path / "b.xlsx"), "--report", str(out)]) == 1
    ws = openpyxl.load_workbook(out)["Class"]
    assert [c.value for c in ws[1]] == list(batch.REPORT_COLUMNS)
    assert ws.max_row == 3


def test_the_batch_limits_are_stated_and_enforced(tmp_path, capsys, monkeypatch, good):
    monkeypatch.setattr(batch, "MAX_WORKBOOKS", 2)
    for name in "abc":
        (tmp_path / f"{name}.xlsx").write_bytes(good)
    assert cli.main([str(tmp_path)]) == 2
    assert "more than 2 workbooks" in capsys.readouterr().err
    assert "500 workbooks and 200 MB per batch" in batch.LIMITS


# ---------------------------------------------------------------------------------------------
# Hostile uploads cost little: stopped by the budget, "too large to check", well under 10 s


def timed_refusal(data: bytes) -> tuple[str, float]:
    start = time.perf_counter()
    with pytest.raises(WorkbookError) as error:
        check_workbook(data, "hostile.xlsx")
    return str(error.value), time.perf_counter() - start


def test_formulas_fanning_out_over_each_other_stop_at_the_budget(good):
    wb = openpyxl.load_workbook(io.BytesIO(good))
    ws = wb[SHEET]
    ws["BA1"] = 1
    for i in range(2, 2002):  # each sums every cell above it: quadratic work without a budget
        ws[f"BA{i}"] = f"=SUM(BA1:BA{i - 1})"
    ws[f"{LETTER['h1']}{FIRST_ROW}"] = "=BA2001*0+" + ws[f"{LETTER['h1']}{FIRST_ROW}"].value[1:]
    buffer = io.BytesIO()
    wb.save(buffer)
    message, seconds = timed_refusal(buffer.getvalue())
    assert message.startswith("too large to check")
    assert seconds < 10


def test_a_deep_chain_of_references_is_too_deep_not_the_students_error(good):
    cells = {"BA1": 1.0} | {f"BA{i}": f"=BA{i - 1}+1" for i in range(2, 5001)}
    cells[f"{LETTER['h1']}{FIRST_ROW}"] = "=BA5000*0+0.0275"
    message, seconds = timed_refusal(edited(good, cells))
    assert message.startswith("too deep to check") and seconds < 10


def test_a_budget_that_runs_out_is_a_too_large_error(good):
    from sheetcheck.budget import Budget

    with pytest.raises(TooLarge, match="too large to check: more than 10 cells"):
        check_workbook(good, "x.xlsx", Budget(cells=10))


@pytest.mark.parametrize("function", ['WEBSERVICE("http://127.0.0.1:9/")', 'HYPERLINK("x")', 'CALL("a","b")'])
def test_functions_that_reach_outside_are_named_quietly(tmp_path, capfd, good, function):
    path = tmp_path / "outside.xlsx"
    path.write_bytes(edited(good, {f"{LETTER['h2']}{FIRST_ROW}": f"={function}"}))
    assert cli.main([str(path)]) == 1
    captured = capfd.readouterr()
    assert captured.err == "" and "Traceback" not in captured.out
    assert f"WRONG h2 at {SHEET}!{LETTER['h2']}{FIRST_ROW}" in captured.out


def test_a_dummy_tables_part_does_not_switch_a_large_workbook_to_full_loading(good):
    """A sheet of ~9 MB of XML plus an empty xl/tables/ part: refused before openpyxl's full reader."""
    import random

    random.seed(1)
    rows = "".join(
        f'<row r="{r}">' + "".join(f'<c r="{col}{r}"><v>{random.random():.15f}</v></c>' for col in "ABCDEFGHIJ")
        + "</row>"
        for r in range(1, 30_001)
    )  # fmt: skip
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'
    ).encode()
    with zipfile.ZipFile(io.BytesIO(good)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["xl/worksheets/sheet1.xml"] = sheet
    members["xl/tables/table1.xml"] = b"<table/>"
    data = zipped(members)
    assert len(data) < 10 * 1024 * 1024
    message, seconds = timed_refusal(data)
    assert message.startswith("too large to check: an Excel table") and seconds < 10


def test_openpyxl_parses_with_defusedxml():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML  # openpyxl uses defusedxml whenever it is installed


# ---------------------------------------------------------------------------------------------
# The round trip: what the exporter writes, recalculated by LibreOffice (values cached as Excel saves
# them), is checked clean; with one mistake planted per column, that column alone is named.

PLANTED_ROW = FIRST_ROW + 2


def planted(data: bytes, column: str) -> bytes:
    """`column`'s formula in one row, off by a small amount (a mistake of about 1e-3 relative)."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        if ws.title.startswith("LR"):
            cell = ws[f"{LETTER[column]}{PLANTED_ROW}"]
            cell.value = f"=({cell.value[1:]})*1.001"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.soffice
def test_round_trip_through_libreoffice_clean_and_one_planted_mistake_per_column(tmp_path):
    import shutil

    from backprop_core import ACTIVATIONS, COLUMNS
    from backprop_core.config import INPUTS, TARGETS
    from tests.recalc import recalculate_many

    if shutil.which("soffice") is None:
        pytest.skip("needs LibreOffice (soffice) to recalculate")
    files = {}
    for activation in ACTIVATIONS:
        for biases in (False, True):
            files[f"clean-{activation}-{biases}.xlsx"] = workbook_bytes(
                Config(activation=activation, biases=biases), [0.5, 1.0], 6
            )
    computed = [c for c in COLUMNS if c not in INPUTS + TARGETS]
    base = workbook_bytes(Config(), [0.5], 6)
    for column in computed:
        files[f"planted-{column}.xlsx"] = planted(base, column)
    source = tmp_path / "in"
    source.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    copies = recalculate_many(sorted(source.iterdir()), out)
    caught, false_alarms = 0, []
    for copy in copies:
        report = check_workbook(copy.read_bytes(), copy.name)
        named = {f.column for s in report.sheets for f in s.findings}
        if copy.name.startswith("clean"):
            assert report.verdict == "ok", (
                copy.name,
                [(f.column, f.cell) for s in report.sheets for f in s.findings],
            )
        else:
            column = copy.stem.removeprefix("planted-")
            caught += column in named
            false_alarms += sorted(named - {column})
            cells = {f.cell for s in report.sheets for f in s.findings if f.column == column}
            assert cells == {f"{SHEET}!{LETTER[column]}{PLANTED_ROW}"}, (column, cells)
    print(f"planted {len(computed)}, caught {caught}, false alarms {len(false_alarms)} {false_alarms}")
    assert caught == len(computed) and false_alarms == []


@pytest.mark.slow
def test_the_pages_worker_process_checks_and_a_hung_check_is_cut_off(good):
    from sheetcheck.batch import Submission
    from sheetcheck.worker import check_in_worker

    row = check_in_worker(Submission("alice.xlsx", good))
    assert row.verdict == "ok" and row.report is not None
    late = check_in_worker(Submission("bob.xlsx", good), timeout_s=0.001)  # past its timeout: cut off
    assert late.verdict == "unreadable" and late.reason.startswith("too large to check")
    assert check_in_worker(Submission("carol.xlsx", good)).verdict == "ok"  # a fresh worker takes over


def test_the_json_names_what_was_not_checked(tmp_path, capsys, good):
    wb = openpyxl.load_workbook(io.BytesIO(good))
    ws = wb[SHEET]
    ws[f"{LETTER['dE_dw8']}{FIRST_ROW - 1}"] = "gradient 8"  # a header the checker cannot read
    for row in range(FIRST_ROW, FIRST_ROW + 4):  # and typed numbers below it: nothing tells what they are
        ws[f"{LETTER['dE_dw8']}{row}"] = 0.001
    path = tmp_path / "s.xlsx"
    wb.save(path)
    assert cli.main([str(path), "--json"]) == 3
    import json

    report = json.loads(capsys.readouterr().out)
    sheet = next(s for s in report["sheets"] if s["name"] == SHEET)
    assert report["verdict"] == "incomplete" and sheet["verdict"] == "incomplete"
    assert sheet["unchecked"][0] == "dE_dw8 (no such column)" and sheet["findings"] == []
