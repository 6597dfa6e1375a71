"""Check worksheets: upload a student's .xlsx (or a class's, or one .zip), see the wrong cells named.

One workbook: its full report. Several: the class table (one row per workbook, with a download); a click
on a row opens that student's full report. Each check runs in a worker process (sheetcheck.worker)."""

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backprop_core.expr import plain_symbol
from lab.format import number, show_number
from lab.params import as_plain_text
from sheetcheck.batch import (
    LIMITS,
    MAX_BATCH_BYTES,
    MAX_WORKBOOKS,
    Row,
    Submission,
    from_zip,
    line,
    report_csv,
)
from sheetcheck.check import SheetReport
from sheetcheck.cli import summary
from sheetcheck.safe_xlsx import MAX_UPLOAD_BYTES
from sheetcheck.worker import check_in_worker

UPLOAD_LIMIT_MB = MAX_UPLOAD_BYTES // (1024 * 1024)
ZIP_LIMIT_MB = MAX_BATCH_BYTES // (1024 * 1024)
VERDICT_WORDS = {
    "ok": "every column checked and right",
    "mistakes": "mistakes found",
    "incomplete": "nothing wrong found, but not everything could be checked",
    "unreadable": "cannot be checked",
}


@st.cache_data(max_entries=600, show_spinner=False)
def checked(name: str, data: bytes | None, error: str | None) -> Row:
    return check_in_worker(Submission(name, data, error))


def submissions(uploads) -> list[Submission]:
    """The uploaded workbooks, a .zip unpacked (each member refused on its own if it could be a bomb)."""
    found = []
    for upload in uploads:
        data = upload.getvalue()
        if upload.name.lower().endswith(".zip"):
            if len(data) > MAX_BATCH_BYTES:
                found.append(Submission(upload.name, error=f"the archive is larger than {ZIP_LIMIT_MB} MB"))
            else:
                found.extend(from_zip(data, upload.name))
        elif len(data) > MAX_UPLOAD_BYTES:
            found.append(
                Submission(
                    upload.name,
                    error=f"the file is {len(data) / 1e6:.1f} MB; the limit is {UPLOAD_LIMIT_MB} MB",
                )
            )
        else:
            found.append(Submission(upload.name, data))
    return found


def findings_table(sheet: SheetReport) -> pd.DataFrame:
    """One row per wrong column: where, what was expected, what the sheet has, and why."""
    return pd.DataFrame(
        [
            {
                "column": plain_symbol(f.column),
                "first wrong cell": f.cell,
                "hint": f.hint,
                "expected": f.expected,
                "found": number(f.found) if isinstance(f.found, float) else str(f.found),
                "check": f.check,
                "formula in the sheet": f.formula or "",
                "expected formula": f.expected_formula or "",
            }
            for f in sheet.findings
        ]
    )


def error_figure(sheet: SheetReport) -> go.Figure:
    """The sheet's own E_total beside backprop_core's, from the same first row and η."""
    figure = go.Figure()
    if sheet.expected_errors:
        steps = list(range(len(sheet.expected_errors)))
        figure.add_scatter(
            x=steps, y=sheet.expected_errors, name="correct (backprop_core)", line={"width": 4}
        )
    figure.add_scatter(
        x=list(range(len(sheet.errors))), y=sheet.errors, name=f"{sheet.name} (the sheet's E_total)",
        line={"dash": "dash"},
    )  # fmt: skip
    figure.update_layout(
        title=f"E_total, sheet {sheet.name}", xaxis_title="step", yaxis_title="E_total",
        height=360, margin={"t": 50, "b": 40}, legend={"orientation": "h", "y": -0.25},
    )  # fmt: skip
    return figure


def curve_gap(sheet: SheetReport) -> float | None:
    """The largest |E_total(sheet) − E_total(correct)| over the rows both have, or None."""
    rows = min(len(sheet.errors), len(sheet.expected_errors))
    if rows == 0:
        return None
    gaps = [abs(a - b) for a, b in zip(sheet.errors[:rows], sheet.expected_errors[:rows], strict=True)]
    return max(gaps) if all(g == g for g in gaps) else None  # NaN where a cell holds no number


