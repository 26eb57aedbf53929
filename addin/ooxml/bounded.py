"""Read a workbook package without letting the file decide how much memory it takes.

A package is a zip of XML parts, and everything about it may be crafted: the
sizes its central directory declares, the data behind them, the member names,
the DTDs inside its XML, the cell references inside its sheets. This module
is the one place that opens a package for reading:

* member names are checked before anything is read: a name outside the
  package (absolute, with a ``..`` segment, a backslash or a drive letter),
  or the same name twice, is refused;
* the declared sizes of all parts together stay under a cap (1 GiB by
  default, ``KPI_MAX_INFLATED_MB`` changes it), and every part is inflated
  through a stream that stops at its declared size and checks its CRC, so a
  central directory that lies is caught before its data is believed;
* a part parsed into a tree (the workbook, relationships, tables, styles)
  must be under ``TREE_PART_LIMIT``;
* any DTD is refused: a workbook never needs one, and entity declarations
  are how an XML bomb expands.

Damage (bad deflate data, a wrong CRC, a truncated member) becomes a
``PackageError`` that names the part, never a traceback.
"""

from __future__ import annotations

import os
import queue
import re
import sys
import threading
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

#: The default cap on what a package may inflate to, in all: enough for a
#: workbook with a million-row table, small enough for a laptop.
DEFAULT_MAX_INFLATED = 1 << 30
#: A part parsed as a whole tree (workbook, relationships, tables, styles,
#: document properties): Excel's own stay far below this.
TREE_PART_LIMIT = 64 << 20
#: How much of a part is inflated at a time when it is streamed.
CHUNK = 4 << 20

#: A window of an XML part with no '<' in it is a text run longer than any
#: cell holds (32,767 characters, at most about 200 KB once escaped).
_TEXT_WINDOW = 256 << 10
#: The prolog of an XML part that declares a DTD or entities.
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)\b")
_DRIVE = re.compile(r"^[A-Za-z]:")


class PackageError(ValueError):
    """A package that cannot be read safely: the message names the part and the reason."""


def max_inflated() -> int:
    """The cap on a package's inflated size: ``KPI_MAX_INFLATED_MB``, else 1 GiB."""
    setting = os.environ.get("KPI_MAX_INFLATED_MB") or os.environ.get("KPI_MAX_UNCOMPRESSED_MB")
    if not setting:
        return DEFAULT_MAX_INFLATED
    try:
        megabytes = float(setting)
    except ValueError:
        raise PackageError(
            f"KPI_MAX_INFLATED_MB is {setting!r}; expected a number of megabytes, such as 2048"
        ) from None
    if not 0 < megabytes < 1 << 40:
        raise PackageError(f"KPI_MAX_INFLATED_MB is {setting!r}; expected a positive number")
    return int(megabytes * (1 << 20))


