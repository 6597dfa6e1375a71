"""The backprop pages, run with Streamlit's AppTest: what a student sees, checked against numbers
recomputed here by hand (math.exp and the chain rule written out), never against the app's own output.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from backprop_core import MAX_STEPS, Config
from backprop_core.mistakes import parse_sheet_mistake
from exports.xlsx import MAX_EXPORT_STEPS
from lab.params import Setup, encode_params, parse_params
from tests.streamlit_server import REPO

CLASSROOM_WEIGHTS = (0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55)
PAGES = (
    "app_pages/home.py",
    "app_pages/step_through.py",
    "app_pages/worksheet.py",
    "app_pages/learning_rate.py",
)
SLOW_PAGE_S = 60  # a cold page on a shared 2-core machine


# ---- An independent oracle: the classroom network written out by hand. ---------------------------------


def squash(z: float, activation: str) -> float:
    return {"sigmoid": lambda: 1.0 / (1.0 + math.exp(-z)), "tanh": lambda: math.tanh(z), "linear": lambda: z}[
        activation
    ]()


def slope(a: float, activation: str) -> float:
    return {"sigmoid": a * (1.0 - a), "tanh": 1.0 - a * a, "linear": 1.0}[activation]


def by_hand(weights, activation="sigmoid", i1=0.05, i2=0.1, t1=0.5, t2=0.5):
    """(E_total, a_h1, gradients w1..w8) of one forward and backward pass."""
    w1, w2, w3, w4, w5, w6, w7, w8 = weights
    a_h1, a_h2 = squash(w1 * i1 + w2 * i2, activation), squash(w3 * i1 + w4 * i2, activation)
    a_o1, a_o2 = squash(w5 * a_h1 + w6 * a_h2, activation), squash(w7 * a_h1 + w8 * a_h2, activation)
    error = 0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2
    d_o1, d_o2 = (a_o1 - t1) * slope(a_o1, activation), (a_o2 - t2) * slope(a_o2, activation)
    d_h1 = (d_o1 * w5 + d_o2 * w7) * slope(a_h1, activation)
    d_h2 = (d_o1 * w6 + d_o2 * w8) * slope(a_h2, activation)
    grads = (d_h1 * i1, d_h1 * i2, d_h2 * i1, d_h2 * i2, d_o1 * a_h1, d_o1 * a_h2, d_o2 * a_h1, d_o2 * a_h2)
    return error, a_h1, grads


def train_by_hand(lr: float, steps: int, activation="sigmoid", weights=CLASSROOM_WEIGHTS):
    """E_total at every row 0..steps and the weights of the last row (stops early if it overflows)."""
    errors = []
    for _ in range(steps + 1):
        try:
            error, _, grads = by_hand(weights, activation)
        except OverflowError:
            errors.append(math.inf)
            break
        errors.append(error)
        last = weights
        weights = tuple(w - lr * g for w, g in zip(weights, grads, strict=True))
    return errors, last


# ---- Helpers. -------------------------------------------------------------------------------------------


def open_page(page: str, **query: str) -> AppTest:
    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=SLOW_PAGE_S)
    for name, value in query.items():
        app.query_params[name] = value
    app.switch_page(page)
    return app.run()


def field(app: AppTest, name: str):
    return app.text_input(key=f"setup_field_{name}")


def shown_text(app: AppTest, messages: bool = True) -> str:
    """Everything a student can read on the page: text, formulas, metrics, tables (and messages)."""
    kinds = ("markdown", "latex", "caption", "title", "subheader") + (
        ("error", "warning") if messages else ()
    )
    parts = [e.value for kind in kinds for e in getattr(app, kind)]
    parts += [f"{m.label} {m.value} {m.delta}" for m in app.metric]
    parts += [frame.value.to_string() for frame in app.dataframe]
    parts += [str(table.value) for table in app.table]
    return "\n".join(str(p) for p in parts)


def unescaped(markdown: str) -> str:
    """A message as the student reads it: the app backslash-escapes punctuation in text it quotes (and puts
    an invisible word joiner into anything that would read as a bare link)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def assert_clean(app: AppTest) -> None:
    """No exception, no traceback, and no NaN or inf among the results (a message may quote the input)."""
    assert not app.exception, [e.value for e in app.exception]
    assert "Traceback" not in shown_text(app)
    results = shown_text(app, messages=False)
    assert not re.search(r"\b(nan|inf)\b", results, re.IGNORECASE), "a NaN or inf is shown as a result"


