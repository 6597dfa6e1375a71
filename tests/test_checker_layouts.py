"""The checker on the layouts and the mistakes seen in real students' workbooks (issue 11).

Each workbook is built with openpyxl: the right formulas from backprop_core's trees, written in the
student's layout, and each mistake typed by hand into them, as a student would type it. The assertions
name the exact columns (and cells) a user must be told about, and that nothing else is flagged.
"""

import io
import math
import re

import numpy as np
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from backprop_core import ACTIVATIONS, COLUMNS, Config, build_network, run_steps
from backprop_core.config import INPUTS, TARGETS, WEIGHTS
from sheetcheck import cli
from sheetcheck.check import check_workbook

NETWORK = build_network(False).by_name()
SIGMOID = ACTIVATIONS["sigmoid"]
CLASSROOM = Config().values()
LEAVES = INPUTS + TARGETS + WEIGHTS


def symbolic(name: str, present) -> str:
    """The right formula of `name` with each present column written {column}, as the export would."""
    return NETWORK[name].excel(
        SIGMOID, lambda n: "{" + n + "}" if n in present or n == "eta" else None, NETWORK
    )


def write_table(
    ws,
    header_row: int,
    left: int,
    rows: int = 6,
    eta_cell: str = "$B$2",
    labels: dict | None = None,
    order=COLUMNS,
    plant=None,
    start: dict | None = None,
) -> dict[str, str]:
    """One classroom table on `ws`, header on `header_row`, first column `left`; returns the letters.

    plant(name, k, text) may change the symbolic formula of column `name` in row k ({a_h1} marks a
    cell of the same row, {a_h1@-1} of the row above, {eta} η's cell)."""
    labels = labels or {}
    letter = {name: get_column_letter(left + i) for i, name in enumerate(order)}
    for name in order:
        ws[f"{letter[name]}{header_row}"] = labels.get(name, name)
    values = CLASSROOM | (start or {})
    for k in range(rows):
        row = header_row + 1 + k
        for name in order:
            if name in LEAVES and (k == 0 or name in INPUTS + TARGETS):
                ws[f"{letter[name]}{row}"] = values[name]
                continue
            if name in WEIGHTS:
                text = re.sub(r"\{(\w+)\}", lambda m: "{" + m[1] + "@-1}" if m[1] != "eta" else m[0],
                              symbolic(f"next_{name}", order))  # fmt: skip
            else:
                text = symbolic(name, order)
            if plant:
                text = plant(name, k, text)
            if text is None:
                continue
            ws[f"{letter[name]}{row}"] = "=" + fill(text, letter, row, eta_cell)
    return letter


def fill(text: str, letter: dict, row: int, eta_cell: str) -> str:
    def cell(m: re.Match) -> str:
        name, offset = m[1], int(m[2] or 0)
        if name == "eta":
            return eta_cell
        return f"{letter[name]}{row + offset}"

    return re.sub(r"\{(\w+?)(?:@([+-]\d+))?\}", cell, text)


def book(builder) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws["A2"], ws["B2"] = "η", 0.5
    builder(ws)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def classroom(plant=None, **kwargs) -> bytes:
    return book(lambda ws: write_table(ws, 5, 2, plant=plant, **kwargs))


def wrong(data: bytes) -> dict[str, str]:
    """column -> first wrong cell, over every table of the workbook."""
    report = check_workbook(data, "student.xlsx")
    return {f.column: f.cell for s in report.sheets for f in s.findings}


def only(column: str, k: int | None, change):
    """A plant that applies `change` to `column` in row k (every row when k is None)."""
    return lambda name, row, text: change(text) if name == column and (k is None or row == k) else text


# ---------------------------------------------------------------------------------------------
# Correct tables in the layouts students use: every column checked, verdict ok


