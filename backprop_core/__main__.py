"""Command line: python -m backprop_core {table,sweep,gradcheck} [config flags].

    python -m backprop_core table --lr 1.0 --steps 100 --format csv
    python -m backprop_core sweep --lrs 0.1,0.2,0.5,0.8,1.0,2.0 --steps 1000
    python -m backprop_core gradcheck --activation tanh --biases

Bad input exits with code 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import fields

import pandas as pd

from .activations import ACTIVATIONS
from .config import (
    MAX_STEPS,
    NUMERIC_FIELDS,
    Config,
    ConfigError,
    check_lr,
    check_steps,
    check_target_error,
)
from .gradcheck import gradient_check
from .sweep import CLASSROOM_LRS, DEFAULT_TARGET_ERROR, sweep
from .table import run_steps


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr and exit code 2 (no usage block, no traceback)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def number_list(text: str) -> list[float]:
    return [finite_float(part) for part in text.split(",") if part.strip()]


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """--i1 ... --b2, --activation and --biases: one flag per Config field, defaults from Config."""
    defaults = Config()
    group = parser.add_argument_group("network (defaults: the classroom values)")
    for name in NUMERIC_FIELDS:
        group.add_argument(f"--{name}", type=finite_float, default=getattr(defaults, name), metavar="X")
    group.add_argument("--activation", choices=sorted(ACTIVATIONS), default=defaults.activation)
    group.add_argument(
        "--biases", action=argparse.BooleanOptionalAction, default=defaults.biases, help="use b1 and b2"
    )


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(**{f.name: getattr(args, f.name) for f in fields(Config)})


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m backprop_core", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    table = commands.add_parser("table", help="the update table, one row per update")
    table.add_argument("--lr", type=finite_float, default=1.0, help="learning rate η (default 1.0)")
    table.add_argument("--steps", type=whole_number, default=100, help=f"updates, 0..{MAX_STEPS}")
    table.add_argument("--format", choices=["text", "csv"], default="text")

    scan = commands.add_parser("sweep", help="final E_total and status for each learning rate")
    scan.add_argument("--lrs", type=number_list, default=list(CLASSROOM_LRS), help="comma-separated")
    scan.add_argument("--steps", type=whole_number, default=1000, help=f"updates, 0..{MAX_STEPS}")
    scan.add_argument("--target-error", type=finite_float, default=DEFAULT_TARGET_ERROR)
    scan.add_argument("--format", choices=["text", "csv"], default="text")

    check = commands.add_parser("gradcheck", help="analytic gradients against finite differences")
    check.add_argument("--format", choices=["text", "csv"], default="text")

    for sub in (table, scan, check):
        add_config_flags(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        if args.command == "table":
            frame = run_steps(config, check_lr(args.lr), check_steps(args.steps))
        elif args.command == "sweep":
            frame = sweep(
                config,
                [check_lr(lr) for lr in args.lrs],
                check_steps(args.steps),
                check_target_error(args.target_error),
            )
            frame = frame.summary()
        else:
            frame = gradient_check(config)
    except ConfigError as error:
        parser.error(str(error))
    _print(frame, args.format)
    if args.command == "table" and frame.attrs["diverged_at"] >= 0:
        print(f"diverged: row {frame.attrs['diverged_at']} would exceed the weight limit", file=sys.stderr)
    return 0


def _print(frame: pd.DataFrame, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(sys.stdout, index=False, float_format="%.17g")
    else:
        with pd.option_context("display.max_columns", None, "display.width", 250):
            print(frame.to_string())


if __name__ == "__main__":
    sys.exit(main())
