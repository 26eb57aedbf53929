"""A large sheet's scanned bytes, kept for calamine as two halves it parses at once.

calamine parses a sheet on one core, without Python's lock, and inflates it
again although the scan (``addin.ooxml.sheets.scan_sheet``) has just
inflated it. So, while the scan looks at a large sheet, the chunks it is
given are also written, as they are inflated and on the inflating thread,
into a package of their own in a file in memory: not deflated (stored), and
cut in two sheets at a row boundary past the middle, the second half
repeating the first's beginning (up to ``<sheetData>``). Once the scan has
bounded the sheet, two calamine workbooks open that file and parse one half
each, on two threads; their values are put together by row and column as
calamine reads them from the whole sheet (``tests/test_sheet_halves.py``
holds them to it).

calamine sees only bytes the scan has checked. The copy is given up
(``usable`` is False, and the sheet is read from the package as before)
wherever the cut could be misread: a sheet written with a namespace prefix,
whose ``<sheetData>`` is not in the first chunk, or with a comment, a
CDATA section or a processing instruction after its prolog (a ``<row`` in
one of those is no row). The file holds at most what the package may
inflate to (``KPI_MAX_INFLATED_MB``), and is let go when the sheet has been
read. Where the system has no files in memory (``os.memfd_create``: Linux),
there is no copy and the sheet is read whole as before: a copy on disk
costs six times the CPU time to write (0.9 s against 0.15 s at 1,000,000
orders), and a business's rows would sit in the temporary folder while it is
read, and after it if the process were killed.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import IO
from xml.sax.saxutils import quoteattr

from addin.ooxml.names import CT, MAIN, PKG_REL, REL, WORKSHEET_CT, WORKSHEET_REL

#: Where the sheet is cut: the first half, a little smaller, is parsed and
#: made into Python values while calamine still parses the second.
FIRST_SHARE = 0.45
#: Names of the two halves in the copy (sheet names calamine is asked for).
FIRST, SECOND = "first", "second"
_ENDING = b"</sheetData></worksheet>"
_DATE1904 = '<workbookPr date1904="1"/>'
#: Markup after the prolog that could hide a ``<row`` from the cut.
_HIDING = (b"<!", b"<?")


class SheetHalves:
    """The copy of one sheet: ``write`` each chunk as it is inflated, ``finish``
    when the scan has ended, then, if ``usable``, open ``path`` (two sheets,
    FIRST and SECOND, the second empty when no cut was found); ``remove`` at
    the end."""

    def __init__(self, size: int, parts: dict[str, bytes], date1904: bool) -> None:
        """``size``: the sheet's declared size; ``parts``: the styles and shared
        strings by relationship kind, as the package holds them (checked)."""
        self._file, self.path = _memory_file()
        self.usable = True
        self._half = int(size * FIRST_SHARE)
        self._size = size
        self._written = 0
        self._tail = b""
        self._cut = False  # the second sheet started
        self._rows_ended = False  # </sheetData> seen before a cut
        self._head: bytes | None = None  # the sheet up to <sheetData>, once found
        self._zip: zipfile.ZipFile | None = None
        self._entry: IO[bytes] | None = None
        try:
            self._zip = zipfile.ZipFile(self._file, "w", zipfile.ZIP_STORED)
            for name, data in _frame(parts, date1904).items():
                self._zip.writestr(name, data)
            self._entry = self._open(FIRST)
        except (OSError, ValueError):
            self._give_up()

    def _open(self, sheet: str) -> IO[bytes]:
        assert self._zip is not None
        info = zipfile.ZipInfo(f"xl/worksheets/{sheet}.xml", (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = self._size  # an upper bound: zip64 headers where it needs them
        return self._zip.open(info, "w", force_zip64=self._size >= zipfile.ZIP64_LIMIT // 2)

    def write(self, chunk: bytes) -> None:
        """One more chunk of the sheet, in order (called on the inflating thread)."""
        if not self.usable or self._entry is None:
            return
        try:
            self._write(chunk)
        except (OSError, ValueError):
            self._give_up()

    def _write(self, chunk: bytes) -> None:
        assert self._entry is not None
        start = 0
        if self._head is None:
            root = chunk.find(b"<worksheet")
            opening = chunk.find(b"<sheetData>", root) if root >= 0 else -1
            if opening < 0:
                self._give_up()
                return
            start = opening + len(b"<sheetData>")
            self._head = chunk[:start]
            hiding = self._hides(chunk, root)
        else:
            hiding = self._hides(chunk, 0)
        if hiding:
            self._give_up()
            return
        tail, self._tail = self._tail, chunk[-16:]
        if self._cut or self._rows_ended:
            self._entry.write(chunk)
            return
        ended = chunk.find(b"</sheetData>")
        if ended < 0 and (tail + chunk[:16]).find(b"</sheetData>") >= 0:
            ended = 0  # the end tag cut in two by the chunks' edge
        cut = -1
        if self._written + len(chunk) > self._half:
            rows_end = len(chunk) if ended < 0 else ended
            cut = chunk.find(b"<row ", max(start, self._half - self._written), rows_end)
        self._rows_ended = ended >= 0
        self._written += len(chunk)
        if cut < 0:
            self._entry.write(chunk)
            return
        self._entry.write(chunk[:cut])
        self._entry.write(_ENDING)
        self._entry.close()
        self._entry = self._open(SECOND)
        self._entry.write(self._head)
        self._entry.write(chunk[cut:])
        self._cut = True

    def _hides(self, chunk: bytes, start: int) -> bool:
        """Whether ``chunk`` (from ``start``) opens a comment, a CDATA section
        or a processing instruction. '!' and '?' are rare in a sheet: only a
        chunk that has one is searched for the two-byte marks."""
        if chunk.find(b"!", start) < 0 and chunk.find(b"?", start) < 0:
            return False
        if self._tail.endswith(b"<") and chunk[start : start + 1] in (b"!", b"?"):
            return True
        return any(chunk.find(mark, start) >= 0 for mark in _HIDING)

    def finish(self) -> None:
        """The copy complete, after the scan has looked at the whole sheet (the
        second sheet empty when no cut was found)."""
        try:
            if self.usable and self._entry is not None and not self._cut:
                assert self._head is not None
                self._entry.close()
                self._entry = self._open(SECOND)
                self._entry.write(self._head + _ENDING)
            if self._entry is not None:
                self._entry.close()
            if self._zip is not None:
                self._zip.close()
        except (OSError, ValueError):
            self.usable = False
        self._entry = self._zip = None

    def _give_up(self) -> None:
        self.usable = False
        try:
            if self._entry is not None:
                self._entry.close()
            if self._zip is not None:
                self._zip.close()
        except (OSError, ValueError):
            pass
        self._entry = self._zip = None

    def remove(self) -> None:
        """Let the copy go (calamine's workbooks on it closed first)."""
        self._give_up()
        self._file.close()


def _memory_file() -> tuple[IO[bytes], Path]:
    """A file in memory for the copy, and the path it is opened by; OSError
    where the system has none (see the module's docstring)."""
    if not hasattr(os, "memfd_create") or not Path("/proc/self/fd").is_dir():
        raise OSError("no files in memory on this system")
    handle = os.memfd_create("kpi-sheet-halves")
    return os.fdopen(handle, "w+b"), Path(f"/proc/self/fd/{handle}")


def _frame(parts: dict[str, bytes], date1904: bool) -> dict[str, bytes]:
    """The parts around the two sheets: the workbook naming them, its
    relationships, and the workbook's own styles and shared strings
    (``parts``, by relationship kind), which calamine reads with them."""
    targets = {"styles": "styles.xml", "sharedStrings": "sharedStrings.xml"}
    rels = [
        f'<Relationship Id="rId{i}" Type="{WORKSHEET_REL}" Target="worksheets/{sheet}.xml"/>'
        for i, sheet in enumerate((FIRST, SECOND), 1)
    ]
    rels += [
        f'<Relationship Id="r{kind}" Type="{REL}/{kind}" Target="{targets[kind]}"/>'
        for kind in parts
    ]
    sheets = "".join(
        f'<sheet name={quoteattr(sheet)} sheetId="{i}" r:id="rId{i}"/>'
        for i, sheet in enumerate((FIRST, SECOND), 1)
    )
    frame = {
        "[Content_Types].xml": (
            f'<Types xmlns="{CT}">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Override PartName="/xl/worksheets/{FIRST}.xml" ContentType="{WORKSHEET_CT}"/>'
            f'<Override PartName="/xl/worksheets/{SECOND}.xml" ContentType="{WORKSHEET_CT}"/>'
            "</Types>"
        ).encode(),
        "_rels/.rels": (
            f'<Relationships xmlns="{PKG_REL}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
            f"{_DATE1904 if date1904 else ''}"
            f"<sheets>{sheets}</sheets></workbook>"
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PKG_REL}">{"".join(rels)}</Relationships>'
        ).encode(),
    }
    frame.update((f"xl/{targets[kind]}", data) for kind, data in parts.items())
    return frame
