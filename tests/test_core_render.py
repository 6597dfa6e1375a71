"""The formula trees print as Excel and LaTeX; the Excel text is checked by an independent formula engine."""

from __future__ import annotations

import formulas
import pytest
from openpyxl.utils import get_column_letter

from backprop_core import ACTIVATIONS, COLUMNS, Config, build_network, row
from backprop_core.expr import latex_symbol

# Row 2 holds the columns in classroom order; eta and the biases live in cells of row 1.
CELLS = {name: f"{get_column_letter(i + 1)}2" for i, name in enumerate(COLUMNS)}
CELLS.update(b1="AG1", b2="AH1", eta="AI1")


def evaluate_excel(text: str, values: dict[str, float]) -> float:
    """Evaluate one Excel formula with the `formulas` package, feeding each referenced cell its value."""
    function = formulas.Parser().ast("=" + text)[1].compile()
    by_cell = {cell: values[name] for name, cell in CELLS.items() if name in values}
    return float(function(*(by_cell[cell] for cell in function.inputs)))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("biases", [False, True])
def test_excel_text_computes_what_the_engine_computes(activation: str, biases: bool) -> None:
    config = Config(activation=activation, biases=biases, t1=0.2, t2=0.7, w2=-0.3)
    values = row(config, lr=0.5)
    network = build_network(biases)
    exprs = network.by_name()
    act = ACTIVATIONS[activation]
    for formula in network.formulas:
        if formula.name not in COLUMNS and formula.stage != "update":
            continue  # intermediates are inlined into the columns that use them
        text = formula.expr.excel(act, lambda name: CELLS.get(name), exprs)
        assert evaluate_excel(text, values) == pytest.approx(values[formula.name], rel=1e-12, abs=1e-15), text


def test_gradient_columns_inline_the_chain_like_the_classroom_sheet() -> None:
    network = build_network(False)
    text = network.by_name()["dE_dw3"].excel(ACTIVATIONS["sigmoid"], CELLS.get, network.by_name())
    a_h2, a_h1 = CELLS["a_h2"], CELLS["a_h1"]
    assert f"{a_h2}*(1-{a_h2})" in text and a_h1 not in text


def test_latex_with_numbers_substituted() -> None:
    network = build_network(False)
    values = row(Config())
    h1 = network.by_name()["h1"]
    assert h1.latex(ACTIVATIONS["sigmoid"]) == r"w_{1} \, i_{1} + w_{2} \, i_{2}"
    assert h1.latex(ACTIVATIONS["sigmoid"], values) == r"0.15 \cdot 0.05 + 0.2 \cdot 0.1"
    assert latex_symbol("dE_dw5") == r"\frac{\partial E}{\partial w_{5}}"
