"""The classroom network written directly in torch, as the independent oracle for backprop_core.

Nothing here is imported from backprop_core's formulas: the forward pass is typed from the course's
definition and torch autograd supplies every gradient.
"""

from __future__ import annotations

import torch

WEIGHTS = [f"w{k}" for k in range(1, 9)]

TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "linear": lambda z: z,
}


def forward_and_gradients(values: dict[str, float], activation: str, biases: bool) -> dict[str, float]:
    """Forward values, E_total and dE/dw1..w8 from torch autograd, in float64."""
    act = TORCH_ACTIVATIONS[activation]
    t = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in values.items()}
    w = {k: t[k].clone().requires_grad_(True) for k in WEIGHTS}
    b1 = t["b1"] if biases else 0.0
    b2 = t["b2"] if biases else 0.0
    h1 = w["w1"] * t["i1"] + w["w2"] * t["i2"] + b1
    h2 = w["w3"] * t["i1"] + w["w4"] * t["i2"] + b1
    a_h1, a_h2 = act(h1), act(h2)
    o1 = w["w5"] * a_h1 + w["w6"] * a_h2 + b2
    o2 = w["w7"] * a_h1 + w["w8"] * a_h2 + b2
    a_o1, a_o2 = act(o1), act(o2)
    e1 = 0.5 * (t["t1"] - a_o1) ** 2
    e2 = 0.5 * (t["t2"] - a_o2) ** 2
    e_total = e1 + e2
    grads = torch.autograd.grad(e_total, [w[k] for k in WEIGHTS])
    out = {
        "h1": h1, "a_h1": a_h1, "h2": h2, "a_h2": a_h2,
        "o1": o1, "a_o1": a_o1, "o2": o2, "a_o2": a_o2,
        "E1": e1, "E2": e2, "E_total": e_total,
    }  # fmt: skip
    result = {k: float(v.detach()) for k, v in out.items()}
    result.update({f"dE_d{k}": float(g) for k, g in zip(WEIGHTS, grads, strict=True)})
    return result


def descend(values: dict[str, float], activation: str, biases: bool, lr: float, steps: int) -> list[dict]:
    """Rows 0..steps of plain gradient descent, each a dict of forward values, gradients and weights."""
    values = dict(values)
    rows = []
    for _ in range(steps + 1):
        row = forward_and_gradients(values, activation, biases)
        row.update({k: values[k] for k in WEIGHTS})
        rows.append(row)
        values.update({k: values[k] - lr * row[f"dE_d{k}"] for k in WEIGHTS})
    return rows
