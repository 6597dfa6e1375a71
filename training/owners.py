"""Who may see and stop which training run: the data and the rules, nothing about how people log in.

Without login (the default: one person on one laptop) everyone is LOCAL, who owns everything. With login
configured (lab/auth.py, Streamlit's st.login over OpenID Connect) a viewer is the user's e-mail; a student
sees and stops only their own runs, an instructor every run. An instructor is an e-mail listed in
BACKPROP_LAB_INSTRUCTORS. The run manager (training/runs.py) applies these rules itself on every list,
stop, cancel and download, so a hidden button is never the only guard. No torch, no Streamlit here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Protocol

INSTRUCTORS_ENV = "BACKPROP_LAB_INSTRUCTORS"  # e-mails, separated by commas or spaces
LOCAL_ID = "local"


@dataclass(frozen=True)
class Viewer:
    id: str  # "local" when login is not configured; else the user's e-mail from OIDC (lower case)
    name: str  # what the page calls them
    instructor: bool  # True for the local user (one person owns everything) and for BACKPROP_LAB_INSTRUCTORS


LOCAL = Viewer(LOCAL_ID, "you", True)


class Owned(Protocol):
    owner: str  # the Viewer.id of whoever started the run


def instructors() -> frozenset[str]:
    """The e-mails in BACKPROP_LAB_INSTRUCTORS, lower case (e-mail addresses compare case-insensitively
    in practice, and OIDC providers differ in how they case them)."""
    raw = os.environ.get(INSTRUCTORS_ENV, "")
    return frozenset(part.lower() for part in re.split(r"[,\s]+", raw) if part)


def logged_in(email: str, name: str | None = None) -> Viewer:
    """The Viewer for a user who logged in with this e-mail (for lab/auth.py)."""
    email = email.strip().lower()
    if not email or email == LOCAL_ID:  # "local" is the no-login user: no login may claim it
        raise ValueError(f"not a usable e-mail for a viewer: {email!r}")
    return Viewer(email, (name or "").strip() or email, email in instructors())


def can_see(viewer: Viewer, run: Owned | None) -> bool:
    """An instructor sees every run; anyone else only their own. A run whose owner cannot be read
    (run=None: its run.json is damaged) is an instructor's to look at."""
    if viewer.instructor:
        return True
    return run is not None and run.owner == viewer.id


def can_stop(viewer: Viewer, run: Owned | None) -> bool:
    """Stopping (or cancelling a queued run) follows the same rule as seeing: yours, or an instructor's."""
    return can_see(viewer, run)
