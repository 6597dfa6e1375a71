"""The checker judges what each formula computes, not how it is spelled (issue 18).

Oracles: hand-worked values for the formula parser; LibreOffice's recalculation for what a rewritten
sheet holds; backprop_core/mistakes.py's catalogue for the mistakes planted (one at a time, in one
column), each written out by tests/sheet_rewrites.py, a printer of its own, in a random student form.
"""

import io
import math
import shutil
import zlib

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_core import COLUMNS, Config
from backprop_core.config import INPUTS, TARGETS, WEIGHTS
from backprop_core.expr import Num, Sym
from backprop_core.mistakes import MISTAKES
from exports.xlsx import FIRST_ROW, HEADER_ROW, LETTER, workbook_bytes
from sheetcheck.check import check_workbook
from sheetcheck.parse import FormulaError
from sheetcheck.trees import to_tree
from tests.sheet_rewrites import plant, workbook

needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="needs LibreOffice (soffice)")


def value_of(text: str, cells: dict[str, float] | None = None) -> float:
    """A formula's value by the parser's tree, references read from `cells`."""
    cells = cells or {}
    tree = to_tree(text, lambda ref: Num(cells[ref]) if ref in cells else Sym(ref))
    return float(np.asarray(tree.evaluate({}, None)).reshape(-1)[0])


@pytest.mark.parametrize(
    "formula, value",
    [
        ("=-2^2", 4.0),  # Excel: unary minus binds tighter than ^
        ("=2^3^2", 64.0),  # and ^ is left-associative
        ("=10-4-3", 3.0),
        ("=12/3/2", 2.0),
        ("=5%*2", 0.1),
        ("=1/(1+EXP(-0))", 0.5),
        ("=SUM(1,2,3)*PRODUCT(2,3)", 36.0),
        ("=POWER(3,2)-SQRT(16)", 5.0),
        ("=IF(2>1,7,9)+IF(1>=2,100,0)", 7.0),
        ("=MAX(1,5,2)-MIN(4,-1)", 6.0),
        ("=LN(EXP(2))+LOG(100)+LOG(8,2)", 7.0),
        ("=A1*(1-A1)", 0.25),
        ("=ROUND(A1,0)", 0.5),  # ROUND is how a cell shows a value, not what it computes
    ],
)
def test_the_formula_parser_computes_what_excel_computes(formula, value):
    assert math.isclose(value_of(formula, {"A1": 0.5}), value, rel_tol=1e-12)


@pytest.mark.parametrize(
    "formula",
    ["=1+", "=(1+2", "=WEBSERVICE(A1)", "=CONCAT(1,2)", '="text"', "=SUM(1,2", "=" + "1+" * 3000 + "1"],
)
def test_formulas_the_checker_cannot_read_are_refused_with_a_reason(formula):
    with pytest.raises(FormulaError):
        to_tree(formula, lambda ref: Num(1.0))


# ---------------------------------------------------------------------------------------------
# Equivalent rewrites are never flagged; every catalogued mistake is found, alone, in its words


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), stacked=st.booleans())
def test_a_right_sheet_in_any_student_form_is_ok(seed, stacked):
    report = check_workbook(workbook(seed, stacked=stacked), "student.xlsx")
    problems = [
        (s.name, s.unchecked, [(f.column, f.cell, f.hint) for f in s.findings]) for s in report.sheets
    ]
    assert report.verdict == "ok", problems
    assert len(report.recognised) == (2 if stacked else 1)


def _planted_cases():
    cases = []
    for mistake in MISTAKES:
        for column in COLUMNS:
            if column in INPUTS + TARGETS or (mistake.id == "old-weights" and column in WEIGHTS):
                continue  # an old weight in an update reads two rows back: no cell of the table
            quantity = f"next_{column}" if column in WEIGHTS else column
            if mistake.tree(quantity) is not None:
                cases.append((mistake.id, column))
    return cases


