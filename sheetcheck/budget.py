"""What one check may spend, counted over the whole check (every sheet, every range, every row).

A workbook under the 10 MB upload limit can still hold 20,000 formulas that fan out over each other
or a 5,000-deep chain of references. Each such file is stopped here, in well under 10 s, and reported
as "too large to check: ...": the student is not blamed for an error the checker could not afford to
compute. A class's real workbooks (a few hundred rows of 31 columns, a few sheets) use about 1% of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .workbook_error import WorkbookError

# Cells read from the file (values and formulas): about 100 bytes each in memory, so 3 M cells is
# about 300 MB at worst. A real 6-sheet, 1,000-row workbook of 40 columns is 240,000.
MAX_CELLS = 3_000_000
# Formula cells computed by the formula engine, and cells passed to them as range arguments. Only a file
# saved without values is computed cell by cell (its first rows): a few thousand.
MAX_EVALUATIONS = 200_000
# Wall-clock seconds for the whole check; a real class workbook takes a fraction of a second.
MAX_SECONDS = 6.0
# A formula reading a formula reading a formula ...: the checker computes row by row, so a real table's
# chains are about 10 deep; Python's own recursion limit would be met near 300.
MAX_DEPTH = 120


class TooLarge(WorkbookError):
    """The check stopped at its budget; the message says which part ran out ("too large to check: ...")."""


@dataclass
class Budget:
    seconds: float = MAX_SECONDS
    cells: int = MAX_CELLS
    evaluations: int = MAX_EVALUATIONS
    depth: int = MAX_DEPTH
    started: float = field(default_factory=time.monotonic)
    cells_read: int = 0
    evaluated: int = 0

    def read(self, n: int) -> None:
        self.cells_read += n
        if self.cells_read > self.cells:
            raise TooLarge(f"too large to check: more than {self.cells:,} cells")
        self.tick()

    def evaluate(self, n: int = 1) -> None:
        self.evaluated += n
        if self.evaluated > self.evaluations:
            raise TooLarge(f"too large to check: more than {self.evaluations:,} formula evaluations")
        self.tick()

    def deeper(self, depth: int) -> None:
        if depth > self.depth:
            raise TooLarge(
                f"too deep to check: a chain of more than {self.depth} formulas, each reading the next"
            )

    def tick(self) -> None:
        if time.monotonic() - self.started > self.seconds:
            raise TooLarge(f"too large to check: it needs more than {self.seconds:g} s")
