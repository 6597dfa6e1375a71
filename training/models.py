"""The MNIST models: any line of the architecture language (build), and the presets, and a summary that
shows how each layer of any nn.Module grows the receptive field.

    classroom  BatchNorm after every conv, Dropout, global average pooling, < 20,000 parameters (a line)
    lean       the same design, narrower, < 8,000 parameters (a line)
    reference  the net of pytorch/examples mnist/main.py (2 convs + 2 linear layers, 1.2 M parameters), a
               named model beside the language: its convs have biases and no BatchNorm, and it ends in
               linear layers

Receptive field arithmetic (per spatial axis), layer by layer, with kernel k, stride s, padding p:
    n_out = floor((n_in + 2p - k) / s) + 1     size of the output map
    r_out = r_in + (k - 1) * j_in              receptive field: input pixels one output value sees
    j_out = j_in * s                           jump: input pixels between neighbouring outputs
starting from n = input size, r = 1, j = 1 at the image.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from . import arch


def conv_block(c_in: int, c_out: int, kernel: int = 3, padding: int = 0) -> nn.Sequential:
    """conv (no bias: BatchNorm's shift replaces it) -> BatchNorm -> ReLU: the language's `c` token."""
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False),
            bn=nn.BatchNorm2d(c_out),
            relu=nn.ReLU(inplace=True),
        )
    )


def build(design: arch.Design) -> nn.Sequential:
    """The nn.Module of a parsed line: one module per token, named by its position in the line ("1", "2",
    ...), then a flatten to (B, 10) logits. Only the Design's numbers are used; the text is never run."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    channels = arch.IN_CHANNELS
    for row in design.rows:
        kind = row.token[0]
        if kind == "c":
            layers[str(row.index)] = conv_block(channels, row.channels, row.kernel, row.padding)
        elif kind == "d":
            # Dropout2d zeroes whole channels: as regularising as element dropout here, and it draws B*C
            # random numbers instead of B*C*H*W, which matters on a CPU.
            layers[str(row.index)] = nn.Dropout2d(float(row.token[1:]))
        elif kind == "m":
            layers[str(row.index)] = nn.MaxPool2d(2)
        elif kind == "g":
            layers[str(row.index)] = nn.AdaptiveAvgPool2d(1)  # one number per channel
        elif kind == "o":
            layers[str(row.index)] = nn.Conv2d(channels, arch.CLASSES, 1)  # with bias; no BatchNorm, no ReLU
        channels = row.channels
    layers["flatten"] = nn.Flatten()
    return nn.Sequential(layers)


def from_line(line: str) -> nn.Sequential:
    return build(arch.parse(line))


def classroom() -> nn.Module:
    return from_line(arch.PRESETS["classroom"].line)


def lean() -> nn.Module:
    return from_line(arch.PRESETS["lean"].line)


class ReferenceNet(nn.Sequential):
    """pytorch/examples mnist/main.py's Net, layer for layer (it returns log_softmax; this returns logits,
    which cross_entropy turns into the same loss)."""

    def __init__(self):
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(1, 32, 3, 1),
                relu1=nn.ReLU(),
                conv2=nn.Conv2d(32, 64, 3, 1),
                relu2=nn.ReLU(),
                pool=nn.MaxPool2d(2),
                dropout1=nn.Dropout(0.25),
                flatten=nn.Flatten(),
                fc1=nn.Linear(9216, 128),
                relu3=nn.ReLU(),
                dropout2=nn.Dropout(0.5),
                fc2=nn.Linear(128, 10),
            )
        )


def reference() -> nn.Module:
    return ReferenceNet()


# name -> constructor. The trainer's --model and the training page choose from these keys.
MODELS: dict[str, Callable[[], nn.Module]] = {"classroom": classroom, "lean": lean, "reference": reference}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def kernel_stride_padding(module: nn.Module, n_in: int | None) -> tuple[int, int, int] | None:
    """(k, s, p) along one axis for layers that look at a window of their input, None for point-wise ones."""
    if isinstance(module, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
        first = [
            v if isinstance(v, int) else v[0] for v in (module.kernel_size, module.stride, module.padding)
        ]
        if isinstance(module, nn.Conv2d) and module.dilation[0] != 1:
            raise ValueError("dilated convolutions are not covered by the summary's formulas")
        return first[0], first[1], first[2]
    if isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) and n_in is not None:
        size = module.output_size if isinstance(module.output_size, int) else module.output_size[0]
        if size != 1:
            raise ValueError("only global adaptive pooling (output 1x1) is covered by the summary's formulas")
        return n_in, 1, 0  # a global pool is a window as large as its input
    if isinstance(module, nn.Linear) and n_in is not None:
        return (
            n_in,
            1,
            0,
        )  # the first linear layer after a flatten sees the whole map, like a n_in x n_in conv
    return None


def summary(model: nn.Module, input_size: int = 28) -> list[dict]:
    """One row per layer, in the order the forward pass runs them: layer, type, output_shape (without the
    batch axis), params, kernel, stride, jump, receptive_field. Point-wise layers without parameters (ReLU,
    Dropout, Flatten) carry the numbers through and are left out of the rows."""
    order: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    hooks = [
        module.register_forward_hook(
            lambda m, _inp, out, name=name: order.append((name, m, tuple(out.shape[1:])))
        )
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 1, input_size, input_size, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)

    n, r, j = input_size, 1, 1  # map size, receptive field and jump at the image
    rows = []
    for name, module, shape in order:
        window = kernel_stride_padding(module, n)
        kernel = stride = None
        if window is not None:
            kernel, stride, padding = window
            n = (n + 2 * padding - kernel) // stride + 1
            r = r + (kernel - 1) * j
            j = j * stride
            if len(shape) == 3 and shape[1] != n:  # the formula must agree with what the layer produced
                raise AssertionError(f"{name}: formula gives n_out={n}, layer produced {shape}")
            if len(shape) != 3:
                n = None  # after a linear layer there is no map left
        params = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        if window is None and params == 0:
            continue
        rows.append(
            {
                "layer": name,
                "type": type(module).__name__,
                "output_shape": shape,
                "params": params,
                "kernel": kernel,
                "stride": stride,
                "jump": j,
                "receptive_field": r,
            }
        )
    return rows


def format_summary(rows: list[dict]) -> str:
    """The rows as a fixed-width text table with a parameter total, as the trainer prints it."""
    header = f"{'layer':<14} {'type':<18} {'output':>14} {'params':>9} {'k':>3} {'s':>2} {'j':>3} {'RF':>4}"
    lines = [header, "-" * len(header)]
    for row in rows:
        shape = "x".join(map(str, row["output_shape"]))
        k = "" if row["kernel"] is None else row["kernel"]
        s = "" if row["stride"] is None else row["stride"]
        lines.append(
            f"{row['layer']:<14} {row['type']:<18} {shape:>14} {row['params']:>9,} {k:>3} {s:>2} "
            f"{row['jump']:>3} {row['receptive_field']:>4}"
        )
    lines.append(f"{'total':<14} {'':<18} {'':>14} {sum(row['params'] for row in rows):>9,}")
    return "\n".join(lines)
