"""Hostile workbook packages, and ``kpi report`` / ``kpi refresh`` run on them
in a fenced subprocess.

Every case starts from a real starter workbook (``kpi new celebrity_video``)
and rewrites its zip members with raw bytes: far cells, amplified shared
strings, zip bombs, lying zip directories, entity expansion in every XML part,
corrupt deflate data, bad table and sheet attributes, relationship targets that
climb out of the package, and periods at the calendar's edges.

The commands run under an address-space and a CPU limit, so that a runaway
reader fails on its own instead of taking the machine; the peak resident size
(``ru_maxrss``) and the wall time of each command are recorded. The verdict
(what a well-behaved command does on such a file) is ``problems``;
``tests/test_hostile_files.py`` asserts it per case, and
``python -m tests.hostile_table`` prints the outcomes as a markdown table.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from xml.etree import ElementTree as ET

KPI = shutil.which("kpi", path=str(Path(sys.executable).parent))

#: Limits of every command run on a hostile file: a runaway fails alone.
ADDRESS_SPACE = 3 * 1024**3
CPU_SECONDS = 90
WALL_SECONDS = 120
#: What a command may cost on any file, hostile or not.
MAX_RSS_MB = 600
MAX_SECONDS = 60

AS_OF = "2024-07-15"
BUSINESS_TYPE = "celebrity_video"

PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
TABLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
SST_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
TABLE_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"

# --- limited subprocesses ----------------------------------------------------------

#: Sets the limits, runs the command as its child and writes the child's exit
#: code and peak RSS (wait4's ``ru_maxrss``) to a file. Not ``preexec_fn``:
#: cases run from several threads, where ``preexec_fn`` is unsafe. And not
#: the test process's own child: a forked child's ``ru_maxrss`` starts at its
#: parent's resident size (the copied address space), which would put pytest's
#: size under every reading; the launcher is a small process.
_LAUNCHER = """
import os, resource, sys
memory, cpu, result, *command = sys.argv[1:]
resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 5))
pid = os.fork()
if pid == 0:
    try:
        os.execv(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(result, "w") as handle:
    handle.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""

#: A Python exception's line in a traceback: ``zipfile.BadZipFile: Bad CRC-32 ...``.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|error|Exception|Exit|BadZipFile)\b(: |$)")


@dataclass(frozen=True)
class Run:
    """One command's outcome: exit code (negative: killed by that signal)."""

    args: tuple[str, ...]
    exit: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float

    @property
    def message(self) -> str:
        """The line that says what went wrong (or the first line of output)."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines:
            if line.startswith(("error: ", "Error: ")):
                return line
        raised = [line for line in lines if _EXCEPTION_LINE.match(line)]
        if raised:
            return raised[-1]  # the exception a traceback ends with
        for line in lines:  # a Rust abort in calamine: its first line says why
            if "memory allocation of" in line or "panicked at" in line:
                return line
        if lines:
            return lines[-1]
        return (self.stdout.strip().splitlines() or [""])[0]


def run_limited(args: Sequence[str], cwd: Path) -> Run:
    """Run ``args`` under the limits, in a session of its own (killed whole on timeout)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        result = Path(scratch) / "result"
        start = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(ADDRESS_SPACE), str(CPU_SECONDS), result, *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
        try:
            process.wait(timeout=WALL_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the launcher's own group: ours alone
            process.wait()
        seconds = time.monotonic() - start
        exit_code, peak_kib = -signal.SIGKILL, 0  # killed at the wall-time limit
        if result.exists():
            exit_code, peak_kib = (int(x) for x in result.read_text().split())
        out.seek(0)
        err.seek(0)
        return Run(
            tuple(str(a) for a in args),
            exit_code,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            peak_kib / 1024,  # KiB on Linux
            seconds,
        )


# --- zip packages written byte by byte ------------------------------------------------

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_DOS_TIME, _DOS_DATE = 0, (2000 - 1980) << 9 | 1 << 5 | 1


@dataclass(frozen=True)
class Member:
    """A zip member as raw (deflated) bytes, with what the zip directory says of it.

    ``declared_*`` are what the central directory claims when it lies; the
    local header always tells the truth.
    """

    name: str
    raw: Callable[[], Iterable[bytes]]
    crc: int
    size: int
    compressed: int
    declared_size: int | None = None
    declared_compressed: int | None = None
    declared_crc: int | None = None


def deflated(name: str, data: bytes) -> Member:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = compressor.compress(data) + compressor.flush()
    return Member(name, lambda: [packed], zlib.crc32(data), len(data), len(packed))


def raw_member(name: str, packed: bytes, crc: int, size: int) -> Member:
    return Member(name, lambda: [packed], crc, size, len(packed))


#: The building block of the bombs: 16 MiB of spaces deflated on their own
#: and sync-flushed, so that copies laid end to end are one valid deflate
#: stream (a segment refers to nothing before it).
_SEGMENT_SIZE = 16 * 1024**2


@cache
def _segment() -> tuple[bytes, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    spaces = b" " * _SEGMENT_SIZE
    return compressor.compress(spaces) + compressor.flush(zlib.Z_SYNC_FLUSH), zlib.crc32(spaces)


def padded(name: str, head: bytes, segments: int, tail: bytes) -> Member:
    """``head``, then ``segments`` x 16 MiB of spaces, then ``tail``: a few KB
    per GB on disk, built without holding the inflated data in memory."""
    packed_segment, _ = _segment()
    spaces = b" " * _SEGMENT_SIZE
    crc = zlib.crc32(head)
    for _ in range(segments):
        crc = zlib.crc32(spaces, crc)
    crc = zlib.crc32(tail, crc)
    first = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed_head = first.compress(head) + first.flush(zlib.Z_SYNC_FLUSH)
    last = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed_tail = last.compress(tail) + last.flush()

    def raw() -> Iterator[bytes]:
        yield packed_head
        for _ in range(segments):
            yield packed_segment
        yield packed_tail

    compressed = len(packed_head) + segments * len(packed_segment) + len(packed_tail)
    size = len(head) + segments * _SEGMENT_SIZE + len(tail)
    return Member(name, raw, crc, size, compressed)


def write_zip(path: Path, members: Sequence[Member]) -> Path:
    """A zip file of ``members`` in order, streamed (a bomb stays a few MB)."""
    central = []
    with path.open("wb") as out:
        for member in members:
            offset = out.tell()
            name = member.name.encode("utf-8")
            flags = 0 if member.name.isascii() else 0x800
            out.write(
                _LOCAL.pack(
                    b"PK\x03\x04",
                    20,
                    0,
                    flags,
                    8,
                    _DOS_TIME,
                    _DOS_DATE,
                    member.crc,
                    member.compressed,
                    member.size,
                    len(name),
                    0,
                )
                + name
            )
            for chunk in member.raw():
                out.write(chunk)
            central.append(
                _CENTRAL.pack(
                    b"PK\x01\x02",
                    20,
                    3,
                    20,
                    0,
                    flags,
                    8,
                    _DOS_TIME,
                    _DOS_DATE,
                    member.crc if member.declared_crc is None else member.declared_crc,
                    member.compressed
                    if member.declared_compressed is None
                    else member.declared_compressed,
                    member.size if member.declared_size is None else member.declared_size,
                    len(name),
                    0,
                    0,
                    0,
                    0,
                    0o644 << 16,
                    offset,
                )
                + name
            )
        start = out.tell()
        directory = b"".join(central)
        out.write(directory)
        out.write(
            _END.pack(b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), start, 0)
        )
    return path


def read_members(path: Path) -> dict[str, bytes]:
    """A trusted package's members, inflated, in their order."""
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def package(path: Path, members: dict[str, bytes], *extra: Member, **replaced: Member) -> Path:
    """Write ``members`` deflated, except those given as ready ``Member``s."""
    written = [deflated(name, data) for name, data in members.items()]
    written = [replaced.get(m.name, m) for m in written]
    return write_zip(path, [*written, *extra])


# --- where things are in a starter package ---------------------------------------------


def _resolve(source: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _rels_of(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def sheet_part(members: dict[str, bytes], sheet_name: str) -> str:
    """The worksheet part of the sheet called ``sheet_name``."""
    workbook = ET.fromstring(members["xl/workbook.xml"])
    rels = ET.fromstring(members["xl/_rels/workbook.xml.rels"])
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(PKG_REL + "Relationship")}
    for sheet in workbook.iter(MAIN + "sheet"):
        if sheet.get("name") == sheet_name:
            return _resolve("xl/workbook.xml", targets[sheet.get(R_ID)])
    raise KeyError(sheet_name)


def table_parts(members: dict[str, bytes], table_name: str) -> tuple[str, str]:
    """(sheet part, table part) of the table called ``table_name``: found
    through the sheets' relationships, as Excel finds it."""
    for name, data in members.items():
        match = re.fullmatch(r"(xl/worksheets)/_rels/(.+)\.rels", name)
        if not match:
            continue
        sheet = f"{match.group(1)}/{match.group(2)}"
        for rel in ET.fromstring(data).iter(PKG_REL + "Relationship"):
            if rel.get("Type") != TABLE_REL:
                continue
            table = _resolve(sheet, rel.get("Target", ""))
            if ET.fromstring(members[table]).get("name") == table_name:
                return sheet, table
    raise KeyError(table_name)


def _sub_once(pattern: str, replacement: str, data: bytes, count: int = 1) -> bytes:
    """Replace ``pattern`` (exactly ``count`` times, else the base changed shape)."""
    text, done = re.subn(pattern, replacement, data.decode("utf-8"), count=count, flags=re.DOTALL)
    if done != count:
        raise ValueError(f"{pattern!r} matched {done} times, expected {count}")
    return text.encode("utf-8")


def _add_before(marker: str, addition: str, data: bytes) -> bytes:
    """``addition`` inserted before the first ``marker``."""
    at = data.index(marker.encode())
    return data[:at] + addition.encode() + data[at:]


def replacement_text(text: str) -> str:
    """``text`` safe as a re.sub replacement (backslashes doubled)."""
    return text.replace("\\", "\\\\")


# --- the kit: base packages and shared big files, built once ------------------------


class Kit:
    """The base starter workbook, a refreshed copy, and the big bomb files,
    each built once and shared by the cases (a session fixture holds one)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.RLock()  # a shared file may need the base first
        self._built: dict[str, Path] = {}

    def _once(self, key: str, build: Callable[[Path], None]) -> Path:
        with self._lock:
            if key not in self._built:
                path = self.folder / key
                build(path)
                self._built[key] = path
            return self._built[key]

    @property
    def base(self) -> Path:
        def build(path: Path) -> None:
            assert KPI, "the kpi entry point is not installed next to this Python"
            subprocess.run(
                [KPI, "new", BUSINESS_TYPE, "-o", str(path), "--as-of", AS_OF, "--force"],
                check=True,
                capture_output=True,
            )

        return self._once("base.xlsx", build)

    @property
    def refreshed(self) -> Path:
        """The base with a report sheet (and its drawing), as a refresh leaves it."""

        def build(path: Path) -> None:
            assert KPI
            subprocess.run(
                [KPI, "refresh", str(self.base), "-o", str(path)], check=True, capture_output=True
            )

        return self._once("refreshed.xlsx", build)

    def members(self, refreshed: bool = False) -> dict[str, bytes]:
        return read_members(self.refreshed if refreshed else self.base)

    def shared(self, key: str, build: Callable[[Kit, Path], None]) -> Path:
        return self._once(key, lambda path: build(self, path))


# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Kit, Path], None]
    #: ``--period`` given to both commands, when the case is about it.
    period: str | None = None


CASES: dict[str, Case] = {}


def case(case_id: str, period: str | None = None) -> Callable[..., Callable[[Kit, Path], None]]:
    def register(build: Callable[[Kit, Path], None]) -> Callable[[Kit, Path], None]:
        assert case_id not in CASES, case_id
        CASES[case_id] = Case(case_id, build, period)
        return build

    return register


def _orders_edit(kit: Kit, path: Path, edit: Callable[[bytes], bytes]) -> None:
    members = kit.members()
    sheet, _ = table_parts(members, "Orders")
    members[sheet] = edit(members[sheet])
    package(path, members)


def _base_copy(kit: Kit, path: Path) -> None:
    shutil.copyfile(kit.base, path)


# The control: the harness's verdict on an untouched starter must be "fine".
case("control-unmodified-base")(_base_copy)


# far cells: a grid read densely would be 1,048,576 x 16,384 cells


def _far_cell(ref: str, row: int) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        if row == 1:  # row 1 exists: the cell joins the header row
            _orders_edit(
                kit, path, lambda d: _add_before("</row>", f'<c r="{ref}"><v>1</v></c>', d)
            )
        else:
            _orders_edit(
                kit,
                path,
                lambda d: _add_before(
                    "</sheetData>", f'<row r="{row}"><c r="{ref}"><v>1</v></c></row>', d
                ),
            )

    return build


case("far-cell-XFD1048576")(_far_cell("XFD1048576", 1048576))
case("far-cell-AA1048576")(_far_cell("AA1048576", 1048576))
case("far-cell-XFD1")(_far_cell("XFD1", 1))


@case("dimension-lie-A1:XFD1048576")
def dimension_lie(kit: Kit, path: Path) -> None:
    # <dimension> comes right after <sheetPr> in a worksheet.
    _orders_edit(
        kit, path, lambda d: _add_before("<sheetViews>", '<dimension ref="A1:XFD1048576"/>', d)
    )


@case("empty-row-1048576")
def empty_last_row(kit: Kit, path: Path) -> None:
    _orders_edit(kit, path, lambda d: _add_before("</sheetData>", '<row r="1048576"></row>', d))


# amplified shared strings: 1 MB on disk once, referenced 1,200 times

BIG_STRING = 1024**2


def _with_shared_string(kit: Kit, path: Path, edit: Callable[[bytes], bytes]) -> None:
    """The starter uses inline strings: add a sharedStrings part holding one
    1 MB string, its content type and relationship, then ``edit`` the Orders sheet."""
    members = kit.members()
    members["xl/sharedStrings.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="1200" uniqueCount="1"><si><t>{"x" * BIG_STRING}</t></si></sst>'
    ).encode()
    members["[Content_Types].xml"] = _add_before(
        "</Types>",
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_CT}"/>',
        members["[Content_Types].xml"],
    )
    members["xl/_rels/workbook.xml.rels"] = _add_before(
        "</Relationships>",
        f'<Relationship Id="rIdHostileSst" Type="{SST_REL}" Target="sharedStrings.xml"/>',
        members["xl/_rels/workbook.xml.rels"],
    )
    sheet, _ = table_parts(members, "Orders")
    members[sheet] = edit(members[sheet])
    package(path, members)


@case("shared-string-1MB-x1200-in-table")
def shared_string_in_table(kit: Kit, path: Path) -> None:
    # Every customer_id of the Orders table (B2:B1201) becomes the 1 MB string.
    def edit(data: bytes) -> bytes:
        return _sub_once(
            r'<c r="B(\d+)" t="inlineStr"><is><t xml:space="preserve">[^<]*</t></is></c>',
            r'<c r="B\1" t="s"><v>0</v></c>',
            data,
            count=1200,
        )

    _with_shared_string(kit, path, edit)


@case("shared-string-1MB-x1200-outside-table")
def shared_string_outside_table(kit: Kit, path: Path) -> None:
    # Column J, right of the table's A:G, on each of its 1,200 data rows.
    def add_cell(row: re.Match[str]) -> str:
        number = int(row.group(1))
        extra = f'<c r="J{number}" t="s"><v>0</v></c>' if 2 <= number <= 1201 else ""
        return row.group(0).removesuffix("</row>") + extra + "</row>"

    def edit(data: bytes) -> bytes:
        return re.sub(
            r'<row r="(\d+)"[^>]*>.*?</row>', add_cell, data.decode(), flags=re.S
        ).encode()

    _with_shared_string(kit, path, edit)


# zip bombs: honest ones, and directories that lie

GB_SEGMENTS = 1024**3 // _SEGMENT_SIZE  # 64 x 16 MiB = 1 GiB
#: 3.8 GB: under the reader's 4 GiB cap on the declared total, so the cap alone does not refuse it.
SEGMENTS_3_8_GB = 3_800_000_000 // _SEGMENT_SIZE


def _media_bomb(segments: int) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        package(path, kit.members(), padded("xl/media/big.bin", b"", segments, b""))

    return build


def _shared_copy(key: str, build: Callable[[Kit, Path], None]) -> Callable[[Kit, Path], None]:
    def copy(kit: Kit, path: Path) -> None:
        shutil.copyfile(kit.shared(key, build), path)

    return copy


case("bomb-media-1GB")(_shared_copy("bomb-media-1GB.xlsx", _media_bomb(GB_SEGMENTS)))
case("bomb-media-3.8GB")(_shared_copy("bomb-media-3.8GB.xlsx", _media_bomb(SEGMENTS_3_8_GB)))


def _orders_padded(kit: Kit, path: Path) -> None:
    members = kit.members()
    sheet, _ = table_parts(members, "Orders")
    head, tail = members[sheet].split(b"<sheetData>", 1)
    package(path, members, **{sheet: padded(sheet, head + b"<sheetData>", GB_SEGMENTS, tail)})


case("bomb-orders-sheet-1GB-whitespace")(_shared_copy("bomb-orders-1GB.xlsx", _orders_padded))


def _lying(
    part: str, size: int | None, compressed_delta: int = 0, bomb: bool = False
) -> Callable[[Kit, Path], None]:
    """A member whose central directory entry claims ``size`` (and a compressed
    size off by ``compressed_delta``); with ``bomb``, its data inflates to 1 GiB."""

    def build(kit: Kit, path: Path) -> None:
        members = kit.members()
        name = table_parts(members, "Orders")[0] if part == "orders" else part
        if bomb:
            data = members.get(name, b"")
            cut = data.find(b"<sheetData>") + len(b"<sheetData>") if data else 0
            member = padded(name, data[:cut], GB_SEGMENTS, data[cut:])
        else:
            member = deflated(name, members[name])
        member = replace(
            member,
            declared_size=size,
            declared_compressed=member.compressed + compressed_delta if compressed_delta else None,
        )
        if name in members:
            package(path, members, **{name: member})
        else:
            package(path, members, member)

    return build


case("zip-lie-orders-declared-1KB-inflates-1GB")(_lying("orders", 1000, bomb=True))
case("zip-lie-media-declared-1KB-inflates-1GB")(_lying("xl/media/big.bin", 1000, bomb=True))
# Over the 4 GiB cap: refused by the cap, but only if the cap check is the first thing done.
case("zip-lie-orders-declared-4.29GB")(_lying("orders", 0xFFFFFFFE))
# Under the cap, and a lie: the data ends long before the declared size.
case("zip-lie-orders-declared-3.9GB")(_lying("orders", 3_900_000_000))
case("zip-lie-orders-compressed-size-short")(_lying("orders", None, compressed_delta=-100))
case("zip-lie-orders-compressed-size-long")(_lying("orders", None, compressed_delta=+100_000))
case("zip-lie-workbook-compressed-size-short")(_lying("xl/workbook.xml", None, -50))


# entity expansion in every XML part

LAUGHS = '<!ENTITY lol0 "lol">' + "".join(
    f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
)
EXTERNAL = '<!ENTITY xxe SYSTEM "file:///etc/passwd">'


def with_doctype(data: bytes, entities: str, reference: str) -> bytes:
    """``data`` with a DOCTYPE declaring ``entities`` before its root, and
    ``reference`` as the root's first content."""
    text = data.decode("utf-8")
    declaration = re.match(r"\s*<\?xml[^>]*\?>\s*", text)
    at = declaration.end() if declaration else 0
    root = re.compile(r"<([A-Za-z_][\w.:-]*)[^>]*?(/?)>").search(text, at)
    assert root, "no root element"
    doctype = f"<!DOCTYPE {root.group(1)} [{entities}]>"
    if root.group(2):  # <root/>: open it to hold the reference
        opened = text[root.start() : root.end() - 2] + f">{reference}</{root.group(1)}>"
        return (text[:at] + doctype + opened + text[root.end() :]).encode()
    return (text[:at] + doctype + text[at : root.end()] + reference + text[root.end() :]).encode()


def _entity_case(part: str, entities: str, reference: str) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        members = kit.members()
        members[part] = with_doctype(members[part], entities, reference)
        package(path, members)

    return build


def safe_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@cache
def starter_xml_parts() -> tuple[str, ...]:
    """The XML parts of the base starter (the same files ``kpi new`` writes)."""
    import datetime as dt  # noqa: PLC0415

    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "parts.xlsx"
        new_workbook(StarterOptions(BUSINESS_TYPE, as_of=dt.date.fromisoformat(AS_OF)), path)
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    return tuple(n for n in names if n.endswith((".xml", ".rels")))


for _part in starter_xml_parts():
    case(f"entities-laughs-{safe_id(_part)}")(_entity_case(_part, LAUGHS, "&lol9;"))
    case(f"entities-external-{safe_id(_part)}")(_entity_case(_part, EXTERNAL, "&xxe;"))


# corrupt deflate data and CRCs


def _flipped(part: str) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        members = kit.members()
        name = table_parts(members, "Orders")[0] if part == "orders" else part
        member = deflated(name, members[name])
        packed = bytearray(b"".join(member.raw()))
        middle = len(packed) // 2
        for index in range(middle, min(middle + 8, len(packed))):
            packed[index] ^= 0xFF
        package(path, members, **{name: raw_member(name, bytes(packed), member.crc, member.size)})

    return build


case("corrupt-deflate-orders-sheet")(_flipped("orders"))
case("corrupt-deflate-workbook.xml")(_flipped("xl/workbook.xml"))
case("corrupt-deflate-docProps_app.xml")(_flipped("docProps/app.xml"))


def _bad_crc(part: str) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        members = kit.members()
        name = table_parts(members, "Orders")[0] if part == "orders" else part
        member = deflated(name, members[name])
        package(path, members, **{name: replace(member, crc=member.crc ^ 0xDEADBEEF)})

    return build


case("wrong-crc-orders-sheet")(_bad_crc("orders"))
case("wrong-crc-docProps_app.xml")(_bad_crc("docProps/app.xml"))


# bad attributes of tables and sheets


def _orders_table(pattern: str, replacement: str) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        members = kit.members()
        _, table = table_parts(members, "Orders")
        members[table] = _sub_once(pattern, replacement_text(replacement), members[table])
        package(path, members)

    return build


case("table-ref-without-colon")(_orders_table(r'ref="[^"]*"', 'ref="A1G1201"'))
case("table-ref-A1:ZZZZ9")(_orders_table(r'ref="[^"]*"', 'ref="A1:ZZZZ9"'))
case("table-ref-empty")(_orders_table(r'ref="[^"]*"', 'ref=""'))
case("table-ref-reversed-G1201:A1")(_orders_table(r'ref="[^"]*"', 'ref="G1201:A1"'))
case("table-headerRowCount--5")(_orders_table(r'headerRowCount="1"', 'headerRowCount="-5"'))
case("table-headerRowCount-abc")(_orders_table(r'headerRowCount="1"', 'headerRowCount="abc"'))
case("table-totalsRowCount-7")(_orders_table(r'headerRowCount="1"', 'headerRowCount="1" totalsRowCount="7"'))  # fmt: skip
case("table-totalsRowCount-5000")(_orders_table(r'headerRowCount="1"', 'headerRowCount="1" totalsRowCount="5000"'))  # fmt: skip
# The table's range where the sheet has no data: far below, and right of the data.
case("table-ref-below-data")(_orders_table(r'ref="[^"]*"', 'ref="A1048000:G1048576"'))
case("table-ref-right-of-data")(_orders_table(r'ref="[^"]*"', 'ref="H1:N1201"'))
case("table-ref-whole-sheet")(_orders_table(r'ref="[^"]*"', 'ref="A1:XFD1048576"'))


@case("sheetId-x")
def sheet_id_not_a_number(kit: Kit, path: Path) -> None:
    members = kit.members()
    members["xl/workbook.xml"] = _sub_once(
        r'name="Orders" sheetId="\d+"', 'name="Orders" sheetId="x"', members["xl/workbook.xml"]
    )
    package(path, members)


@case("duplicate-table-name-Orders")
def duplicate_table_name(kit: Kit, path: Path) -> None:
    """A second table called Orders, on the Customers sheet."""
    members = kit.members()
    _, table = table_parts(members, "Orders")
    customers = sheet_part(members, "Customers")
    copy = "xl/tables/tableHostile.xml"
    members[copy] = _sub_once(r'\bid="\d+"', 'id="99"', members[table])
    rels = _rels_of(customers)
    members[rels] = _add_before(
        "</Relationships>",
        f'<Relationship Type="{TABLE_REL}" Target="/{copy}" Id="rIdHostile"/>',
        members[rels],
    )
    members["[Content_Types].xml"] = _add_before(
        "</Types>",
        f'<Override PartName="/{copy}" ContentType="{TABLE_CT}"/>',
        members["[Content_Types].xml"],
    )
    package(path, members)


# relationships of an existing report sheet that point out of the package


def _report_rels(target: str) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        members = kit.members(refreshed=True)
        rels = _rels_of(sheet_part(members, "Report"))
        members[rels] = _sub_once(
            r'Target="[^"]*kpiReport[^"]*"', f'Target="{replacement_text(target)}"', members[rels]
        )
        package(path, members)

    return build


for _target in (
    "../../../x/kpiReport1.xml",
    "/x/y.xml",
    "/x/kpiReport1.xml",
    "..\\..\\evil.xml",
    "..\\..\\kpiReport1.xml",
    "../../../../../../../../tmp/kpiReport1.xml",
    "C:/x/kpiReport1.xml",
):
    case(f"report-drawing-target-{safe_id(_target)}")(_report_rels(_target))


# periods at the calendar's edges


for _period in ("0000-05", "9999-12", "1899-12", "0001-01"):
    case(f"period-option-{_period}", period=_period)(_base_copy)


def _period_cell(cell: str) -> Callable[[Kit, Path], None]:
    def build(kit: Kit, path: Path) -> None:
        members = kit.members()
        workbook = members["xl/workbook.xml"].decode()
        found = re.search(
            r"<definedName name=\"PERIOD\">'?([^'!<]+)'?!\$([A-Z]+)\$(\d+)<", workbook
        )
        assert found, "the starter has no PERIOD name"
        settings = sheet_part(members, found.group(1))
        ref = found.group(2) + found.group(3)
        members[settings] = _sub_once(
            rf'<c r="{ref}"[^>]*>.*?</c>', cell.replace("REF", ref), members[settings]
        )
        package(path, members)

    return build


for _period in ("0000-05", "9999-12", "1899-12"):
    case(f"period-cell-text-{_period}")(
        _period_cell(f'<c r="REF" t="inlineStr"><is><t>{_period}</t></is></c>')
    )
for _serial in ("2958465", "2958465.999", "1", "0.5", "1e15", "-1"):
    case(f"period-cell-serial-{_serial}")(_period_cell(f'<c r="REF" s="2"><v>{_serial}</v></c>'))


# --- running a case and judging it ---------------------------------------------------------

#: What the checker process does with a refreshed file: open it as a user's tools would.
_OPEN_CHECK = """
import sys
import openpyxl
from python_calamine import CalamineWorkbook
failed = []
try:
    openpyxl.load_workbook(sys.argv[1]).close()
except Exception as error:
    failed.append(f"openpyxl: {type(error).__name__}: {str(error).splitlines()[0]}")
try:
    book = CalamineWorkbook.from_path(sys.argv[1])
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python()
except Exception as error:
    failed.append(f"calamine: {type(error).__name__}: {str(error).splitlines()[0]}")
if failed:
    sys.exit("error: " + "; ".join(failed))
"""


@dataclass
class Outcome:
    case: Case
    report: Run
    refresh: Run
    original_unchanged: bool
    leftovers: list[str]
    out_exists: bool
    out_members: list[str] = field(default_factory=list)
    out_zip_error: str | None = None
    out_open: Run | None = None
    #: The same check on the input, run when the output does not open: the
    #: refresh copies the parts it does not read, so an input that these
    #: readers refuse (a DTD in a chart) gives an output they refuse too.
    in_open: Run | None = None

    def problems(self) -> list[str]:  # noqa: PLR0912  (one branch per promise)
        """What went wrong, in words; empty when the commands behaved."""
        found = []
        for run in (self.report, self.refresh):
            command = run.args[1]
            if "Traceback" in run.stderr:
                found.append(f"{command}: traceback, exit {run.exit}: {run.message}")
            elif run.exit == 2:
                # A one-line `error: ...`, or click's usage error for a bad option value.
                lines = [line for line in run.stderr.splitlines() if line.strip()]
                if not run.message.startswith(("error: ", "Error: ")) or len(lines) > 4:
                    found.append(
                        f"{command}: exit 2 without a short error message: {run.stderr!r:.300}"
                    )
            elif run.exit != 0:
                found.append(f"{command}: exit {run.exit}: {run.message}")
            if run.peak_rss_mb > MAX_RSS_MB:
                found.append(f"{command}: peak RSS {run.peak_rss_mb:.0f} MB > {MAX_RSS_MB} MB")
            if run.seconds > MAX_SECONDS:
                found.append(f"{command}: {run.seconds:.0f} s > {MAX_SECONDS} s")
        if not self.original_unchanged:
            found.append("the original file changed")
        if self.leftovers:
            found.append(f"leftover files: {', '.join(self.leftovers)}")
        if self.refresh.exit != 0 and self.out_exists:
            found.append("a failed refresh left an output file")
        if self.refresh.exit == 0 and not self.out_exists:
            found.append("refresh exited 0 without writing the output")
        if self.out_zip_error:
            found.append(f"the output is not a readable zip: {self.out_zip_error}")
        outside = [name for name in self.out_members if not inside_package(name)]
        if outside:
            found.append(f"output members outside the package: {outside}")
        input_opened = self.in_open is None or self.in_open.exit == 0
        if self.out_open is not None and self.out_open.exit != 0 and input_opened:
            found.append(
                f"the output does not open in openpyxl + calamine "
                f"(exit {self.out_open.exit}): {self.out_open.message}"
            )
        return found


def inside_package(name: str) -> bool:
    """A member name that stays inside the package wherever it is unpacked."""
    return not (
        name.startswith("/")
        or "\\" in name
        or re.match(r"[A-Za-z]:", name)
        or ".." in name.split("/")
    )


def run_case(kit: Kit, case: Case, folder: Path) -> Outcome:
    """Build ``case`` in its own ``folder``, run report and refresh on it, judge the output."""
    assert KPI, "the kpi entry point is not installed next to this Python"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_id(case.id)}.xlsx"
    case.build(kit, path)
    before = path.read_bytes()
    out = folder / "OUT.xlsx"
    period = ["--period", case.period] if case.period else []
    report = run_limited([KPI, "report", path.name, "--json", *period], folder)
    refresh = run_limited([KPI, "refresh", path.name, "-o", out.name, *period], folder)
    outcome = Outcome(
        case,
        report,
        refresh,
        path.read_bytes() == before,
        sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".~kpi" in p.name),
        out.exists(),
    )
    if out.exists():
        try:
            with zipfile.ZipFile(out) as archive:
                outcome.out_members = archive.namelist()
        except (zipfile.BadZipFile, OSError) as error:
            outcome.out_zip_error = str(error)
        if outcome.out_zip_error is None:
            outcome.out_open = run_limited([sys.executable, "-c", _OPEN_CHECK, out.name], folder)
            if outcome.out_open.exit != 0:
                outcome.in_open = run_limited(
                    [sys.executable, "-c", _OPEN_CHECK, path.name], folder
                )
        out.unlink()
    path.unlink()  # the bombs are a few MB each; the folder keeps only the verdict
    return outcome


def run_cases(kit: Kit, cases: Iterable[Case], folder: Path, workers: int = 2) -> list[Outcome]:
    """Build and run ``cases``, ``workers`` at a time (each run is a subprocess)."""
    cases = list(cases)
    # The shared files first, one at a time: the workers then only copy them.
    kit.members(refreshed=True)  # builds the base, then its refreshed copy
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: run_case(kit, c, folder / safe_id(c.id)), cases))


def table(outcomes: Iterable[Outcome]) -> str:
    """The outcomes as a markdown table: one row per command run."""
    rows = [
        "| case | command | exit | peak RSS MB | seconds | message | verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for outcome in outcomes:
        verdict = "; ".join(outcome.problems()).replace("|", "\\|") or "ok"
        if len(verdict) > 300:
            verdict = verdict[:297] + "..."
        for run in (outcome.report, outcome.refresh):
            shown = verdict if run is outcome.report else ""
            message = run.message.replace("|", "\\|")
            if len(message) > 160:
                message = message[:157] + "..."
            rows.append(
                f"| {outcome.case.id} | {run.args[1]} | {run.exit} | {run.peak_rss_mb:.0f} "
                f"| {run.seconds:.1f} | {message} | {shown} |"
            )
    return "\n".join(rows)
