"""python -m exports {xlsx,check} ...

python -m exports xlsx --lrs 0.1,0.2,0.5,0.8,1.0,2.0 --steps 100 --out backprop.xlsx
python -m exports check PATH... [--json] [--report class.csv]   (the checker package: python -m sheetcheck)
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("xlsx", "check"):
        print(
            "usage: python -m exports {xlsx,check} ...  (add --help after either for its options)",
            file=sys.stderr,
        )
        return 2
    if argv[0] == "xlsx":
        from .xlsx_cli import main as command
    else:
        from sheetcheck.cli import main as command
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
