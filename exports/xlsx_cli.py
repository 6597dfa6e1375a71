"""python -m exports xlsx: write the live worksheet for one configuration and a list of learning rates.

    python -m exports xlsx --lrs 0.1,0.2,0.5,0.8,1.0,2.0 --steps 100 --out backprop.xlsx
    python -m exports xlsx --activation tanh --biases --lrs 0.5 --steps 50 --out tanh.xlsx

Bad input exits with code 2 and a one-line message; nothing is written then.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from backprop_core import CLASSROOM_LRS, ConfigError
from backprop_core.__main__ import (
    OneLineParser,
    add_config_flags,
    config_from_args,
    number_list,
    whole_number,
)

from .xlsx import MAX_EXPORT_LRS, MAX_EXPORT_STEPS, workbook_bytes


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m exports xlsx", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lrs",
        type=number_list,
        default=list(CLASSROOM_LRS),
        help=f"comma-separated learning rates, one sheet each (at most {MAX_EXPORT_LRS})",
    )
    parser.add_argument(
        "--steps",
        type=whole_number,
        default=100,
        help=f"updates per sheet, 0..{MAX_EXPORT_STEPS} (default 100)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
    add_config_flags(parser)
    return parser


def check_out(path: Path) -> Path:
    """A path we may write the workbook to, or a one-line ConfigError."""
    if path.suffix.lower() != ".xlsx":
        raise ConfigError(f"--out must end with .xlsx, got {str(path)!r}")
    if not path.parent.is_dir():
        raise ConfigError(f"--out: directory {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise ConfigError(f"--out: {str(path)!r} is a directory")
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target, then rename: an interrupted export never leaves half a workbook."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".xlsx")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a workbook is meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = check_out(args.out)
        config = config_from_args(args)
        data = workbook_bytes(config, args.lrs, args.steps)
        write_atomically(out, data)
    except ConfigError as error:
        parser.error(str(error))
    except OSError as error:
        parser.exit(
            1, f"{parser.prog}: error: could not write {str(args.out)!r}: {error.strerror or error}\n"
        )
    biases = "biases on" if config.biases else "no biases"
    print(
        f"wrote {out}: {len(args.lrs)} learning rate(s) x {args.steps} steps, {config.activation}, {biases} "
        f"({len(data):,} bytes)"
    )
    return 0
