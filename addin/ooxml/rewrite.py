"""Rewrite a workbook package: the changed parts anew, every other part as it was.

``kpi refresh`` (the report sheet) and ``kpi import`` (a table's rows) change
a few parts of a workbook and must leave the rest alone: charts, images,
shapes, pivot tables, VBA and every part they do not own are copied as their
original compressed bytes (``write_package``). What both must also change
when formula cells give way to values is the calculation chain
(``xl/calcChain.xml``): Excel's list of the formula cells it computed, which
must not name a cell that no longer holds a formula (``calc_chain_without``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import BinaryIO

from addin.ooxml.bounded import unsafe_member_name
from addin.ooxml.package import Package, ReportError
from addin.ooxml.zipwriter import ZipWriteError, ZipWriter

__all__ = ["CALC_CHAIN", "calc_chain_without", "write_package"]

#: Where Excel keeps the calculation chain.
CALC_CHAIN = "xl/calcChain.xml"


def _without_sheet(text: str, sheet_id: int) -> str:
    """The calculation chain's text without the entries of one sheet."""
    current: dict[str, str | None] = {"i": None}

    def keep(match: re.Match[str]) -> str:
        attributes = match.group(2)
        found = re.search(r'\bi="(\d+)"', attributes)
        if found:
            current["i"] = found.group(1)
            if found.group(1) == str(sheet_id):
                return ""
        # An entry without i belongs to the sheet of the entry before it.
        if current["i"] == str(sheet_id):
            return ""
        return match.group(0)

    return re.sub(r"<((?:[A-Za-z_][\w.-]*:)?)c\b([^>]*)/>", keep, text)


def calc_chain_without(package: Package, sheet_id: int) -> bytes | None:
    """The package's calculation chain without the entries of the sheet
    ``sheet_id`` (its cells now hold values), to write as ``CALC_CHAIN``;
    None when the package has no chain or the chain names none of its cells."""
    if CALC_CHAIN not in package.zip.namelist():
        return None
    chain = package.text(CALC_CHAIN)
    trimmed = _without_sheet(chain, sheet_id)
    return None if trimmed == chain else trimmed.encode("utf-8")


def _write(archive: ZipWriter, name: str, data: bytes | Iterable[bytes]) -> None:
    if isinstance(data, bytes):
        archive.write(name, data)
    else:
        archive.write_stream(name, data)


def write_package(
    package: Package,
    changed: Mapping[str, bytes | Iterable[bytes]],
    new: list[str],
    out: BinaryIO,
) -> None:
    """Copy every entry as its original compressed bytes except ``changed``,
    which are deflated anew (a part given as chunks is streamed, as ``kpi
    import`` gives a large sheet); the ``new`` parts come last, in their order."""
    infos = list(package.zip.infolist())
    for info in infos:
        if info.file_size >= 0xFFFFFFFF or info.header_offset >= 0xFFFFFFFF:
            raise ReportError(
                f"{package.path} is a zip64 package (over 4 GB), which refresh does not write"
            )
    for name in (*changed, *new):
        # Every part written is named inside the package (the input's names
        # were checked when it was opened).
        if unsafe_member_name(name):
            raise ReportError(f"{package.path}: refusing to write a part named {name[:80]!r}")
    with package.path.open("rb") as source:
        archive = ZipWriter(out)
        try:
            for info in infos:
                if info.filename in changed:
                    _write(archive, info.filename, changed[info.filename])
                else:
                    archive.copy(source, info)
            for name in new:
                _write(archive, name, changed[name])
        except ZipWriteError as error:
            raise ReportError(f"{package.path}: {error}") from None
        archive.close(package.zip.comment)
