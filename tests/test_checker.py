"""The worksheet checker names the mistakes students make, and passes correct workbooks.

Oracles: the two real student workbooks (one with a known mistake, one correct, values cached by Excel),
mistakes planted by hand into a correct live-formula workbook, and LibreOffice's recalculation.
"""

import io
import json
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from backprop_core import ACTIVATIONS, COLUMNS, Config, build_network
from exports.xlsx import ETA_CELL, FIRST_ROW, HEADER_ROW, LETTER, workbook_bytes
from sheetcheck import cli as check_cli
from sheetcheck.check import check_workbook
from sheetcheck.recognise import column_for_label

SHEETS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "student-sheets"
VARUN = SHEETS / "erav1-varun-senthilnathan.xlsx"
DARSHANA = SHEETS / "erav2-darshanabhandare.xlsx"
needs_sheets = pytest.mark.skipif(
    not VARUN.is_file(), reason="../shared/data/student-sheets is not beside the repo"
)

SHEET = "LR 0.5"  # the learning-rate sheet the planted mistakes go into


@pytest.fixture(scope="module")
def exported() -> bytes:
    """A correct live-formula workbook from the app's own exporter: two learning rates, 4 steps."""
    return workbook_bytes(Config(), [0.5, 1.0], 4)


def mutate(data: bytes, column: str, old: str, new: str, rows=None, sheet: str = SHEET) -> bytes:
    """Replace the cell reference `old` (a column letter, e.g. "J") by `new` in one column's formulas.

    `old`/`new` are letters of this row; rows default to every row of the table.
    """
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[sheet]
    letter = LETTER[column]
    changed = 0
    for row in rows or range(FIRST_ROW, ws.max_row + 1):
        cell = ws[f"{letter}{row}"]
        if isinstance(cell.value, str) and cell.value.startswith("="):
            replaced = re.sub(rf"(?<![A-Z$]){old}{row}(?!\d)", f"{new}{row}", cell.value)
            changed += replaced != cell.value
            cell.value = replaced
    assert changed, f"the mutation {old}->{new} did not apply to {column}"
    return save(wb)


def save(wb) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def findings(data: bytes, sheet: str = SHEET):
    report = check_workbook(data, "planted.xlsx")
    return {f.column: f for f in next(s for s in report.sheets if s.name == sheet).findings}


# ---------------------------------------------------------------------------------------------
# The two real workbooks


@needs_sheets
def test_varun_is_flagged_for_dE_dw3_and_dE_dw4_with_the_a_h1_hint():
    report = check_workbook(VARUN.read_bytes(), VARUN.name)
    sheets = {s.name: s for s in report.sheets}
    assert sheets["Sheet1"].recognised and sheets["Experiment"].recognised
    assert not sheets["Sheet3"].recognised
    assert sheets["Sheet1"].eta_cell == "Sheet1!G31" and sheets["Sheet1"].header_row == 32
    for name, row in (("Sheet1", 33), ("Experiment", 19)):
        found = {f.column: f for f in sheets[name].findings}
        assert set(found) == {"dE_dw3", "dE_dw4"}
        assert found["dE_dw3"].cell == f"{name}!Z{row}" and found["dE_dw4"].cell == f"{name}!AA{row}"
        for finding in found.values():
            assert "a_h1 (column J)" in finding.hint and "a_h2 (column L)" in finding.hint


@needs_sheets
def test_the_expected_value_is_what_excel_computed_for_the_correct_formula():
    """Darshana's correct sheet, with the same first row, holds Excel's own value of the right ∂E/∂w3."""
    excel = openpyxl.load_workbook(DARSHANA, data_only=True)["Sheet1"]
    report = check_workbook(VARUN.read_bytes(), VARUN.name)
    found = {f.column: f for f in report.sheets[0].findings}
    assert found["dE_dw3"].expected == pytest.approx(excel["Z33"].value, rel=1e-12)
    assert found["dE_dw4"].expected == pytest.approx(excel["AA33"].value, rel=1e-12)
    assert found["dE_dw3"].found == openpyxl.load_workbook(VARUN, data_only=True)["Sheet1"]["Z33"].value


