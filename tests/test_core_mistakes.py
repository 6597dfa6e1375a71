"""The catalogue of students' mistakes (backprop_core/mistakes.py), each checked against the wrong
formula worked out by hand with math.exp: the oracle never reads the trees."""

from __future__ import annotations

import math

import pytest

from backprop_core import Config, build_network, row
from backprop_core.config import WEIGHTS
from backprop_core.mistakes import MISTAKES, MISTAKES_BY_ID, QUANTITIES, expand, value_under

CLASSROOM = Config()
APART = Config(t1=0.01, t2=0.99)  # t1 != t2: the setup in which swapped targets show


def s(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def by_hand(c: Config) -> dict[str, float]:
    """The right row, written out (sigmoid, no biases)."""
    v = {n: getattr(c, n) for n in ("i1", "i2", "t1", "t2", *WEIGHTS)}
    v["h1"] = v["w1"] * v["i1"] + v["w2"] * v["i2"]
    v["h2"] = v["w3"] * v["i1"] + v["w4"] * v["i2"]
    v["a_h1"], v["a_h2"] = s(v["h1"]), s(v["h2"])
    v["o1"] = v["w5"] * v["a_h1"] + v["w6"] * v["a_h2"]
    v["o2"] = v["w7"] * v["a_h1"] + v["w8"] * v["a_h2"]
    v["a_o1"], v["a_o2"] = s(v["o1"]), s(v["o2"])
    v["d_o1"] = (v["a_o1"] - v["t1"]) * v["a_o1"] * (1 - v["a_o1"])
    v["d_o2"] = (v["a_o2"] - v["t2"]) * v["a_o2"] * (1 - v["a_o2"])
    return v


def wrong_by_hand(mistake: str, c: Config) -> tuple[str, float]:
    """(quantity, its value under the mistake), each wrong formula typed in by hand."""
    v = by_hand(c)
    d1, d2 = v["d_o1"], v["d_o2"]
    a1, a2, i1 = v["a_h1"], v["a_h2"], v["i1"]
    ao1, ao2, t1, t2 = v["a_o1"], v["a_o2"], v["t1"], v["t2"]
    w5, w6, w7, w8 = v["w5"], v["w6"], v["w7"], v["w8"]
    cases = {
        "a_h1-for-a_h2": ("dE_dw3", (d1 * w6 + d2 * w8) * a1 * (1 - a1) * i1),
        "a_h2-for-a_h1": ("dE_dw5", d1 * a2),
        "targets-swapped": ("dE_dw5", (ao1 - t2) * ao1 * (1 - ao1) * a1),
        "missing-path-o2": ("dE_dw1", d1 * w5 * a1 * (1 - a1) * i1),
        "missing-path-o1": ("dE_dw3", d2 * w8 * a2 * (1 - a2) * i1),
        "sign-output-miss": ("dE_dw7", (t2 - ao2) * ao2 * (1 - ao2) * a1),
        "sign-update": ("next_w5", w5 + 1.0 * d1 * a1),  # eta = 1
        "h1-for-a_h1": ("o1", w5 * v["h1"] + w6 * a2),
        "h2-for-a_h2": ("dE_dw6", d1 * v["h2"]),
        "o1-for-a_o1": ("E1", 0.5 * (t1 - v["o1"]) ** 2),
        "o2-for-a_o2": ("delta_o2", (v["o2"] - t2) * ao2 * (1 - ao2)),
        "missing-half": ("E_total", (t1 - ao1) ** 2 + (t2 - ao2) ** 2),
        "w6-w7-swapped": ("dE_dw1", (d1 * w5 + d2 * w6) * a1 * (1 - a1) * i1),
        "w5-w7-for-w6-w8": ("dE_dw3", (d1 * w5 + d2 * w7) * a2 * (1 - a2) * i1),
        "w6-w8-for-w5-w7": ("dE_dw2", (d1 * w6 + d2 * w8) * a1 * (1 - a1) * v["i2"]),
        "one-minus-a_o1-for-a_o2": ("dE_dw8", (ao2 - t2) * ao2 * (1 - ao1) * a2),
        "one-minus-a_o2-for-a_o1": ("delta_o1", (ao1 - t1) * ao1 * (1 - ao2)),
        "missing-miss-o1": ("dE_dw5", ao1 * (1 - ao1) * a1),
        "missing-miss-o2": ("dE_dw4", (d1 * w6 + ao2 * (1 - ao2) * w8) * a2 * (1 - a2) * v["i2"]),
        "gradients-w1-w3-swapped": ("next_w3", v["w3"] - 1.0 * (d1 * w5 + d2 * w7) * a1 * (1 - a1) * i1),
    }
    return cases[mistake]


HAND_WORKED = [m.id for m in MISTAKES if m.id != "old-weights"]


@pytest.mark.parametrize("config", [CLASSROOM, APART], ids=["classroom", "t1!=t2"])
@pytest.mark.parametrize("mistake", HAND_WORKED)
def test_each_mistake_gives_the_value_of_the_wrong_formula_worked_by_hand(mistake, config):
    name, expected = wrong_by_hand(mistake, config)
    got = value_under(MISTAKES_BY_ID[mistake], config, name, row(config, 1.0))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_the_old_weights_mistake_reads_the_previous_step():
    before = row(CLASSROOM, 1.0)
    weights = {w: before[f"next_{w}"] for w in WEIGHTS}
    now = {**row(CLASSROOM, 1.0, weights), **{f"prev_{w}": CLASSROOM.values()[w] for w in WEIGHTS}}
    h1_old = 0.15 * 0.05 + 0.2 * 0.1  # h1 with step 0's w1, w2: 0.0275
    assert value_under(MISTAKES_BY_ID["old-weights"], CLASSROOM, "h1", now) == pytest.approx(
        h1_old, rel=1e-15
    )
    assert value_under(MISTAKES_BY_ID["old-weights"], CLASSROOM, "h1", before) is None, (
        "no previous step at 0"
    )


def test_every_catalogue_entry_has_a_hand_worked_case_and_a_plain_sentence():
    assert set(HAND_WORKED) | {"old-weights"} == set(MISTAKES_BY_ID)
    assert len(MISTAKES_BY_ID) == len(MISTAKES), "ids are unique"
    for mistake in MISTAKES:
        assert mistake.says and mistake.says == mistake.says.strip() and len(mistake.says) < 100


@pytest.mark.parametrize("biases", [False, True])
def test_every_changed_tree_differs_from_the_right_one_and_changes_the_value(biases):
    """Applied to each quantity it names, a mistake changes the tree, and (at a point where no two
    values coincide, targets apart) the number; elsewhere it returns None, never a silent copy."""
    formulas = build_network(biases).by_name()
    config = Config(t1=0.13, t2=0.87, w1=0.31, w2=-0.42, w3=0.27, w4=0.66, w5=-0.9, w6=0.35, w7=1.2,
                    w8=-0.55, biases=biases, b1=0.2, b2=-0.3)  # fmt: skip
    values = {**row(config, 0.7), **{f"prev_{w}": 0.1 * k for k, w in enumerate(WEIGHTS, 1)}}
    for mistake in MISTAKES:
        changed = mistake.applies_to(biases)
        assert changed, f"{mistake.id} changes nothing"
        for name in QUANTITIES:
            tree = mistake.tree(name, biases)
            if name not in changed:
                assert tree is None
                continue
            assert tree != expand(formulas, name)
            wrong = value_under(mistake, config, name, values)
            assert wrong is not None and wrong != pytest.approx(values[name], rel=1e-9), (mistake.id, name)


def test_the_classic_dE_dw3_mistake_is_named_where_it_belongs():
    assert {"dE_dw3", "dE_dw4", "delta_h2"} <= set(MISTAKES_BY_ID["a_h1-for-a_h2"].applies_to())
    assert "dE_dw1" not in MISTAKES_BY_ID["a_h1-for-a_h2"].applies_to()
    assert MISTAKES_BY_ID["one-minus-a_o1-for-a_o2"].tree("dE_dw8", False, "tanh") is None, "sigmoid only"


def test_with_t1_equal_to_t2_swapped_targets_are_invisible():
    values = row(CLASSROOM, 1.0)
    swapped = value_under(MISTAKES_BY_ID["targets-swapped"], CLASSROOM, "dE_dw1", values)
    assert swapped == values["dE_dw1"]
    apart = row(APART, 1.0)
    assert value_under(MISTAKES_BY_ID["targets-swapped"], APART, "dE_dw1", apart) != apart["dE_dw1"]
