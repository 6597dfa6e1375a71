"""The architecture language: every token, every error sentence, the layer table against tables worked out by
hand, and the built networks against torch's own parameter count and output shapes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from training import arch
from training.models import MODELS, build, from_line

ROOT = Path(__file__).resolve().parents[1]


# nine c512 blocks, then the head, counted by hand: conv weights c_in*c_out*9, BatchNorm 2*c_out, head 512*10+10
BIG = (1 * 512 * 9 + 2 * 512) + 8 * (512 * 512 * 9 + 2 * 512) + (512 * 10 + 10)


def torch_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- tokens -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token, kernel, padding, size",
    [("c16", 3, 0, 26), ("c16k1", 1, 0, 28), ("c16p1", 3, 1, 28), ("c16k5p2", 5, 2, 28), ("c16k7", 7, 0, 22)],
)
def test_a_conv_token_is_conv_without_bias_then_batchnorm_then_relu(token, kernel, padding, size):
    model = from_line(f"{token} g o")
    block = model[0]
    conv, bn, relu = block
    assert isinstance(conv, nn.Conv2d) and conv.bias is None
    assert (conv.in_channels, conv.out_channels) == (1, 16)
    assert (
        conv.kernel_size == (kernel, kernel) and conv.padding == (padding, padding) and conv.stride == (1, 1)
    )
    assert isinstance(bn, nn.BatchNorm2d) and bn.num_features == 16
    assert isinstance(relu, nn.ReLU)
    assert block(torch.zeros(1, 1, 28, 28)).shape == (1, 16, size, size)
    row = arch.parse(f"{token} g o").rows[0]
    assert (row.kernel, row.padding, row.size, row.channels) == (kernel, padding, size, 16)


def test_dropout_maxpool_gap_and_head_tokens():
    model = from_line("c8 d0.05 m c8 d0.25 g o")
    kinds = [type(m) for m in model]
    assert kinds == [nn.Sequential, nn.Dropout2d, nn.MaxPool2d, nn.Sequential, nn.Dropout2d,
                     nn.AdaptiveAvgPool2d, nn.Conv2d, nn.Flatten]  # fmt: skip
    assert model[1].p == 0.05 and model[4].p == 0.25
    assert model[2].kernel_size == 2 and model[2].stride == 2
    assert model[5].output_size == 1
    head = model[6]
    assert head.kernel_size == (1, 1) and head.out_channels == 10 and head.bias is not None
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_head_before_the_pool_also_ends_at_ten_classes():
    model = from_line("c8 m c8 o g")
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert arch.parse("c8 m c8 o g").rows[-1].channels == 10


def test_spaces_are_only_separators():
    assert arch.parse("  c8   g\to ").line == "c8 g o"


# --- errors: one sentence each, naming the token ----------------------------------------------------------


@pytest.mark.parametrize(
    "line, sentence",
    [
        ("c12 c20 c20 c20 c20k4 g o", "token 5 'c20k4': kernel must be 1, 3, 5 or 7"),
        ("c12 c12 c12 m c12 c12 m c12 c12 g o",  # 26 24 22 11 9 7 3 1, then 1-3+1 < 1
         "after token 9 the map is 0×0: too many layers without padding for a 28×28 image"),
        ("c12 c20 g", "the model ends with 20 channels; end with `o` to get 10 classes"),
        ("c12 c20", "the model ends with 20 channels; end with `o` to get 10 classes"),
        ("c12 o", "the model ends with a 26×26 map; add `g` to pool it to 1×1"),
        ("", "the line is empty; start from a preset such as the classroom model"),
        ("   ", "the line is empty; start from a preset such as the classroom model"),
        ("c8 x g o", "token 2 'x': not a layer; use c16, c16k5p2, d0.05, m, g or o"),
        ("c8 __import__('os') g o", "token 2 \"__import__('os')\": not a layer; use c16, c16k5p2, d0.05, m, g or o"),
        ("c8 C8 g o", "token 2 'C8': not a layer; use c16, c16k5p2, d0.05, m, g or o"),
        ("c0 g o", "token 1 'c0': channels must be between 1 and 512"),
        ("c513 g o", "token 1 'c513': channels must be between 1 and 512"),
        ("c8k3p2 g o", "token 1 'c8k3p2': padding must be at most 1 for a 3×3 kernel (more only adds a border of zeros)"),
        ("c8k1p1 g o", "token 1 'c8k1p1': padding must be at most 0 for a 1×1 kernel (more only adds a border of zeros)"),
        ("c8 d0 g o", "token 2 'd0': the dropout probability must be between 0 and 1, exclusive"),
        ("c8 d1 g o", "token 2 'd1': the dropout probability must be between 0 and 1, exclusive"),
        ("c8 d1.5 g o", "token 2 'd1.5': the dropout probability must be between 0 and 1, exclusive"),
        ("c8 d-0.1 g o", "token 2 'd-0.1': not a layer; use c16, c16k5p2, d0.05, m, g or o"),
        ("c8 d1e-3 g o", "token 2 'd1e-3': not a layer; use c16, c16k5p2, d0.05, m, g or o"),
        ("d0.1 c8 g o", "token 1 'd0.1': a dropout must follow a conv block `c…` or a max-pool `m`"),
        ("c8 d0.1 d0.1 g o", "token 3 'd0.1': a dropout must follow a conv block `c…` or a max-pool `m`"),
        ("c8 g c8 o", "token 3 'c8': after `g` the map is 1×1; only the head `o` may follow it"),
        ("c8 g g o", "token 3 'g': the model already has global average pooling at token 2"),
        ("c8 o c8 g", "token 3 'c8': only `g` may follow the head `o`, which gives the 10 classes"),
        ("c8 g o o", "token 4 'o': the model already ends with 10 classes of 1×1; nothing may follow"),
        ("c8 g o g", "token 4 'g': the model already ends with 10 classes of 1×1; nothing may follow"),
        ("c8 " * 40 + "g o", "the line has 42 tokens; at most 40 are allowed"),
        ("c8 " * 200, "the line is 600 characters long; at most 400 are allowed"),
        ("c512 c512 c512 c512 c512 c512 c512 c512 c512 g o",
         f"the model has {BIG:,} parameters; at most 5,000,000 are allowed"),
        ("c8 " + "x" * 50 + " g o", "token 2 'xxxxxxxxxxxxxxxxxxxxx...': not a layer; use c16, c16k5p2, d0.05, m, g or o"),
    ],
)  # fmt: skip
def test_an_invalid_line_gets_one_sentence_that_names_the_token(line, sentence):
    with pytest.raises(arch.ArchError) as caught:
        arch.parse(line)
    assert str(caught.value) == sentence
    assert arch.check_line(line) == sentence


# --- presets: the line's own count against torch's ---------------------------------------------------------


@pytest.mark.parametrize("name", ["classroom", "lean"])
def test_preset_parameter_counts_match_torch(name):
    design = arch.parse(arch.PRESETS[name].line)
    model = MODELS[name]()
    assert design.params == torch_count(model) == sum(row.params for row in design.rows)
    assert design.params < {"classroom": 20_000, "lean": 8_000}[name]


def test_the_classroom_line_is_the_one_the_course_gives():
    assert arch.PRESETS["classroom"].line == "c12 c20 d0.05 m c12k1 c20 d0.05 c20 d0.05 c20 d0.05 c20p1 g o"


def test_the_reference_is_a_named_model_beside_the_language():
    assert arch.PRESETS["reference"].line is None
    assert torch_count(MODELS["reference"]()) == 1_199_882  # pytorch/examples' Net, counted by torch


def test_the_classroom_checklist_passes_and_a_bare_line_fails_where_it_should():
    checks = arch.checklist(arch.parse(arch.PRESETS["classroom"].line), epochs=15)
    assert all(c.ok for c in checks)
    assert [c.value for c in checks] == ["15,926", "7 blocks", "4 layers", "yes", "32×32", "15"]
    bare = {c.label: c for c in arch.checklist(arch.parse("c8 m c16 m c16 o g"), epochs=20)}
    assert not bare["Dropout used"].ok and not bare["epochs < 20"].ok
    assert bare["global average pooling used"].ok and bare["BatchNorm used"].ok
    # r: 3, 4, 8, 10, 18 then g over the 3×3 map: 18 + 2*4 = 26 < 28
    assert not bare["last layer's receptive field covers 28×28"].ok
    assert bare["last layer's receptive field covers 28×28"].value == "26×26"


# --- the receptive field against tables worked by hand -----------------------------------------------------

# n_out = floor((n_in + 2p - k)/s) + 1, r_out = r_in + (k - 1) j_in, j_out = j_in s; from n=28, r=1, j=1.
WITH_A_1X1 = (
    "c8 m c16k1 c16 g o",
    [  # token, n, channels, k, s, p, j, r, params
        ("c8", 26, 8, 3, 1, 0, 1, 3, 1 * 8 * 9 + 2 * 8),  # (28-3)+1=26; r=1+2*1=3
        ("m", 13, 8, 2, 2, 0, 2, 4, 0),  # (26-2)/2+1=13; r=3+1*1=4; j=1*2
        ("c16k1", 13, 16, 1, 1, 0, 2, 4, 8 * 16 + 2 * 16),  # a 1×1 mixes channels: n, r unchanged
        ("c16", 11, 16, 3, 1, 0, 2, 8, 16 * 16 * 9 + 2 * 16),  # 13-3+1=11; r=4+2*2=8
        ("g", 1, 16, 11, 1, 0, 2, 28, 0),  # an 11×11 window: r=8+10*2=28
        ("o", 1, 10, 1, 1, 0, 2, 28, 16 * 10 + 10),
    ],
)
WITH_PADDING = (
    "c8p1 c8k5p2 m c16k5 m c16 g o",
    [
        ("c8p1", 28, 8, 3, 1, 1, 1, 3, 1 * 8 * 9 + 16),  # 28+2-3+1=28
        ("c8k5p2", 28, 8, 5, 1, 2, 1, 7, 8 * 8 * 25 + 16),  # 28+4-5+1=28; r=3+4*1=7
        ("m", 14, 8, 2, 2, 0, 2, 8, 0),  # r=7+1*1=8
        ("c16k5", 10, 16, 5, 1, 0, 2, 16, 8 * 16 * 25 + 32),  # 14-5+1=10; r=8+4*2=16
        ("m", 5, 16, 2, 2, 0, 4, 18, 0),  # r=16+1*2=18; j=4
        ("c16", 3, 16, 3, 1, 0, 4, 26, 16 * 16 * 9 + 32),  # 5-3+1=3; r=18+2*4=26
        ("g", 1, 16, 3, 1, 0, 4, 34, 0),  # r=26+2*4=34
        ("o", 1, 10, 1, 1, 0, 4, 34, 170),
    ],
)


@pytest.mark.parametrize("line, table", [WITH_A_1X1, WITH_PADDING], ids=["1x1", "padding"])
def test_layer_table_matches_the_hand_worked_one(line, table):
    rows = arch.parse(line).rows
    got = [(r.token, r.size, r.channels, r.kernel, r.stride, r.padding, r.jump, r.receptive_field, r.params)
           for r in rows]  # fmt: skip
    assert got == table
    assert sum(r[-1] for r in table) == torch_count(from_line(line))


# --- random valid lines: the table's output sizes are what the built network produces ------------------


def conv_tokens():
    return st.builds(
        lambda c, k, p: f"c{c}" + ("" if k == 3 else f"k{k}") + (f"p{min(p, k // 2)}" if min(p, k // 2) else ""),
        st.integers(1, 12), st.sampled_from(arch.KERNELS), st.integers(0, 3),
    )  # fmt: skip


def body_tokens():
    return st.one_of(conv_tokens(), st.just("m"), st.sampled_from(["d0.05", "d0.1", "d0.5"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.lists(body_tokens(), min_size=1, max_size=8), st.sampled_from(["g o", "o g"]))
def test_random_valid_lines_build_networks_whose_shapes_match_the_table(body, ending):
    line = " ".join(body) + " " + ending
    assume(arch.check_line(line) is None)
    design = arch.parse(line)
    model = build(design).eval()
    shapes = {}
    for name, module in model.named_children():
        module.register_forward_hook(lambda m, i, out, name=name: shapes.__setitem__(name, tuple(out.shape)))
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    for row in design.rows:
        assert shapes[str(row.index)] == (1, row.channels, row.size, row.size), row
    assert design.params == torch_count(model)


# --- the command line ---------------------------------------------------------------------------------


def trainer(*args):
    return subprocess.run([sys.executable, "-m", "training.mnist", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


@pytest.mark.slow  # a subprocess that imports torch
def test_summary_prints_the_table_and_the_total_and_exits_0():
    result = trainer("--arch", "c8 m c16k1 c16 g o", "--summary")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = [line.split() for line in lines[2:-1]]
    assert [row[1] for row in rows] == ["c8", "m", "c16k1", "c16", "g", "o"]
    assert [row[-2] for row in rows] == [str(r[7]) for r in WITH_A_1X1[1]]  # the receptive field column
    total = sum(r[-1] for r in WITH_A_1X1[1])
    assert lines[-1].split() == ["total", f"{total:,}"]


@pytest.mark.parametrize(
    "args, sentence",
    [
        (["--arch", "c12 c20 c20 c20 c20k4 g o"], "token 5 'c20k4': kernel must be 1, 3, 5 or 7"),
        (["--arch", "c8 g o", "--model", "reference"], "--arch cannot be combined with the named model"),
        (["--threads", "10000"], "threads must be in [0, "),
        (["--epochs", "1001"], "epochs must be in [1, 1000]"),
    ],
)
@pytest.mark.slow  # a subprocess that imports torch, per case
def test_an_invalid_line_or_setting_exits_2_with_its_sentence(args, sentence):
    result = trainer(*args, "--summary")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert sentence in line and "Traceback" not in result.stderr