def unsafe_member_name(name: str) -> bool:
    """A member name that would point outside the package when unpacked."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or _DRIVE.match(name):
        return True
    return any(segment in ("..", ".") for segment in name.split("/"))


class BoundedZip:
    """A workbook package opened for reading, with every read bounded and checked."""

    def __init__(self, path: Path, cap: int | None = None) -> None:
        self.path = Path(path)
        self.cap = max_inflated() if cap is None else cap
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise PackageError(f"{self.path} is not a readable zip package ({error})") from None
        try:
            self._check_members()
        except BaseException:
            self.zip.close()
            raise
        self.inflated = 0
        self._counting = threading.Lock()
        self._names = frozenset(self.zip.namelist())

    def _check_members(self) -> None:
        infos = self.zip.infolist()
        seen: set[str] = set()
        for info in infos:
            if unsafe_member_name(info.filename):
                raise PackageError(
                    f"{self.path} holds a part named {info.filename[:80]!r}, which points "
                    "outside the package; a workbook's parts are relative paths such as "
                    "xl/workbook.xml"
                )
            if info.filename in seen:
                raise PackageError(
                    f"{self.path} holds two parts named {info.filename[:80]!r}; "
                    "a workbook package names each part once"
                )
            seen.add(info.filename)
            if info.flag_bits & 0x1:
                raise PackageError(
                    f"{self.path} holds encrypted zip entries ({info.filename}); "
                    "expected a plain workbook"
                )
        declared = sum(info.file_size for info in infos)
        if declared > self.cap:
            raise PackageError(
                f"{self.path} would inflate to {declared:,} bytes, more than the "
                f"{self.cap:,} allowed (a guard against zip bombs); set "
                "KPI_MAX_INFLATED_MB to a larger number of megabytes for a genuine workbook"
            )

    def names(self) -> frozenset[str]:
        return self._names

    def size(self, part: str) -> int:
        return self._info(part).file_size

    def _info(self, part: str) -> zipfile.ZipInfo:
        try:
            return self.zip.getinfo(part)
        except KeyError:
            raise PackageError(
                f"{self.path} has no part {part}, which a workbook package needs; "
                "open and save it in Excel to repair it"
            ) from None

    @contextmanager
    def _reading(self, part: str) -> Iterator[None]:
        """Turn the zip module's and zlib's complaints about a part into one message."""
        try:
            yield
        except zipfile.BadZipFile as error:
            raise PackageError(
                f"{self.path}: the part {part} is damaged ({error}); "
                "open and save the workbook in Excel to repair it"
            ) from None
        except (zlib.error, EOFError, OSError, NotImplementedError, ValueError) as error:
            if isinstance(error, PackageError):
                raise
            raise PackageError(
                f"{self.path}: the part {part} cannot be inflated ({type(error).__name__}: "
                f"{error}); the file is damaged or not a workbook saved by a spreadsheet program"
            ) from None

    def chunks(self, part: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """The part's bytes, a chunk at a time, never more than it declares."""
        info = self._info(part)
        markup = part.endswith((".xml", ".rels"))
        with self._reading(part):
            stream: IO[bytes] = self.zip.open(info)
            with stream:
                # ZipExtFile stops at the declared size and checks the CRC at its
                # end, so a part whose data inflate to more than declared fails here.
                while True:
                    data = stream.read(chunk)
                    if not data:
                        break
                    with self._counting:  # parts may be read on two threads
                        self.inflated += len(data)
                        inflated = self.inflated
                    if inflated > self.cap:
                        raise PackageError(
                            f"{self.path} inflates to more than the {self.cap:,} bytes "
                            "allowed (a guard against zip bombs); set KPI_MAX_INFLATED_MB to "
                            "a larger number of megabytes for a genuine workbook"
                        )
                    if markup:
                        self._refuse_long_text(part, data)
                    yield data

    def chunks_ahead(self, part: str, chunk: int = CHUNK) -> Generator[bytes, None, None]:
        """``chunks``, inflated one or two chunks ahead on another thread while
        the caller looks at the one it has: zlib lets go of Python's lock while
        it inflates, so on a machine with two cores the inflating costs a
        scan little wall time. Every check of ``chunks`` still runs, on that
        thread; what it raises is raised here. (Where there are no threads,
        as in Pyodide, the chunks come as ``chunks`` gives them.)"""
        return read_ahead(self.chunks(part, chunk))  # a reader closes it when done (closing)

    def _refuse_long_text(self, part: str, data: bytes) -> None:
        """Refuse a run of text far longer than a cell can hold: every XML
        reader keeps a text run whole in memory, so a gigabyte of spaces
        between two elements would cost a gigabyte (any run of 1 MiB or more
        leaves a whole window of ``_TEXT_WINDOW`` bytes without a '<')."""
        for start in range(0, len(data) - _TEXT_WINDOW + 1, _TEXT_WINDOW):
            if data.find(b"<", start, start + _TEXT_WINDOW) < 0:
                raise PackageError(
                    f"{self.path}: the part {part} holds a run of text of more than "
                    f"{_TEXT_WINDOW // 1024} KB without markup, far beyond the 32,767 "
                    "characters Excel allows in a cell; refusing to read it"
                )

    def read(self, part: str, limit: int = TREE_PART_LIMIT) -> bytes:
        """A whole part, which must stay under ``limit`` bytes and declare no DTD."""
        size = self.size(part)
        if size > limit:
            raise PackageError(
                f"{self.path}: the part {part} is {size:,} bytes, more than the "
                f"{limit:,} a part of its kind may have"
            )
        data = b"".join(self.chunks(part))
        refuse_dtd(data, part, self.path)
        return data

    def verify(self, part: str, check: Callable[[bytes], None] | None = None) -> None:
        """Inflate a part to its end (its size and CRC are then known to be true),
        refusing a DTD, and hand each chunk to ``check``."""
        tail = b""
        for data in self.chunks(part):
            refuse_dtd(tail + data, part, self.path)
            if check is not None:
                check(data)
            tail = data[-16:]

    def close(self) -> None:
        self.zip.close()


#: Threads can be started (not in Pyodide, whose Python has none).
THREADS = sys.platform != "emscripten"
#: Chunks inflated ahead of the reader, at most (each up to ``CHUNK``).
_AHEAD = 2


def read_ahead(chunks: Generator[bytes, None, None]) -> Generator[bytes, None, None]:
    """The items of ``chunks``, produced on a thread of their own at most
    ``_AHEAD`` items ahead. The producing thread ends with the reader: when
    the chunks are exhausted, when they raise (the error is raised to the
    reader), or when the reader stops early (it is told, and joined)."""
    if not THREADS:
        yield from chunks
        return
    handed: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=_AHEAD)
    stop = threading.Event()

    def hand(kind: str, item: object) -> bool:
        while not stop.is_set():
            try:
                handed.put((kind, item), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for data in chunks:
                if not hand("chunk", data):
                    return
            hand("end", None)
        except BaseException as error:  # raised again on the reader's thread
            hand("error", error)
        finally:
            chunks.close()

    producer = threading.Thread(target=produce, name="kpi-inflate", daemon=True)
    producer.start()
    try:
        while True:
            kind, item = handed.get()
            if kind == "chunk":
                yield item  # type: ignore[misc]
            elif kind == "error":
                raise item  # type: ignore[misc]
            else:
                return
    finally:
        stop.set()
        producer.join()


def refuse_dtd(data: bytes, part: str, path: Path) -> None:
    """Refuse a part that declares a DTD or entities (the XML bomb's tool)."""
    if b"<!" in data and _DTD.search(data):
        raise PackageError(
            f"{path}: the part {part} declares XML entities or a DTD, which a workbook "
            "never needs; refusing to read it"
        )