PLANTED = _planted_cases()
# The fast suite takes each mistake in its first column; CI takes every (mistake, column) pair.
FIRST_OF_EACH = list({m: (m, c) for m, c in reversed(PLANTED)}.values())


def _assert_found_alone(mistake_id: str, column: str, seed: int):
    says = next(m.says for m in MISTAKES if m.id == mistake_id)
    report = check_workbook(workbook(seed, wrong=plant(mistake_id, column)), "student.xlsx")
    found = [f for s in report.sheets for f in s.findings]
    assert [f.column for f in found] == [column], [(f.column, f.hint) for f in found]
    assert says in found[0].hint
    assert "None" not in found[0].hint and "?" not in found[0].hint


@pytest.mark.parametrize("mistake_id, column", FIRST_OF_EACH)
def test_each_catalogued_mistake_is_found_in_its_column_in_its_words(mistake_id, column):
    _assert_found_alone(mistake_id, column, seed=len(column) + len(mistake_id))


@pytest.mark.slow
@pytest.mark.parametrize("mistake_id, column", PLANTED)
def test_every_catalogued_mistake_in_every_column_it_changes_is_found_alone(mistake_id, column):
    _assert_found_alone(mistake_id, column, seed=zlib.crc32(f"{mistake_id}:{column}".encode()))


def test_there_is_a_planted_case_for_every_mistake_of_the_catalogue():
    assert {m for m, _ in PLANTED} == {m.id for m in MISTAKES}
    assert len(PLANTED) > 100


@needs_soffice
def test_rewritten_sheets_recalculated_by_libreoffice_are_ok_and_planted_ones_found(tmp_path):
    """With the values LibreOffice computes (the cached-values path a student's saved file takes)."""
    from tests.recalc import recalculate_many

    source = tmp_path / "in"
    source.mkdir()
    right = [source / f"right{seed}.xlsx" for seed in range(6)]
    for seed, path in enumerate(right):
        path.write_bytes(workbook(seed, stacked=seed % 2 == 0))
    planted = {}
    for i, (mistake_id, column) in enumerate(FIRST_OF_EACH[::3]):
        path = source / f"planted{i}.xlsx"
        path.write_bytes(workbook(100 + i, wrong=plant(mistake_id, column)))
        planted[path.name] = (mistake_id, column)
    (tmp_path / "out").mkdir()
    out = recalculate_many([*right, *(source / n for n in planted)], tmp_path / "out")
    by_name = {p.name: p for p in out}
    for path in right:
        data = by_name[path.name].read_bytes()
        assert openpyxl.load_workbook(io.BytesIO(data), data_only=True).active["A1"].value is not None
        report = check_workbook(data, path.name)
        assert report.verdict == "ok", [
            (s.unchecked, [(f.cell, f.hint) for f in s.findings]) for s in report.sheets
        ]
    for name, (mistake_id, column) in planted.items():
        report = check_workbook(by_name[name].read_bytes(), name)
        assert [f.column for s in report.sheets for f in s.findings] == [column], (mistake_id, column)


# ---------------------------------------------------------------------------------------------
# The kinds of workbook that gave false alarms in real submissions


@pytest.fixture(scope="module")
def exported() -> bytes:
    return workbook_bytes(Config(), [0.5], 6)


