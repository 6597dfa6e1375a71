"""Exercise mode, presets, the η = 10⁶ explanation and hostile links, as a student and an instructor
meet them. Every number expected here is worked out by hand (math.exp, the chain rule written out, in
tests/test_app_pages.py's by_hand), never read from the app."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from backprop_core.config import SHOWN_INPUT_CHARS
from lab.exercise import agrees, judge, parse_answer
from lab.params import encode_params
from lab.presets import PRESETS_BY_ID
from tests.streamlit_server import REPO
from tests.test_app_pages import (
    CLASSROOM_WEIGHTS,
    assert_clean,
    by_hand,
    field,
    open_page,
    unescaped,
)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def classroom_dE_dw3() -> tuple[float, float]:
    """(right ∂E/∂w3, ∂E/∂w3 with a_h1's slope where a_h2's belongs), classroom values, by hand."""
    w1, w2, w3, w4, w5, w6, w7, w8 = CLASSROOM_WEIGHTS
    a_h1, a_h2 = sigmoid(w1 * 0.05 + w2 * 0.1), sigmoid(w3 * 0.05 + w4 * 0.1)
    a_o1, a_o2 = sigmoid(w5 * a_h1 + w6 * a_h2), sigmoid(w7 * a_h1 + w8 * a_h2)
    d_o1, d_o2 = (a_o1 - 0.5) * a_o1 * (1 - a_o1), (a_o2 - 0.5) * a_o2 * (1 - a_o2)
    back = d_o1 * w6 + d_o2 * w8
    return back * a_h2 * (1 - a_h2) * 0.05, back * a_h1 * (1 - a_h1) * 0.05


RIGHT, SWAPPED = classroom_dE_dw3()
assert f"{RIGHT:.4g}" != f"{SWAPPED:.4g}", "4 significant digits tell them apart"
ANSWERS = {  # typed answer -> what the app must say
    "right": (f"{RIGHT:.4g}", "Right"),
    "named": (f"{SWAPPED:.4g}", "is what you get with a_h1 where a_h2 belongs"),
    "unknown": ("0.0001234", "no known mistake gives 0.0001234"),
}


# ---- The rule for "right to the digits typed". ----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "truth", "right"),
    [
        ("0.5933", 0.59326999, True),  # rounds to 0.5933
        ("0.5933", 0.59335001, False),  # rounds to 0.5934
        ("5.933e-1", 0.5932501, True),  # the same 4 significant digits, written otherwise
        ("0.59", 0.5933, True),  # only 2 decimals typed: only 2 checked
        ("−0.000352", -0.00035177, True),  # the page's own minus sign
        ("0.000352", -0.00035177, False),
    ],
)
def test_an_answer_is_right_when_the_truth_rounds_to_it_at_the_last_digit_typed(typed, truth, right):
    assert agrees(parse_answer(typed), truth) == right


def test_answers_that_are_not_numbers_or_too_short_are_not_scored():
    values = {"dE_dw3": RIGHT}
    from backprop_core import Config

    for typed, says in [("abc", "type a number"), ("0,5", "use a point"), ("1e999", "finite"),
                        ("__import__('os')", "type a number"), ("0.0004", "at least 3 significant")]:  # fmt: skip
        verdict = judge(Config(), "dE_dw3", typed, values)
        assert verdict.right is None and says in verdict.message, verdict.message


# ---- The exercise mode on Step through. -----------------------------------------------------------------


def answer(app, name: str, typed: str, step: int = 0):
    app.toggle(key="exercise_on").set_value(True).run()
    app.selectbox(key="exercise_quantity").set_value(name).run()
    app.text_input(key=f"exercise_answer_{name}_{step}").input(typed)
    return next(b for b in app.button if b.label == "Check").click().run()


@pytest.mark.parametrize("case", list(ANSWERS))
def test_the_exercise_says_right_names_the_mistake_or_says_no_known_mistake(case):
    typed, says = ANSWERS[case]
    app = answer(open_page("app_pages/step_through.py"), "dE_dw3", typed)
    assert_clean(app)
    shown = unescaped(" ".join(e.value for e in [*app.success, *app.error]))
    assert says in shown, shown
    assert not app.latex or "E_{total} &=" not in app.latex[0].value, "the rest of the step stays hidden"
    score = next(c.value for c in app.caption if c.value.startswith("Score"))
    assert score == f"Score this session: {int(case == 'right')} of 1 right at the first try."


def test_the_hidden_quantity_is_not_on_the_page_until_checked():
    app = open_page("app_pages/step_through.py")
    app.toggle(key="exercise_on").set_value(True).run()
    app.selectbox(key="exercise_quantity").set_value("dE_dw3").run()
    assert_clean(app)
    page = " ".join(
        [*(e.value for e in app.markdown), *(e.value for e in app.latex), *(str(t.value) for t in app.table)]
    )
    assert f"{RIGHT:.6g}"[:7] not in page and not app.metric


def test_quiz_me_picks_a_quantity_and_a_step_and_the_score_counts_first_tries():
    app = open_page("app_pages/step_through.py", steps="20")
    next(b for b in app.button if b.label == "Quiz me").click().run()
    assert_clean(app)
    assert app.toggle(key="exercise_on").value
    assert 0 <= app.session_state["setup"].step <= 20
    assert app.selectbox(key="exercise_quantity").value


# ---- Presets: one click, the same as their link; statuses checked by hand. -------------------------------


def hand_status(errors: list[float], gradient_at_start: float) -> str:
    if not all(math.isfinite(e) for e in errors) or errors[-1] > errors[0]:
        return "diverged"
    if gradient_at_start < 1e-12:
        return "stuck"
    return "converged" if errors[-1] <= 1e-6 else "still falling"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("preset", "lr", "expected"),
    [("classroom", 1.0, None), ("diverges", 50.0, "diverged"), ("diverges", 10.0, "converged"),
     ("saturated", 1.0, "stuck"), ("targets-apart", 1.0, "converged")],
)  # fmt: skip
def test_each_preset_is_one_click_and_its_link_and_reports_its_status(preset, lr, expected):
    chosen = PRESETS_BY_ID[preset]
    config = chosen.setup.config
    weights = tuple(getattr(config, w) for w in ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"))
    kwargs = dict(i1=config.i1, i2=config.i2, t1=config.t1, t2=config.t2)
    errors, w = [], weights
    for _ in range(chosen.setup.steps + 1):
        try:
            error, _, grads = by_hand(w, config.activation, **kwargs)
        except OverflowError:  # by hand, a blow-up overflows Python's floats
            errors.append(math.inf)
            break
        errors.append(error)
        w = tuple(x - lr * g for x, g in zip(w, grads, strict=True))
    gradient = max(abs(g) for g in by_hand(weights, config.activation, **kwargs)[2])
    status = hand_status(errors, gradient)
    assert expected is None or status == expected

    app = open_page("app_pages/learning_rate.py")
    if preset == "classroom":
        next(b for b in app.button if b.label == "Reset to classroom values").click().run()
    else:
        app.button(key=f"preset_{preset}").click().run()
    assert_clean(app)
    assert dict(app.query_params) == encode_params(chosen.setup), "the click gives the preset's link"
    summary = app.dataframe[0].value
    row = summary[summary["learning rate η"] == f"{lr:g}"]
    assert row["status"].iloc[0].startswith(status), (row["status"].iloc[0], status)

    linked = open_page("app_pages/learning_rate.py", **encode_params(chosen.setup))
    assert_clean(linked)
    assert not linked.warning
    assert linked.dataframe[0].value["status"].tolist() == summary["status"].tolist()


def w3_w4_mistake_by_hand(config, lr: float, steps: int) -> list[float]:
    """E_total of rows 0..steps of a sheet whose ∂E/∂w3 and ∂E/∂w4 use a_h1's slope where a_h2's
    belongs, every other cell right (sigmoid, no biases), typed out with math.exp."""
    i1, i2, t1, t2 = config.i1, config.i2, config.t1, config.t2
    w = [getattr(config, f"w{k}") for k in range(1, 9)]
    errors = []
    for _ in range(steps + 1):
        a_h1, a_h2 = sigmoid(w[0] * i1 + w[1] * i2), sigmoid(w[2] * i1 + w[3] * i2)
        a_o1, a_o2 = sigmoid(w[4] * a_h1 + w[5] * a_h2), sigmoid(w[6] * a_h1 + w[7] * a_h2)
        errors.append(0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2)
        d1, d2 = (a_o1 - t1) * a_o1 * (1 - a_o1), (a_o2 - t2) * a_o2 * (1 - a_o2)
        e1 = (d1 * w[4] + d2 * w[6]) * a_h1 * (1 - a_h1)
        e2 = (d1 * w[5] + d2 * w[7]) * a_h1 * (1 - a_h1)  # the mistake: a_h1 where a_h2 belongs
        grads = [e1 * i1, e1 * i2, e2 * i1, e2 * i2, d1 * a_h1, d1 * a_h2, d2 * a_h1, d2 * a_h2]
        w = [x - lr * g for x, g in zip(w, grads, strict=True)]
    return errors


@pytest.mark.parametrize("page", ["app_pages/home.py", "app_pages/step_through.py"])
def test_the_t1_t2_preset_compares_its_curve_with_the_classic_mistake(page):
    chosen = PRESETS_BY_ID["targets-apart"].setup
    wrong = w3_w4_mistake_by_hand(chosen.config, chosen.lr, chosen.steps)
    assert wrong[-1] > 1e-3, "by hand, the sheet with the mistake is far from converged"
    app = open_page(page)
    app.button(key="preset_targets-apart").click().run()
    assert_clean(app)
    assert app.query_params["mistake"] == "a_h1-for-a_h2:dE_dw3,dE_dw4"
    caption = next(unescaped(c.value) for c in app.caption if unescaped(c.value).startswith("Dashed:"))
    assert "∂E/∂w3, ∂E/∂w4 written with a_h1 where a_h2 belongs" in caption
    assert "still falling, E_total = " in caption and "at step 1,000" in caption
    shown = float(caption.split("still falling, E_total = ")[1].split(" at step")[0])
    assert shown == pytest.approx(wrong[-1], rel=1e-9)
    assert "This sheet: converged" in caption

    # The choice is the sidebar's, like every field: "none" takes the curve away.
    app.selectbox(key="setup_field_mistake").set_value(None).run()
    assert_clean(app)
    assert "mistake" not in app.query_params
    assert not any(unescaped(c.value).startswith("Dashed:") for c in app.caption)


def test_a_link_with_an_unknown_mistake_says_so_and_draws_none():
    app = open_page("app_pages/home.py", mistake="[evil](https://evil.example)")
    assert_clean(app)
    raw = " ".join(w.value for w in app.warning)
    assert r"\[evil\]\(https" in raw and "](https" not in raw, "the link's text is escaped, never a link"
    warning = unescaped(raw)
    assert "Link value mistake ignored" in warning and "not a mistake of the catalogue" in warning
    assert not any(unescaped(c.value).startswith("Dashed:") for c in app.caption)


def test_a_mistake_that_the_units_cannot_have_is_dropped_with_a_word_when_they_change():
    """(1 − a_o1) for (1 − a_o2) is a sigmoid's slope: with tanh units there is no such sheet to draw."""
    app = open_page("app_pages/home.py", mistake="one-minus-a_o1-for-a_o2")
    assert_clean(app)
    assert any(unescaped(c.value).startswith("Dashed:") for c in app.caption)
    app.selectbox(key="setup_field_activation").set_value("tanh").run()
    assert_clean(app)
    said = " ".join(unescaped(c.value) for c in app.sidebar.caption)
    assert "(1 − a_o1) where (1 − a_o2) belongs cannot be drawn with tanh units" in said
    assert "mistake" not in app.query_params
    assert not any(unescaped(c.value).startswith("Dashed:") for c in app.caption)