def show_sheet(sheet: SheetReport) -> None:
    st.subheader(f"Sheet {as_plain_text(sheet.name)}")
    if not sheet.recognised:
        st.info(as_plain_text(f"{sheet.note[:1].upper()}{sheet.note[1:]}."), icon=":material/help:")
        return
    eta = (
        f"η = {show_number(sheet.eta)} (cell {sheet.eta_cell})"
        if sheet.eta is not None
        else "no η cell found"
    )
    st.caption(
        as_plain_text(
            f"Header on row {sheet.header_row}, {sheet.rows:,} rows, {eta}, {sheet.activation} units."
        )
    )
    if sheet.note:
        st.caption(as_plain_text(f"Note: {sheet.note}."))
    for info in sheet.info:
        st.caption(f"Worth a look: {info}.")
    if sheet.unchecked:
        st.warning(
            "Not checked, so this sheet is not passed: " + as_plain_text("; ".join(sheet.unchecked)) + ".",
            icon=":material/visibility_off:",
        )
    if sheet.findings:
        st.error(
            f"{len(sheet.findings)} wrong column(s): the first wrong cell of each.", icon=":material/close:"
        )
        st.dataframe(
            findings_table(sheet),
            hide_index=True,
            column_config={
                "expected": st.column_config.NumberColumn(format="%.10g"),
                "hint": st.column_config.TextColumn(width="large"),
            },
        )
        st.markdown(
            "\n".join(
                f"- **{as_plain_text(plain_symbol(f.column))}** at {as_plain_text(f.cell)}: {as_plain_text(f.hint)}"
                for f in sheet.findings
            )
        )
    elif not sheet.unchecked:
        st.success(
            "Every column agrees with backprop_core: its values, and what each of its formulas "
            "computes for other networks (t1 ≠ t2, other weights and η).",
            icon=":material/check:",
        )
    chart, notes = st.columns([2, 1])
    chart.plotly_chart(error_figure(sheet), config={"displaylogo": False}, key=f"curve-{sheet.name}")
    gap = curve_gap(sheet)
    if gap is not None:
        notes.metric("Largest gap between the two E_total curves", f"{gap:.2g}")
        notes.caption(
            "A wrong gradient can move E_total by as little as 1e-10: the curves then look the same, "
            "which is why the check compares every column, not the error chart."
        )


def show_report(row: Row) -> None:
    """One student's full report."""
    report = row.report
    if report is None:
        st.error(
            f"{as_plain_text(row.file)} cannot be checked: {as_plain_text(row.reason)}.",
            icon=":material/block:",
        )
        return
    for warning in report.warnings:
        st.warning(as_plain_text(f"{warning[:1].upper()}{warning[1:]}."), icon=":material/link_off:")
    sentence = as_plain_text(summary(report)[:1].upper() + summary(report)[1:]) + "."
    {"ok": st.success, "mistakes": st.error}.get(report.verdict, st.warning)(sentence)
    for sheet in report.sheets:
        show_sheet(sheet)
    st.download_button(
        "Download the report (.json)",
        data=json.dumps(report.to_json(), indent=2, ensure_ascii=False),
        file_name="check-report.json",
        mime="application/json",
        icon=":material/download:",
        key=f"json-{row.file}",
    )


def class_table(rows: list[Row]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "file": row.file,
                "verdict": row.verdict,
                "wrong columns": ", ".join(dict.fromkeys(plain_symbol(c) for c, _, _ in row.wrong)),
                "first wrong cell": row.wrong[0][1] if row.wrong else "",
                "not checked / why": row.reason or "; ".join(row.unchecked),
            }
            for row in rows
        ]
    )


st.title("Check worksheets")
st.markdown(
    "Upload a student's Excel file, several, or one .zip of a class's submissions. Every sheet that holds "
    "the iteration table (a header row with t1, t2, i1, i2, w1…w8, E_total and the gradients, on any row, in "
    "any order) is recomputed with the app's engine, and the first wrong cell of each column is named. Each "
    "formula is also read for what it computes and compared with the right formula on other networks "
    "(t1 ≠ t2), which shows mistakes that the classroom values hide and never flags a rewrite that means "
    "the same. A sheet passes only when every column and the weight updates were checked. "
    f"Limits: {LIMITS}."
)
uploads = st.file_uploader(
    "Student workbooks (.xlsx), or one .zip of them",
    type=["xlsx", "zip"],
    accept_multiple_files=True,
    max_upload_size=ZIP_LIMIT_MB,
    key="checker_upload",
)
if not uploads:
    st.stop()
found = submissions(uploads)
if len(found) > MAX_WORKBOOKS:
    st.error(f"{len(found)} workbooks: at most {MAX_WORKBOOKS} in one batch.", icon=":material/block:")
    st.stop()
if not found:
    st.error("No .xlsx workbook in the upload.", icon=":material/search_off:")
    st.stop()
progress = st.progress(0.0, text="Checking…") if len(found) > 1 else None
rows = []
with st.spinner("Checking every sheet…"):
    for i, submission in enumerate(found):
        rows.append(checked(submission.name, submission.data, submission.error))
        if progress is not None:
            progress.progress((i + 1) / len(found), text=f"Checked {i + 1} of {len(found)}")
if progress is not None:
    progress.empty()

if len(rows) == 1:
    show_report(rows[0])
    st.stop()

counts = {v: sum(r.verdict == v for r in rows) for v in VERDICT_WORDS}
st.subheader(f"{len(rows)} workbooks")
st.caption(" · ".join(f"{n} {v} ({VERDICT_WORDS[v]})" for v, n in counts.items() if n))
selection = st.dataframe(
    class_table(rows),
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="class_table",
    column_config={"not checked / why": st.column_config.TextColumn(width="large")},
)
st.download_button(
    "Download the class report (.csv)",
    data=report_csv(rows),
    file_name="class-report.csv",
    mime="text/csv",
    icon=":material/download:",
)
chosen = selection.selection.rows if selection else []
if chosen:
    row = rows[chosen[0]]
    st.divider()
    st.subheader(f"Report: {as_plain_text(row.file)}")
    st.code(line(row), language=None)
    show_report(row)
else:
    st.caption("Click a row to open that student's full report.")
