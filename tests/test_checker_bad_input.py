"""Hostile or broken uploads get a clear one-line message before anything parses them, and never crash."""

import io
import zipfile

import pytest

from backprop_core import Config
from exports.xlsx import workbook_bytes
from sheetcheck import cli as check_cli
from sheetcheck.check import WorkbookError, check_workbook
from sheetcheck.safe_xlsx import (
    MAX_RATIO,
    MAX_UNCOMPRESSED_BYTES,
    MAX_UPLOAD_BYTES,
    UnsafeWorkbook,
    check_upload,
)


@pytest.fixture(scope="module")
def good() -> bytes:
    return workbook_bytes(Config(), [0.5], 2)


def with_parts(data: bytes, parts: dict[str, bytes], content_types: bytes | None = None) -> bytes:
    """A copy of the workbook with extra zip members (and optionally another [Content_Types].xml)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            body = source.read(item)
            if item.filename == "[Content_Types].xml" and content_types is not None:
                body = content_types
            target.writestr(item.filename, body)
        for name, body in parts.items():
            target.writestr(name, body)
    return out.getvalue()


def refused(data: bytes) -> str:
    """The message check_workbook refuses `data` with (it must refuse)."""
    with pytest.raises(WorkbookError) as caught:
        check_workbook(data, "upload.xlsx")
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def test_bytes_that_are_not_a_zip():
    assert "not an .xlsx" in refused(b"t1,t2\n0.5,0.5\n")
    assert "not an .xlsx" in refused(b"")
    assert "not an .xlsx" in refused(b"%PDF-1.7 ...")


def test_a_corrupt_zip(good):
    assert "corrupt zip" in refused(good[: len(good) // 2])
    assert "corrupt zip" in refused(b"PK\x03\x04" + b"\x00" * 100)


def test_a_zip_that_is_not_a_workbook():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert "no xl/workbook.xml" in refused(out.getvalue())


def test_a_zip_bomb_member_is_refused_by_its_ratio_before_parsing(good):
    """2 MB of zeros deflates to about 2 KB: a ratio of 1,000."""
    bomb = with_parts(good, {"xl/worksheets/sheet9.xml": b"\x00" * (2 * 1024 * 1024)})
    assert MAX_RATIO < 500
    assert "zip bomb" in refused(bomb)


def test_a_zip_bomb_by_total_size_is_refused(good):
    """Many members, each under the ratio limit's floor, adding up to more than the total limit."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(good)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            target.writestr(item.filename, source.read(item))
        chunk = b"\x00" * (1024 * 1024 - 1)  # below the ratio floor, so only the total can stop it
        for i in range(MAX_UNCOMPRESSED_BYTES // len(chunk) + 2):
            target.writestr(f"xl/media/padding{i}.bin", chunk)
    bomb = out.getvalue()
    assert len(bomb) < MAX_UPLOAD_BYTES  # small on the wire, huge inflated
    assert "inflate" in refused(bomb)


@pytest.mark.parametrize(
    "name", ["../evil.xml", "/etc/evil.xml", "xl/../../evil.xml", "C:/evil.xml", "xl\\evil.xml"]
)
def test_path_tricks_in_member_names(good, name):
    assert "path trick" in refused(with_parts(good, {name: b"<x/>"}))


def test_macros_are_refused(good):
    assert "macros" in refused(with_parts(good, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 64}))


def test_macro_enabled_content_types_are_refused(good):
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        types = archive.read("[Content_Types].xml")
    xlsm = types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    assert xlsm != types
    assert "macro-enabled" in refused(with_parts(good, {}, content_types=xlsm))


def test_external_links_are_reported_and_never_followed(good):
    link = (
        b'<?xml version="1.0" encoding="UTF-8"?><externalLink xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><externalBook/></externalLink>'
    )
    data = with_parts(good, {"xl/externalLinks/externalLink1.xml": link})
    report = check_workbook(data, "linked.xlsx")
    assert any("other file" in w for w in report.warnings)
    assert report.to_json()["warnings"]
    assert all(s.findings == [] for s in report.recognised)  # the link itself is no mistake


def test_the_size_limit_is_checked_in_code():
    with pytest.raises(UnsafeWorkbook, match="limit"):
        check_upload(b"PK" + b"\x00" * MAX_UPLOAD_BYTES)


def test_the_cli_gives_one_line_and_exit_2_for_every_refusal(tmp_path, capsys, good):
    cases = {
        "text.xlsx": b"hello",
        "corrupt.xlsx": good[:300],
        "macro.xlsx": with_parts(good, {"xl/vbaProject.bin": b"\x00" * 64}),
        "trick.xlsx": with_parts(good, {"../up.xml": b"<x/>"}),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert check_cli.main([str(path), "--json"]) == 2, name
        captured = capsys.readouterr()
        assert captured.out == ""
        assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize(
    "column, formula",
    [
        ("h1", "=SUM(A1:XFD1048576)"),  # 17 billion cells
        ("h2", '=__import__("os").system("echo owned")'),  # Python is never what evaluates a formula
        ("E1", "=" + "+".join(["A6"] * 3000)),  # longer than Excel allows
    ],
)
def test_hostile_formulas_in_a_table_are_named_not_run(good, column, formula):
    """A formula the engine cannot or must not evaluate is reported as a wrong cell; nothing crashes."""
    import openpyxl

    from exports.xlsx import FIRST_ROW, LETTER

    wb = openpyxl.load_workbook(io.BytesIO(good))
    wb["LR 0.5"][f"{LETTER[column]}{FIRST_ROW}"] = formula
    out = io.BytesIO()
    wb.save(out)
    report = check_workbook(out.getvalue(), "hostile.xlsx")
    (sheet,) = report.recognised
    wrong = {f.column: f for f in sheet.findings}
    assert column in wrong and isinstance(wrong[column].found, str)


def test_the_cli_says_a_folder_holds_no_workbook_and_a_missing_file_is_missing(tmp_path, capsys):
    (tmp_path / "sheets.xlsx").mkdir()
    for path, reason in (
        (tmp_path / "sheets.xlsx", "no .xlsx workbook in"),
        (tmp_path / "gone.xlsx", "no such file"),
    ):
        assert check_cli.main([str(path)]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
        assert reason in captured.err
