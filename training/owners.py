"""Who is looking: the viewer a page acts for, and the one local user when login is not configured."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Viewer:
    id: str  # "local" when login is not configured; else the user's e-mail from OIDC
    name: str
    instructor: bool  # True for the local user and for e-mails listed in BACKPROP_LAB_INSTRUCTORS


LOCAL = Viewer("local", "you", True)
