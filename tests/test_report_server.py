"""The task pane's "Refresh report" button: a real `kpi serve` process runs
`refresh_report` on the Book JSON that Office.js sends for a starter
workbook, and the actions it returns write the same report as `kpi refresh`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import kpi_engine
from addin.report.charts import series_range
from addin.report.layout import lay_out
from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from kpi_engine import display
from tests.addin_support import Server
from tests.report_support import apply_set_values, book_json, excel_value, sheet_values

pytestmark = pytest.mark.server

AS_OF = dt.date(2024, 7, 15)


@pytest.mark.parametrize(
    ("business_type", "language"), [("celebrity_video", "en"), ("video_marketing", "fr")]
)
def test_refresh_report_script_writes_the_report(
    server: Server, tmp_path: Path, business_type: str, language: str
) -> None:
    path = tmp_path / f"{business_type}_{language}.xlsx"
    new_workbook(StarterOptions(business_type, language, as_of=AS_OF), path)
    book = book_json(path)
    status, _, body = server.request("POST", "/xlwings/custom-scripts-call/refresh_report", book)
    assert status == 200, body
    actions = json.loads(body)["actions"]
    expected = make_report(path)  # the offline path, calamine reader
    position = len(book["sheets"])
    assert actions[0]["func"] == "addSheet"
    assert actions[0]["args"] == [position, expected.sheet_name]
    cells = apply_set_values(actions, position)
    for r, row in enumerate(sheet_values(expected)):
        for c, value in enumerate(row):
            got = cells.get((r, c))
            if r == 2 and c == 1:
                continue  # the refresh time
            if isinstance(value, dt.date):
                assert got == float((value - dt.date(1899, 12, 30)).days)
            elif value is None:
                assert got in ("", None)
            else:
                assert got == value, (r, c)
    titles = {entry.title[language] for entry in kpi_engine.BUSINESS_TYPES[business_type].kpis}
    layout = lay_out(expected)
    assert titles <= {cells[r, 0] for r in range(len(layout.grid)) if (r, 0) in cells}
    # The unit formats of the one formatting layer, in the workbook's language.
    formats = {action["args"][0] for action in actions if action["func"] == "setNumberFormat"}
    units = {kpi.unit for kpi in expected.kpis}
    assert {display.excel_format(unit, language, expected.currency) for unit in units} <= formats
    # One line chart per KPI, each over its column of the trend table.
    added = [action["args"] for action in actions if action["func"] == "addChart"]
    assert [args[0] for args in added] == [f"KPI chart {n + 1}" for n in range(len(expected.kpis))]
    for index, args in enumerate(added):
        assert args[1] == "Line"  # Office.js' name of a line chart
        assert args[2] == expected.sheet_name
        assert args[3] == series_range(layout, index)


def test_refresh_report_replaces_an_existing_report_sheet(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "shop.xlsx"
    new_workbook(StarterOptions("networking", "nl", as_of=AS_OF), path)
    book = book_json(path)
    # The old report already has its charts: a refresh keeps them.
    book["sheets"].append(
        {
            "name": "Rapport",
            "values": [["old"]],
            "pictures": [],
            "tables": [],
            "charts": [
                {
                    "name": f"KPI chart {n}",
                    "chart_type": "Line",
                    "left": 0,
                    "top": 0,
                    "width": 360,
                    "height": 220,
                }
                # One chart per KPI of the type.
                for n in range(1, len(kpi_engine.BUSINESS_TYPES["networking"].kpis) + 1)
            ],
        }
    )
    status, _, body = server.request("POST", "/xlwings/custom-scripts-call/refresh_report", book)
    assert status == 200, body
    actions = json.loads(body)["actions"]
    assert all(action["func"] not in ("addSheet", "addChart") for action in actions)
    position = len(book["sheets"]) - 1
    cells = apply_set_values(actions, position)
    report = make_report(path)
    # Dates travel as serial numbers, blanks as ''.
    first_column = [excel_value(row[0]) for row in sheet_values(report)]
    assert [cells.get((r, 0), "") for r in range(len(first_column))] == first_column


def test_refresh_report_explains_a_missing_table(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "shop.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), path)
    book = book_json(path)
    for sheet in book["sheets"]:
        sheet["tables"] = [t for t in sheet["tables"] if t["name"] != "Survey"]
    status, _, body = server.request("POST", "/xlwings/custom-scripts-call/refresh_report", book)
    assert status == 400
    assert "needs the table(s) Survey" in json.loads(body)["detail"]
