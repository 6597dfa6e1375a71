"""Process checks for the tests that launch trainers, written apart from training.runs on purpose: a test's
check must not share code with the run manager it is checking."""

from __future__ import annotations

import os
from pathlib import Path


def process_exists(pid: int) -> bool:
    """True while the pid names a process that has not been reaped (a zombie still counts)."""
    return Path(f"/proc/{pid}").exists()


def group_exists(pgid: int) -> bool:
    """True while any process is left in the process group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
