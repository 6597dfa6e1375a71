"""How long the live xlsx export takes: python benchmarks/bench_xlsx.py [--lrs N] [--steps N] [--repeat N]

Target: 6 learning rates x 1,000 steps in under 2 s. Prints wall time (what a user waits for) and
the process's CPU time (steadier on a shared machine), the best of --repeat runs, and the file size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from backprop_core import CLASSROOM_LRS, Config  # noqa: E402
from exports.xlsx import workbook_bytes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", type=int, default=len(CLASSROOM_LRS), help="how many learning rates (1..10)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lrs = [0.1 * (i + 1) for i in range(args.lrs)]
    workbook_bytes(Config(), lrs[:1], 1)  # imports and first-use caches are not what we measure

    walls, cpus = [], []
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        data = workbook_bytes(Config(), lrs, args.steps)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    cells = args.lrs * (args.steps + 1) * 32
    print(
        f"xlsx export: {args.lrs} learning rates x {args.steps} steps ({cells:,} table cells): "
        f"best wall {min(walls):.2f} s, best cpu {min(cpus):.2f} s over {args.repeat} runs, "
        f"{len(data) / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    main()
