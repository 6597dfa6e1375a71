"""Times the engine's sweeps, compiled beside numpy, in one run; prints figures (no pass/fail).

    flock /tmp/heavy.lock python benchmarks/bench_core.py [--skip-pages]

Targets (issue 14), compiled path: 6 LRs x 100,000 steps < 0.1 s; the 1,000 x 1,000 scan < 60 ms;
the Learning-rate page's cold rerun after an activation change < 150 ms; at 100,000 steps the
Learning-rate page and Step through < 1 s; the convergence map < 1 s at 1,000 steps.
Issue 2: the scan in under 0.5 s, at least 20x faster than a plain-Python loop.
The compiled modules are loaded (or compiled) once before timing: a cold start is printed first.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backprop_core import CLASSROOM_LRS, Config, compiled, sweep  # noqa: E402
from backprop_core.sweep import outcomes  # noqa: E402


def best_of(repeats: int, fn) -> float:
    """The shortest of `repeats` calls; a call that returns a float reports its own time (a page's rerun
    without the set-up around it)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(result if isinstance(result, float) else time.perf_counter() - start)
    return min(times)


def plain_python_final_error(config: Config, lr: float, steps: int) -> float:
    """The classroom sigmoid network as a student would write it: scalars, one step at a time."""
    i1, i2, t1, t2 = config.i1, config.i2, config.t1, config.t2
    w1, w2, w3, w4, w5, w6, w7, w8 = (getattr(config, f"w{k}") for k in range(1, 9))

    def sig(z: float) -> float:
        return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))

    for step in range(steps + 1):
        a_h1, a_h2 = sig(w1 * i1 + w2 * i2), sig(w3 * i1 + w4 * i2)
        a_o1, a_o2 = sig(w5 * a_h1 + w6 * a_h2), sig(w7 * a_h1 + w8 * a_h2)
        error = 0.5 * (t1 - a_o1) ** 2 + 0.5 * (t2 - a_o2) ** 2
        if step == steps:
            return error
        d_o1, d_o2 = (a_o1 - t1) * a_o1 * (1 - a_o1), (a_o2 - t2) * a_o2 * (1 - a_o2)
        d_h1 = (d_o1 * w5 + d_o2 * w7) * a_h1 * (1 - a_h1)
        d_h2 = (d_o1 * w6 + d_o2 * w8) * a_h2 * (1 - a_h2)
        w1, w2, w3, w4 = w1 - lr * d_h1 * i1, w2 - lr * d_h1 * i2, w3 - lr * d_h2 * i1, w4 - lr * d_h2 * i2
        w5, w6, w7, w8 = (
            w5 - lr * d_o1 * a_h1,
            w6 - lr * d_o1 * a_h2,
            w7 - lr * d_o2 * a_h1,
            w8 - lr * d_o2 * a_h2,
        )
    raise AssertionError("unreachable")


def both(label: str, repeats: int, fn, target: str = "") -> None:
    """fn timed compiled and on the numpy path (BACKPROP_LAB_ENGINE=numpy), and their ratio."""
    fast = best_of(repeats, fn)
    os.environ[compiled.ENGINE_VARIABLE] = "numpy"
    try:
        slow = best_of(1, fn)
    finally:
        del os.environ[compiled.ENGINE_VARIABLE]
    print(
        f"{label:<44} compiled {fast * 1e3:8.1f} ms   numpy {slow * 1e3:9.1f} ms   {slow / fast:6.0f}x  {target}"
    )


def pages() -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    repo = Path(__file__).resolve().parents[1]

    def page(path: str, steps: int, activation: str | None = None) -> float:
        app = AppTest.from_file(str(repo / "app.py"), default_timeout=600)
        app.switch_page(path)
        app.run()
        app.text_input(key="setup_field_steps").input(str(steps)).run()
        st.cache_data.clear()
        start = time.perf_counter()
        if activation:
            app.selectbox(key="setup_field_activation").select(activation).run()
        else:
            app.run()
        elapsed = time.perf_counter() - start
        assert not app.exception, app.exception
        return elapsed

    for label, path, steps, activation, target in (
        ("Learning rate, cold, activation -> tanh", "app_pages/learning_rate.py", 1000, "tanh", "(< 150 ms)"),
        ("Learning rate page, 100,000 steps, cold", "app_pages/learning_rate.py", 100_000, None, "(< 1 s)"),
        ("Step through page, 100,000 steps, cold", "app_pages/step_through.py", 100_000, None, "(< 1 s)"),
    ):
        both(label, 3, lambda p=path, s=steps, a=activation: page(p, s, a), target)


def main() -> None:
    config = Config()
    dense_lrs = np.geomspace(0.01, 100, 1000)

    start = time.perf_counter()
    compiled.warm_up()
    print(
        f"load the compiled engine (8 networks and the classic mistake; compiles only on a cold cache) {time.perf_counter() - start:6.2f} s"
    )

    both("sweep  6 LRs x 100,000 steps", 3, lambda: sweep(config, CLASSROOM_LRS, 100_000), "(< 100 ms)")
    both(
        "scan   1,000 LRs x 1,000 steps (outcomes)", 5, lambda: outcomes(config, dense_lrs, 1000), "(< 60 ms)"
    )
    both("sweep  1,000 LRs x 1,000 steps (curves)", 5, lambda: sweep(config, dense_lrs, 1000))

    from lab import convergence_map

    both("map    150 x 150 runs x 1,000 steps", 3, lambda: convergence_map.compute(config, 1000), "(< 1 s)")

    dense = best_of(5, lambda: sweep(config, dense_lrs, 1000))
    start = time.perf_counter()
    plain = [plain_python_final_error(config, lr, 1000) for lr in dense_lrs]
    loop = time.perf_counter() - start
    print(
        f"plain-Python loop, same dense scan    {loop * 1e3:8.1f} ms   ({loop / dense:.0f}x the sweep; target >= 20x)"
    )
    # The baseline doubles as a cross-check: the scalar loop must land on the same errors.
    diff = np.max(np.abs(np.array(plain) - sweep(config, dense_lrs, 1000).final_errors))
    print(f"max |E_final(sweep) - E_final(loop)|   {diff:.2e}")
    if "--skip-pages" not in sys.argv:
        pages()


if __name__ == "__main__":
    main()
