"""What really happened when a run "converged" in a few steps: said in words, from that row's numbers.

With the classroom values and η = 10⁶ the first step throws the weights to about ±10⁴. Both hidden
sigmoids saturate (a_h ≈ 10⁻³⁵, slope ≈ 0), so o1 and o2 are ≈ 0 whatever w5 … w8 are, the outputs sit
at σ(0) = 0.5, which happens to be t1 = t2 = 0.5, and every gradient is 0. The status says
"converged"; this module says why, so that nobody takes it for learning.
"""

from __future__ import annotations

import numpy as np

from backprop_core import ACTIVATIONS, Config, Sweep, row, run_steps
from backprop_core.config import WEIGHTS

from .format import number, show_number

JUMP_STEPS = 10  # a run that reaches the target within this many steps is looked at row by row
SATURATED = 1e-6  # a unit whose slope is below this fraction of its activation's steepest slope
UNITS = (("h1", "a_h1"), ("h2", "a_h2"), ("o1", "a_o1"), ("o2", "a_o2"))


def _steepest(activation: str) -> float:
    """The activation's largest slope (0.25 for the sigmoid, at 0), to judge a slope against."""
    act = ACTIVATIONS[activation]
    z = np.linspace(-1.0, 1.0, 201)
    return float(np.max(act.slope(z, act.forward(z))))


def sudden_convergence(result: Sweep, config: Config) -> list[str]:
    """One paragraph per learning rate of `result` that reached the target within JUMP_STEPS steps
    with a saturated hidden unit: the weights jumped, units saturated, the gradient vanished."""
    sentences = []
    reached = result.steps_to_target()
    act = ACTIVATIONS[config.activation]
    steepest = _steepest(config.activation)
    for lr, k in zip(result.lrs, reached, strict=True):
        if not 0 < k <= JUMP_STEPS:
            continue
        table = run_steps(config, float(lr), int(k))
        weights = {w: float(table[w].iloc[-1]) for w in WEIGHTS}
        values = row(config, float(lr), weights)
        slopes = {a: float(act.slope(np.float64(values[z]), np.float64(values[a]))) for z, a in UNITS}
        flat = [a for a in slopes if abs(slopes[a]) < SATURATED * steepest]
        if not any(a.startswith("a_h") for a in flat):
            continue  # it learned (or the outputs alone are flat): nothing to explain
        moved = max(WEIGHTS, key=lambda w: abs(weights[w] - config.values()[w]))
        flat_text = ", ".join(f"{a} = {number(values[a], 3)} (slope {number(slopes[a], 2)})" for a in flat)
        gradient = max(abs(values[f"dE_d{w}"]) for w in WEIGHTS)
        outputs = f"a_o1 = {number(values['a_o1'], 6)} and a_o2 = {number(values['a_o2'], 6)}"
        targets = f"t1 = {show_number(config.t1)}, t2 = {show_number(config.t2)}"
        on_target = abs(values["a_o1"] - config.t1) <= 1e-12 and abs(values["a_o2"] - config.t2) <= 1e-12
        where = f"exactly the targets {targets}, so δ_o1 = δ_o2 = 0" if on_target else f"against {targets}"
        sentences.append(
            f"η = {show_number(lr)} did not walk down to the minimum, it jumped: by step {int(k)} the weights "
            f"had moved by up to {number(abs(weights[moved] - config.values()[moved]), 3)} ({moved} is now "
            f"{number(weights[moved], 4)}). Saturated, where the {config.activation}'s slope is almost 0: "
            f"{flat_text}, so no gradient gets back through them. The outputs sit at {outputs}, {where}. "
            f"E_total is {number(values['E_total'], 3)} and the largest |∂E/∂w| is {number(gradient, 2)}: "
            "the gradient vanished and no weight moves again. The target was hit by luck, not learned; "
            "with other targets the same jump leaves the error stuck."
        )
    return sentences
