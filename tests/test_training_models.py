"""Model sizes and ingredients, and the receptive-field table against values worked out by hand."""

import pytest
import torch
from torch import nn

from training.models import MODELS, count_parameters, summary


def parameters_by_hand(model: nn.Module) -> int:
    return sum(p.numel() for _, p in model.named_parameters())


def layers(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("name, limit", [("classroom", 20_000), ("lean", 8_000)])
def test_small_models_stay_under_their_budget_and_have_bn_dropout_and_gap(name, limit):
    model = MODELS[name]()
    assert count_parameters(model) == parameters_by_hand(model) < limit
    convs = layers(model, nn.Conv2d)
    assert len(layers(model, nn.BatchNorm2d)) == len(convs) - 1  # after every conv but the 1x1 classifier
    assert layers(model, (nn.Dropout, nn.Dropout2d))
    gap = layers(model, nn.AdaptiveAvgPool2d)
    assert gap and gap[0].output_size in (1, (1, 1))
    assert not layers(model, nn.Linear)  # the head is GAP + 1x1 conv, no big fully connected layer
    model.eval()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_reference_net_is_the_pytorch_examples_net():
    # conv1 1->32 3x3: 32*9+32 = 320; conv2 32->64 3x3: 64*32*9+64 = 18,496;
    # fc1 9216->128: 9216*128+128 = 1,179,776; fc2 128->10: 1,290. Total 1,199,882.
    model = MODELS["reference"]()
    assert count_parameters(model) == 320 + 18_496 + 1_179_776 + 1_290
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_registry_has_the_three_models_the_page_offers():
    assert {"classroom", "lean", "reference"} <= set(MODELS)


def test_receptive_field_table_of_a_small_model_matches_the_hand_computation():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),  # n = (28+2-3)/1+1 = 28   r = 1+(3-1)*1 = 3    j = 1
        nn.ReLU(),
        nn.MaxPool2d(2),  # n = (28-2)/2+1 = 14                    r = 3+(2-1)*1 = 4    j = 2
        nn.Conv2d(4, 8, 3, stride=2),  # n = floor((14-3)/2)+1 = 6 r = 4+(3-1)*2 = 8    j = 4
        nn.BatchNorm2d(8),  # point-wise: n, r, j unchanged
        nn.Conv2d(8, 8, 5),  # n = 6-5+1 = 2                       r = 8+(5-1)*4 = 24   j = 4
        nn.AdaptiveAvgPool2d(1),  # a 2x2 window: n = 1            r = 24+(2-1)*4 = 28  j = 4
        nn.Flatten(),
        nn.Linear(8, 10),
    )
    rows = summary(model, input_size=28)
    got = [(r["layer"], r["output_shape"], r["params"], r["receptive_field"], r["jump"]) for r in rows]
    assert got == [
        ("0", (4, 28, 28), 4 * 9 + 4, 3, 1),
        ("2", (4, 14, 14), 0, 4, 2),
        ("3", (8, 6, 6), 8 * 4 * 9 + 8, 8, 4),
        ("4", (8, 6, 6), 16, 8, 4),
        ("5", (8, 2, 2), 8 * 8 * 25 + 8, 24, 4),
        ("6", (8, 1, 1), 0, 28, 4),
        ("8", (10,), 8 * 10 + 10, 28, 4),
    ]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_summary_rows_account_for_every_parameter(name):
    model = MODELS[name]()
    rows = summary(model)
    assert sum(r["params"] for r in rows) == count_parameters(model)
    assert model.training  # the summary's dummy forward pass leaves the mode as it found it
    assert {"layer", "output_shape", "params", "receptive_field"} <= set(rows[0])


def test_classroom_model_sees_the_whole_digit_before_the_head():
    rows = summary(MODELS["classroom"]())
    assert rows[-1]["receptive_field"] >= 28