GRADIENT_SPELLINGS = [
    "E𝝏w{n}", "∂E/∂w{n}", "dE/dw{n}", "Edw{n}", "Etotaldw{n}", "E_tot/w{n}", "𝟃E/𝟃w{n}", "δE/δw{n}",
    "ðE/ðw{n}", "∂E_total/∂w{n}",
]  # fmt: skip


@pytest.mark.parametrize("spelling", GRADIENT_SPELLINGS)
def test_every_gradient_spelling_is_recognised_and_the_sheet_wholly_checked(spelling):
    labels = {f"dE_dw{n}": spelling.format(n=n) for n in range(1, 9)}
    report = check_workbook(classroom(labels=labels), "s.xlsx")
    (sheet,) = report.recognised
    assert sheet.unchecked == [] and sheet.findings == [] and report.verdict == "ok"


@pytest.mark.parametrize(
    "labels",
    [
        {"a_h1": "out_h1", "a_h2": "out_h2", "a_o1": "out_o1", "a_o2": "out_o2", "E_total": "E Total"},
        {"a_h1": "act_h1", "a_h2": "act_h2", "a_o1": "act_o1", "a_o2": "act_o2", "E_total": "E_Total"},
        {"a_h1": "σ(h1)", "a_h2": "σ(h2)", "a_o1": "σ(o1)", "a_o2": "σ(o2)", "E_total": "Etot"},
        {"w1": "W1", "w2": "W2", "t1": "T1", "E1": "E_1", "E_total": "E_tot"},
    ],
)
def test_activation_and_error_headers_students_write(labels):
    report = check_workbook(classroom(labels=labels), "s.xlsx")
    assert report.verdict == "ok", [(s.unchecked, s.findings) for s in report.sheets]


def test_unrecognised_gradient_headers_are_found_by_content_or_incomplete_never_ok(tmp_path, capsys):
    """Headers no spelling list holds: a column of formulas is found by what it computes; a column of
    typed numbers under such a header cannot be, and the sheet is then incomplete, never 'no mistake'."""
    labels = {f"dE_dw{n}": f"grad {n}" for n in range(1, 9)}
    report = check_workbook(classroom(labels=labels), "s.xlsx")
    assert report.verdict == "ok", [(s.unchecked, s.findings) for s in report.sheets]

    def typed(name, k, text):  # the gradients pasted as numbers: nothing says what they are
        return "0.001" if name.startswith("dE_dw") else text

    data = classroom(labels=labels, plant=typed)
    report = check_workbook(data, "s.xlsx")
    (sheet,) = report.recognised
    assert report.verdict == "incomplete" and not report.ok and sheet.findings == []
    assert [f"dE_dw{n} (no such column)" for n in range(1, 9)] == sheet.unchecked[:8]
    path = tmp_path / "s.xlsx"
    path.write_bytes(data)
    assert cli.main([str(path)]) == 3
    out = capsys.readouterr().out
    assert "NOT CHECKED" in out and "OK" not in out and "incomplete" in out


def test_a_label_column_beside_the_table_is_not_taken_for_its_i1():
    def layout(ws):
        letter = write_table(ws, 5, 3)  # the table from column C
        for i, label in enumerate(["i1", "i2", "W1", "W2", "W3"]):  # labels written downwards in A
            ws[f"A{4 + i}"] = label  # A5 = "i2" sits on the header row
        ws["A5"] = "i1"
        return letter

    report = check_workbook(book(layout), "s.xlsx")
    (sheet,) = report.recognised
    assert report.verdict == "ok" and sheet.findings == []


def test_helper_columns_are_not_taken_for_the_tables_own():
    def layout(ws):
        letter = write_table(ws, 5, 2)
        after = len(COLUMNS) + 2
        for i, label in enumerate(["∂o1/∂a_h1", "∂E/∂a_o1", "∂E/∂a_h1"]):
            ws.cell(5, after + i, label)
            ws.cell(6, after + i, f"={letter['w5']}6*2")
        return letter

    assert check_workbook(book(layout), "s.xlsx").verdict == "ok"


