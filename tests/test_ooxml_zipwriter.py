"""The deterministic zip writer (``addin.ooxml.zipwriter``), read back by
``zipfile``, ``unzip -t``, openpyxl, python-calamine and LibreOffice."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from addin.ooxml.zipwriter import FIXED_DATE_TIME, ZipWriteError, ZipWriter
from addin.report.offline import refresh_file
from addin.starter import StarterOptions, new_workbook
from tests.libreoffice import convert
from tests.ooxml_support import SHEET, write_workbook

UNZIP = shutil.which("unzip")


def unzip_test(path: Path) -> None:
    """``unzip -t`` agrees the archive is sound, where unzip is installed."""
    if UNZIP is None:
        return
    result = subprocess.run([UNZIP, "-t", str(path)], capture_output=True, check=False)
    printed = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    assert result.returncode == 0, printed
    assert "No errors detected" in printed


def sound(path: Path) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(path)
    assert archive.testzip() is None
    unzip_test(path)
    return archive


def written(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with ZipWriter(buffer) as archive:
        for name, data in entries.items():
            archive.write(name, data)
    return buffer.getvalue()


def test_same_entries_same_bytes_in_the_given_order(tmp_path: Path) -> None:
    entries = {"b.xml": b"<b/>" * 1000, "a/é.xml": "ünïcode".encode(), "empty": b""}
    first = written(entries)
    assert first == written(entries)
    path = tmp_path / "a.zip"
    path.write_bytes(first)
    archive = sound(path)
    assert archive.namelist() == list(entries)
    for info in archive.infolist():
        assert info.date_time == FIXED_DATE_TIME
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert (info.create_system, info.external_attr) == (0, 0)
        assert archive.read(info) == entries[info.filename]


def test_a_workbook_reads_back_everywhere(tmp_path: Path) -> None:
    values = ["text", 12.5, True, dt.datetime(2024, 6, 15, 8, 30)]
    path = write_workbook(tmp_path / "book.xlsx", values)
    sound(path)
    assert [c.value for c in load_workbook(path)[SHEET]["A"]] == values
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SHEET).to_python()
    assert [row[0] for row in sheet] == values


class Unseekable:
    """A pipe-like output: ``zipfile`` then writes data descriptors."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def flush(self) -> None:
        pass


def foreign_zip() -> bytes:
    """A zip of another writer, with what a copy must carry over: stored and
    deflated entries, data descriptors (also zip64 ones), a UTF-8 name, an
    extra field, an entry comment and an archive comment."""
    out = Unseekable()
    with zipfile.ZipFile(out, "w") as archive:  # type: ignore[arg-type]
        archive.comment = b"archive comment"
        stored = zipfile.ZipInfo("media/image1.png", date_time=(2021, 3, 4, 5, 6, 8))
        stored.extra = struct.pack("<2H", 0xCAFE, 4) + b"abcd"
        stored.comment = b"entry comment"
        archive.writestr(stored, bytes(range(256)) * 40)
        deflated = zipfile.ZipInfo("xl/vbaProject.bin", date_time=(2022, 1, 1, 0, 0, 0))
        deflated.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(deflated, b"VBA" * 5000)
        archive.writestr("xl/drawings/dessin été.xml", b"<d/>", zipfile.ZIP_DEFLATED)
        with archive.open("xl/big.xml", "w", force_zip64=True) as stream:
            stream.write(b"<row/>" * 10_000)
    return out.buffer.getvalue()


def raw_entry(data: bytes, info: zipfile.ZipInfo, following: int) -> bytes:
    return data[info.header_offset : following]