def _edit(data: bytes, change) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    change(wb["LR 0.5"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _rows(ws):
    return [r for r in range(FIRST_ROW, ws.max_row + 1) if ws[f"{LETTER['w1']}{r}"].value is not None]


@needs_soffice
def test_inputs_and_targets_as_constant_formulas_in_every_row_are_ok(tmp_path, exported):
    from tests.recalc import recalculate

    def constants(ws):
        for r in _rows(ws):
            for name, value in (("i1", "0.05"), ("i2", "0.1"), ("t1", "0.5"), ("t2", "0.5")):
                ws[f"{LETTER[name]}{r}"] = "=" + value

    path = tmp_path / "constants.xlsx"
    path.write_bytes(_edit(exported, constants))
    (tmp_path / "out").mkdir()
    report = check_workbook(recalculate(path, tmp_path / "out").read_bytes(), path.name)
    assert report.verdict == "ok", [(f.cell, f.hint) for s in report.sheets for f in s.findings]


@pytest.mark.parametrize("spelling", ["∂E_t/∂w{n}", "gradient {n}", "g{n}"])
def test_gradient_columns_under_headers_no_list_holds_are_found_by_what_they_compute(exported, spelling):
    def relabel(ws):
        for n in range(1, 9):
            ws[f"{LETTER[f'dE_dw{n}']}{HEADER_ROW}"] = spelling.format(n=n)

    report = check_workbook(_edit(exported, relabel), "headers.xlsx")
    (sheet,) = report.recognised
    assert sheet.unchecked == [] and sheet.findings == [] and report.verdict == "ok"


def test_a_wrong_gradient_under_an_unknown_header_is_found_and_named(exported):
    def relabel_and_break(ws):
        for n in range(1, 9):
            ws[f"{LETTER[f'dE_dw{n}']}{HEADER_ROW}"] = f"grad w{n}"
        for r in _rows(ws):  # a_h1 (J) where a_h2 (L) belongs, in ∂E/∂w3
            cell = ws[f"{LETTER['dE_dw3']}{r}"]
            cell.value = cell.value.replace(f"{LETTER['a_h2']}{r}", f"{LETTER['a_h1']}{r}")

    (sheet,) = check_workbook(_edit(exported, relabel_and_break), "headers.xlsx").recognised
    assert [(f.column, f.cell) for f in sheet.findings] == [
        ("dE_dw3", f"LR 0.5!{LETTER['dE_dw3']}{FIRST_ROW}")
    ]
    assert "a_h1 where a_h2 belongs" in sheet.findings[0].hint
    assert "None" not in sheet.findings[0].hint and "?" not in sheet.findings[0].hint


def test_a_first_row_written_differently_but_meaning_the_same_is_ok(exported):
    def first_row(ws):
        r, L = FIRST_ROW, LETTER
        ws[f"{L['E1']}{r}"] = f"=POWER({L['t1']}{r}-{L['a_o1']}{r},2)/2"
        ws[f"{L['h1']}{r}"] = f"=SUM({L['i1']}{r}*{L['w1']}{r},{L['w2']}{r}*{L['i2']}{r})"
        ws[f"{L['a_h1']}{r}"] = f"=EXP({L['h1']}{r})/(1+EXP({L['h1']}{r}))"

    assert check_workbook(_edit(exported, first_row), "first.xlsx").verdict == "ok"


def test_updates_rounded_to_10_digits_are_ok(exported):
    def rounded(ws):
        for r in _rows(ws)[1:]:
            for w in WEIGHTS:
                cell = ws[f"{LETTER[w]}{r}"]
                cell.value = f"=ROUND({cell.value[1:]},10)"

    assert check_workbook(_edit(exported, rounded), "rounded.xlsx").verdict == "ok"


def test_template_rows_left_uncomputed_make_the_sheet_incomplete_not_wrong(exported):
    def template(ws):
        last = _rows(ws)[-1]
        for r in (last + 1, last + 2):
            for letter in LETTER.values():
                ws[f"{letter}{r}"] = 0

    (sheet,) = check_workbook(_edit(exported, template), "template.xlsx").recognised
    assert sheet.findings == [] and sheet.verdict == "incomplete"
    assert any("not computed" in u for u in sheet.unchecked)


def test_a_typed_number_among_formulas_is_still_named(exported):
    """A column of formulas with one cell overwritten by its own value: right now, stale tomorrow."""

    def typed(ws):
        ws[f"{LETTER['o1']}{FIRST_ROW + 2}"] = 0.1

    (sheet,) = check_workbook(_edit(exported, typed), "typed.xlsx").recognised
    assert [f.cell for f in sheet.findings] == [f"LR 0.5!{LETTER['o1']}{FIRST_ROW + 2}"]
