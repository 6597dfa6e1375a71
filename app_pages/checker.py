"""Check a worksheet: upload a student's .xlsx, see the wrong cells named and the sheet's own error curve."""

import json
import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from backprop_core.expr import plain_symbol
from checker.check import Report, SheetReport, WorkbookError, check_workbook
from checker.safe_xlsx import MAX_UPLOAD_BYTES
from lab.format import number, show_number

UPLOAD_LIMIT_MB = MAX_UPLOAD_BYTES // (1024 * 1024)


def plain(text: str) -> str:
    """Text from a workbook shown through st.markdown as typed: a_h1, $B$3 and * stay literal."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!$|<>~])", r"\\\1", text)


@st.cache_data(max_entries=16, show_spinner="Checking every sheet…")
def checked(data: bytes, name: str) -> Report:
    return check_workbook(data, name)


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
    st.subheader(f"Sheet {sheet.name}")
    if not sheet.recognised:
        st.info(f"{sheet.note[:1].upper()}{sheet.note[1:]}.", icon=":material/help:")
        return
    eta = (
        f"η = {show_number(sheet.eta)} (cell {sheet.eta_cell})"
        if sheet.eta is not None
        else "no η cell found"
    )
    st.caption(f"Header on row {sheet.header_row}, {sheet.rows:,} rows, {eta}, {sheet.activation} units.")
    if sheet.note:
        st.caption(f"Note: {sheet.note}.")
    if sheet.missing_columns:
        st.caption(f"Not in the table, so not checked: {', '.join(sheet.missing_columns)}.")
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
                f"- **{plain(plain_symbol(f.column))}** at {plain(f.cell)}: {plain(f.hint)}"
                for f in sheet.findings
            )
        )
    else:
        st.success(
            "Every column agrees with backprop_core: the values, and the formulas with other inputs "
            "(t1 ≠ t2, other weights and η).",
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


st.title("Check a worksheet")
st.markdown(
    "Upload a student's Excel file. Every sheet that holds the iteration table (a header row with t1, t2, "
    "i1, i2, w1…w8, E_total and the gradients, on any row, in any order) is recomputed with the app's engine, "
    "and the first wrong cell of each column is named. The formulas are also evaluated with other inputs "
    "(t1 ≠ t2), which shows mistakes that the classroom values hide, such as a_h1 in ∂E/∂w3 "
    "(E_total moves by only 1e-10) or t1 where t2 belongs."
)
upload = st.file_uploader(
    "Student workbook (.xlsx)", type=["xlsx"], max_upload_size=UPLOAD_LIMIT_MB, key="checker_upload"
)
if upload is None:
    st.stop()
data = upload.getvalue()
if len(data) > MAX_UPLOAD_BYTES:
    st.error(
        f"The file is {len(data) / 1e6:.1f} MB; the limit is {UPLOAD_LIMIT_MB} MB.", icon=":material/block:"
    )
    st.stop()
try:
    report = checked(data, upload.name)
except WorkbookError as error:
    st.error(f"{upload.name} cannot be checked: {error}.", icon=":material/block:")
    st.stop()

for warning in report.warnings:
    st.warning(f"{warning[:1].upper()}{warning[1:]}.", icon=":material/link_off:")
if not report.recognised:
    st.warning(
        "No sheet of this workbook holds an iteration table: no header row names t1, t2, i1, i2, w1…w8 and E_total.",
        icon=":material/search_off:",
    )
elif report.mistakes:
    wrong = sum(1 for s in report.sheets if s.findings)
    st.error(f"{report.mistakes} mistake(s) in {wrong} of {len(report.recognised)} sheet(s).")
else:
    st.success(f"No mistake in {len(report.recognised)} sheet(s).")
for sheet in report.sheets:
    show_sheet(sheet)
st.download_button(
    "Download the report (.json)",
    data=json.dumps(report.to_json(), indent=2, ensure_ascii=False),
    file_name="check-report.json",
    mime="application/json",
    icon=":material/download:",
)