def mazur(steps: int) -> float:
    """Mazur's example by hand: biases 0.35 / 0.6 (fixed), targets 0.01 / 0.99, η = 0.5."""
    i1, i2, t1, t2, b1, b2, lr = 0.05, 0.1, 0.01, 0.99, 0.35, 0.6, 0.5
    w = [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]
    for _ in range(steps + 1):
        a_h1, a_h2 = sigmoid(w[0] * i1 + w[1] * i2 + b1), sigmoid(w[2] * i1 + w[3] * i2 + b1)
        a_o1, a_o2 = sigmoid(w[4] * a_h1 + w[5] * a_h2 + b2), sigmoid(w[6] * a_h1 + w[7] * a_h2 + b2)
        error = 0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2
        d1, d2 = (a_o1 - t1) * a_o1 * (1 - a_o1), (a_o2 - t2) * a_o2 * (1 - a_o2)
        e1, e2 = (d1 * w[4] + d2 * w[6]) * a_h1 * (1 - a_h1), (d1 * w[5] + d2 * w[7]) * a_h2 * (1 - a_h2)
        grads = [e1 * i1, e1 * i2, e2 * i1, e2 * i2, d1 * a_h1, d1 * a_h2, d2 * a_h1, d2 * a_h2]
        w = [x - lr * g for x, g in zip(w, grads, strict=True)]
    return error


