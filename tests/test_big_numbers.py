"""An amount of 1e30 in the workbook: `kpi report`, `--html`, `kpi refresh`
and the task pane's refresh show it in full, where the display layer used
to stop with decimal.InvalidOperation (a traceback, an HTTP 500)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI, Server
from tests.report_support import apply_set_values, book_json

AS_OF = dt.date(2024, 7, 15)
HUGE = 1e30
SHOWN = "$1,000,000,000,000,000,000,000,000,000,000.00"


@pytest.fixture(scope="module")
def huge_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A starter workbook whose first completed order of June 2024 is 1e30."""
    path = tmp_path_factory.mktemp("huge") / "shop.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), path)
    book = load_workbook(path)
    orders = book["Orders"]
    for row in range(2, orders.max_row + 1):
        ordered = orders.cell(row, 4).value
        if f"{ordered:%Y-%m}" == "2024-06" and orders.cell(row, 6).value == "completed":
            orders.cell(row, 7).value = HUGE
            break
    book.save(path)
    return path


def kpi(*args: str) -> subprocess.CompletedProcess[str]:
    assert KPI
    return subprocess.run([KPI, *args], capture_output=True, text=True, timeout=300, check=False)


def test_a_huge_amount_is_reported_in_full(huge_workbook: Path, tmp_path: Path) -> None:
    report = make_report(huge_workbook)
    revenue = next(kpi for kpi in report.kpis if kpi.id == "revenue")
    assert revenue.value is not None
    assert revenue.value >= HUGE
    result = kpi("report", str(huge_workbook))
    assert result.returncode == 0, result.stderr
    assert SHOWN in result.stdout
    page = tmp_path / "report.html"
    result = kpi("report", str(huge_workbook), "--html", str(page))
    assert result.returncode == 0, result.stderr
    assert SHOWN in page.read_text(encoding="utf-8")
    copy = tmp_path / "copy.xlsx"
    copy.write_bytes(huge_workbook.read_bytes())
    result = kpi("refresh", str(copy))
    assert result.returncode == 0, result.stderr
    values = [
        cell
        for row in load_workbook(copy, data_only=True)["Report"].iter_rows(values_only=True)
        for cell in row
    ]
    assert any(isinstance(cell, float) and cell >= HUGE for cell in values)


def test_the_task_pane_refreshes_a_huge_amount(server: Server, huge_workbook: Path) -> None:
    book = book_json(huge_workbook)
    status, _, body = server.request("POST", "/xlwings/custom-scripts-call/refresh_report", book)
    assert status == 200, body
    cells = apply_set_values(json.loads(body)["actions"], len(book["sheets"]))
    assert any(isinstance(value, float) and value >= HUGE for value in cells.values())
