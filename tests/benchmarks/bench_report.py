"""Benchmark: `kpi refresh` on a workbook with many data rows, against
python-calamine reading the same sheets, measured in the same run.

The workbook is a celebrity video starter workbook whose Orders table, the
table most of its KPIs read, is replaced by N generated orders over the
twelve months of the report (the other tables keep their sample rows). Each side runs in a child process,
which reports its time and peak memory (max RSS).

    python tests/benchmarks/bench_report.py [--rows N] [--repeat R]

Exit status 1 when `kpi refresh` takes more than twice the calamine read,
3 when the completion rate it writes is not the engine's.
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
                  "completion": next(k.value for k in report.kpis if k.id == "completion_rate"),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _serial(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


FIRST = _serial(dt.date(2023, 7, 1))
DAYS = _serial(dt.date(2024, 7, 1)) - FIRST
STATUSES = ("cancelled", "in_progress", "in_progress", *("completed",) * 7)


def _order(i: int) -> tuple[float, str]:
    """The i-th generated order's date (a serial with a time of day) and status."""
    return FIRST + (i * 7919) % DAYS + (i % 96) / 96, STATUSES[i % 10]


def build(path: Path, rows: int) -> list[str]:
    """A starter workbook whose Orders table holds ``rows`` orders over the
    twelve months of the report; the sheets the KPIs read."""
    from addin.ooxml.package import open_package  # noqa: PLC0415
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    small = path.with_name("small.xlsx")
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), small, force=True)
    package = open_package(small)
    table = package.tables["Orders"]
    sheet = next(s for s in package.sheets if s.name == table.sheet)
    table_part = next(
        name
        for name in package.zip.namelist()
        if name.startswith("xl/tables/") and b'name="Orders"' in package.read(name)
    )
    original = package.read(sheet.part).decode()
    date_style = re.search(r'<c r="D2" s="(\d+)"', original)
    style = f' s="{date_style.group(1)}"' if date_style else ""
    header = re.search(r'<row r="1">.*?</row>', original)
    assert header is not None, "the Orders sheet has no header row"
    body = io.StringIO()
    body.write(original[: original.index("<sheetData>")])
    body.write("<sheetData>" + header.group(0))
    for i in range(rows):
        r = i + 2
        ordered, status = _order(i)
        delivered = "" if i % 20 == 0 else f'<c r="E{r}"{style}><v>{ordered + 1.5}</v></c>'
        body.write(
            f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>O{i:07d}</t></is></c>'
            f'<c r="B{r}" t="inlineStr"><is><t>C{i % 50000:05d}</t></is></c>'
            f'<c r="C{r}" t="inlineStr"><is><t>S{i % 40:05d}</t></is></c>'
            f'<c r="D{r}"{style}><v>{ordered}</v></c>{delivered}'
            f'<c r="F{r}" t="inlineStr"><is><t>{status}</t></is></c>'
            f'<c r="G{r}"><v>{20 + (i * 37) % 480}</v></c></row>'
        )
    body.write(original[original.index("</sheetData>") :])
    sheet_xml = re.sub(
        r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:G{rows + 1}"/>', body.getvalue()
    )
    table_xml = re.sub(
        r'ref="A1:[A-Z]+\d+"', f'ref="A1:G{rows + 1}"', package.read(table_part).decode()
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in package.zip.infolist():
            data = package.read(info.filename)
            if info.filename == sheet.part:
                data = sheet_xml.encode()
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
            f"workbook: {options.rows:,} orders, {path.stat().st_size / 1e6:.1f} MB "
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
            f"best of {options.repeat}; completion rate {ours['completion']:.6f}"
        )
        expected = expected_completion(options.rows)
        if ours["completion"] != expected:
            print(
                f"wrong completion rate: kpi refresh wrote {ours['completion']!r}, "
                f"the engine gives {expected!r}"
            )
            return 3
    return 0 if ratio <= RATIO_GOAL else 1


def expected_completion(rows: int) -> float:
    """The engine's completion rate of June 2024 over the generated orders."""
    import kpi_engine  # noqa: PLC0415

    june, july = _serial(dt.date(2024, 6, 1)), _serial(dt.date(2024, 7, 1))
    statuses = [status for ordered, status in map(_order, range(rows)) if june <= ordered < july]
    return kpi_engine.completion_rate_from_statuses(statuses)


if __name__ == "__main__":
    raise SystemExit(main())
