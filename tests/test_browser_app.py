"""The app in headless Chromium, started with `streamlit run app.py` as a user would.

Visits every page, changes the learning rate, checks a phone-width layout, and takes the README's
pictures (written to docs/ only with BACKPROP_LAB_UPDATE_DOCS=1; see tests/streamlit_server.py).
"""

from __future__ import annotations

import math
import shutil
from urllib.parse import urlparse

import pytest

from tests.streamlit_server import CHROMIUM, chromium, docs_picture, streamlit_server
from tests.test_app_pages import CLASSROOM_WEIGHTS, by_hand, train_by_hand

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # a real server and Chromium: 3-30 s a test, run by CI
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs Debian's chromium at {CHROMIUM}"),
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 60_000  # a cold page on a shared 2-core machine

# (url path, a heading the page shows once it has rendered)
PAGES = [
    ("", "The 2-2-2 network"),
    ("step_through", "Step through one update"),
    ("worksheet", "The worksheet"),
    ("learning_rate", "How the learning rate changes training"),
    ("checker", None),
    ("training", None),
]


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")  # the MNIST page lists runs; keep them out of the repo
    with streamlit_server(env={"BACKPROP_LAB_RUNS": str(runs)}) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


QUIET = """() => document.querySelector('[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]')
    && !document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]')"""


def settle(page) -> None:
    """Wait until Streamlit has run the script and drawn every element: the page has content, its
    'running' widget is gone and no placeholder (skeleton) is left for a widget still loading.
    Checked twice, apart, because a rerun (e.g. after the URL is written) can start just after."""
    for _ in range(2):
        page.wait_for_function(QUIET, timeout=TIMEOUT_MS)
        page.wait_for_timeout(500)


def assert_no_error_text(page, where: str) -> None:
    text = page.inner_text("body")
    assert "Traceback" not in text, f"{where}: a traceback is shown"
    assert page.locator('[data-testid="stException"]').count() == 0, f"{where}: an exception box is shown"


def open_page(context, base_url: str, path: str, heading: str | None, query: str = ""):
    page = context.new_page()
    page.goto(f"{base_url}/{path}{query}", timeout=TIMEOUT_MS)
    if heading:
        page.get_by_role("heading", name=heading).wait_for(timeout=TIMEOUT_MS)
    settle(page)
    return page


def test_a_shared_link_opens_exactly_that_setup(server, browser):
    """Runs first, on a fresh server: a deep link is the first thing it serves (with a folder named pages/ Streamlit used to run the page alone and list file names)."""
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = open_page(context, server, "step_through", "Step through one update", "?lr=0.5&w5=0.3&step=2")
        assert_no_error_text(page, "a shared link")
        assert page.get_by_role("textbox", name="Learning rate η", exact=True).input_value() == "0.5"
        assert page.get_by_role("textbox", name="w5", exact=True).input_value() == "0.3"
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Network" in nav and "MNIST training" in nav, f"the app's navigation, not file names: {nav!r}"
    finally:
        context.close()


def test_every_page_renders_and_the_lr_changes_the_numbers(server, browser, tmp_path):
    context = browser.new_context(viewport=DESKTOP)
    try:
        for path, heading in PAGES:
            page = open_page(context, server, path, heading)
            assert_no_error_text(page, path or "home")
            page.screenshot(path=str(tmp_path / f"{path or 'home'}.png"), full_page=True)
            page.close()

        page = open_page(context, server, "step_through", "Step through one update")
        field = page.get_by_role("textbox", name="Learning rate η", exact=True)
        field.fill("0.5")
        field.press("Enter")
        page.wait_for_url("**lr=0.5**", timeout=TIMEOUT_MS)
        settle(page)
        page.get_by_role("tab", name="Next forward").click()
        # w1's update at η = 0.5 with the classroom values, recomputed here from the chain rule by hand.
        h1, h2 = 0.15 * 0.05 + 0.2 * 0.1, 0.25 * 0.05 + 0.3 * 0.1
        a_h1, a_h2 = sigmoid(h1), sigmoid(h2)
        a_o1, a_o2 = sigmoid(0.4 * a_h1 + 0.45 * a_h2), sigmoid(0.5 * a_h1 + 0.55 * a_h2)
        delta_h1 = ((a_o1 - 0.5) * a_o1 * (1 - a_o1) * 0.4 + (a_o2 - 0.5) * a_o2 * (1 - a_o2) * 0.5) * (
            a_h1 * (1 - a_h1)
        )
        new_w1 = 0.15 - 0.5 * delta_h1 * 0.05
        # The derivations' numbers are to 6 significant digits ("Numbers to 6 significant digits").
        page.get_by_text(f"{new_w1:.6g}").first.wait_for(timeout=TIMEOUT_MS)
        assert_no_error_text(page, "step_through after changing the LR")
        page.screenshot(path=str(tmp_path / "step_through_lr_0.5.png"), full_page=False)
        page.close()

        page = open_page(context, server, "step_through", "Step through one update", "?step=3&lr=1")
        page.screenshot(path=str(docs_picture(tmp_path, "screenshot.png")), full_page=False)
        page.close()
        page = open_page(context, server, "learning_rate", "How the learning rate changes training")
        page.locator(".bp-scan circle").first.wait_for(timeout=TIMEOUT_MS)
        page.screenshot(path=str(docs_picture(tmp_path, "learning_rate.png")), full_page=False)
        page.close()
    finally:
        context.close()