@needs_sheets
def test_darshana_structured_references_are_recognised_and_clean():
    report = check_workbook(DARSHANA.read_bytes(), DARSHANA.name)
    (sheet,) = report.sheets
    assert sheet.recognised and sheet.findings == []
    assert sheet.eta == 2 and sheet.eta_cell == "Sheet1!G31" and sheet.rows == 89
    assert report.ok
    # Its own error curve follows the correct one from the same start.
    assert sheet.errors == pytest.approx(sheet.expected_errors, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Correct generated workbooks


def test_a_correct_exported_workbook_has_no_findings(exported):
    report = check_workbook(exported, "export.xlsx")
    tables = report.recognised
    assert [s.name for s in tables] == ["LR 0.5", "LR 1"]
    assert all(s.findings == [] for s in tables)
    assert [s.eta for s in tables] == [0.5, 1.0]
    assert {s.name for s in report.sheets} - {s.name for s in tables} == {"Summary", "Derivation"}


def shuffled_workbook(
    order, first_row: int, labels: dict[str, str], eta_cell: str = "B2", rows: int = 4
) -> bytes:
    """A classroom table written from backprop_core's formula trees in another column order, on another
    row, with other header spellings: the layout students choose, not the exporter's."""
    network = build_network(False)
    formulas = network.by_name()
    act = ACTIVATIONS["sigmoid"]
    letter = {name: get_column_letter(i + 3) for i, name in enumerate(order)}  # columns from C on
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Mine"
    ws[eta_cell] = 0.5
    config = Config().values()
    for name in order:
        ws[f"{letter[name]}{first_row - 1}"] = labels.get(name, name)
    for k in range(rows):
        row = first_row + k

        def here(n, row=row):
            return f"{letter[n]}{row}" if n in letter else None

        def above(n, row=row):
            return "$" + eta_cell[0] + "$" + eta_cell[1:] if n == "eta" else here(n, row - 1)

        for name in order:
            if name in config and (k == 0 or name[0] in "it"):
                ws[f"{letter[name]}{row}"] = config[name]
            elif name in config:
                ws[f"{letter[name]}{row}"] = "=" + formulas[f"next_{name}"].excel(act, above, formulas)
            else:
                ws[f"{letter[name]}{row}"] = "=" + formulas[name].excel(act, here, formulas)
    return save(wb)


SPELLINGS = {"E_total": "E_Total", "dE_dw1": "E∂w1", "dE_dw2": "dE/dw2", "dE_dw3": "∂E/∂w3", "a_h1": "a_h1 "}


def test_columns_in_any_order_on_any_row_with_other_spellings_are_recognised():
    order = list(reversed(COLUMNS))
    report = check_workbook(shuffled_workbook(order, first_row=12, labels=SPELLINGS), "mine.xlsx")
    (sheet,) = report.sheets
    assert sheet.recognised and sheet.header_row == 11 and sheet.eta_cell == "Mine!B2"
    assert sheet.findings == []


def test_a_mistake_in_a_shuffled_layout_is_named_by_its_own_column_letters():
    order = list(reversed(COLUMNS))
    data = shuffled_workbook(order, first_row=12, labels=SPELLINGS)
    letter = {name: get_column_letter(i + 3) for i, name in enumerate(order)}
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cell = wb["Mine"][f"{letter['dE_dw3']}12"]
    cell.value = cell.value.replace(f"{letter['a_h2']}12", f"{letter['a_h1']}12")
    found = findings(save(wb), "Mine")
    assert set(found) == {"dE_dw3"}
    assert found["dE_dw3"].cell == f"Mine!{letter['dE_dw3']}12"
    assert f"a_h1 (column {letter['a_h1']})" in found["dE_dw3"].hint


@pytest.mark.parametrize(
    "label, column",
    [("E_tot", "E_total"), ("E_Total", "E_total"), ("E_total", "E_total"), ("∂E/∂w1", "dE_dw1"),
     ("E∂w1", "dE_dw1"), ("dE/dw1", "dE_dw1"), ("∂E_total/∂w8", "dE_dw8"), ("a_o2", "a_o2"), ("η =", None),
     ("adadasdasd", None), (0.5, None)],
)  # fmt: skip
def test_header_spellings(label, column):
    assert column_for_label(label) == column


# ---------------------------------------------------------------------------------------------
# Planted mistakes, one per gradient column: the wrong symbol where the right one belongs.

# column -> (the letter its right formula reads, the letter a student writes instead)
WRONG_SYMBOL = {
    "dE_dw1": ("i1", "i2"),
    "dE_dw2": ("i2", "i1"),
    "dE_dw3": ("a_h2", "a_h1"),  # the classroom mistake: a_h1's slope in ∂E/∂w3
    "dE_dw4": ("a_h2", "a_h1"),
    "dE_dw5": ("a_h1", "a_h2"),
    "dE_dw6": ("a_h2", "a_h1"),
    "dE_dw7": ("a_h1", "a_h2"),
    "dE_dw8": ("a_h2", "a_h1"),
}


@pytest.mark.parametrize("column", sorted(WRONG_SYMBOL))
def test_each_gradient_column_with_a_wrong_symbol_is_named(exported, column):
    right, wrong = WRONG_SYMBOL[column]
    found = findings(mutate(exported, column, LETTER[right], LETTER[wrong]))
    assert set(found) == {column}, "only the wrong column is named; later columns use the sheet's own values"
    finding = found[column]
    assert finding.cell == f"{SHEET}!{LETTER[column]}{FIRST_ROW}"
    assert f"uses {wrong} (column {LETTER[wrong]})" in finding.hint
    assert f"needs {right} (column {LETTER[right]})" in finding.hint
    assert finding.found != pytest.approx(finding.expected, rel=1e-9)


def test_swapped_targets_are_caught_only_by_the_formulas_check(exported):
    data = mutate(exported, "E1", LETTER["t1"], LETTER["t2"])
    data = mutate(data, "E2", LETTER["t2"], LETTER["t1"])
    found = findings(data)
    assert set(found) == {"E1", "E2"}
    for finding in found.values():
        assert finding.check == "formulas"  # with t1 = t2 = 0.5 the values are right
        assert "targets are swapped" in finding.hint
        assert finding.cell.endswith(f"{FIRST_ROW}")
    # Named in the catalogue's words (backprop_core/mistakes.py), as the exercise mode names it.
    assert all("t1 and t2 swapped" in f.hint for f in found.values())


def test_a_mistake_visible_only_when_t1_differs_from_t2(exported):
    found = findings(mutate(exported, "dE_dw7", LETTER["t2"], LETTER["t1"]))
    assert set(found) == {"dE_dw7"}
    assert found["dE_dw7"].check == "formulas"
    t1, t2 = LETTER["t1"], LETTER["t2"]
    assert f"uses t1 (column {t1}) where ∂E/∂w7 needs t2 (column {t2})" in found["dE_dw7"].hint


def test_a_sign_error(exported):
    wb = openpyxl.load_workbook(io.BytesIO(exported))
    ws = wb[SHEET]
    a_o1, t1 = LETTER["a_o1"], LETTER["t1"]
    for row in range(FIRST_ROW, ws.max_row + 1):
        cell = ws[f"{LETTER['dE_dw5']}{row}"]
        cell.value = cell.value.replace(f"({a_o1}{row}-{t1}{row})", f"({t1}{row}-{a_o1}{row})")
    found = findings(save(wb))
    assert set(found) == {"dE_dw5"}
    assert found["dE_dw5"].found == pytest.approx(-found["dE_dw5"].expected, rel=1e-12)
    assert "a sign error: (t − a_o) where (a_o − t) belongs" in found["dE_dw5"].hint  # the catalogue's words


def test_a_missing_term(exported):
    wb = openpyxl.load_workbook(io.BytesIO(exported))
    ws = wb[SHEET]
    row = FIRST_ROW
    cell = ws[f"{LETTER['dE_dw2']}{row}"]
    before = cell.value
    a_o2, t2, w7 = (LETTER[name] for name in ("a_o2", "t2", "w7"))
    path = rf"\+\({a_o2}{row}-{t2}{row}\)\*{a_o2}{row}\*\(1-{a_o2}{row}\)\*{w7}{row}"
    cell.value = re.sub(path, "", before)
    assert cell.value != before
    found = findings(save(wb))
    assert set(found) == {"dE_dw2"} and found["dE_dw2"].cell == f"{SHEET}!{LETTER['dE_dw2']}{row}"
    assert "misses" in found["dE_dw2"].hint and f"w7 (column {LETTER['w7']})" in found["dE_dw2"].hint


def test_a_wrong_eta_reference_is_caught_even_when_the_cell_holds_the_same_number(exported):
    """w3's update reads a copy of η (D3 = 0.5): right values, wrong formula."""
    wb = openpyxl.load_workbook(io.BytesIO(exported))
    ws = wb[SHEET]
    ws["D3"] = ws[ETA_CELL].value
    for row in range(FIRST_ROW + 1, ws.max_row + 1):
        cell = ws[f"{LETTER['w3']}{row}"]
        cell.value = cell.value.replace("eta", "$D$3")
    found = findings(save(wb))
    assert set(found) == {"w3"}
    finding = found["w3"]
    assert finding.check == "formulas" and finding.cell == f"{SHEET}!{LETTER['w3']}{FIRST_ROW + 1}"
    assert "cell D3 as the learning rate" in finding.hint and "$B$3" in finding.hint


def test_a_typed_number_where_a_formula_belongs_is_named_with_its_row(exported):
    wb = openpyxl.load_workbook(io.BytesIO(exported))
    ws = wb[SHEET]
    ws[f"{LETTER['h2']}{FIRST_ROW + 2}"] = 0.0425  # row 0's h2, pasted as a value into row 2
    found = findings(save(wb))
    assert set(found) == {"h2"}
    assert found["h2"].cell == f"{SHEET}!{LETTER['h2']}{FIRST_ROW + 2}" and found["h2"].check == "values"
    assert "typed number" in found["h2"].hint


def test_a_sheet_that_is_not_a_table_never_stops_the_others(exported):
    wb = openpyxl.load_workbook(io.BytesIO(exported))
    odd = wb.create_sheet("Notes")
    odd["A1"] = "t1"
    odd["B1"] = "=1/0"
    odd["C5"] = "=SUM(A1:B2)+NOSUCHFUNCTION(3)"
    report = check_workbook(save(wb), "x.xlsx")
    notes = next(s for s in report.sheets if s.name == "Notes")
    assert not notes.recognised and "not recognised" in notes.note
    assert all(s.findings == [] for s in report.recognised)


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_exit_codes_and_json_shape(tmp_path, capsys, exported):
    clean = tmp_path / "clean.xlsx"
    clean.write_bytes(exported)
    assert check_cli.main([str(clean)]) == 0
    assert "OK" in capsys.readouterr().out

    wrong = tmp_path / "wrong.xlsx"
    wrong.write_bytes(mutate(exported, "dE_dw3", LETTER["a_h2"], LETTER["a_h1"]))
    assert check_cli.main([str(wrong), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["file"] == "wrong.xlsx"
    sheets = {s["name"]: s for s in report["sheets"]}
    assert sheets["Summary"]["recognised"] is False
    (finding,) = sheets[SHEET]["findings"]
    assert set(finding) == {"column", "cell", "check", "expected", "found", "hint"}
    assert finding["column"] == "dE_dw3" and finding["cell"] == f"{SHEET}!{LETTER['dE_dw3']}{FIRST_ROW}"
    assert finding["check"] in ("values", "formulas")
    assert isinstance(finding["expected"], float) and isinstance(finding["found"], float)
    assert sheets["LR 1"]["findings"] == []

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"name,value\nw1,0.15\n")
    assert check_cli.main([str(broken)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err
    assert check_cli.main([str(tmp_path / "missing.xlsx")]) == 2


@needs_sheets
def test_cli_on_the_real_workbooks(capsys):
    assert check_cli.main([str(DARSHANA)]) == 0
    assert check_cli.main([str(VARUN)]) == 1
    text = capsys.readouterr().out
    assert "Sheet1!Z33" in text and "Sheet3: not recognised" in text


# ---------------------------------------------------------------------------------------------
# Cached values, as Excel or LibreOffice save them


@pytest.mark.soffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (soffice) to recalculate")
def test_libreoffice_recalculated_workbook_passes_the_values_check(tmp_path, exported):
    """LibreOffice computes every cell of the exported sheet; those values must agree with backprop_core."""
    from tests.recalc import recalculate

    source = tmp_path / "in" / "export.xlsx"
    source.parent.mkdir()
    source.write_bytes(mutate(exported, "dE_dw6", LETTER["a_h2"], LETTER["a_h1"]))
    out = tmp_path / "out"
    out.mkdir()
    recalculated = recalculate(source, out)
    assert openpyxl.load_workbook(recalculated, data_only=True)[SHEET][f"W{FIRST_ROW}"].value is not None
    report = check_workbook(recalculated.read_bytes(), "recalculated.xlsx")
    sheets = {s.name: s for s in report.recognised}
    assert "no saved values" not in sheets[SHEET].note  # it read LibreOffice's values
    assert sheets["LR 1"].findings == []
    (finding,) = sheets[SHEET].findings
    assert finding.column == "dE_dw6" and finding.check == "values"
    assert HEADER_ROW == sheets[SHEET].header_row


def test_eta_typed_into_the_update_formulas_is_read_from_the_first_update(exported):
    """=F6-0.5*Y6 instead of =F6-eta*Y6: no η cell, so η comes from the values; a wrong update still shows."""
    wb = openpyxl.load_workbook(io.BytesIO(exported))
    ws = wb[SHEET]
    for row in range(FIRST_ROW + 1, ws.max_row + 1):
        for w in ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"):
            cell = ws[f"{LETTER[w]}{row}"]
            cell.value = cell.value.replace("eta", "0.5")
    clean = check_workbook(save(wb), "typed.xlsx").recognised[0]
    assert clean.eta == pytest.approx(0.5, rel=1e-9) and clean.eta_cell is None
    assert clean.findings == [] and "typed into" in clean.note
    cell = ws[f"{LETTER['w6']}{FIRST_ROW + 2}"]
    cell.value = cell.value.replace("0.5", "0.05")  # one update with another learning rate
    found = findings(save(wb))
    assert set(found) == {"w6"} and found["w6"].cell == f"{SHEET}!{LETTER['w6']}{FIRST_ROW + 2}"


def test_right_cells_combined_wrongly_gets_the_formula_in_the_hint(exported):
    """A catalogued mistake (the missing ½) is named in the catalogue's words; a formula that reads the
    right cells in a way no mistake of the catalogue does gets the right formula instead."""

    def with_e1(text: str) -> dict:
        wb = openpyxl.load_workbook(io.BytesIO(exported))
        ws = wb[SHEET]
        for row in range(FIRST_ROW, ws.max_row + 1):
            cell = ws[f"{LETTER['E1']}{row}"]
            cell.value = cell.value.replace("0.5*", text)
        return findings(save(wb))

    found = with_e1("")  # E1 = (t1 - a_o1)^2, without the ½
    assert set(found) == {"E1"}
    assert "a missing ½" in found["E1"].hint
    assert found["E1"].found == pytest.approx(2 * found["E1"].expected, rel=1e-12)
    found = with_e1("0.25*")  # a quarter: no mistake of the catalogue
    assert set(found) == {"E1"}
    assert "combines them wrongly" in found["E1"].hint and "0.5" in found["E1"].hint


def test_a_table_without_the_h_columns_is_checked_with_them_inlined():
    """Some students skip h1 and h2 and write a_h1 = 1/(1+EXP(-(w1*i1+w2*i2))) directly."""
    order = [c for c in COLUMNS if c not in ("h1", "h2")]
    data = shuffled_workbook(order, first_row=3, labels={})
    (sheet,) = check_workbook(data, "short.xlsx").sheets
    assert sheet.recognised and sheet.missing_columns == ("h1", "h2")
    assert sheet.findings == []
    letter = {name: get_column_letter(i + 3) for i, name in enumerate(order)}
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cell = wb["Mine"][f"{letter['a_h2']}3"]
    cell.value = cell.value.replace(f"{letter['w4']}3", f"{letter['w2']}3")  # w2 where w4 belongs
    found = findings(save(wb), "Mine")
    assert set(found) == {"a_h2"}
    assert (
        f"uses w2 (column {letter['w2']}) where a_h2 needs w4 (column {letter['w4']})" in found["a_h2"].hint
    )


def test_a_cell_without_a_finite_number_is_null_in_the_json_report() -> None:
    """JSON has no NaN: a cell holding an error (read as NaN) must still give a report json.loads accepts."""
    import json

    from sheetcheck.check import Finding

    finding = Finding(
        column="dE_dw3", cell="Sheet1!Z33", check="values", expected=0.5, found=float("nan"), hint=""
    )
    text = json.dumps(finding.to_json(), allow_nan=False)
    assert json.loads(text)["found"] is None and json.loads(text)["expected"] == 0.5