@pytest.mark.slow
def test_mazurs_preset_reaches_his_published_error():
    assert mazur(0) == pytest.approx(0.298371109, abs=5e-10)  # his post's figures
    # "After repeating this process 10,000 times": his 10,000th forward pass, after 9,999 updates.
    assert mazur(9_999) == pytest.approx(0.0000351085, abs=5e-11)
    app = open_page("app_pages/learning_rate.py")
    app.button(key="preset_mazur").click().run()
    assert_clean(app)
    summary = app.dataframe[0].value
    final = summary[summary["learning rate η"] == "0.5"]["final E_total"].iloc[0]
    assert float(final) == pytest.approx(mazur(10_000), rel=1e-10)


# ---- η = 10⁶: the "converged" run explained from its numbers. --------------------------------------------


def test_a_huge_step_that_hits_the_target_by_luck_is_explained():
    app = open_page("app_pages/learning_rate.py", steps="50", lrs="0.5, 1000000")
    assert_clean(app)
    text = " ".join(m.value for m in app.markdown)
    _, _, grads = by_hand(CLASSROOM_WEIGHTS)
    w = [x - 1e6 * g for x, g in zip(CLASSROOM_WEIGHTS, grads, strict=True)]
    a_h1 = sigmoid(w[0] * 0.05 + w[1] * 0.1)
    assert "η = 1000000 did not walk down to the minimum, it jumped" in text
    assert f"a_h1 = {a_h1:.3g}" in text and "a_o1 = 0.5 and a_o2 = 0.5, exactly the targets" in text
    assert "the gradient vanished" in text
    assert text.count("it jumped") == 1, "η = 0.5 learned: nothing to explain"


