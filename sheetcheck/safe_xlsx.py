"""Is an uploaded file a plain .xlsx workbook that is safe to parse? Decided before openpyxl sees it.

An .xlsx file is a zip archive. Everything here reads only the zip's central directory (names,
sizes, compression ratios) and [Content_Types].xml, so a hostile file is refused before anything
inflates it:

- not a zip, or a corrupt one                    -> refused
- a zip bomb (huge total size, or a member that inflates more than MAX_RATIO times) -> refused
- member names with path tricks (/abs, ../, C:, backslashes) -> refused
- macros (vbaProject.bin, macro-enabled content types) -> refused: a checker never needs code
- external links (xl/externalLinks/) -> reported, never followed: openpyxl loads without them
  (keep_links=False), and a formula that reads another file then fails to evaluate and is named.
  (Real student files carry stale links, e.g. from copying a sheet out of the course's file.)

The upload stays in memory (bytes): nothing is ever written to a path a user chose.
"""

from __future__ import annotations

import io
import re
import zipfile

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the upload itself; a 10-sheet, 5,000-row workbook is about 5 MB
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # all members inflated; the same workbook is about 60 MB
MAX_MEMBERS = 2_000  # parts in the archive; a workbook with 10 sheets and charts has about 40
# Worksheet XML compresses about 10-30x (a sheet of mostly blank rows up to ~60x); a zip bomb 1,000x. A member may exceed
# the ratio when it is small (a few blank rows compress very well), so the ratio counts from 1 MB up.
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 1024 * 1024

MACRO_CONTENT_TYPES = ("macroenabled", "vbaproject", "ms-office.activex")


class UnsafeWorkbook(ValueError):
    """The upload is not a workbook the checker will open; the message says why, in one line."""


def check_upload(data: bytes) -> list[str]:
    """Raise UnsafeWorkbook unless `data` is a plain .xlsx workbook that is safe to parse.

    Returns warnings for the report (one line each), such as links to other files.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UnsafeWorkbook(
            f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB"
        )
    if not data.startswith(b"PK"):
        raise UnsafeWorkbook("not an .xlsx workbook (an .xlsx file is a zip archive; this is not one)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise UnsafeWorkbook("the file is a corrupt zip archive, so not a readable .xlsx workbook") from None
    with archive:
        members = archive.infolist()
        _check_sizes(members)
        names = [m.filename for m in members]
        for name in names:
            _check_name(name)
        _check_parts(names)
        _check_content_types(archive)
    return _warnings(names)


def _check_sizes(members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_MEMBERS:
        raise UnsafeWorkbook(f"the archive holds {len(members)} parts; a workbook has far fewer")
    # file_size comes from the central directory. A bomb could under-state it, but Python's zipfile
    # stops reading a member at its stated file_size (and then fails its CRC check), so what openpyxl
    # can inflate is bounded by the numbers checked here.
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UnsafeWorkbook(
            f"the archive would inflate to {total / 1e6:.0f} MB (limit {MAX_UNCOMPRESSED_BYTES / 1e6:.0f} MB): "
            "refused as a possible zip bomb"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
            raise UnsafeWorkbook(
                f"part {member.filename!r} inflates {ratio:.0f} times (limit {MAX_RATIO}): "
                "refused as a possible zip bomb"
            )


def _check_name(name: str) -> None:
    tricky = (
        name.startswith(("/", "\\"))
        or "\\" in name
        or "\x00" in name
        or re.match(r"^[A-Za-z]:", name) is not None
        or any(part in ("..", ".") for part in name.split("/"))
    )
    if tricky:
        raise UnsafeWorkbook(f"the archive holds a part with a path trick in its name ({name!r}): refused")


def _check_parts(names: list[str]) -> None:
    lowered = [n.lower() for n in names]
    if "[content_types].xml" not in lowered or "xl/workbook.xml" not in lowered:
        raise UnsafeWorkbook("not an .xlsx workbook (the zip holds no xl/workbook.xml)")
    if any(n.endswith("vbaproject.bin") or n.endswith("vbaprojectsignature.bin") for n in lowered):
        raise UnsafeWorkbook(
            "the workbook holds macros (vbaProject.bin); save it as a plain .xlsx and try again"
        )


def _warnings(names: list[str]) -> list[str]:
    links = [n for n in names if n.lower().startswith("xl/externallinks/") and n.lower().endswith(".xml")]
    if not links:
        return []
    return [
        f"the workbook links to {len(links)} other file(s) (xl/externalLinks/); the links were not followed, "
        "and a formula that reads another file is reported as wrong"
    ]


def _check_content_types(archive: zipfile.ZipFile) -> None:
    info = next(m for m in archive.infolist() if m.filename.lower() == "[content_types].xml")
    if info.file_size > RATIO_FLOOR_BYTES:
        raise UnsafeWorkbook("[Content_Types].xml is implausibly large; not a plain .xlsx workbook")
    try:
        text = archive.read(info).decode("utf-8", errors="replace").lower()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise UnsafeWorkbook("the file is a corrupt zip archive, so not a readable .xlsx workbook") from None
    if any(kind in text for kind in MACRO_CONTENT_TYPES):
        raise UnsafeWorkbook(
            "the workbook is macro-enabled (.xlsm content); save it as a plain .xlsx and try again"
        )
