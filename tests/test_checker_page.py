"""The "Check a worksheet" page, driven as a user drives it: upload a file, read the report."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backprop_core import Config
from exports.xlsx import workbook_bytes

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "checker.py")
SHEETS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "student-sheets"
VARUN = SHEETS / "erav1-varun-senthilnathan.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(name: str, data: bytes, *more: tuple[str, bytes]) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception
    files = [(name, data, XLSX)] + [(n, d, XLSX) for n, d in more]
    at.file_uploader[0].set_value(files if more else files[0])
    at.run()
    assert not at.exception, at.exception
    return at


def shown(element) -> str:
    """An element's text as the user reads it (workbook text is escaped for Markdown)."""
    return element.value.replace("\\", "")


def test_the_page_asks_for_an_xlsx_upload_and_shows_nothing_else_yet():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception
    assert at.file_uploader[0].allowed_type == [".xlsx", ".zip"]
    assert not at.dataframe and not at.error


@pytest.mark.skipif(not VARUN.is_file(), reason="../shared/data/student-sheets is not beside the repo")
def test_a_student_sheet_with_mistakes_gets_a_table_of_wrong_cells_and_its_curves():
    at = upload(VARUN.name, VARUN.read_bytes())
    assert any(
        "4 mistake(s) in 2 of 2 sheet(s) with a table; no table in Sheet3" in shown(e) for e in at.error
    )
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2  # Sheet1 and Experiment; Sheet3 holds no table
    first = tables[0]
    assert list(first["first wrong cell"]) == ["Sheet1!Z33", "Sheet1!AA33"]
    assert list(first["column"]) == ["∂E/∂w3", "∂E/∂w4"]
    assert all("a_h1" in hint and "a_h2" in hint for hint in first["hint"])
    assert any("not recognised" in shown(i).lower() for i in at.info)
    charts = at.get("plotly_chart")
    assert len(charts) == 2


def test_a_correct_workbook_is_reported_clean():
    at = upload("export.xlsx", workbook_bytes(Config(), [0.5], 3))
    assert any(
        "No mistake in 1 of 1 sheet(s) with a table, every column checked; no table in Summary" in shown(s)
        for s in at.success
    )
    assert not at.dataframe


@pytest.mark.parametrize(
    "data, message",
    [(b"t1,t2\n0.5,0.5\n", "not an .xlsx"), (b"PK\x03\x04" + b"\x00" * 64, "corrupt zip")],
)
def test_a_bad_upload_gets_a_clear_message_and_no_traceback(data, message):
    at = upload("bad.xlsx", data)
    assert len(at.error) == 1 and message in shown(at.error[0])
    assert not at.exception


def test_an_upload_over_the_size_limit_is_refused_in_code():
    at = upload("huge.xlsx", b"PK" + b"\x00" * (10 * 1024 * 1024 + 1))
    assert len(at.error) == 1 and "the limit is 10 MB" in shown(at.error[0])


def test_several_workbooks_get_the_class_table_with_a_download():
    clean = workbook_bytes(Config(), [0.5], 3)
    headers_unread = clean.replace(b"\xe2\x88\x82E/\xe2\x88\x82w", b"grad w")  # no gradient header read
    at = upload("alice.xlsx", clean, ("bob.xlsx", b"not a workbook"), ("carol.xlsx", headers_unread))
    (table,) = [d.value for d in at.dataframe]
    assert list(table["file"]) == ["alice.xlsx", "bob.xlsx", "carol.xlsx"]
    verdicts = list(table["verdict"])
    assert verdicts[:2] == ["ok", "unreadable"]
    assert at.get("download_button")
