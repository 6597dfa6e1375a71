"""A whole class at once: files, folders and .zip archives of submissions, one row per workbook.

    for entry in collect([Path("submissions.zip"), Path("late/")]):   # Submission(name, data | error)
        row = check_submission(entry)                                  # never raises

Each workbook is checked on its own budget, and a bad or hostile file is reported on its own row:
nothing in one submission can stop the batch.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backprop_core.expr import plain_symbol

from .check import EXIT_CODES, VERDICTS, Report, check_workbook
from .safe_xlsx import MAX_RATIO, MAX_UPLOAD_BYTES, RATIO_FLOOR_BYTES
from .workbook_error import WorkbookError, one_line

MAX_WORKBOOKS = 500  # a class, several sections of one
MAX_BATCH_BYTES = 200 * 1024 * 1024  # all workbooks of one batch together, as read or inflated
LIMITS = (
    f"at most {MAX_WORKBOOKS} workbooks and {MAX_BATCH_BYTES // 2**20} MB per batch, "
    f"{MAX_UPLOAD_BYTES // 2**20} MB per workbook"
)


@dataclass
class Submission:
    name: str  # the file, as the instructor knows it: "class.zip/alice.xlsx"
    data: bytes | None = None
    error: str | None = None  # why it cannot be read (too large, a zip bomb, ...)


@dataclass
class Row:
    """One workbook's line: its verdict, the wrong columns and the first wrong cell of each."""

    file: str
    verdict: str
    report: Report | None = None
    reason: str = ""  # for an unreadable file
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # (column, first wrong cell, hint)
    unchecked: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


class BatchError(ValueError):
    """The batch as a whole is past its limits; the message says which, in one line."""


def collect(paths: Iterable[Path]) -> Iterator[Submission]:
    """Every .xlsx in `paths` (files, folders searched recursively, .zip archives), in a stable order."""
    total = count = 0
    for path in paths:
        for submission in _expand(Path(path)):
            count += 1
            total += len(submission.data or b"")
            if count > MAX_WORKBOOKS:
                raise BatchError(f"more than {MAX_WORKBOOKS} workbooks in one batch ({LIMITS})")
            if total > MAX_BATCH_BYTES:
                raise BatchError(f"more than {MAX_BATCH_BYTES // 2**20} MB in one batch ({LIMITS})")
            yield submission