def test_a_table_after_a_step_column_on_a_later_row_with_text_above():
    def layout(ws):
        ws["A8"] = "Derivation: h1 = w1*i1 + w2*i2, a_h1 = σ(h1), E_total = E1 + E2"
        ws["A9"], ws["B9"] = "t1", "the target of o1"  # a label above the table, not its header
        ws["A20"] = "step"
        for k in range(6):
            ws[f"A{21 + k}"] = k
        return write_table(ws, 20, 2)

    report = check_workbook(book(layout), "s.xlsx")
    (sheet,) = report.recognised
    assert sheet.header_row == 20 and report.verdict == "ok"


def test_stacked_tables_one_per_learning_rate_are_each_checked_with_their_eta():
    def layout(ws):
        ws["A4"], ws["B4"] = "LR=", 0.5
        write_table(ws, 5, 2, eta_cell="$B$4")
        ws["A14"], ws["B14"] = "lr", 1.0
        write_table(ws, 15, 2, eta_cell="$B$14")
        ws["A24"], ws["B24"] = "alpha", 2.0
        write_table(
            ws, 25, 2, eta_cell="$B$24", plant=only("dE_dw6", None, lambda s: s.replace("{a_h2}", "{h2}"))
        )

    report = check_workbook(book(layout), "s.xlsx")
    tables = report.recognised
    assert [s.header_row for s in tables] == [5, 15, 25]
    assert [s.eta for s in tables] == [0.5, 1.0, 2.0]
    assert [s.name for s in tables] == ["Sheet1", "Sheet1 (table at row 15)", "Sheet1 (table at row 25)"]
    assert [s.verdict for s in tables] == ["ok", "ok", "mistakes"]
    assert {f.column: f.cell for f in tables[2].findings} == {"dE_dw6": "Sheet1!AD26"}


def test_several_sheets_and_one_without_a_table_are_counted_apart(tmp_path, capsys):
    wb = openpyxl.Workbook()
    for title, eta in (("LR 0.5", 0.5), ("LR 1", 1.0)):
        ws = wb.create_sheet(title)
        ws["A2"], ws["B2"] = "η", eta
        write_table(ws, 5, 2)
    wb["Sheet"].title = "Notes"
    path = tmp_path / "s.xlsx"
    wb.save(path)
    assert cli.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "no mistake in 2 of 2 sheet(s) with a table" in out and "no table in Notes" in out


@pytest.mark.parametrize("label", ["η", "LR", "LR=", "lr", "alpha", "α", "h"])
def test_eta_typed_into_each_update_is_read_and_a_labelled_cell_agrees(label):
    def layout(ws):
        ws["A2"], ws["B2"] = label, 0.5
        write_table(ws, 5, 2, eta_cell="0.5")

    report = check_workbook(book(layout), "s.xlsx")
    (sheet,) = report.recognised
    assert sheet.eta == 0.5 and report.verdict == "ok"


def pasted(digits: int | None = None, decimals: int | None = None, rows: int = 8, change=None) -> bytes:
    """A table of values only (copied and pasted as values), rounded as some workbooks store them."""
    table = run_steps(Config(), 0.5, rows - 1)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A2"], ws["B2"] = "LR", 0.5
    for i, name in enumerate(COLUMNS):
        ws.cell(5, 2 + i, name)
        for k in range(rows):
            x = float(table[name].iloc[k])
            if not (name in LEAVES and k == 0):
                x = float(f"{x:.{digits}g}") if digits else round(x, decimals) if decimals else x
            if change:
                x = change(name, k, x)
            ws.cell(6 + k, 2 + i, x)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("digits, decimals", [(None, None), (10, None), (6, None), (None, 7)])
def test_rounded_stored_values_are_never_called_a_mistake(digits, decimals):
    report = check_workbook(pasted(digits, decimals), "pasted.xlsx")
    (sheet,) = report.recognised
    assert sheet.findings == [] and sheet.eta == 0.5 and report.verdict == "ok"


