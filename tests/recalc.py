"""Recalculate .xlsx files with LibreOffice headless: the copy it writes holds every formula's value.

openpyxl writes formulas without cached values, so a reader that opens such a file with
data_only=True sees None. LibreOffice computes every formula on load and saves the results:

    recalculated = recalculate(Path("backprop.xlsx"), Path("/tmp/out"))

Each call starts its own soffice with a throw-away profile, so parallel calls and a desktop
LibreOffice that is already open never share state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

DEFAULT_TIMEOUT_S = 180.0

# LibreOffice trusts an xlsx file's cached values unless told otherwise; openpyxl writes none, and a file
# edited after export must never show stale numbers. 0 = "always recalculate" on load.
_ALWAYS_RECALCULATE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
 <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
 <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


class RecalcError(RuntimeError):
    """soffice is missing, failed, timed out, or wrote no file; the message says which, in one line."""


def soffice_path() -> str | None:
    """The soffice binary on PATH, or None."""
    return shutil.which("soffice")


def recalculate(path: Path, out_dir: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> Path:
    """Recalculate one .xlsx; returns out_dir / path.name, the recalculated copy."""
    return recalculate_many([path], out_dir, timeout_s)[0]


def recalculate_many(
    paths: Sequence[Path], out_dir: Path, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[Path]:
    """Recalculate several .xlsx files in one soffice run (it starts once: seconds saved per file).

    Returns the recalculated copies, out_dir / name for each input, in the same order.
    """
    paths = [Path(p).resolve() for p in paths]
    out_dir = Path(out_dir).resolve()
    _check_paths(paths, out_dir)
    soffice = soffice_path()
    if soffice is None:
        raise RecalcError("soffice (LibreOffice) is not installed or not on PATH")

    with tempfile.TemporaryDirectory(prefix="recalc-profile-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE, encoding="utf-8")
        command = [
            soffice,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out_dir),
            *map(str, paths),
        ]
        returncode, output = _run_soffice(command, timeout_s)

    outputs = [out_dir / p.name for p in paths]
    missing = [p.name for p in outputs if not p.is_file()]
    if returncode != 0 or missing:
        detail = " ".join(output.split())[-300:]
        unwritten = f" and did not write {', '.join(missing)}" if missing else ""
        raise RecalcError(f"soffice exited with {returncode}{unwritten}: {detail}")
    return outputs


def _run_soffice(command: list[str], timeout_s: float) -> tuple[int, str]:
    """(exit code, stderr or else stdout) of one soffice run, in a process group of its own.

    soffice is a script that execs oosplash, which forks soffice.bin, the process doing the work. Killing
    only the child we started (as subprocess.run does on a timeout) would leave soffice.bin running,
    orphaned, still writing into out_dir after we reported failure. So the whole group is killed, on a
    timeout and also after a normal exit, in case a helper outlived its parent."""
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
    except OSError as error:
        raise RecalcError(f"could not start soffice: {error}") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RecalcError(f"soffice did not finish within {timeout_s:g} s") from None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()  # reap it, and close the pipes
    return process.returncode, stderr or stdout or ""


def _check_paths(paths: Sequence[Path], out_dir: Path) -> None:
    if not paths:
        raise RecalcError("no files to recalculate")
    if not out_dir.is_dir():
        raise RecalcError(f"output directory does not exist: {out_dir}")
    names = [p.name for p in paths]
    if len(set(names)) < len(names):
        raise RecalcError(
            "two input files share a name; their recalculated copies would overwrite each other"
        )
    for path in paths:
        if path.suffix.lower() != ".xlsx" or not path.is_file():
            raise RecalcError(f"not an .xlsx file: {path}")
        if path.parent == out_dir:
            raise RecalcError(
                f"{path.name}: the output directory must differ from the input's, or it is overwritten"
            )
