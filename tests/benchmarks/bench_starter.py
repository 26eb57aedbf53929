"""Benchmark: writing starter workbooks, and LibreOffice recalculating them.

For each business type, in the same run:
- `kpi new` with the default sample data and with --rows 100000, against
  xlsxwriter (constant-memory mode) writing the same cells: the same values
  and formulas, read back from our file. The baseline writes cells only, no
  tables, validations or charts, so it is a floor.
- the peak memory (max RSS) of each generation, in a child process, to show
  that it stays bounded as rows grow (openpyxl write-only mode);
- LibreOffice's time to open, recalculate and save each default workbook.

    python tests/benchmarks/bench_starter.py [--rows N] [--types T,T] [--skip-libreoffice]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench_support import child  # noqa: E402  (after the path is set)

AS_OF = "2024-07-15"
DEFAULT_GOAL_SECONDS = 1.0
RATIO_GOAL = 2.0

_CHILD_OURS = """
import datetime as dt, json, resource, sys, time
from pathlib import Path
from addin.starter import StarterOptions, new_workbook
business_type, rows, target = sys.argv[1], sys.argv[2], Path(sys.argv[3])
start = time.perf_counter()
new_workbook(StarterOptions(business_type, rows=None if rows == "default" else int(rows),
             as_of=dt.date.fromisoformat(sys.argv[4])), target, force=True)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_CHILD_BASELINE = """
import json, resource, sys, time
import xlsxwriter
from openpyxl import load_workbook
source, target = sys.argv[1], sys.argv[2]
from openpyxl.worksheet.formula import ArrayFormula
book = load_workbook(source, read_only=True)
sheets = [(ws.title, [[c.value for c in row] for row in ws.iter_rows()]) for ws in book.worksheets]
start = time.perf_counter()
out = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_formulas": True})
for title, rows in sheets:
    ws = out.add_worksheet(title)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, ArrayFormula):
                ws.write_dynamic_array_formula(r, c, r, c, value.text)
            elif value is not None:
                ws.write(r, c, value)
out.close()
print(json.dumps({"seconds": time.perf_counter() - start,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def libreoffice_seconds(path: Path, work: Path) -> float:
    soffice = shutil.which("soffice")
    if soffice is None:
        raise SystemExit("LibreOffice is missing: make system-deps")
    profile = work / f"profile-{path.stem}"
    start = time.perf_counter()
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(work / "recalculated"),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    return time.perf_counter() - start


def main() -> int:
    import kpi_engine  # noqa: PLC0415  (after the path points at the project)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--types", default=",".join(kpi_engine.BUSINESS_TYPES))
    parser.add_argument("--skip-libreoffice", action="store_true")
    options = parser.parse_args()
    types = options.types.split(",")
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        print(f"kpi new, against xlsxwriter writing the same cells (as of {AS_OF})")
        print(
            f"{'type':<17}{'rows':>9}{'ours':>9}{'xlsxwriter':>12}{'ratio':>8}{'our RSS':>10}{'its RSS':>10}"
        )
        for business_type in types:
            for rows in ("default", str(options.rows)):
                target = work / f"{business_type}_{rows}.xlsx"
                ours = child(_CHILD_OURS, business_type, rows, str(target), AS_OF)
                base = child(
                    _CHILD_BASELINE, str(target), str(work / f"{business_type}_{rows}_xw.xlsx")
                )
                ratio = ours["seconds"] / base["seconds"]
                goal_met = (
                    ours["seconds"] <= DEFAULT_GOAL_SECONDS
                    if rows == "default"
                    else ratio <= RATIO_GOAL
                )
                failures += not goal_met
                print(
                    f"{business_type:<17}{rows:>9}{ours['seconds']:>8.2f}s{base['seconds']:>11.2f}s"
                    f"{ratio:>7.2f}x{ours['max_rss_mb']:>8.0f}MB{base['max_rss_mb']:>8.0f}MB"
                    f"  {'ok' if goal_met else 'MISSES GOAL'}"
                )
        print(
            f"goals: default workbooks under {DEFAULT_GOAL_SECONDS:g} s; {options.rows:,} rows within "
            f"{RATIO_GOAL:g}x of xlsxwriter"
        )
        if not options.skip_libreoffice:
            print("\nLibreOffice: open, recalculate and save each default workbook")
            for business_type in types:
                seconds = libreoffice_seconds(work / f"{business_type}_default.xlsx", work)
                print(f"{business_type:<17}{seconds:>8.2f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