def test_a_rounded_wrong_value_is_still_wrong():
    """0.0002248 (a_h1's slope in ∂E/∂w3's place, rounded) where 0.0001883 belongs is a mistake."""

    def change(name, k, x):  # in the last row, so that no later weight is computed from it
        return round(x * 1.19, 7) if name == "dE_dw3" and k == 7 else x

    found = wrong(pasted(None, 7, change=change))
    assert found == {"dE_dw3": "Sheet!AA13"}


def test_a_table_with_one_computed_row_is_checked_and_says_there_is_no_iteration():
    report = check_workbook(book(lambda ws: write_table(ws, 5, 2, rows=1)), "one.xlsx")
    (sheet,) = report.recognised
    assert sheet.findings == [] and report.verdict == "incomplete"
    assert any("no iteration to check" in u for u in sheet.unchecked)
    bad = book(
        lambda ws: write_table(
            ws, 5, 2, rows=1, plant=only("dE_dw7", 0, lambda s: s.replace("{a_h1}", "{a_h2}"))
        )
    )
    assert wrong(bad) == {"dE_dw7": "Sheet1!AE6"}


def test_other_starting_values_are_a_line_not_a_mistake():
    report = check_workbook(classroom(start={"w4": 0.5}), "s.xlsx")
    (sheet,) = report.recognised
    assert report.verdict == "ok"
    assert sheet.info == ["starts from w4 = 0.5, the classroom value is 0.3"]


# ---------------------------------------------------------------------------------------------
# The mistakes seen in the 35 workbooks, each typed by hand: exactly these columns are named.

MISTAKES = {
    "w6 and w7 swapped in ∂E/∂a_h": (
        lambda n, k, s: s.replace("{w7}", "{w6}") if n in ("dE_dw1", "dE_dw2") else s.replace("{w6}", "{w7}") if n in ("dE_dw3", "dE_dw4") else s,
        {"dE_dw1", "dE_dw2", "dE_dw3", "dE_dw4"},
    ),
    "w5 and w7 where w6 and w8 belong": (
        lambda n, k, s: s.replace("{w6}", "{w5}").replace("{w8}", "{w7}") if n in ("dE_dw3", "dE_dw4") else s,
        {"dE_dw3", "dE_dw4"},
    ),
    "h2 where a_h2 belongs": (lambda n, k, s: s.replace("{a_h2}", "{h2}") if n == "dE_dw6" else s, {"dE_dw6"}),
    "(a_o2 − t2) missing": (
        lambda n, k, s: s.replace("({a_o2}-{t2})*", "") if n == "dE_dw7" else s,
        {"dE_dw7"},
    ),
    "a_o2·t1 in place of (a_o2 − t2)": (
        lambda n, k, s: s.replace("({a_o2}-{t2})", "{a_o2}*{t1}") if n == "dE_dw8" else s,
        {"dE_dw8"},
    ),
    "(1 − a_o1) where (1 − a_o2) belongs": (
        lambda n, k, s: s.replace("(1-{a_o2})", "(1-{a_o1})") if n == "dE_dw7" else s,
        {"dE_dw7"},
    ),
    "missing brackets around ∂E/∂a_h1": (
        lambda n, k, s: s.replace("((", "(").replace("{w7})*", "{w7}*") if n == "dE_dw1" else s,
        {"dE_dw1"},
    ),
    "w3 updated with ∂E/∂w1": (lambda n, k, s: s.replace("{dE_dw3@-1}", "{dE_dw1@-1}") if n == "w3" else s, {"w3"}),
    "w4 updated with ∂E/∂w2": (lambda n, k, s: s.replace("{dE_dw4@-1}", "{dE_dw2@-1}") if n == "w4" else s, {"w4"}),
}  # fmt: skip


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_mistake_seen_in_real_workbooks_is_named_by_its_columns(mistake):
    plant, columns = MISTAKES[mistake]
    assert set(wrong(classroom(plant=plant))) == columns
    # and where the student's inputs make the mistake show only with t1 != t2, the formulas check still names it


