"""python -m exports check PATH... [--json] [--report class.csv|class.xlsx]

One workbook: its full report, sheet by sheet. Several (files, folders, .zip archives of a class's
submissions): one line per workbook, and with --report a file with one row per workbook and wrong column.

Exit status (the worst workbook's): 0 everything checked and right, 1 mistakes found, 3 nothing wrong
found but not everything could be checked (a column or η not found, one row only, no table), 2 unreadable
(not a workbook, refused as unsafe, or too large to check).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from backprop_core.__main__ import OneLineParser
from backprop_core.expr import plain_symbol

from .batch import LIMITS, BatchError, Row, check_submission, collect, line, report_csv, report_xlsx, worst
from .check import EXIT_CODES, Report


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m exports check",
        description="Check a student's backpropagation workbook against backprop_core and name the wrong cells.",
    )
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help=f".xlsx files, folders of them, .zip archives ({LIMITS})"
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="write the class table: one row per workbook and wrong column (.csv or .xlsx)",
    )
    return parser


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
        lines += [f"    info: {i}" for i in sheet.info]
        for f in sheet.findings:
            found = f"{f.found:.10g}" if isinstance(f.found, float) else repr(f.found)
            values = f": expected {f.expected:.10g}, found {found}" if f.check != "pattern" else ""
            lines.append(f"    WRONG {plain_symbol(f.column)} at {f.cell} ({f.check} check){values}")
            lines.append(f"          {f.hint}")
            if f.formula and f.expected_formula:
                lines.append(f"          has      {f.formula}")
                lines.append(f"          expected {f.expected_formula}")
        if sheet.unchecked:
            lines.append(f"    NOT CHECKED: {'; '.join(sheet.unchecked)}")
        if not sheet.findings and not sheet.unchecked:
            lines.append(
                "    OK: every column agrees with backprop_core (its values, and what its formulas compute)"
            )
    lines.append(summary(report))
    return "\n".join(lines)


def summary(report: Report) -> str:
    """The verdict in one sentence; "N of M sheet(s)" counts only sheets that hold a table."""
    tables = len(report.recognised)
    others = f"; no table in {', '.join(report.others)}" if report.others else ""
    if not tables:
        return "incomplete: no sheet holds an iteration table (a header row with t1, t2, i1, i2, w1…w8 and E_total)"
    if report.verdict == "mistakes":
        wrong = sum(1 for s in report.recognised if s.findings)
        return f"{report.mistakes} mistake(s) in {wrong} of {tables} sheet(s) with a table{others}"
    if report.verdict == "incomplete":
        partial = sum(1 for s in report.recognised if s.unchecked)
        return (
            f"incomplete: no mistake found, but {partial} of {tables} sheet(s) with a table could not be "
            f"wholly checked (see NOT CHECKED){others}"
        )
    return f"no mistake in {tables} of {tables} sheet(s) with a table, every column checked{others}"


def main(argv: list[str] | None = None) -> int:
    logging.disable(logging.CRITICAL)  # third-party libraries (formulas, schedula) print nothing here
    args = build_parser().parse_args(argv)
    paths = [Path(p) for p in args.paths]
    if len(paths) == 1 and not paths[0].is_dir() and paths[0].suffix.lower() != ".zip" and not args.report:
        return _one(paths[0], args.json)
    rows: list[Row] = []
    try:
        for submission in collect(paths):
            rows.append(check_submission(submission))
            if not args.json:
                print(line(rows[-1]), flush=True)
    except BatchError as error:
        print(f"python -m exports check: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_batch_json(rows), indent=2, ensure_ascii=False, allow_nan=False))
    if not rows:
        print(f"python -m exports check: no .xlsx workbook in {', '.join(map(str, paths))}", file=sys.stderr)
        return 2
    if args.report:
        target = Path(args.report)
        data = report_xlsx(rows) if target.suffix.lower() == ".xlsx" else report_csv(rows)
        try:
            target.write_bytes(data)
        except OSError as error:
            print(
                f"python -m exports check: cannot write {target}: {error.strerror or error}", file=sys.stderr
            )
            return 2
    verdict = worst(rows)
    if not args.json:
        counts = {v: sum(r.verdict == v for r in rows) for v in EXIT_CODES}
        print(f"{len(rows)} workbook(s): " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
    return EXIT_CODES[verdict]


def _batch_json(rows: list[Row]) -> dict:
    return {
        "verdict": worst(rows),
        "workbooks": [
            (row.report.to_json() | {"file": row.file})
            if row.report
            else {"file": row.file, "verdict": row.verdict, "reason": row.reason}
            for row in rows
        ],
    }


def _one(path: Path, as_json: bool) -> int:
    """One workbook: the full report."""
    (submission,) = collect([path])
    row = check_submission(submission)
    if row.report is None:
        print(f"python -m exports check: cannot read {path.name}: {row.reason}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(row.report.to_json(), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        print(format_report(row.report))
    return row.exit_code
