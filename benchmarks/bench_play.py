"""The player in Chromium: frames per second while playing, the time from Play to the first moved frame,
and each backprop page's time to interactive, cold (first visit after the server starts) and warm.

    flock /tmp/heavy.lock python benchmarks/bench_play.py

"Interactive": the page's heading is drawn and Streamlit's running indicator and skeletons are gone.
Targets (issue 10): at least 20 frames per second; under 1.5 s warm on an idle machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.streamlit_server import launch_chromium, streamlit_server  # noqa: E402

PAGES = [
    ("", "The 2-2-2 network"),
    ("step_through", "Step through one update"),
    ("worksheet", "The worksheet"),
    ("learning_rate", "How the learning rate changes training"),
]
QUIET = """() => !document.querySelector('[data-testid="stStatusWidget"], [data-testid="stSkeleton"]')"""
PLAYER = (
    "document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot.querySelector('.bp-player')"
)
PLAY_SECONDS = 3.0


def interactive(page, url: str, heading: str) -> float:
    start = time.perf_counter()
    page.goto(url, timeout=120_000)
    page.get_by_role("heading", name=heading).wait_for(timeout=120_000)
    page.wait_for_function(QUIET, timeout=120_000)
    return time.perf_counter() - start


def playing(page, speed: str) -> tuple[float, float]:
    """(frames drawn per second, ms from the Play click to the first moved frame) at `speed`."""
    page.locator(".bp-player select").first.select_option(speed)
    page.get_by_role("button", name="⟲ Reset").click()
    page.wait_for_timeout(2000)  # the rerun Reset asks for
    draws = int(page.evaluate(f"() => {PLAYER}.dataset.draws"))
    page.get_by_role("button", name="▶ Play").click()
    page.wait_for_timeout(PLAY_SECONDS * 1000)
    fps = (int(page.evaluate(f"() => {PLAYER}.dataset.draws")) - draws) / PLAY_SECONDS
    first = float(page.evaluate(f"() => {PLAYER}.dataset.firstFrameMs"))
    page.get_by_role("button", name="❙❙ Pause").click()
    page.wait_for_timeout(2000)
    return fps, first


def main() -> None:
    from playwright.sync_api import sync_playwright

    with streamlit_server() as base, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for path, heading in PAGES:
            cold = interactive(page, f"{base}/{path}", heading)
            warm = min(interactive(page, f"{base}/{path}", heading) for _ in range(3))
            print(f"time to interactive  {path or 'network':14s} cold {cold:5.2f} s   warm {warm:5.2f} s")
        interactive(page, f"{base}/?steps=10000", PAGES[0][1])
        for speed in ("1", "4"):
            fps, first = playing(page, speed)
            print(
                f"playing 10,000 steps at {speed}x: {fps:5.1f} frames/s drawn, first moved frame {first:5.1f} ms"
            )
        browser.close()


if __name__ == "__main__":
    main()