def test_copy_keeps_every_byte_of_an_entry(tmp_path: Path) -> None:
    source_path = tmp_path / "source.zip"
    source_path.write_bytes(foreign_zip())
    source = zipfile.ZipFile(source_path)
    infos = source.infolist()
    assert all(info.flag_bits & 0x08 for info in infos), "the source has data descriptors"
    out = io.BytesIO()
    with source_path.open("rb") as handle:
        archive = ZipWriter(out)
        for info in infos:
            archive.copy(handle, info)
        archive.write("added.xml", b"<new/>")
        archive.close(source.comment)
    copied_path = tmp_path / "copied.zip"
    copied_path.write_bytes(out.getvalue())
    copied = sound(copied_path)
    assert copied.comment == b"archive comment"
    assert copied.namelist() == [*source.namelist(), "added.xml"]
    ends = [info.header_offset for info in infos[1:]] + [source.start_dir]
    copied_infos = copied.infolist()[: len(infos)]
    copied_ends = [info.header_offset for info in copied.infolist()[1:]]
    before, after = source_path.read_bytes(), copied_path.read_bytes()
    for old, new, old_end, new_end in zip(infos, copied_infos, ends, copied_ends, strict=True):
        assert raw_entry(before, old, old_end) == raw_entry(after, new, new_end), old.filename
        assert (new.date_time, new.comment, new.extra) == (old.date_time, old.comment, old.extra)
        assert copied.read(new) == source.read(old)


def test_a_streamed_entry_is_zip64_ready(tmp_path: Path) -> None:
    chunks = [b"<row>%d</row>" % i for i in range(50_000)]
    out = io.BytesIO()
    with ZipWriter(out) as archive:
        archive.write("first.xml", b"<a/>")
        archive.write_stream("xl/worksheets/sheet1.xml", iter(chunks))
        archive.write("last.xml", b"<z/>")
    path = tmp_path / "stream.zip"
    path.write_bytes(out.getvalue())
    archive_read = sound(path)
    assert archive_read.read("xl/worksheets/sheet1.xml") == b"".join(chunks)
    info = archive_read.getinfo("xl/worksheets/sheet1.xml")
    local = out.getvalue()[info.header_offset :]
    name_length, extra_length = struct.unpack_from("<2H", local, 26)
    assert struct.unpack_from("<2L", local, 18) == (0xFFFFFFFF, 0xFFFFFFFF)
    extra = local[30 + name_length : 30 + name_length + extra_length]
    assert struct.unpack("<2H2Q", extra) == (1, 16, info.file_size, info.compress_size)


def test_many_entries_get_zip64_end_records(tmp_path: Path) -> None:
    count = 70_000  # past the 65,535 entries of a plain end record
    out = io.BytesIO()
    with ZipWriter(out) as archive:
        for index in range(count):
            archive.write(f"e/{index}", b"%d" % index)
    assert b"PK\x06\x06" in out.getvalue()[-200:]
    path = tmp_path / "many.zip"
    path.write_bytes(out.getvalue())
    archive_read = sound(path)
    names = archive_read.namelist()
    assert len(names) == count
    assert archive_read.read(names[-1]) == b"%d" % (count - 1)


def test_an_entry_name_is_written_once() -> None:
    archive = ZipWriter(io.BytesIO())
    archive.write("a.xml", b"")
    with pytest.raises(ZipWriteError, match="already holds"):
        archive.write("a.xml", b"")


def test_starter_and_refresh_packages_are_sound(tmp_path: Path) -> None:
    starter = new_workbook(
        StarterOptions("celebrity_video", as_of=dt.date(2024, 7, 15)), tmp_path / "shop.xlsx"
    )
    sound(starter)
    refreshed = tmp_path / "refreshed.xlsx"
    refresh_file(starter, refreshed, period=dt.date(2024, 6, 1))
    archive = sound(refreshed)
    original = zipfile.ZipFile(starter)
    assert archive.namelist()[: len(original.namelist())] == original.namelist()
    for name in ("xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml"):
        assert archive.getinfo(name).date_time == FIXED_DATE_TIME
    load_workbook(refreshed)
    CalamineWorkbook.from_path(str(refreshed)).get_sheet_by_name("Report").to_python()


@pytest.mark.libreoffice
def test_libreoffice_opens_what_the_writer_wrote(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "book.xlsx", ["kept", 3.0])
    (converted,) = convert([path], tmp_path / "out", fmt="csv")
    assert converted.read_text("utf-8").splitlines() == ["kept", "3"]
