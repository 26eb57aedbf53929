"""The hostile harness's import and sources legs: ``kpi import`` on hostile
exports and target workbooks, and ``kpi report --source`` on hostile sources.

Each case builds its files in a folder of its own and runs one command under
the harness's limits (``tests.hostile.run_limited``: a 3 GiB address space,
90 CPU seconds). Every case holds to the same budget as the workbook cases:
exit 0, or exit 2 with a one-line ``error: ...`` and no traceback; at most
600 MB of peak RSS and 60 seconds; the files it read byte-identical (the
target workbook of an import may change only when the import succeeds).

    python -m tests.hostile_table --legs     # prints the legs' table
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from addin.recipes import tables_for
from tests.hostile import (
    AS_OF,
    BUSINESS_TYPE,
    KPI,
    MAX_RSS_MB,
    MAX_SECONDS,
    Member,
    Run,
    deflated,
    padded,
    read_members,
    table_parts,
    write_zip,
)

#: The Orders table's columns, as the catalogue lists them.
ORDERS = [column.id for column in tables_for(BUSINESS_TYPE)["Orders"]]
ORDER = ["o-1", "c-1", "k-1", "2024-06-03 10:00", "2024-06-04 09:00", "completed", "120.5"]

# --- a minimal .xlsx export, byte by byte -------------------------------------------------

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b'<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    b"</Types>"
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    b"</Relationships>"
)
_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="Export" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    b'<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    b"</Relationships>"
)
#: Cell styles: 0 general, 1 a date-time (22), 2 a time (21), 3 a duration ([h]:mm:ss, 46).
_STYLES = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="22"/><xf numFmtId="21"/>'
    b'<xf numFmtId="46"/></cellXfs></styleSheet>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _inline(text: str) -> str:
    return f'<c t="inlineStr"><is><t>{text}</t></is></c>'


def header_row() -> str:
    return '<row r="1">' + "".join(_inline(name) for name in ORDERS) + "</row>"


def order_row(number: int, *, replace: dict[int, str] | None = None) -> str:
    """An ordinary order as row ``number``; ``replace`` puts raw cell XML in some columns."""
    cells = [_inline(value) for value in ORDER[:3]]
    cells += ['<c s="1"><v>45446.41666</v></c>', '<c s="1"><v>45447.375</v></c>']
    cells += [_inline("completed"), "<c><v>120.5</v></c>"]
    for index, xml in (replace or {}).items():
        cells[index] = xml
    return f'<row r="{number}">' + "".join(cells) + "</row>"


def export_xlsx(
    path: Path,
    rows: str,
    *,
    head: str = "",
    shared: Member
    | bytes = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>',
    sheet: Member | None = None,
) -> Path:
    """A one-sheet export whose sheet data is ``rows`` (after ``head``, such
    as a ``<dimension>``)."""
    sheet_xml = (_SHEET_HEAD + head + "<sheetData>" + rows + "</sheetData></worksheet>").encode()
    members = [
        deflated("[Content_Types].xml", _CONTENT_TYPES),
        deflated("_rels/.rels", _RELS),
        deflated("xl/workbook.xml", _WORKBOOK),
        deflated("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        deflated("xl/styles.xml", _STYLES),
        shared if isinstance(shared, Member) else deflated("xl/sharedStrings.xml", shared),
        sheet or deflated("xl/worksheets/sheet1.xml", sheet_xml),
    ]
    return write_zip(path, members)


def repeated(name: str, head: bytes, unit: bytes, copies: int, tail: bytes) -> Member:
    """``head``, ``unit`` ``copies`` times, ``tail``: deflated a block at a
    time and sync-flushed, so a gigabyte of XML stays a few MB on disk."""
    per_block = max(1, (1 << 20) // len(unit))
    block = unit * per_block
    full, rest = divmod(copies, per_block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed_block = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
    parts_packed = []
    crc = 0
    for data in (head, unit * rest, tail):
        one = zlib.compressobj(9, zlib.DEFLATED, -15)
        parts_packed.append(one.compress(data) + one.flush(zlib.Z_SYNC_FLUSH))
    crc = zlib.crc32(head)
    for _ in range(full):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(unit * rest + tail, crc)
    end = zlib.compressobj(9, zlib.DEFLATED, -15)
    final = end.compress(b"") + end.flush()

    def raw() -> Iterator[bytes]:
        yield parts_packed[0]
        for _ in range(full):
            yield packed_block
        yield parts_packed[1]
        yield parts_packed[2]
        yield final

    size = len(head) + len(block) * full + len(unit) * rest + len(tail)
    compressed = sum(map(len, parts_packed)) + len(packed_block) * full + len(final)
    return Member(name, raw, crc, size, compressed)


# --- the cases -----------------------------------------------------------------------


Build = Callable[[Path, Path], tuple[list[str], list[Path], list[Path]]]


@dataclass(frozen=True)
class LegCase:
    id: str
    leg: str  # "import" or "sources"
    #: Builds the case's files in a folder; returns the command's arguments
    #: (after ``kpi``) and the files that must stay byte-identical on a refusal
    #: (``kept``) or always (``read``).
    build: Build
    #: The exit status the case must have, and words its message must hold.
    exit: int = 2
    says: str = ""


LEG_CASES: dict[str, LegCase] = {}


def leg_case(case_id: str, leg: str, exit: int = 2, says: str = "") -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        assert case_id not in LEG_CASES, case_id
        LEG_CASES[case_id] = LegCase(case_id, leg, build, exit, says)
        return build

    return register


def starter(base: Path) -> Path:
    """The shared target workbook: a starter of the harness's business type."""
    path = base / "starter.xlsx"
    if not path.exists():
        assert KPI
        subprocess.run(
            [KPI, "new", BUSINESS_TYPE, "-o", str(path), "--as-of", AS_OF, "--force"],
            check=True,
            capture_output=True,
        )
    return path


