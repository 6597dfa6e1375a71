"""The update table as the classroom sheet lays it out: its columns, its labels, the viewed step marked."""

from __future__ import annotations

import pandas as pd

from backprop_core import COLUMNS
from backprop_core.expr import plain_symbol  # the .xlsx export's headers too: CSV and workbook read alike

from .format import TABLE_DIGITS

MAX_SHOWN_ROWS = 10_001  # rows sent to the browser at once; the CSV always has every row
MARKER = "▶"
MARKED = "viewed"  # the header of marked()'s first column: MARKER in the row of the step being viewed
# Kept in view while the table scrolls sideways: the step (the index), the marker and the error. The
# gradients and weights are far to the right; a row read there still says which step it is and its error.
PINNED = ("E_total",)


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """The table's columns in the sheet's order, renamed to the sheet's labels; the index is the step."""
    shown = frame[list(COLUMNS)].rename(columns=plain_symbol)
    shown.index.name = "step"
    return shown


def window(rows: int, step: int) -> tuple[int, int]:
    """[first, last) rows to show: all of them, or MAX_SHOWN_ROWS around `step` for a very long run."""
    if rows <= MAX_SHOWN_ROWS:
        return 0, rows
    first = min(max(step - MAX_SHOWN_ROWS // 2, 0), rows - MAX_SHOWN_ROWS)
    return first, first + MAX_SHOWN_ROWS


def marked(frame: pd.DataFrame, step: int) -> pd.DataFrame:
    """The labelled rows of window(), with a first column that marks the step being viewed."""
    first, last = window(len(frame), step)
    shown = labelled(frame.iloc[first:last])
    shown.insert(0, MARKED, [MARKER if k == step else "" for k in shown.index])
    return shown


def column_config() -> dict:
    """TABLE_DIGITS significant digits in every column of labelled() (formatted in the browser: fast);
    the step, the marker and PINNED stay in view (pinned columns are drawn first, in this order)."""
    import streamlit as st

    config = {
        plain_symbol(c): st.column_config.NumberColumn(format=f"%.{TABLE_DIGITS}g", pinned=c in PINNED)
        for c in COLUMNS
    }
    config["_index"] = st.column_config.NumberColumn("step", format="%d", pinned=True)  # "_index": the index
    config[MARKED] = st.column_config.TextColumn(MARKED, width="small", pinned=True)
    return config


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with full float64 precision, each number in its shortest exact form (0.05, not
    0.050000000000000003: pandas writes repr); UTF-8 with a BOM so that Excel reads the ∂ in the headers."""
    return labelled(frame).to_csv().encode("utf-8-sig")