def test_the_update_column_and_its_first_wrong_row_are_named():
    """From the table's 4th row on, w2's update multiplies by an old weight cell instead of η."""
    plant = only("w2", None, lambda s: s)

    def from_row(name, k, text):
        return text.replace("{eta}", "{w1@-1}") if name == "w2" and k >= 3 else plant(name, k, text)

    found = check_workbook(classroom(plant=from_row, rows=8), "s.xlsx").recognised[0].findings
    assert [(f.column, f.cell) for f in found] == [("w2", "Sheet1!G9")]


def test_a_frozen_row_reference_is_named_in_the_first_row_it_is_wrong():
    def frozen(name, k, text):
        return text.replace("{dE_dw5@-1}", "AC$6") if name == "w5" else text

    found = check_workbook(classroom(plant=frozen, rows=6), "s.xlsx").recognised[0].findings
    assert [(f.column, f.cell) for f in found] == [("w5", "Sheet1!N8")]  # row 7 reads row 6: right


def test_a_relative_eta_reference_that_slides_is_named_with_the_reason():
    """=F6-B2*Y6 copied down becomes =F7-B3*Y7: from the second update on, η is another cell."""

    def sliding(name, k, text):
        return text.replace("{eta}", f"B{1 + k}") if name in WEIGHTS else text

    report = check_workbook(book(lambda ws: write_table(ws, 5, 2, plant=sliding)), "s.xlsx")
    (sheet,) = report.recognised
    found = {f.column: f for f in sheet.findings}
    assert set(found) == set(WEIGHTS)
    assert all(f.cell.endswith("8") for f in found.values())  # row 7 reads B2, row 8 reads B3
    assert all("slides" in f.hint or "η" in f.hint for f in found.values())


def test_cells_that_break_the_columns_pattern_are_named_even_where_values_agree():
    """Every fourth row of ∂E/∂w5 overwritten with ∂E/∂w6's formula... and of t-symmetric columns, with
    a formula whose value the classroom values cannot tell apart (t1 for t2): only its tree shows it."""

    def overwrite(name, k, text):
        if name == "E2" and k == 3:
            return text.replace("{t2}", "{t1}")  # same value while t1 = t2
        if name == "dE_dw5" and k == 4:
            return symbolic("dE_dw6", COLUMNS)
        return text

    found = check_workbook(classroom(plant=overwrite, rows=8), "s.xlsx").recognised[0].findings
    assert {(f.column, f.cell, f.check) for f in found} == {
        ("E2", "Sheet1!W9", "formulas"),
        ("dE_dw5", "Sheet1!AC10", "values"),
    }


def test_no_false_alarm_on_a_long_correct_table_of_full_precision_values():
    report = check_workbook(pasted(rows=200), "long.xlsx")
    assert report.verdict == "ok"
    assert math.isclose(report.recognised[0].errors[0], 0.014181377937891659, rel_tol=1e-12)
    assert np.all(np.diff(report.recognised[0].errors) < 0)


def test_inputs_typed_once_in_the_first_row_are_no_mistake():
    """t1 … i2 typed in the first row only, every formula reading them there ($B$6)."""
    first_row = {"t1": "$B$6", "t2": "$C$6", "i1": "$D$6", "i2": "$E$6"}

    def plant(name, k, text):
        for symbol, cell in first_row.items():
            text = text.replace("{" + symbol + "}", cell)
        return text

    def layout(ws):
        letter = write_table(ws, 5, 2, plant=plant)
        for k in range(1, 6):
            for name in first_row:
                ws[f"{letter[name]}{6 + k}"] = None
        return letter

    report = check_workbook(book(layout), "s.xlsx")
    assert report.verdict == "ok", [(f.column, f.cell, f.hint) for s in report.sheets for f in s.findings]
