"""Benchmark: `kpi refresh` on a workbook with many data rows, against
python-calamine reading the same sheets, measured in the same run.

The workbook is a celebrity video starter workbook whose Survey table is
replaced by N generated answers over the twelve months of the report (the
other tables keep their sample rows). Each side runs in a child process,
which reports its time and peak memory (max RSS).

    python tests/benchmarks/bench_report.py [--rows N] [--repeat R]

Exit status 1 when `kpi refresh` takes more than twice the calamine read,
3 when the NPS it writes is not the engine's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench_support import child  # noqa: E402  (after the path is set)

RATIO_GOAL = 2.0
AS_OF = dt.date(2024, 7, 15)

_CHILD_CALAMINE = """
import json, resource, sys, time
from python_calamine import CalamineWorkbook
start = time.perf_counter()
book = CalamineWorkbook.from_path(sys.argv[1])
cells = 0
for name in sys.argv[2:]:
    rows = book.get_sheet_by_name(name).to_python()
    cells += sum(len(row) for row in rows)
print(json.dumps({"seconds": time.perf_counter() - start, "cells": cells,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CHILD_REFRESH = """
import json, resource, sys, time
from pathlib import Path
start = time.perf_counter()
from addin.report.offline import refresh_file
report = refresh_file(Path(sys.argv[1]), Path(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - start,
                  "nps": next(k.value for k in report.kpis if k.id == "nps"),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


def build(path: Path, rows: int) -> list[str]:
    """A starter workbook whose Survey table holds ``rows`` answers; its data sheets."""
    from addin.ooxml.package import open_package  # noqa: PLC0415
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    small = path.with_name("small.xlsx")
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), small, force=True)
    package = open_package(small)
    table = package.tables["Survey"]
    sheet = next(s for s in package.sheets if s.name == table.sheet)
    table_part = next(
        name
        for name in package.zip.namelist()
        if name.startswith("xl/tables/") and b'name="Survey"' in package.read(name)
    )
    original = package.read(sheet.part).decode()
    date_style = re.search(r'<c r="A2" s="(\d+)"', original)
    style = f' s="{date_style.group(1)}"' if date_style else ""
    first = _serial(dt.date(2023, 7, 1))
    days = _serial(dt.date(2024, 7, 1)) - first
    body = io.StringIO()
    body.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<dimension ref="A1:C{rows + 1}"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>answered_on</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>respondent_id</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>recommend_score</t></is></c></row>'
    )
    for i in range(rows):
        r = i + 2
        body.write(
            f'<row r="{r}"><c r="A{r}"{style}><v>{first + (i * 7919) % days}</v></c>'
            f'<c r="B{r}"><v>{i % 50000}</v></c><c r="C{r}"><v>{(i * 31) % 11}</v></c></row>'
        )
    body.write(
        '</sheetData><tableParts count="1"><tablePart r:id="rId1"/></tableParts></worksheet>'
    )
    table_xml = re.sub(
        r'ref="A1:[A-Z]+\d+"', f'ref="A1:C{rows + 1}"', package.read(table_part).decode()
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in package.zip.infolist():
            data = package.read(info.filename)
            if info.filename == sheet.part:
                data = body.getvalue().encode()
            elif info.filename == table_part:
                data = table_xml.encode()
            out.writestr(info.filename, data)
    names = [
        package.tables[name].sheet for name in ("Orders", "Celebrities", "Customers", "Survey")
    ]
    package.close()
    return [*names, "Settings"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.xlsx"
        start = time.perf_counter()
        sheets = build(path, options.rows)
        print(
            f"workbook: {options.rows:,} survey rows, {path.stat().st_size / 1e6:.1f} MB "
            f"(built in {time.perf_counter() - start:.1f} s)"
        )
        reads, refreshes = [], []
        for _ in range(options.repeat):
            reads.append(child(_CHILD_CALAMINE, str(path), *sheets))
            refreshes.append(child(_CHILD_REFRESH, str(path), str(Path(folder) / "out.xlsx")))
        read = min(reads, key=lambda r: r["seconds"])
        ours = min(refreshes, key=lambda r: r["seconds"])
        ratio = ours["seconds"] / read["seconds"]
        print(f"{'':<34}{'seconds':>9}{'peak MB':>10}")
        print(
            f"{'python-calamine read (baseline)':<34}{read['seconds']:>9.2f}{read['max_rss_mb']:>10.0f}"
        )
        print(f"{'kpi refresh':<34}{ours['seconds']:>9.2f}{ours['max_rss_mb']:>10.0f}")
        print(
            f"ratio kpi refresh / calamine read: {ratio:.2f} (goal <= {RATIO_GOAL}); "
            f"best of {options.repeat}; NPS {ours['nps']:.3f}"
        )
        expected = expected_nps(options.rows)
        if ours["nps"] != expected:
            print(f"wrong NPS: kpi refresh wrote {ours['nps']!r}, the engine gives {expected!r}")
            return 3
    return 0 if ratio <= RATIO_GOAL else 1


def expected_nps(rows: int) -> float:
    """The engine's NPS of June 2024 over the generated answers."""
    import kpi_engine  # noqa: PLC0415

    first = _serial(dt.date(2023, 7, 1))
    days = _serial(dt.date(2024, 7, 1)) - first
    june = _serial(dt.date(2024, 6, 1))
    scores = [float((i * 31) % 11) for i in range(rows) if first + (i * 7919) % days >= june]
    return kpi_engine.nps(scores)


if __name__ == "__main__":
    raise SystemExit(main())
