"""python -m exports check FILE [--json]: name the wrong cells of a student's workbook.

Exit status: 0 no mistake, 1 mistakes found (or no iteration table at all), 2 the file cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from backprop_core.__main__ import OneLineParser
from backprop_core.expr import plain_symbol

from .check import Report, WorkbookError, check_workbook
from .safe_xlsx import MAX_UPLOAD_BYTES


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m exports check",
        description="Check a student's backpropagation workbook against backprop_core and name the wrong cells.",
    )
    parser.add_argument("file", help="the .xlsx workbook to check")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    return parser


def read_file(path: Path) -> bytes:
    """The file's bytes, or WorkbookError: no traceback for a missing, unreadable or huge file."""
    try:
        if path.is_dir():
            raise WorkbookError(f"{path} is a folder; name the .xlsx file inside it")
        if not path.is_file():
            raise WorkbookError(f"no such file: {path}")
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise WorkbookError(f"the file is larger than {MAX_UPLOAD_BYTES / 1e6:.0f} MB")
        return path.read_bytes()
    except OSError as error:
        raise WorkbookError(f"cannot read {path}: {error.strerror or error}") from None


def format_report(report: Report) -> str:
    """The report as text, sheet by sheet."""
    lines = [report.file]
    lines += [f"  warning: {w}" for w in report.warnings]
    for sheet in report.sheets:
        if not sheet.recognised:
            lines.append(f"  {sheet.name}: {sheet.note}")
            continue
        eta = f"η = {sheet.eta:g} ({sheet.eta_cell})" if sheet.eta is not None else "η not found"
        lines.append(
            f"  {sheet.name}: header on row {sheet.header_row}, {sheet.rows} rows, {eta}, {sheet.activation}"
        )
        if sheet.note:
            lines.append(f"    note: {sheet.note}")
        if sheet.missing_columns:
            lines.append(f"    not in the table (not checked): {', '.join(sheet.missing_columns)}")
        for f in sheet.findings:
            found = f"{f.found:.10g}" if isinstance(f.found, float) else repr(f.found)
            lines.append(
                f"    WRONG {plain_symbol(f.column)} at {f.cell} ({f.check} check): expected {f.expected:.10g}, found {found}"
            )
            lines.append(f"          {f.hint}")
            if f.formula and f.expected_formula:
                lines.append(f"          has      {f.formula}")
                lines.append(f"          expected {f.expected_formula}")
        if not sheet.findings:
            lines.append(
                "    OK: every column agrees with backprop_core (values, and formulas with other inputs)"
            )
    if not report.recognised:
        lines.append(
            "no sheet holds an iteration table (a header row with t1, t2, i1, i2, w1…w8 and E_total)"
        )
    elif report.mistakes == 0:
        lines.append(f"no mistake in {len(report.recognised)} checked sheet(s)")
    else:
        wrong = sum(1 for s in report.sheets if s.findings)
        lines.append(f"{report.mistakes} mistake(s) in {wrong} of {len(report.recognised)} checked sheet(s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = Path(args.file)
    try:
        report = check_workbook(read_file(path), path.name)
    except WorkbookError as error:
        print(f"python -m exports check: cannot read {path.name}: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(format_report(report))
    return 0 if report.ok else 1