def metric(app: AppTest, label_start: str) -> str:
    return next(m.value for m in app.metric if m.label.startswith(label_start))


def result_of(derivation: str) -> str:
    """The value after a derivation's last '=' (e.g. '0.506875')."""
    return derivation.rsplit("&=", 1)[1].replace(r"\end{aligned}", "").strip("$\n ")


def rendered(value: float) -> str:
    """How a derivation writes a result: 6 significant digits, 4.38 \\times 10^{-4} for 4.38e-04."""
    mantissa, _, exponent = f"{value:.6g}".partition("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}" if exponent else mantissa


def open_tab(app: AppTest, label: str) -> AppTest:
    """Click a Step-through tab: the page draws only the open one (app_pages/step_through.py)."""
    app.session_state["step_tab"] = label
    return app.run()


def latex_of(app: AppTest, symbol: str) -> str:
    """The derivation whose left-hand side is `symbol` (e.g. 'h_{1}', 'w_{1}^{\\text{new}}'), in the open
    tab, else in the first tab that has it (opened as a student would: Forward, Backward, Next forward)."""
    pattern = r"\\begin\{aligned\}\s*" + re.escape(symbol) + " &="
    for label in (None, "Forward", "Backward", "Next forward"):
        if label is not None:
            open_tab(app, label)
        found = [e.value for e in app.latex if re.search(pattern, e.value)]
        if found:
            return found[0]
    raise AssertionError(f"no derivation of {symbol} on any tab")


# ---- Every page renders. --------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_an_error(page):
    app = open_page(page)
    assert_clean(app)
    assert not app.error, [e.value for e in app.error]
    assert app.title, "the page has a title"


# ---- Numbers shown equal numbers recomputed by hand. ----------------------------------------------------


def test_the_forward_pass_shows_each_value_with_its_numbers_substituted():
    app = open_page("app_pages/step_through.py")
    assert_clean(app)
    h1 = latex_of(app, "h_{1}")
    assert "0.15 \\cdot 0.05 + 0.2 \\cdot 0.1" in h1 and h1.rstrip("$\n ").endswith("0.0275 \\end{aligned}")
    error, a_h1, _ = by_hand(CLASSROOM_WEIGHTS)
    assert result_of(latex_of(app, "a_{h_{1}}")) == f"{a_h1:.6g}"
    assert result_of(latex_of(app, "E_{total}")) == f"{error:.6g}"
    assert metric(app, "E_total at step 0") == f"{error:.10g}" == "0.01418137794"


def test_a_derivation_states_its_precision_and_its_result_has_that_many_digits():
    app = open_page("app_pages/step_through.py")
    assert_clean(app)
    assert "Numbers to 6 significant digits." in [c.value for c in app.caption]
    # a_h1 = σ(0.15·0.05 + 0.2·0.1) = 1 / (1 + e^-0.0275) = 0.50687456676…, written out by hand
    a_h1 = 1.0 / (1.0 + math.exp(-(0.15 * 0.05 + 0.2 * 0.1)))
    derivation = latex_of(app, "a_{h_{1}}")
    shown = result_of(derivation)
    assert shown == "0.506875" and abs(float(shown) - a_h1) <= 5e-7
    assert len(shown.replace("0.", "", 1).lstrip("0")) == 6, "6 significant digits"
    assert "0.0275" in derivation, "the substituted numbers are in the same derivation"
    # E_total = 0.014181377937891659 (the classroom sheet) to 6 significant digits
    assert result_of(latex_of(app, "E_{total}")) == "0.0141814"


def test_the_backward_pass_writes_both_paths_to_w1_in_full():
    app = open_page("app_pages/step_through.py")
    derivation = latex_of(app, r"\frac{\partial E}{\partial w_{1}}")
    assert "w_{5}" in derivation and "w_{7}" in derivation, "the paths through o1 (w5) and o2 (w7)"
    _, _, grads = by_hand(CLASSROOM_WEIGHTS)
    assert result_of(derivation) == rendered(grads[0])
    w5 = latex_of(app, r"\frac{\partial E}{\partial w_{5}}")
    assert "t_{2}" not in w5, "E2 drops out of dE/dw5"
    assert result_of(w5) == rendered(grads[4])


def test_changing_the_learning_rate_changes_the_update_and_the_next_error():
    app = open_page("app_pages/step_through.py")
    field(app, "lr").input("0.5").run()
    assert_clean(app)
    error, _, grads = by_hand(CLASSROOM_WEIGHTS)
    new_weights = tuple(w - 0.5 * g for w, g in zip(CLASSROOM_WEIGHTS, grads, strict=True))
    assert result_of(latex_of(app, r"w_{1}^{\text{new}}")) == f"{new_weights[0]:.6g}"
    next_error, _, _ = by_hand(new_weights)
    assert metric(app, "E_total with the new weights") == f"{next_error:.6g}"
    assert app.query_params["lr"] == "0.5"


def test_the_next_forward_tab_runs_the_forward_pass_again_with_the_new_weights():
    app = open_page("app_pages/step_through.py", lr="0.5")
    assert_clean(app)
    _, _, grads = by_hand(CLASSROOM_WEIGHTS)
    w1, w2, w3, w4, w5, w6, w7, w8 = (w - 0.5 * g for w, g in zip(CLASSROOM_WEIGHTS, grads, strict=True))
    i1, i2, t1, t2 = 0.05, 0.1, 0.5, 0.5
    h1, h2 = w1 * i1 + w2 * i2, w3 * i1 + w4 * i2
    a_h1, a_h2 = 1 / (1 + math.exp(-h1)), 1 / (1 + math.exp(-h2))
    o1, o2 = w5 * a_h1 + w6 * a_h2, w7 * a_h1 + w8 * a_h2
    a_o1, a_o2 = 1 / (1 + math.exp(-o1)), 1 / (1 + math.exp(-o2))
    e1, e2 = 0.5 * (t1 - a_o1) ** 2, 0.5 * (t2 - a_o2) ** 2
    expected = {
        "h_{1}": h1, "a_{h_{1}}": a_h1, "h_{2}": h2, "a_{h_{2}}": a_h2,
        "o_{1}": o1, "a_{o_{1}}": a_o1, "o_{2}": o2, "a_{o_{2}}": a_o2,
        "E_{1}": e1, "E_{2}": e2, "E_{total}": e1 + e2,
    }  # fmt: skip
    next_tab = open_tab(app, "Next forward").tabs[2]
    shown = {
        symbol: next(
            e.value
            for e in next_tab.latex
            if re.search(r"\\begin\{aligned\}\s*" + re.escape(symbol) + " &=", e.value)
        )
        for symbol in expected
    }
    for symbol, value in expected.items():
        assert shown[symbol].rstrip("$\n ").endswith(f"{value:.6g} \\end{{aligned}}"), (
            symbol,
            shown[symbol],
        )
    assert f"{w1:.6g}" in shown["h_{1}"] and f"{w5:.6g}" in shown["o_{1}"], "the new weights are substituted"
    assert f"{CLASSROOM_WEIGHTS[0]:.6g} \\cdot" not in shown["h_{1}"], "not the old ones"
    assert metric(app, "E_total with the new weights") == f"{e1 + e2:.6g}"


def test_changing_the_activation_changes_the_forward_numbers():
    app = open_page("app_pages/step_through.py")
    app.selectbox(key="setup_field_activation").select("tanh").run()
    assert_clean(app)
    error, a_h1, _ = by_hand(CLASSROOM_WEIGHTS, "tanh")
    assert "\\tanh" in latex_of(app, "a_{h_{1}}") and result_of(latex_of(app, "a_{h_{1}}")) == f"{a_h1:.6g}"
    assert metric(app, "E_total at step 0") == f"{error:.10g}"


def test_next_and_the_steps_field_move_through_training():
    app = open_page("app_pages/home.py")
    field(app, "steps").input("5").run()
    errors, _ = train_by_hand(1.0, 5)
    assert metric(app, "E_total at step 5 (the last)") == f"{errors[5]:.10g}"
    next(b for b in app.button if b.label.startswith("Next")).click().run()
    next(b for b in app.button if b.label.startswith("Next")).click().run()
    assert_clean(app)
    assert metric(app, "E_total at step 2") == f"{errors[2]:.10g}"
    table = app.table[0].value  # the diagram is drawn in the browser (lab/player.py); its table is here
    assert table.loc[table["quantity"] == "E_total", "value"].item() == f"{errors[2]:.12g}", (
        "the table follows"
    )
    assert app.query_params["step"] == "2"


def test_the_worksheet_has_the_classroom_columns_and_marks_the_viewed_step():
    app = open_page("app_pages/worksheet.py", steps="4", lr="0.5", step="3")
    assert_clean(app)
    table = app.dataframe[-1].value
    errors, last_weights = train_by_hand(0.5, 4)
    assert list(table.columns[:5]) == ["viewed", "t1", "t2", "i1", "i2"]
    assert [c for c in table.columns if c.startswith("∂")] == [f"∂E/∂w{k}" for k in range(1, 9)]
    assert len(table) == 5 and table["viewed"].tolist() == ["", "", "", "▶", ""]
    assert table["E_total"].tolist() == pytest.approx(errors, rel=1e-12)
    assert table.loc[4, "w8"] == pytest.approx(last_weights[7], rel=1e-12)
    assert [b.label for b in app.get("download_button")] == ["Download .csv"]
    app.selectbox(key="setup_field_activation").select("tanh").run()
    field(app, "lr").input("2").run()
    assert_clean(app)
    assert app.dataframe[-1].value["E_total"].tolist() == pytest.approx(
        train_by_hand(2.0, 4, "tanh")[0], rel=1e-12
    )


def test_the_worksheet_keeps_the_step_and_the_error_in_view_and_names_the_marker_column():
    app = open_page("app_pages/worksheet.py", steps="4", step="2")
    assert_clean(app)
    for table in app.dataframe:  # the viewed step's row, then all rows
        columns = json.loads(table.proto.columns)  # the column_config the browser draws the grid with
        pinned = {name for name, config in columns.items() if config.get("pinned")}
        assert {"_index", "E_total"} <= pinned, "the step and E_total stay in view when scrolling right"
        assert not pinned & {"w1", "a_o2", "∂E/∂w8"}, "only the columns that identify a row are pinned"
        assert columns["_index"]["label"] == "step"
    all_rows = json.loads(app.dataframe[-1].proto.columns)
    assert "viewed" in all_rows and all_rows["viewed"]["label"] == "viewed" and all_rows["viewed"]["pinned"]
    assert app.dataframe[-1].value["viewed"].tolist() == ["", "", "▶", "", ""]


def test_the_learning_rate_page_reads_its_curves_with_the_right_numbers():
    app = open_page("app_pages/learning_rate.py", activation="linear", steps="200", lrs="0.5, 3")
    assert_clean(app)
    text = shown_text(app)
    best = train_by_hand(3.0, 200, "linear")[0]
    # By hand the error ends at 2e-32: a miss |t − a_o| of ~1e-16, float64 rounding (lab.format.FLOAT64_FLOOR
    # is (64·eps)²), so the page says it reached 0 to float64 precision rather than quoting the noise.
    assert best[-1] < (64 * 2.220446049250313e-16) ** 2
    assert (
        f"With η = 3 the error falls from {best[0]:.10g} all the way to 0 (as far as float64 can tell)"
        in text
    )
    first_hit = next(k for k, e in enumerate(best) if e <= 1e-6)
    assert f"η = 3 reaches E_total ≤ 1e-06 first, at step {first_hit}." in text
    # The dense scan (0.01 to 100, 1,000 log-spaced rates) names the first rate that diverges: by hand,
    # that rate's error ends above where it started, and the rate just below it does not.
    fails = float(re.search(r"from η ≈ ([\d.]+) it diverges", text).group(1))
    grid = np.logspace(-2, 2, 1000)
    first_bad = int(np.argmin(np.abs(np.log(grid / fails))))
    for lr, diverges in ((grid[first_bad - 1], False), (grid[first_bad], True)):
        errors = train_by_hand(float(lr), 200, "linear")[0]
        assert (not errors[-1] <= errors[0]) == diverges, f"η = {lr:.6g}: {errors[0]} -> {errors[-1]}"


def test_the_learning_rate_page_compares_the_rates_typed_in():
    app = open_page("app_pages/learning_rate.py", steps="50")
    app.text_input(key="setup_field_lrs").input("0.5, 3").run()
    assert_clean(app)
    summary = app.dataframe[0].value
    assert summary["learning rate η"].tolist() == ["0.5", "3"]
    for lr, final in zip((0.5, 3.0), summary["final E_total"], strict=True):
        assert float(final) == pytest.approx(train_by_hand(lr, 50)[0][-1], rel=1e-10)
    assert app.query_params["lrs"] == "0.5, 3"
    field(app, "steps").input("60").run()
    assert float(app.dataframe[0].value["final E_total"][0]) == pytest.approx(
        train_by_hand(0.5, 60)[0][-1], rel=1e-10
    )


def test_learning_rates_are_shown_as_typed_so_two_close_ones_never_read_the_same():
    app = open_tab(open_page("app_pages/step_through.py", lr="0.12345678"), "Next forward")
    assert "η = 0.12345678:" in shown_text(app)
    app = open_page("app_pages/learning_rate.py", steps="10", lrs="0.1234567, 0.1234568")
    assert_clean(app)
    assert app.dataframe[0].value["learning rate η"].tolist() == ["0.1234567", "0.1234568"]


@pytest.mark.parametrize(
    ("query", "agrees"),
    [
        ({}, True),
        # The last row before a blow-up: weights near 1e26, where a nudge of 1e-6 is lost in rounding.
        ({"activation": "linear", "lr": "1000000", "steps": "200", "step": "200"}, False),
    ],
)
def test_the_gradient_check_claims_agreement_only_where_its_columns_agree(query, agrees):
    app = open_page("app_pages/step_through.py", **query)
    assert_clean(app)
    table = app.table[0].value
    chain = [float(v) for v in table["chain rule"]]
    estimate = [float(v) for v in table["finite difference"]]
    largest = max(abs(c) for c in chain)
    close = all(abs(c - e) <= 1e-6 * largest for c, e in zip(chain, estimate, strict=True))
    claims = any("far below any mistake in a formula" in c.value for c in app.caption)
    assert claims == close == agrees
    if not query:
        assert chain == pytest.approx(by_hand(CLASSROOM_WEIGHTS)[2], rel=1e-9)


# ---- Bad input: a message next to it, the last good value kept, never a traceback. ----------------------


@pytest.mark.parametrize(
    ("name", "typed", "message"),
    [
        ("w1", "nan", "w1 must be a finite number"),
        ("w1", "abc", "w1 must be a number"),
        ("w1", "1e999", "w1 must be a finite number, got '1e999'"),  # quotes what was typed, not inf
        ("i2", "1e9", "i2 must be between -100 and 100"),
        ("lr", "-1", "learning rate must be greater than 0"),
        ("lr", "1e7", "learning rate must be greater than 0 and at most 1e6, got 1e7"),  # as typed
        ("lr", "1000001", "learning rate must be greater than 0 and at most 1e6, got 1000001"),
        ("w1", "100.0000001", "w1 must be between -100 and 100, got 100.0000001"),
        ("steps", str(MAX_STEPS + 1), f"steps must be between 0 and {MAX_STEPS}"),
        ("steps", "2.5", "steps must be a whole number"),
    ],
)
def test_a_bad_value_gets_a_message_and_the_last_good_value_stays(name, typed, message):
    app = open_page("app_pages/step_through.py")
    field(app, name).input(typed).run()
    assert_clean(app)
    errors = unescaped(" ".join(e.value for e in app.error))
    assert message in errors and "Still using" in errors
    assert metric(app, "E_total at step 0") == "0.01418137794", "the classroom values are still in use"


def test_a_huge_learning_rate_says_diverged_and_shows_no_nan():
    query = {"activation": "linear", "lr": "1000000", "steps": "200"}
    app = open_page("app_pages/step_through.py", **query, step="200")  # past the end: the last computed row
    assert_clean(app)
    assert any("Diverged" in w.value for w in app.warning)
    open_tab(app, "Next forward")
    assert_clean(app)
    assert any("This is the update that blew up" in w.value for w in app.warning)
    app = open_page("app_pages/learning_rate.py", **query, lrs="0.1, 1000000")
    assert_clean(app)
    statuses = app.dataframe[0].value["status"].tolist()
    assert statuses[0].startswith("converged") or statuses[0].startswith("still falling")
    assert statuses[1].startswith("diverged")


def test_bad_link_values_give_messages_and_fall_back():
    app = open_page(
        "app_pages/home.py", w1="abc", lr="-2", steps="1e9", activation="softmax", lrs="x", step="7"
    )
    assert_clean(app)
    warnings = unescaped(" ".join(w.value for w in app.warning))
    for name in ("w1", "lr", "steps", "activation", "lrs"):
        assert f"Link value {name} ignored" in warnings
    assert metric(app, "E_total at step 7") == f"{train_by_hand(1.0, 7)[0][7]:.10g}"
    assert app.query_params["w1"] == "0.15" and app.query_params["activation"] == "sigmoid"


def test_a_link_reproduces_the_setup_and_the_url_follows_every_change():
    app = open_page("app_pages/step_through.py")
    field(app, "w5").input("0.3").run()
    field(app, "lr").input("0.25").run()
    app.selectbox(key="setup_field_activation").select("tanh").run()
    app.toggle(key="setup_field_biases").set_value(True).run()
    field(app, "b1").input("0.2").run()
    params = dict(app.query_params)
    assert params["w5"] == "0.3" and params["lr"] == "0.25" and params["activation"] == "tanh"
    assert params["biases"] == "1" and params["b1"] == "0.2"

    shared = open_page("app_pages/step_through.py", **params)  # a student opens the instructor's link
    assert_clean(shared)
    assert not shared.warning
    assert field(shared, "w5").value == "0.3" and field(shared, "b1").value == "0.2"
    assert metric(shared, "E_total at step 0") == metric(app, "E_total at step 0")


def test_parse_params_reads_back_what_encode_params_wrote():
    setup = Setup(
        config=Config(i1=-1.5, w3=0.1 + 0.2, activation="relu", biases=True, b2=-0.75),
        lr=1e-3,
        steps=12,
        step=4,
        lrs=(0.01, 7.5, 1e6),
        mistake=parse_sheet_mistake("sign-output-miss", biases=True, activation="relu"),
    )
    parsed, messages = parse_params(encode_params(setup))
    assert parsed == setup and messages == []


def test_reset_restores_the_classroom_values():
    app = open_page("app_pages/home.py", w1="0.9", lr="0.3")
    next(b for b in app.button if b.label == "Reset to classroom values").click().run()
    assert_clean(app)
    assert field(app, "w1").value == "0.15" and field(app, "lr").value == "1"
    assert metric(app, "E_total at step 0") == "0.01418137794"


def test_the_xlsx_export_is_offered_and_a_refused_setup_gets_its_message():
    app = open_page("app_pages/worksheet.py", steps="3")
    app.button(key="worksheet_xlsx_prepare").click().run()
    assert_clean(app)
    download = [b for b in app.get("download_button") if b.label == "Download .xlsx"]
    assert download, "the workbook is ready to download"
    app = open_page("app_pages/worksheet.py", steps=str(MAX_EXPORT_STEPS + 1))
    app.button(key="worksheet_xlsx_prepare").click().run()
    assert_clean(app)
    assert any("Cannot export this setup" in e.value for e in app.error)
