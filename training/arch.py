"""The architecture language: a CNN for 28×28 MNIST digits written as one line of tokens.

    c16       3×3 convolution to 16 channels, no bias, then BatchNorm, then ReLU (the course's block)
    c16k1     the same with kernel 1 (1, 3, 5 or 7); c16p1 with padding 1; c16k5p2 both
    d0.05     Dropout2d(0.05) after the block before it
    m         2×2 max-pool, stride 2
    g         global average pooling
    o         the head: 1×1 convolution to 10 classes, with bias, no BatchNorm and no ReLU

A valid model ends with 10 channels of 1×1: `g` and `o`, in either order, at the end of the line.

parse() reads a line into a Design: its layers and the layer table (output size, channels, kernel, stride,
padding, jump, receptive field and parameters of every layer), or raises ArchError with one sentence that
names the token and why. The line is only ever matched against the patterns below, never run as code.
No torch here: the page checks a line as it is typed without loading it. training.models builds the
nn.Module from a Design.

Receptive-field arithmetic, per spatial axis, for a layer with kernel k, stride s and padding p:
    n_out = ⌊(n_in + 2p − k) / s⌋ + 1     size of the output map
    r_out = r_in + (k − 1) · j_in          receptive field: input pixels one output value sees
    j_out = j_in · s                       jump: input pixels between neighbouring outputs
starting from n = 28, r = 1, j = 1 at the image. A global pool is a window as large as its input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IMAGE_SIZE = 28  # MNIST digits are 28×28, one channel
IN_CHANNELS = 1
CLASSES = 10
KERNELS = (1, 3, 5, 7)  # odd, so that padding (k - 1) / 2 keeps the size; 7 is already large for 28×28
MAX_CHANNELS = 512  # wider is far past what MNIST needs and what a shared CPU trains in a lesson
MAX_TOKENS = 40  # ample for any sensible 28×28 net; also bounds the work a typed line can cause
MAX_LINE_CHARS = 400  # a line must fit in a URL and a text box
MAX_PARAMS = 5_000_000  # 4x the reference net: enough for any experiment, bounded for a shared server
TARGET_PARAMS = 20_000  # the assignment: fewer than 20,000 parameters ...
TARGET_EPOCHS = 20  # ... in fewer than 20 epochs ...
TARGET_ACCURACY = 99.4  # ... reaching 99.4 % test accuracy

_CONV = re.compile(r"c(\d{1,4})(?:k(\d{1,2}))?(?:p(\d{1,2}))?")
_DROPOUT = re.compile(r"d(\d?\.\d{1,6}|0|1)")
TOKEN_HELP = "use c16, c16k5p2, d0.05, m, g or o"


class ArchError(ValueError):
    """A line that is not a valid model; the message is one sentence naming the token and why."""


@dataclass(frozen=True)
class Row:
    """One layer of the table. kernel/stride/padding are None for layers without a window (dropout)."""

    index: int  # the token's position in the line, from 1
    token: str
    layer: str  # what the token means, in words
    size: int  # n_out: the output map is size × size
    channels: int
    kernel: int | None
    stride: int | None
    padding: int | None
    jump: int  # j_out
    receptive_field: int  # r_out
    params: int  # trainable parameters of this layer (conv weights, BatchNorm's scale and shift, bias)


@dataclass(frozen=True)
class Design:
    """A parsed, valid line: one row per token, in order."""

    line: str  # the tokens joined by single spaces
    rows: tuple[Row, ...]

    @property
    def params(self) -> int:
        return sum(row.params for row in self.rows)

    @property
    def receptive_field(self) -> int:
        """Of the last layer: how many input pixels per side one output sees."""
        return self.rows[-1].receptive_field

    def uses(self, kind: str) -> bool:
        """Whether any token is of kind "c" (conv + BatchNorm), "d", "m", "g" or "o"."""
        return any(row.token[0] == kind for row in self.rows)


@dataclass(frozen=True)
class Preset:
    """A named model and the recipe it is trained with. Dropout is part of the line."""

    line: str | None  # None: a named model outside the language (training.models.ReferenceNet)
    lr: float  # peak learning rate at batch size 128 (see training.config.TrainConfig.scaled_lr)
    weight_decay: float
    optimizer: str  # "sgd": Nesterov SGD with a one-cycle schedule; "adadelta": as pytorch/examples
    augment: bool  # random shifts and rotations of the training images
    about: str


PRESETS = {
    "classroom": Preset(
        "c12 c20 d0.05 m c12k1 c20 d0.05 c20 d0.05 c20 d0.05 c20p1 g o", 0.1, 5e-4, "sgd", True,
        "the course's model: BatchNorm, Dropout and GAP, under 20,000 parameters",
    ),
    # With 14 channels, dropping 5% of them per layer (and weight decay 5e-4) under-fitted: 98.6% train
    # accuracy, 99.39% test after 15 epochs. 2% dropout with weight decay 1e-4 reached 99.50-99.53%.
    "lean": Preset(
        "c8 c14 d0.02 m c8k1 c14 d0.02 c14 d0.02 c14 d0.02 c14p1 g o", 0.1, 1e-4, "sgd", True,
        "the same design, narrower: under 8,000 parameters",
    ),
    # pytorch/examples mnist/main.py: convs with bias and no BatchNorm, then two linear layers; trained as
    # there, with Adadelta at lr 1.0 (x0.7 per epoch) and no augmentation. Not expressible as a line.
    "reference": Preset(
        None, 1.0, 0.0, "adadelta", False, "pytorch/examples' net: 2 convs and 2 linear layers, 1.2 M parameters"
    ),
}  # fmt: skip
DEFAULT_PRESET = "classroom"


def parse(line: str) -> Design:
    """The Design of a line, or ArchError with one sentence saying what is wrong and where."""
    if not isinstance(line, str):
        raise ArchError("the architecture must be a line of text")
    if len(line) > MAX_LINE_CHARS:
        raise ArchError(f"the line is {len(line):,} characters long; at most {MAX_LINE_CHARS} are allowed")
    tokens = line.split()
    if not tokens:
        raise ArchError("the line is empty; start from a preset such as the classroom model")
    if len(tokens) > MAX_TOKENS:
        raise ArchError(f"the line has {len(tokens)} tokens; at most {MAX_TOKENS} are allowed")

    n, channels, r, j = IMAGE_SIZE, IN_CHANNELS, 1, 1
    rows: list[Row] = []
    head_at = gap_at = None
    for index, token in enumerate(tokens, start=1):
        where = f"token {index} {_quote(token)}"
        if head_at is not None and gap_at is not None:
            raise ArchError(f"{where}: the model already ends with 10 classes of 1×1; nothing may follow")
        if head_at is not None and token != "g":
            raise ArchError(f"{where}: only `g` may follow the head `o`, which gives the 10 classes")
        if gap_at is not None and token not in ("o", "g"):
            raise ArchError(f"{where}: after `g` the map is 1×1; only the head `o` may follow it")
        kernel = stride = padding = None
        if conv := _CONV.fullmatch(token):
            c_out = int(conv.group(1))
            kernel = int(conv.group(2) or 3)
            padding = int(conv.group(3) or 0)
            stride = 1
            if not 1 <= c_out <= MAX_CHANNELS:
                raise ArchError(f"{where}: channels must be between 1 and {MAX_CHANNELS}")
            if kernel not in KERNELS:
                raise ArchError(f"{where}: kernel must be 1, 3, 5 or 7")
            if padding > kernel // 2:
                raise ArchError(
                    f"{where}: padding must be at most {kernel // 2} for a {kernel}×{kernel} kernel "
                    "(more only adds a border of zeros)"
                )
            layer = f"conv {kernel}×{kernel}{f', padding {padding}' if padding else ''} → BatchNorm → ReLU"
            params = channels * c_out * kernel * kernel + 2 * c_out  # no bias; BatchNorm's scale and shift
            channels = c_out
        elif dropout := _DROPOUT.fullmatch(token):
            p = float(dropout.group(1))
            if not 0 < p < 1:
                raise ArchError(f"{where}: the dropout probability must be between 0 and 1, exclusive")
            if not rows or rows[-1].token[0] not in "cm":
                raise ArchError(f"{where}: a dropout must follow a conv block `c…` or a max-pool `m`")
            layer, params = f"Dropout2d({p:g})", 0
        elif token == "m":
            kernel, stride, padding = 2, 2, 0
            layer, params = "max-pool 2×2, stride 2", 0
        elif token == "g":
            if gap_at is not None:
                raise ArchError(f"{where}: the model already has global average pooling at token {gap_at}")
            kernel, stride, padding = n, 1, 0  # a window as large as the map
            layer, params, gap_at = "global average pool", 0, index
        elif token == "o":
            kernel, stride, padding = 1, 1, 0
            layer, params, head_at = "head: conv 1×1 → 10 classes (bias)", channels * CLASSES + CLASSES, index
            channels = CLASSES
        else:
            raise ArchError(f"{where}: not a layer; {TOKEN_HELP}")

        if kernel is not None:
            n = (n + 2 * padding - kernel) // stride + 1
            if n < 1:
                raise ArchError(
                    f"after token {index} the map is 0×0: too many layers without padding for a "
                    f"{IMAGE_SIZE}×{IMAGE_SIZE} image"
                )
            r, j = r + (kernel - 1) * j, j * stride
        rows.append(Row(index, token, layer, n, channels, kernel, stride, padding, j, r, params))

    if head_at is None:
        raise ArchError(f"the model ends with {channels} channels; end with `o` to get {CLASSES} classes")
    if n != 1:
        raise ArchError(f"the model ends with a {n}×{n} map; add `g` to pool it to 1×1")
    design = Design(" ".join(tokens), tuple(rows))
    if design.params > MAX_PARAMS:
        raise ArchError(f"the model has {design.params:,} parameters; at most {MAX_PARAMS:,} are allowed")
    return design


def _quote(token: str) -> str:
    """The token as the message shows it: quoted, and cut short if someone pasted an essay."""
    return repr(token if len(token) <= 24 else token[:21] + "...")


def check_line(line: str) -> str | None:
    """None if the line is a valid model, else the sentence saying why not."""
    try:
        parse(line)
    except ArchError as error:
        return str(error)
    return None


def preset_line(name: str) -> str | None:
    return PRESETS[name].line


def format_table(design: Design) -> str:
    """The layer table as fixed-width text with the parameter total, as `--summary` prints it."""
    header = (
        f"{'#':>2} {'token':<9} {'layer':<44} {'output':>9} {'k':>3} {'s':>2} {'p':>2} {'j':>3} {'RF':>4} "
        f"{'params':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in design.rows:
        window = [blank(v) for v in (row.kernel, row.stride, row.padding)]
        lines.append(
            f"{row.index:>2} {row.token:<9} {row.layer:<44} {f'{row.channels}×{row.size}×{row.size}':>9} "
            f"{window[0]:>3} {window[1]:>2} {window[2]:>2} {row.jump:>3} {row.receptive_field:>4} "
            f"{row.params:>9,}"
        )
    lines.append(f"{'':>2} {'total':<9} {'':<44} {'':>9} {'':>3} {'':>2} {'':>2} {'':>3} {'':>4} "
                 f"{design.params:>9,}")  # fmt: skip
    return "\n".join(lines)


def blank(value: int | None) -> str:
    """A whole number as text; an empty cell for a layer that has no such number (never "nan" or "3.0")."""
    return "" if value is None else str(int(value))


@dataclass(frozen=True)
class Check:
    """One item of the assignment's checklist."""

    ok: bool
    label: str
    value: str  # the number it was judged on


def checklist(design: Design, epochs: int) -> list[Check]:
    """The assignment's requirements, each with the number it was judged on."""
    r = design.receptive_field
    return [
        Check(design.params < TARGET_PARAMS, f"parameters < {TARGET_PARAMS:,}", f"{design.params:,}"),
        Check(
            design.uses("c"), "BatchNorm used", f"{sum(row.token[0] == 'c' for row in design.rows)} blocks"
        ),
        Check(design.uses("d"), "Dropout used", f"{sum(row.token[0] == 'd' for row in design.rows)} layers"),
        Check(design.uses("g"), "global average pooling used", "yes" if design.uses("g") else "no"),
        Check(
            r >= IMAGE_SIZE,
            f"last layer's receptive field covers {IMAGE_SIZE}×{IMAGE_SIZE}",
            f"{r}×{r}",
        ),
        Check(epochs < TARGET_EPOCHS, f"epochs < {TARGET_EPOCHS}", str(epochs)),
    ]