def _import(
    folder: Path, base: Path, export: Path, *extra: str, workbook: Path | None = None
) -> tuple[list[str], list[Path], list[Path]]:
    target = workbook or folder / "book.xlsx"
    if workbook is None:
        shutil.copyfile(starter(base), target)
    args = ["import", str(target), str(export), "--table", "Orders", "--replace", *extra]
    return args, [target], [export]


def _csv_text(rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue()


@leg_case("import-control-csv", "import", 0, "1 imported")
def _control_csv(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = folder / "orders.csv"
    export.write_text(_csv_text([ORDERS, ORDER]), encoding="utf-8")
    return _import(folder, base, export)


@leg_case("import-control-xlsx", "import", 0, "1 imported")
def _control_xlsx(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = export_xlsx(folder / "orders.xlsx", header_row() + order_row(2))
    return _import(folder, base, export)


@leg_case("import-xlsx-dimension-A1-XFD1048576-far-cell", "import", 2, "the header names 7 columns")
def _dimension_far(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    rows = header_row() + order_row(2) + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    export = export_xlsx(folder / "orders.xlsx", rows, head='<dimension ref="A1:XFD1048576"/>')
    return _import(folder, base, export)


@leg_case("import-xlsx-dimension-A1-XFD1048576-last-row", "import", 0, "2 imported")
def _dimension_last_row(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    rows = header_row() + order_row(2) + order_row(1048576)
    export = export_xlsx(folder / "orders.xlsx", rows, head='<dimension ref="A1:XFD1048576"/>')
    return _import(folder, base, export)


@leg_case("import-xlsx-zip-bomb-1GB-sheet", "import", 2, "zip bombs")
def _zip_bomb(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    head = (_SHEET_HEAD + "<sheetData>" + header_row()).encode()
    sheet = padded("xl/worksheets/sheet1.xml", head, 64, b"</sheetData></worksheet>")
    export = export_xlsx(folder / "orders.xlsx", "", sheet=sheet)
    return _import(folder, base, export)


@leg_case("import-xlsx-rows-bomb-3M-rows", "import", 2, "more rows than an Excel sheet holds")
def _rows_bomb(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    head = (_SHEET_HEAD + "<sheetData>" + header_row()).encode()
    unit = ("<row>" + _inline("o") + "</row>").encode()
    sheet = repeated("xl/worksheets/sheet1.xml", head, unit, 3_000_000, b"</sheetData></worksheet>")
    export = export_xlsx(folder / "orders.xlsx", "", sheet=sheet)
    return _import(folder, base, export)


@leg_case("import-xlsx-shared-strings-bomb", "import", 2, "shared strings")
def _strings_bomb(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    head = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    shared = repeated("xl/sharedStrings.xml", head, b"<si><t>x</t></si>", 40_000_000, b"</sst>")
    rows = header_row() + order_row(2, replace={5: '<c t="s"><v>0</v></c>'})
    export = export_xlsx(folder / "orders.xlsx", rows, shared=shared)
    return _import(folder, base, export)


def _cell_case(case_id: str, column: int, xml: str, exit: int = 0, says: str = "") -> None:
    def build(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
        rows = header_row() + order_row(2, replace={column: xml}) + order_row(3)
        return _import(folder, base, export_xlsx(folder / "orders.xlsx", rows))

    leg_case(case_id, "import", exit, says)(build)


# Ordinary cells that used to stop the import with a traceback: each is read
# by the data rules (loaded, and named with its reason where the column cannot take it).
NOTED = "2 imported, 1 of them with a data note"
_cell_case("import-xlsx-time-in-id-column", 0, '<c s="2"><v>0.5</v></c>', says="2 imported")
_cell_case("import-xlsx-duration-in-text-column", 5, '<c s="3"><v>30.25</v></c>', says="'30.25'")
_cell_case("import-xlsx-time-in-date-column", 3, '<c s="2"><v>0.25</v></c>', says=NOTED)
_cell_case("import-xlsx-v-nan", 6, "<c><v>nan</v></c>", says=NOTED)
_cell_case("import-xlsx-v-inf", 6, "<c><v>1e999</v></c>", says=NOTED)
_cell_case("import-xlsx-v-not-a-number", 6, "<c><v>twelve</v></c>", says=NOTED)
_cell_case(
    "import-xlsx-bad-shared-string-index", 5, '<c t="s"><v>99</v></c>', 2, "shared string '99'"
)
_cell_case("import-xlsx-bad-t-d", 3, '<c t="d"><v>2024-13-45T99:00</v></c>', says=NOTED)
_cell_case("import-xlsx-boolean-in-amount", 6, '<c t="b"><v>1</v></c>', says=NOTED)
_cell_case("import-xlsx-error-in-amount", 6, '<c t="e"><v>#DIV/0!</v></c>', says=NOTED)
_cell_case("import-xlsx-huge-amount", 6, "<c><v>1e300</v></c>", says="2 imported")
_cell_case("import-xlsx-text-40000-chars", 5, _inline("x" * 40_000), 2, "more than the 32,767")


@leg_case("import-csv-1.2M-rows", "import", 2, "more rows than an Excel sheet holds")
def _csv_rows(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = folder / "orders.csv"
    line = ",".join(ORDER) + "\n"
    with export.open("w", encoding="utf-8") as handle:
        handle.write(",".join(ORDERS) + "\n")
        for _ in range(1_200_000):
            handle.write(line)
    return _import(folder, base, export)


@leg_case("import-csv-300MB", "import", 2, "more rows than an Excel sheet holds")
def _csv_300mb(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = folder / "orders.csv"
    line = ",".join([*ORDER[:5], "completed " + "x" * 200, "120.5"]) + "\n"
    with export.open("w", encoding="utf-8") as handle:
        handle.write(",".join(ORDERS) + "\n")
        for _ in range(300_000_000 // len(line)):
            handle.write(line)
    return _import(folder, base, export)


@leg_case("import-csv-one-cp1252-byte-in-utf8", "import", 2, "line 3 (byte")
def _csv_mixed(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = folder / "orders.csv"
    rows = [ORDERS, [*ORDER[:5], "Zoë", "1"], [*ORDER[:5], "Zo", "2"]]
    data = _csv_text(rows).encode("utf-8").replace(b"Zo,", b"Zo\xeb,")
    export.write_bytes(data)
    return _import(folder, base, export)


@leg_case("import-csv-one-cp1252-byte-read-as-cp1252-when-asked", "import", 0, "2 imported")
def _csv_mixed_asked(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    args, kept, read = _csv_mixed(folder, base)
    return [*args, "--encoding", "cp1252"], kept, read


@leg_case("import-csv-text-40000-chars", "import", 2, "more than the 32,767 a cell holds")
def _csv_long_text(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = folder / "orders.csv"
    export.write_text(_csv_text([ORDERS, [*ORDER[:5], "x" * 40_000, "1"]]), encoding="utf-8")
    return _import(folder, base, export)


@leg_case("import-csv-100000-columns", "import", 2, "more than Excel's 16,384")
def _csv_wide(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = folder / "orders.csv"
    export.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n1\n", encoding="utf-8")
    return _import(folder, base, export)


@leg_case("import-csv-fifo", "import", 2, "not a file")
def _csv_fifo(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    export = folder / "orders.csv"
    os.mkfifo(export)
    args, kept, _ = _import(folder, base, export)
    return args, kept, []


def _target_sheet(
    folder: Path, base: Path, change: Callable[[bytes], Member | bytes]
) -> tuple[list[str], list[Path], list[Path]]:
    members = read_members(starter(base))
    sheet, _ = table_parts(members, "Orders")
    changed = change(members[sheet])
    built = [
        (changed if isinstance(changed, Member) else deflated(name, changed))
        if name == sheet
        else deflated(name, data)
        for name, data in members.items()
    ]
    workbook = write_zip(folder / "book.xlsx", built)
    export = folder / "orders.csv"
    export.write_text(_csv_text([ORDERS, ORDER]), encoding="utf-8")
    return _import(folder, base, export, workbook=workbook)


@leg_case("import-target-empty-row-bomb-120MB", "import", 2, "more rows than Excel's")
def _target_rows(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    def change(data: bytes) -> Member:
        head, tail = data.split(b"</sheetData>", 1)
        return repeated(_sheet_name(base), head, b"<row/>", 20_000_000, b"</sheetData>" + tail)

    return _target_sheet(folder, base, change)


@leg_case("import-target-empty-row-bomb-1GB", "import", 2, "more rows than Excel's")
def _target_rows_gb(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    def change(data: bytes) -> Member:
        head, tail = data.split(b"</sheetData>", 1)
        return repeated(_sheet_name(base), head, b"<row/>", 170_000_000, b"</sheetData>" + tail)

    return _target_sheet(folder, base, change)


@leg_case("import-target-50000-unclosed-rows", "import", 2, "is not closed")
def _target_unclosed(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    def change(data: bytes) -> bytes:
        head, tail = data.split(b"</sheetData>", 1)
        return head + b'<row r="2000">' * 50_000 + b"</sheetData>" + tail

    return _target_sheet(folder, base, change)


def _sheet_name(base: Path) -> str:
    return table_parts(read_members(starter(base)), "Orders")[0]


# --- running and judging --------------------------------------------------------------


@dataclass
class LegOutcome:
    case: LegCase
    run: Run
    changed: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = []
        run = self.run
        if run.exit != self.case.exit:
            found.append(f"exit {run.exit}, expected {self.case.exit}")
        shown = run.stdout + run.stderr
        if self.case.says and self.case.says not in shown:
            found.append(f"the output does not say {self.case.says!r}")
        if SECRET in shown:
            found.append("the output shows a line of a file outside the source")
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        if "Traceback" in run.stderr:
            found.append(f"traceback, exit {run.exit}: {run.message}")
        elif run.exit == 2:
            if not run.message.startswith(("error: ", "Error: ")) or len(lines) > 1:
                found.append(f"exit 2 without a one-line message: {run.stderr!r:.300}")
        elif run.exit != 0:
            found.append(f"exit {run.exit}: {run.message}")
        if run.peak_rss_mb > MAX_RSS_MB:
            found.append(f"peak RSS {run.peak_rss_mb:.0f} MB > {MAX_RSS_MB} MB")
        if run.seconds > MAX_SECONDS:
            found.append(f"{run.seconds:.0f} s > {MAX_SECONDS} s")
        if self.changed:
            found.append(f"changed: {', '.join(self.changed)}")
        return found


def _digest(path: Path) -> bytes | None:
    import hashlib  # noqa: PLC0415

    if not path.is_file():
        return None  # a FIFO is compared by still being one
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def run_leg_case(case: LegCase, folder: Path, base: Path) -> LegOutcome:
    from tests.hostile import run_limited  # noqa: PLC0415

    assert KPI, "the kpi entry point is not installed next to this Python"
    folder.mkdir(parents=True, exist_ok=True)
    args, kept, read = case.build(folder, base)
    before = {path: _digest(path) for path in [*kept, *read]}
    run = run_limited([KPI, *args], folder)
    changed = [
        path.name
        for path in read + (kept if run.exit != 0 else [])
        if _digest(path) != before[path]
    ]
    outcome = LegOutcome(case, run, changed)
    shutil.rmtree(folder, ignore_errors=True)  # a 300 MB CSV does not stay
    return outcome


def run_leg_cases(cases: Iterable[LegCase], folder: Path, workers: int = 2) -> list[LegOutcome]:
    cases = list(cases)
    base = folder / "base"
    base.mkdir(parents=True, exist_ok=True)
    starter(base)
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda c: run_leg_case(c, folder / c.id, base), cases))


def leg_table(outcomes: Iterable[LegOutcome]) -> str:
    rows = [
        "| case | exit | peak MB | seconds | message | verdict |",
        "|---|---:|---:|---:|---|---|",
    ]
    for outcome in outcomes:
        run = outcome.run
        message = run.message.replace("|", "\\|")
        if len(message) > 200:
            message = message[:197] + "..."
        verdict = "; ".join(outcome.problems()).replace("|", "\\|") or "ok"
        rows.append(
            f"| {outcome.case.id} | {run.exit} | {run.peak_rss_mb:.0f} | {run.seconds:.1f} "
            f"| {message} | {verdict} |"
        )
    return "\n".join(rows)


@leg_case("import-csv-300MB-long-fields", "import", 2, "MB of text")
def _csv_300mb_long(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    """300 MB in 10,000 rows: each row's status is 30,000 characters, within a cell's limit."""
    export = folder / "orders.csv"
    line = ",".join([*ORDER[:5], "x" * 30_000, "120.5"]) + "\n"
    with export.open("w", encoding="utf-8") as handle:
        handle.write(",".join(ORDERS) + "\n")
        for _ in range(300_000_000 // len(line)):
            handle.write(line)
    return _import(folder, base, export)


# --- the sources leg -------------------------------------------------------------------

#: The business type and month every sources case reports on.
SOURCE_ARGS = ["--type", BUSINESS_TYPE, "--period", "2024-06"]
SECRET = "SECRET-FIRST-LINE-OF-A-FILE-OUTSIDE-THE-SOURCE"


def typed_tables(base: Path) -> dict[str, object]:
    """The starter's tables as typed Arrow tables (``tests.sources_support``)."""
    from addin.ooxml.package import open_package, read_data  # noqa: PLC0415
    from tests.sources_support import typed_tables as typed  # noqa: PLC0415

    package = open_package(starter(base))
    try:
        data = read_data(package)
    finally:
        package.close()
    return dict(typed(BUSINESS_TYPE, data.rows))


def _report(source: str, *read: Path) -> tuple[list[str], list[Path], list[Path]]:
    return ["report", "--source", source, *SOURCE_ARGS], [], list(read)


def parquet_folder(folder: Path, base: Path, **changed: object) -> Path:
    from tests.sources_support import write_parquet_folder  # noqa: PLC0415

    return write_parquet_folder({**typed_tables(base), **changed}, folder / "source")  # type: ignore[arg-type]


def csv_folder(folder: Path, base: Path) -> Path:
    from tests.sources_support import write_csv_folder  # noqa: PLC0415

    return write_csv_folder(typed_tables(base), folder / "source")  # type: ignore[arg-type]


def duckdb_file(folder: Path, base: Path, *statements: str) -> Path:
    """The starter's tables in a .duckdb file, then ``statements`` run in it."""
    import duckdb  # noqa: PLC0415

    parquet = parquet_folder(folder, base)
    path = folder / "shop.duckdb"
    connection = duckdb.connect(str(path))
    try:
        for entry in sorted(parquet.glob("*.parquet")):
            connection.execute(
                f'CREATE TABLE "{entry.stem}" AS SELECT * FROM read_parquet(?)', [str(entry)]
            )
        for statement in statements:
            connection.execute(statement)
    finally:
        connection.close()
    shutil.rmtree(parquet)
    return path


@leg_case("sources-control-csv-folder", "sources", 0, "Revenue")
def _sources_csv(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    source = csv_folder(folder, base)
    return _report(str(source), *sorted(source.iterdir()))


@leg_case("sources-control-duckdb-file", "sources", 0, "Revenue")
def _sources_duckdb(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    path = duckdb_file(folder, base)
    return _report(str(path), path)


@leg_case("sources-empty-url", "sources", 2, "accepted forms")
def _sources_empty(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    return _report("")


@leg_case("sources-blank-url", "sources", 2, "accepted forms")
def _sources_blank(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    return _report("   ")


@leg_case("sources-missing-engine-mysql", "sources", 2, "accepted forms")
def _sources_mysql(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    return _report("mysql://kpi@localhost/shop")


@leg_case("sources-missing-engine-bigquery", "sources", 2, "accepted forms")
def _sources_bigquery(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    return _report("bigquery://project/dataset")


@leg_case("sources-duckdb-url-new-file", "sources", 2, "does not exist")
def _sources_new_duckdb(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    created = folder / "new.duckdb"
    return _report(f"duckdb:///{created}", created)


@leg_case("sources-sqlite-url-new-file", "sources", 2, "does not exist")
def _sources_new_sqlite(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    created = folder / "new.db"
    return _report(f"sqlite:///{created}", created)


@leg_case("sources-fifo-named-orders-csv", "sources", 2, "not a regular file")
def _sources_fifo(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    source = csv_folder(folder, base)
    (source / "orders.csv").unlink()
    os.mkfifo(source / "orders.csv")
    return _report(str(source))


@leg_case("sources-csv-with-none-of-the-columns", "sources", 2, "none of the columns")
def _sources_no_columns(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    source = csv_folder(folder, base)
    (source / "orders.csv").write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    return _report(str(source), *sorted(source.iterdir()))


@leg_case("sources-csv-100000-columns", "sources", 2, "columns")
def _sources_wide(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    source = csv_folder(folder, base)
    header = ",".join(["order_id", *(f"c{i}" for i in range(100_000))])
    (source / "orders.csv").write_text(header + "\n" + ",".join(["1"] * 100_001) + "\n")
    return _report(str(source), *sorted(source.iterdir()))


@leg_case("sources-duckdb-view-reads-a-file-outside", "sources", 2, "disabled by configuration")
def _sources_view(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    secret = folder / "secret.csv"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    path = duckdb_file(
        folder,
        base,
        'ALTER TABLE "Orders" RENAME TO "orders_data"',
        f'CREATE VIEW "Orders" AS SELECT o.* REPLACE (s.column0 AS status) FROM orders_data o, '
        f"read_csv('{secret}', header = false, all_varchar = true) s",
    )
    return _report(str(path), path, secret)


@leg_case("sources-parquet-corrupt-data-page", "sources", 2, "Orders")
def _sources_corrupt(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    source = parquet_folder(folder, base)
    orders = source / "Orders.parquet"
    data = bytearray(orders.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 200] = bytes(200)  # zeros over the column chunks' pages
    orders.write_bytes(bytes(data))
    return _report(str(source), orders)


@leg_case("sources-parquet-huge-double-in-id-column", "sources", 0, "Revenue")
def _sources_huge_id(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    import pyarrow as pa  # noqa: PLC0415

    orders = typed_tables(base)["Orders"]
    count = orders.num_rows  # type: ignore[attr-defined]
    index = orders.column_names.index("customer_id")  # type: ignore[attr-defined]
    huge = pa.array([1e300] + [float(i) for i in range(1, count)], pa.float64())
    source = parquet_folder(folder, base, Orders=orders.set_column(index, "customer_id", huge))  # type: ignore[attr-defined]
    return _report(str(source), source / "Orders.parquet")


def _typed_orders_case(case_id: str, column: str, sql_type: str, says: str, exit: int = 2) -> None:
    def build(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
        cast = {
            "INTERVAL": f"to_days(CAST(coalesce({column}, 0) AS INTEGER))",
            "DECIMAL(38,2)": f"CAST({column} * 1e30 AS DECIMAL(38,2))",
            "BOOLEAN": f"{column} > 100",
            "STRUCT": f"{{'value': {column}}}",
        }[sql_type]
        path = duckdb_file(
            folder,
            base,
            f'CREATE TABLE orders_typed AS SELECT * REPLACE ({cast} AS {column}) FROM "Orders"',
            'DROP TABLE "Orders"',
            'ALTER TABLE orders_typed RENAME TO "Orders"',
        )
        return _report(str(path), path)

    leg_case(case_id, "sources", exit, says)(build)


_typed_orders_case("sources-interval-amount", "amount", "INTERVAL", "Orders.amount is of type")
_typed_orders_case("sources-decimal38-amount", "amount", "DECIMAL(38,2)", "Revenue", exit=0)
_typed_orders_case("sources-boolean-amount", "amount", "BOOLEAN", "Orders.amount is of type")
_typed_orders_case("sources-struct-id", "customer_id", "STRUCT", "Orders.customer_id is of type")


@leg_case("sources-sqlite-file-is-read-not-written", "sources", 2, "no table Orders")
def _sources_sqlite(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    import sqlite3  # noqa: PLC0415

    path = folder / "shop.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE other (a)")
    connection.commit()
    connection.close()
    return _report(f"sqlite:///{path}", path)


@leg_case("sources-csv-4096-columns", "sources", 2, "has no column customer_id")
def _sources_widest(folder: Path, base: Path) -> tuple[list[str], list[Path], list[Path]]:
    """The widest header a source file may have: read within the budget."""
    source = csv_folder(folder, base)
    header = ",".join(["order_id", *(f"c{i}" for i in range(4_095))])
    (source / "orders.csv").write_text(header + "\n" + ",".join(["1"] * 4_096) + "\n")
    return _report(str(source), *sorted(source.iterdir()))