def test_no_page_makes_the_browser_fetch_anything_from_another_host(server, browser):
    """A class server's students load the app and nothing else: no font, icon or script from a CDN."""
    context = browser.new_context(viewport=DESKTOP)
    elsewhere: list[str] = []

    def note(request) -> None:  # blob: and data: URLs are the page's own (the components' scripts)
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1":
            elsewhere.append(request.url)

    context.on("request", note)
    try:
        for path, heading in PAGES:
            open_page(context, server, path, heading).close()
        assert not elsewhere, elsewhere
    finally:
        context.close()


def test_a_phone_width_screen_shows_the_step_through_page(server, browser, tmp_path):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = open_page(context, server, "step_through", "Step through one update")
        assert_no_error_text(page, "step_through on a phone")
        # The page itself must not scroll sideways: wide content (formulas, tables) scrolls in its own box.
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the page is {overflow}px wider than a {PHONE['width']}px screen"
        page.screenshot(path=str(docs_picture(tmp_path, "phone.png")), full_page=False)
        page.close()
    finally:
        context.close()


def test_a_phone_width_sidebar_lists_the_fields_in_reading_order(server, browser):
    """On a phone the sidebar's two columns stack: the fields must still read i1, i2, t1, t2 and w1 … w8
    from top to bottom (two tall columns used to stack as w1, w3, w5, w7, w2, …)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = open_page(context, server, "", "The 2-2-2 network")
        expand = page.locator('[data-testid="stExpandSidebarButton"]')
        if expand.count():  # a phone starts with the sidebar closed
            expand.first.click()
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("w8", exact=True).wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(500)  # the sidebar slides in

        def top_to_bottom(names: list[str]) -> list[str]:
            tops = {}
            for name in names:
                label = sidebar.locator('[data-testid="stWidgetLabel"]').get_by_text(name, exact=True)
                box = label.bounding_box()
                assert box is not None, f"{name}'s label is not drawn in the sidebar"
                tops[name] = (box["y"], box["x"])
            return sorted(names, key=tops.__getitem__)

        weights = [f"w{i}" for i in range(1, 9)]
        assert top_to_bottom(weights) == weights
        assert top_to_bottom(["i1", "i2", "t1", "t2"]) == ["i1", "i2", "t1", "t2"]
    finally:
        context.close()


# ---- The player (lab/player.py): Play, Pause, a click on the curve. -------------------------------------

# The player lives in a shadow root (st.components.v2 isolates its styles); playwright's CSS locators
# pierce open shadow roots, and this reaches it from page JavaScript.
PLAYER = (
    "document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot.querySelector('.bp-player')"
)


def player_step(page) -> int:
    return int(page.evaluate(f"() => {PLAYER}.dataset.step"))


def edge_width(page, weight: str) -> float:
    return float(page.locator(f'.bp-player [data-edge="{weight}"]').get_attribute("stroke-width"))


def url_step(page) -> int:
    from urllib.parse import parse_qs, urlparse

    return int(parse_qs(urlparse(page.url).query)["step"][0])


def test_play_advances_the_step_and_pause_puts_it_in_the_url(server, browser):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = open_page(context, server, "", "The 2-2-2 network", "?steps=200&lr=1")
        assert player_step(page) == 0
        # The backward view at step 0: each edge's thickness is 1.5 + 10.5·|∂E/∂w| / max|∂E/∂w| px
        # (lab/diagram.edge_width), with the gradients worked out by hand here.
        page.locator(".bp-player select").nth(1).select_option("backward")
        _, _, grads = by_hand(CLASSROOM_WEIGHTS)
        for index, gradient in enumerate(grads):
            expected = 1.5 + 10.5 * abs(gradient) / max(abs(g) for g in grads)
            assert edge_width(page, f"w{index + 1}") == pytest.approx(expected, abs=0.01), f"w{index + 1}"
        page.locator(".bp-player select").nth(1).select_option("forward")
        before = edge_width(page, "w1")

        page.get_by_role("button", name="▶ Play").click()
        page.wait_for_function(f"() => Number({PLAYER}.dataset.step) >= 20", timeout=TIMEOUT_MS)
        page.get_by_role("button", name="❙❙ Pause").click()
        paused = player_step(page)
        assert paused >= 20
        page.wait_for_url(f"**step={paused}&**", timeout=TIMEOUT_MS)
        settle(page)
        assert player_step(page) == paused, "the player stays on the paused step after the rerun"
        assert edge_width(page, "w1") != before, "w1's edge changed thickness while it learned"
        # The page follows the paused step: its metric and the picture, against training by hand.
        errors, _ = train_by_hand(1.0, paused)
        metric = page.locator('[data-testid="stMetric"]').first.inner_text()
        assert f"E_total at step {paused}" in metric and f"{errors[paused]:.10g}" in metric, metric
        total = page.locator('.bp-player [data-k="E_total"]').text_content()
        assert total == f"E_total = E1 + E2 = {errors[paused]:.6g}", total
        assert page.locator('.bp-player [data-k="caption"]').text_content() == f"Step {paused} of 200"
        assert_no_error_text(page, "after Pause")
    finally:
        context.close()


def test_a_click_on_the_error_curve_jumps_to_that_step(server, browser):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = open_page(context, server, "", "The 2-2-2 network", "?steps=1000&lr=2")
        curve = page.locator(".bp-player .bp-curve-svg")
        curve.scroll_into_view_if_needed()
        box = curve.bounding_box()
        # The plot spans x = 56 … 326 of the curve's 340-unit-wide viewBox (lab/player.js CURVE), step 0 … 1000.
        left, plot_width, width = 56, 340 - 56 - 14, 340
        fraction = 0.6
        page.mouse.click(
            box["x"] + (left + fraction * plot_width) / width * box["width"], box["y"] + box["height"] / 2
        )
        clicked = f"{PLAYER}.dataset.clicked"
        page.wait_for_function(
            f"() => {clicked} && new URL(location.href).searchParams.get('step') === {clicked}",
            timeout=TIMEOUT_MS,
        )
        settle(page)
        step = url_step(page)
        assert abs(step - 600) <= 3, f"clicked at 60 % of 1,000 steps, jumped to {step}"
        assert player_step(page) == step, "the picture shows exactly the step clicked"
        errors, _ = train_by_hand(2.0, step)
        metric = page.locator('[data-testid="stMetric"]').first.inner_text()
        assert f"E_total at step {step}" in metric and f"{errors[step]:.10g}" in metric, metric
    finally:
        context.close()


def test_the_learning_rate_race_plays_step_by_step(server, browser):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = open_page(
            context, server, "learning_rate", "How the learning rate changes training", "?steps=1000"
        )
        race = page.locator(".bp-race")
        label = race.locator(".bp-race-step")
        label.wait_for(timeout=TIMEOUT_MS)
        assert label.inner_text() == "step 1,000", "the whole run is shown until Play is pressed"
        lines = race.locator("polyline.bp-race-line")
        assert lines.count() == 6, "one curve per classroom learning rate"
        whole = len(lines.first.get_attribute("points").split())
        race.get_by_role("button", name="▶ Play the race").click()
        page.wait_for_function(
            "() => { const r = document.querySelector('[data-testid=stBidiComponentIsolated]')"
            ".shadowRoot.querySelector('.bp-race'); return r.dataset.playing === '1' && r.dataset.step !== '1000'; }",
            timeout=TIMEOUT_MS,
        )
        mid_race = label.inner_text()
        partial = len(lines.first.get_attribute("points").split())
        page.wait_for_function(
            "() => document.querySelector('[data-testid=stBidiComponentIsolated]')"
            ".shadowRoot.querySelector('.bp-race').dataset.playing === '0'",
            timeout=TIMEOUT_MS,
        )
        assert label.inner_text() == "step 1,000" and mid_race != "step 1,000", mid_race
        assert partial < whole == len(lines.first.get_attribute("points").split()), (
            "each curve grows as it plays"
        )
        assert_no_error_text(page, "the race")
    finally:
        context.close()