# ---- Links a stranger crafted. ---------------------------------------------------------------------------


HOSTILE = {
    "lr": "[Session expired, log in again](https://evil.example)",
    "activation": "![x](https://evil.example/pixel.png)",
    "w1": "9" * 60_000,
}


def test_a_hostile_link_is_quoted_as_escaped_text_and_cut():
    app = open_page("app_pages/home.py", **HOSTILE)
    assert_clean(app)
    warnings = [w.value for w in app.warning]
    assert len(warnings) == 3
    for raw in warnings:
        assert "](" not in raw and "![" not in raw, f"unescaped Markdown in {raw!r}"
        assert len(unescaped(raw)) < 250, "a 60,000-character value is cut"
    read = unescaped(" ".join(warnings))
    assert "got '[Session expired, log in again](https:/…'" in read, "quoted as typed, cut at 40"
    assert "9" * SHOWN_INPUT_CHARS not in read and "9" * (SHOWN_INPUT_CHARS - 1) + "…" in read


def test_messages_quote_the_number_as_typed():
    app = open_page("app_pages/home.py", lr="1000001", w2="100.0000001")
    read = unescaped(" ".join(w.value for w in app.warning))
    assert "learning rate must be greater than 0 and at most 1e6, got 1000001" in read
    assert "w2 must be between -100 and 100, got 100.0000001" in read
    help_text = field(app, "lr").help
    assert help_text.startswith("Greater than 0 and at most 1e6"), "the tooltip states the same rule"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backprop_core", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sweep", "--target-error", "-1"], "target error must be greater than 0, got -1"),
        (["table", "--lr", "1000001"], "learning rate must be greater than 0 and at most 1e6, got 1000001"),
        (["table", "--w1", "100.0000001"], "w1 must be between -100 and 100, got 100.0000001"),
    ],
)
def test_the_command_line_refuses_with_one_line_and_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"python -m backprop_core: error: {message}"]
