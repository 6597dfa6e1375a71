"""Times the engine's sweeps; prints figures (no pass/fail).

    python benchmarks/bench_core.py

Targets (issue 2): the 1,000-LR x 1,000-step dense scan in under 0.5 s on a 2-core machine, and at least
20x faster than a plain-Python loop over learning rates and steps.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backprop_core import CLASSROOM_LRS, Config, sweep  # noqa: E402


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
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


def main() -> None:
    config = Config()
    dense_lrs = np.geomspace(0.01, 100, 1000)

    classroom = best_of(3, lambda: sweep(config, CLASSROOM_LRS, 10_000))
    print(f"sweep  6 LRs x 10,000 steps          {classroom * 1e3:8.1f} ms")

    dense = best_of(5, lambda: sweep(config, dense_lrs, 1000))
    print(f"dense  1,000 LRs x 1,000 steps        {dense * 1e3:8.1f} ms   (target < 500 ms)")

    start = time.perf_counter()
    plain = [plain_python_final_error(config, lr, 1000) for lr in dense_lrs]
    loop = time.perf_counter() - start
    print(f"plain-Python loop, same dense scan    {loop * 1e3:8.1f} ms")
    print(f"speed-up of the vectorised sweep      {loop / dense:8.1f} x   (target >= 20x)")

    # The baseline doubles as a cross-check: the scalar loop must land on the same errors.
    diff = np.max(np.abs(np.array(plain) - sweep(config, dense_lrs, 1000).final_errors))
    print(f"max |E_final(sweep) - E_final(loop)|   {diff:.2e}")


if __name__ == "__main__":
    main()
