"""Process checks for the tests that launch trainers, written apart from training.runs on purpose: a test's
check must not share code with the run manager it is checking."""

from __future__ import annotations

import os
import time
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


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    """Poll `condition` until it returns something true, and return that; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
