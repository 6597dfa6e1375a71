"""Presets, the exercise mode and hostile links in headless Chromium, against `streamlit run app.py`.

The expected numbers are worked out by hand (tests/test_exercise_presets.py's classroom_dE_dw3)."""

from __future__ import annotations

import shutil
from urllib.parse import quote, urljoin, urlparse

import pytest

from tests.streamlit_server import CHROMIUM, launch_chromium, streamlit_server
from tests.test_exercise_presets import ANSWERS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs Debian's chromium at {CHROMIUM}"),
]
TIMEOUT_MS = 60_000  # a cold page on a shared 2-core machine
QUIET = """() => document.querySelector('[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]')
    && !document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]')"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    with streamlit_server(env={"BACKPROP_LAB_RUNS": str(runs)}) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=server).new_page()
        finally:
            chromium.close()


def settle(page) -> None:
    for _ in range(2):  # twice, apart: writing the URL can start one more rerun
        page.wait_for_function(QUIET, timeout=TIMEOUT_MS)
        page.wait_for_timeout(500)


def visit(page, path: str) -> None:
    page.goto(f"/{path}", timeout=TIMEOUT_MS)
    settle(page)


def choose_preset(page, title: str) -> None:
    button = page.get_by_role("button", name=title)
    if not button.is_visible():  # the expander keeps its state across reruns
        page.get_by_text("Cases that teach (presets)").click()
    button.click()


def test_a_preset_is_one_click_and_reports_diverged(page):
    visit(page, "learning_rate")
    choose_preset(page, "Too large a step diverges")
    page.get_by_text("Too large a step overshoots the valley: η = 50 (diverged)").wait_for(timeout=TIMEOUT_MS)
    settle(page)
    assert "activation=linear" in page.url and "lr=50" in page.url, page.url
    choose_preset(page, "Saturated start")
    page.get_by_text("(saturated)").first.wait_for(timeout=TIMEOUT_MS)
    link = page.locator('[data-testid="stSidebar"] a', has_text="Too large a step diverges")
    href = link.get_attribute("href")
    assert "activation=linear" in href and "lr=50" in href, href
    # The link opens exactly the preset (resolved against this page, as a copied link is).
    opened = page.context.new_page()
    try:
        opened.goto(urljoin(page.url, href), timeout=TIMEOUT_MS)
        opened.get_by_text("Too large a step overshoots the valley: η = 50 (diverged)").wait_for(
            timeout=TIMEOUT_MS
        )
    finally:
        opened.close()


def test_the_t1_t2_preset_draws_the_mistakes_curve_dashed_beside_the_right_one(page):
    visit(page, "")
    choose_preset(page, "t1 ≠ t2")
    dashed = page.locator('.bp-player [data-testid="bp-mistake-curve"]')
    dashed.wait_for(state="attached", timeout=TIMEOUT_MS)
    settle(page)
    assert "mistake=a_h1-for-a_h2" in page.url, page.url
    right = page.locator(".bp-player .bp-line").get_attribute("points").split()
    wrong = dashed.get_attribute("points").split()
    # The same row 0 (one sheet until its first update); then the dashed curve stays higher. SVG's y grows
    # downwards, so a larger error has a smaller y.
    assert right[0] == wrong[0]
    final_right, final_wrong = float(right[-1].split(",")[1]), float(wrong[-1].split(",")[1])
    assert final_wrong < final_right - 50, "the mistake's last error is drawn far above the right one's"
    key = page.locator('.bp-player [data-testid="bp-curve-key"]').inner_text()
    assert "a_h1 where a_h2 belongs" in key and "∂E/∂w3, ∂E/∂w4" in key


@pytest.mark.parametrize("case", list(ANSWERS))
def test_the_exercise_judges_an_answer_typed_in_the_browser(page, case):
    typed, says = ANSWERS[case]
    visit(page, "step_through?step=0")
    page.get_by_text("Exercise: hide a quantity and work it out").click()
    settle(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Quantity to work out").click()
    page.keyboard.type("∂E/∂w3")  # the list is long and drawn lazily: filter it first
    page.get_by_role("option", name="∂E/∂w3", exact=True).click()
    settle(page)
    page.get_by_role("textbox", name="Your value of ∂E/∂w3").fill(typed)
    page.get_by_role("button", name="Check").click()
    alert = page.locator('[data-testid="stAlert"]').filter(has_text=says.split(":")[0])
    alert.wait_for(timeout=TIMEOUT_MS)
    assert says in alert.inner_text()
    assert "Gradient check" not in page.inner_text("body"), "the rest of the step stays hidden"


def test_a_hostile_link_shows_its_text_and_renders_no_link_and_no_image(page):
    query = (
        "?lr=" + quote("[Session expired, log in again](https://evil.example)")
        + "&activation=" + quote("![x](https://evil.example/pixel.png)")
        + "&w1=" + "9" * 6000
    )  # fmt: skip
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    visit(page, query)
    page.get_by_text("Link value lr ignored").wait_for(timeout=TIMEOUT_MS)
    main = page.locator('[data-testid="stMain"]')
    assert main.locator('a[href*="evil.example"]').count() == 0, "no link to the attacker's site"
    assert page.locator('img[src*="evil.example"]').count() == 0, "no image from the link"
    fetched = [url for url in requests if (urlparse(url).hostname or "").endswith("evil.example")]
    assert not fetched, "nothing was fetched from the link's site"
    text = main.inner_text().replace("\u2060", "")  # the word joiner that keeps a bare URL from linking
    assert "[Session expired, log in again](https:/" in text, "the value is shown as the text it is"
    assert "9" * 100 not in text, "a long value is cut"
