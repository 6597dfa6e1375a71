"""Checks run in a worker process, so that one check cannot stall other users' pages.

The Streamlit server runs every session's script in its own thread of one process: a check computed
there holds the GIL for as long as it runs. Here each check runs in a small pool of worker processes
(spawned, so no server state is copied into them), with a timeout over and above the check's own
budget; a worker that is past it, or dies (out of memory), is replaced and its file reported as such.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from .batch import Row, Submission, check_submission
from .budget import MAX_SECONDS

WORKERS = 2  # checks at the same time across all users; the others wait their turn in the pool's queue
TIMEOUT_S = MAX_SECONDS + 20  # the budget stops a check first; this is for a worker that hangs in C code

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()  # a hung worker would otherwise keep its CPU
    pool.shutdown(wait=False, cancel_futures=True)


def check_in_worker(submission: Submission, timeout_s: float = TIMEOUT_S) -> Row:
    """check_submission(submission) in a worker process; never raises."""
    if submission.error is not None or submission.data is None:
        return check_submission(submission)
    pool = _executor()
    try:
        return pool.submit(check_submission, submission).result(timeout=timeout_s)
    except FutureTimeout:
        _discard(pool)
        return Row(
            submission.name, "unreadable", reason=f"too large to check: it took more than {timeout_s:g} s"
        )
    except (BrokenProcessPool, OSError) as error:
        _discard(pool)
        return Row(
            submission.name, "unreadable", reason=f"too large to check: the check's process stopped ({error})"
        )
