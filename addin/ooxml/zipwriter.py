"""The zip container of a package, written the same way every time.

Every package the add-in writes goes through ``ZipWriter``: the starter
workbooks (``kpi new``), the refreshed workbooks (``kpi refresh``) and the
kpi-addin wheel that ``kpi lite`` writes for xlwings Lite. It writes

- entries in the order they are given;
- every new entry deflated at one fixed level (``DEFLATE_LEVEL``, zlib's and
  Python's default) and stamped with one fixed time (``FIXED_DATE_TIME``,
  1980-01-01 00:00, which is also what Excel writes), with no file-system
  attributes, so the same content gives the same bytes on any machine and
  on any day;
- an entry of another package as its original compressed bytes (``copy``):
  the refresh keeps charts, images, VBA and everything else it does not own
  byte for byte, and only what it changes is deflated anew;
- a streamed entry (``write_stream``) whose size is not known up front, as
  the starter's data sheets are: its local header carries a zip64 extra
  field, as Python's ``zipfile`` does with ``force_zip64=True``, so that a
  sheet over 4 GiB is still written correctly, and is rewritten with the
  real sizes once the entry is complete (the output must be seekable);
- zip64 central records and end records only where a size, an offset or the
  number of entries needs them.

Python's ``zipfile`` can neither copy an entry's compressed bytes nor leave
out the create system and attributes it takes from the running platform, so
the records are packed here with its own layouts (``struct`` formats of
``zipfile``'s ``structFileHeader``, ``structCentralDir``, ``structEndArchive``
and their zip64 forms). Tests read the results with ``zipfile.testzip``,
``unzip -t``, openpyxl, python-calamine and LibreOffice.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

#: The time of every entry written anew.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
#: The deflate level of every entry written anew.
DEFLATE_LEVEL = 6

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_TAG = 0x0001
_LIMIT = 0xFFFFFFFF
_COUNT_LIMIT = 0xFFFF
_VERSION = 20  # deflate
_VERSION_ZIP64 = 45
_UTF8_NAME = 0x800
_DATA_DESCRIPTOR = 0x08


class ZipWriteError(ValueError):
    """An entry that cannot be written or copied as asked."""


def dos_time(date_time: tuple[int, ...]) -> tuple[int, int]:
    """A (year, month, day, hour, minute, second) as the zip format's time and date."""
    year, month, day, hour, minute, second = date_time[:6]
    return (
        (hour << 11) | (minute << 5) | (second // 2),
        ((max(year, 1980) - 1980) << 9) | (month << 5) | day,
    )


def _encoded_name(name: str) -> tuple[bytes, int]:
    return (name.encode("ascii"), 0) if name.isascii() else (name.encode("utf-8"), _UTF8_NAME)


def _without_zip64(extra: bytes) -> bytes:
    """An extra field with its zip64 record removed (it is rebuilt for the new offsets)."""
    kept, position = b"", 0
    while position + 4 <= len(extra):
        tag, size = struct.unpack_from("<2H", extra, position)
        record = extra[position : position + 4 + size]
        if tag != _ZIP64_TAG:
            kept += record
        position += 4 + size
    return kept + extra[position:]


@dataclass(frozen=True)
class _Central:
    """What the central directory says about one entry."""

    name: bytes
    create_version: int
    create_system: int
    extract_version: int
    reserved: int
    flags: int
    method: int
    time: int
    date: int
    crc: int
    compressed: int
    size: int
    extra: bytes
    comment: bytes
    internal: int
    external: int
    offset: int

    def record(self) -> bytes:
        sizes, zip64 = [self.size, self.compressed, self.offset], b""
        for index, value in enumerate(sizes):
            if value >= _LIMIT:
                zip64 += struct.pack("<Q", value)
                sizes[index] = _LIMIT
        extra = self.extra
        extract = self.extract_version
        if zip64:
            extra = struct.pack("<2H", _ZIP64_TAG, len(zip64)) + zip64 + extra
            extract = max(extract, _VERSION_ZIP64)
        return (
            _CENTRAL.pack(
                b"PK\x01\x02",
                max(self.create_version, extract if zip64 else 0),
                self.create_system,
                extract,
                self.reserved,
                self.flags,
                self.method,
                self.time,
                self.date,
                self.crc,
                sizes[1],
                sizes[0],
                len(self.name),
                len(extra),
                len(self.comment),
                0,
                self.internal,
                self.external,
                sizes[2],
            )
            + self.name
            + extra
            + self.comment
        )


class ZipWriter:
    """Write a zip archive entry by entry into ``out``; ``close`` ends it.

    As a context manager it closes the archive when the block succeeds; on
    an error the output is left unfinished (the atomic writer discards it).
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._entries: list[_Central] = []
        self._names: set[str] = set()
        self._closed = False

    def __enter__(self) -> ZipWriter:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.close()

    def _claim(self, name: str) -> None:
        if self._closed:
            raise ZipWriteError(f"cannot add {name!r}: the archive is closed")
        if name in self._names:
            raise ZipWriteError(f"the archive already holds an entry {name!r}")
        self._names.add(name)

    def _local(
        self, name: bytes, flags: int, crc: int, compressed: int, size: int, zip64: bool
    ) -> bytes:
        time, date = dos_time(FIXED_DATE_TIME)
        extra = b""
        if zip64:
            extra = struct.pack("<2H2Q", _ZIP64_TAG, 16, size, compressed)
            compressed = size = _LIMIT
        return (
            _LOCAL.pack(
                b"PK\x03\x04",
                _VERSION_ZIP64 if zip64 else _VERSION,
                0,
                flags,
                zipfile.ZIP_DEFLATED,
                time,
                date,
                crc,
                compressed,
                size,
                len(name),
                len(extra),
            )
            + name
            + extra
        )

    def _new_entry(
        self, name: bytes, flags: int, sizes: tuple[int, int, int], offset: int, zip64: bool
    ) -> None:
        time, date = dos_time(FIXED_DATE_TIME)
        version = _VERSION_ZIP64 if zip64 else _VERSION
        crc, compressed, size = sizes
        self._entries.append(
            _Central(
                name=name,
                create_version=version,
                create_system=0,
                extract_version=version,
                reserved=0,
                flags=flags,
                method=zipfile.ZIP_DEFLATED,
                time=time,
                date=date,
                crc=crc,
                compressed=compressed,
                size=size,
                extra=b"",
                comment=b"",
                internal=0,
                external=0,
                offset=offset,
            )
        )

    def write(self, name: str, data: bytes) -> None:
        """Add ``data`` as the entry ``name``, deflated."""
        self._claim(name)
        encoded, flags = _encoded_name(name)
        compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
        packed = compressor.compress(data) + compressor.flush()
        crc = zlib.crc32(data)
        zip64 = len(data) >= _LIMIT or len(packed) >= _LIMIT
        offset = self._out.tell()
        self._out.write(self._local(encoded, flags, crc, len(packed), len(data), zip64))
        self._out.write(packed)
        self._new_entry(encoded, flags, (crc, len(packed), len(data)), offset, zip64)

    def write_stream(self, name: str, chunks: Iterable[bytes]) -> None:
        """Add the entry ``name`` from ``chunks``, deflated as they come."""
        self._claim(name)
        encoded, flags = _encoded_name(name)
        offset = self._out.tell()
        self._out.write(self._local(encoded, flags, 0, 0, 0, zip64=True))
        compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
        crc = size = compressed = 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            packed = compressor.compress(chunk)
            compressed += len(packed)
            self._out.write(packed)
        packed = compressor.flush()
        compressed += len(packed)
        self._out.write(packed)
        end = self._out.tell()
        self._out.seek(offset)
        self._out.write(self._local(encoded, flags, crc, compressed, size, zip64=True))
        self._out.seek(end)
        self._new_entry(encoded, flags, (crc, compressed, size), offset, zip64=True)

    def copy(self, source: BinaryIO, info: zipfile.ZipInfo) -> None:
        """Add an entry of the zip ``source`` as its original bytes: local
        header, compressed data and data descriptor, untouched."""
        self._claim(info.filename)
        source.seek(info.header_offset)
        header = source.read(_LOCAL.size)
        if len(header) != _LOCAL.size or header[:4] != b"PK\x03\x04":
            raise ZipWriteError(f"the zip entry {info.filename} has a damaged local header")
        fields = _LOCAL.unpack(header)
        name_and_extra = source.read(fields[10] + fields[11])
        local_extra = name_and_extra[fields[10] :]
        data = header + name_and_extra + source.read(info.compress_size)
        if info.flag_bits & _DATA_DESCRIPTOR:
            # CRC and two sizes, 4 bytes each or 8 in a zip64 entry, maybe after a signature.
            length = 20 if _ZIP64_TAG in _extra_tags(local_extra) else 12
            descriptor = source.read(length + 4)
            data += descriptor if descriptor[:4] == b"PK\x07\x08" else descriptor[:length]
        offset = self._out.tell()
        self._out.write(data)
        if info.flag_bits & _UTF8_NAME:
            name = info.filename.encode("utf-8")
        else:
            name = info.filename.encode("cp437", errors="replace")
        time, date = dos_time(info.date_time)
        self._entries.append(
            _Central(
                name,
                info.create_version,
                info.create_system,
                info.extract_version,
                info.reserved,
                info.flag_bits,
                info.compress_type,
                time,
                date,
                info.CRC,
                info.compress_size,
                info.file_size,
                _without_zip64(info.extra),
                info.comment,
                info.internal_attr,
                info.external_attr,
                offset,
            )
        )

    def close(self, comment: bytes = b"") -> None:
        """Write the central directory and the end records."""
        if self._closed:
            return
        self._closed = True
        start = self._out.tell()
        directory = b"".join(entry.record() for entry in self._entries)
        self._out.write(directory)
        count, size = len(self._entries), len(directory)
        if count >= _COUNT_LIMIT or size >= _LIMIT or start >= _LIMIT:
            end64 = self._out.tell()
            self._out.write(
                # The record's size field counts the bytes after itself (12 before it).
                _END64.pack(
                    b"PK\x06\x06",
                    _END64.size - 12,
                    _VERSION_ZIP64,
                    _VERSION_ZIP64,
                    0,
                    0,
                    count,
                    count,
                    size,
                    start,
                )
                + _END64_LOCATOR.pack(b"PK\x06\x07", 0, end64, 1)
            )
            count, size, start = (
                min(count, _COUNT_LIMIT),
                min(size, _LIMIT),
                min(start, _LIMIT),
            )
        self._out.write(
            _END.pack(b"PK\x05\x06", 0, 0, count, count, size, start, len(comment)) + comment
        )


def _extra_tags(extra: bytes) -> set[int]:
    tags, position = set(), 0
    while position + 4 <= len(extra):
        tag, size = struct.unpack_from("<2H", extra, position)
        tags.add(tag)
        position += 4 + size
    return tags