def _expand(path: Path) -> Iterator[Submission]:
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in (".xlsx", ".zip") and not child.name.startswith(("~$", ".")):
                yield from _expand(child)
        return
    if not path.is_file():
        yield Submission(str(path), error=f"no such file: {path}")
        return
    try:
        size = path.stat().st_size
        if path.suffix.lower() == ".zip":
            if size > MAX_BATCH_BYTES:
                yield Submission(str(path), error=f"the archive is larger than {MAX_BATCH_BYTES // 2**20} MB")
                return
            yield from from_zip(path.read_bytes(), str(path))
            return
        if size > MAX_UPLOAD_BYTES:
            yield Submission(str(path), error=f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
            return
        yield Submission(str(path), path.read_bytes())
    except OSError as error:
        yield Submission(str(path), error=f"cannot read {path}: {error.strerror or error}")


def from_zip(data: bytes, name: str) -> Iterator[Submission]:
    """The .xlsx members of a .zip of submissions, each refused on its own if it could be a zip bomb."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        yield Submission(name, error="a corrupt zip archive")
        return
    with archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir()
            and m.filename.lower().endswith(".xlsx")
            and not m.filename.startswith("__MACOSX/")
            and not Path(m.filename).name.startswith(("~$", "."))
        ]
        if len(members) > MAX_WORKBOOKS:
            yield Submission(name, error=f"the archive holds {len(members)} workbooks ({LIMITS})")
            return
        inflated = 0
        for member in sorted(members, key=lambda m: m.filename):
            label = f"{name}/{member.filename}"
            ratio = member.file_size / max(member.compress_size, 1)
            inflated += member.file_size
            if member.file_size > MAX_UPLOAD_BYTES:
                yield Submission(label, error=f"inflates to more than {MAX_UPLOAD_BYTES // 2**20} MB")
            elif member.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
                yield Submission(label, error=f"inflates {ratio:.0f} times: refused as a possible zip bomb")
            elif inflated > MAX_BATCH_BYTES:
                yield Submission(label, error=f"the archive inflates past {MAX_BATCH_BYTES // 2**20} MB")
                return
            else:
                try:
                    # read() stops at the stated file_size (then fails the CRC): bounded by the check above
                    yield Submission(label, archive.read(member))
                except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
                    yield Submission(label, error=f"cannot be unpacked ({one_line(error, 120)})")


def check_submission(submission: Submission) -> Row:
    """One submission checked; never raises (an unexpected failure is that file's row)."""
    if submission.error is not None or submission.data is None:
        return Row(submission.name, "unreadable", reason=submission.error or "no data")
    try:
        report = check_workbook(submission.data, Path(submission.name).name)
    except WorkbookError as error:
        return Row(submission.name, "unreadable", reason=str(error))
    except Exception as error:  # a checker bug on one file must not cost the class's other rows
        return Row(submission.name, "unreadable", reason=f"the checker failed: {one_line(error, 160)}")
    return row_for(submission.name, report)


def row_for(name: str, report: Report) -> Row:
    wrong = [(f.column, f.cell, f.hint) for s in report.sheets for f in s.findings]
    unchecked = [f"{s.name}: {u}" for s in report.recognised for u in s.unchecked]
    if not report.recognised:
        unchecked = ["no sheet holds an iteration table"]
    return Row(name, report.verdict, report, wrong=wrong, unchecked=unchecked)


def worst(rows: Iterable[Row]) -> str:
    return max((r.verdict for r in rows), key=VERDICTS.index, default="incomplete")


def line(row: Row) -> str:
    """file  verdict  wrong columns  first wrong cell (of the first wrong column)."""
    if row.verdict == "unreadable":
        detail = row.reason
    elif row.wrong:
        columns = ", ".join(dict.fromkeys(plain_symbol(c) for c, _, _ in row.wrong))
        detail = f"{columns}  first wrong cell {row.wrong[0][1]}"
    elif row.unchecked:
        detail = "not checked: " + "; ".join(row.unchecked[:3]) + (" …" if len(row.unchecked) > 3 else "")
    else:
        detail = "every column checked and right"
    return f"{row.file}\t{row.verdict}\t{detail}"


REPORT_COLUMNS = ("file", "verdict", "column", "first wrong cell", "hint", "not checked")


def report_records(rows: Iterable[Row]) -> list[dict]:
    """One record per workbook and wrong column (a workbook without one: a single record)."""
    records = []
    for row in rows:
        base = {"file": row.file, "verdict": row.verdict, "not checked": "; ".join(row.unchecked)}
        if row.wrong:
            for column, cell, hint in row.wrong:
                records.append(
                    base | {"column": plain_symbol(column), "first wrong cell": cell, "hint": hint}
                )
        else:
            records.append(base | {"column": "", "first wrong cell": "", "hint": row.reason})
    return records


def _spreadsheet_safe(value: str) -> str:
    """A student's sheet name or hint opened in Excel must stay text: no formula injection."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def report_csv(rows: Iterable[Row]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS)
    writer.writeheader()
    for record in report_records(rows):
        writer.writerow({k: _spreadsheet_safe(str(v)) for k, v in record.items()})
    return buffer.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 CSV right only with the BOM


def report_xlsx(rows: Iterable[Row]) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Class"
    ws.append(REPORT_COLUMNS)
    for record in report_records(rows):
        ws.append([_spreadsheet_safe(str(record.get(c, ""))) for c in REPORT_COLUMNS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
