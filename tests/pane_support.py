"""A workbook file as the Office.js stub holds it, for the refresh tests and
the benchmark: the stub is filled from the file that `kpi new` wrote, instead
of through the pane's Start (which tests/test_taskpane.py proves on its own).

Values come from python-calamine (dates as Excel serials, as Office.js gives
them without number formats), formulas from openpyxl for the small sheets
(the data sheets hold none), tables and defined names from the package
reader of ``kpi report``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from addin.ooxml.package import open_package
from tests.addin_support import KPI
from tests.report_support import excel_value

#: Sheets with more rows than this are data sheets: their formulas are not read.
SMALL_SHEET_ROWS = 2_000


def write_shop(path: Path, orders: int, timeout: float | None = None) -> Path:
    """`kpi new celebrity_video --rows ORDERS`, as of today, written at
    ``path``: the shop the refresh tests and the benchmark load into the stub."""
    assert KPI, "the kpi console script is not installed in this environment"
    as_of = dt.date.today().isoformat()
    subprocess.run(
        [KPI, "new", "celebrity_video", "--rows", str(orders), "--as-of", as_of, "-o", str(path)],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    return path


def stub_state(path: Path) -> dict[str, Any]:
    """The data ``officeStub.load`` takes for the workbook at ``path``."""
    package = open_package(path)
    try:
        tables = list(package.tables.values())
        names = [[name, "=" + formula] for name, formula in package.defined_names.items()]
        order = [sheet.name for sheet in package.sheets]
    finally:
        package.close()
    values = CalamineWorkbook.from_path(str(path))
    sheets: list[dict[str, Any]] = []
    small = set()
    for name in order:
        rows = [
            [excel_value(value) for value in row]
            for row in values.get_sheet_by_name(name).to_python(skip_empty_area=False)
        ]
        if len(rows) <= SMALL_SHEET_ROWS:
            small.add(name)
        sheets.append(
            {
                "name": name,
                "rows": rows,
                "formulas": [],
                "tables": [{"name": t.name, "address": t.ref} for t in tables if t.sheet == name],
            }
        )
    book = load_workbook(path, read_only=True)
    try:
        for sheet in sheets:
            if sheet["name"] not in small:
                continue
            for r, row in enumerate(book[sheet["name"]].iter_rows(values_only=True)):
                for c, value in enumerate(row):
                    if isinstance(value, str) and value.startswith("="):
                        sheet["formulas"].append([r, c, value, None])
    finally:
        book.close()
    return {"name": path.name, "sheets": sheets, "names": names}


def stub_state_json(path: Path) -> str:
    return json.dumps(stub_state(path), separators=(",", ":"), default=str)


def pane_request(state: dict[str, Any], plan_for: Any) -> dict[str, Any]:
    """What the pane sends to /taskpane/refresh for ``state``, computed here
    from the same structure (``plan_for`` maps the structure to the plan)."""
    structure: dict[str, Any] = {
        "sheets": [sheet["name"] for sheet in state["sheets"]],
        "names": [name for name, _ in state["names"]],
        "tables": {},
    }
    by_name = {sheet["name"]: sheet for sheet in state["sheets"]}
    from addin.ooxml.sheets import cell_index  # noqa: PLC0415

    for sheet in state["sheets"]:
        for table in sheet["tables"]:
            first, last = table["address"].split(":")
            (top, left), (bottom, right) = cell_index(first), cell_index(last)
            header = sheet["rows"][top][left : right + 1]
            structure["tables"][table["name"]] = {
                "sheet": sheet["name"],
                "row": top,
                "column": left,
                "rows": bottom - top,
                "columns": [str(c) for c in header],
            }
    plan = plan_for(structure)
    columns: dict[str, dict[str, list[Any]]] = {}
    for table in plan["tables"]:
        rows = by_name[table["sheet"]]["rows"]
        got: dict[str, list[Any]] = {}
        for column in table["columns"]:
            index = column["index"]
            cells = rows[table["row"] + 1 : table["row"] + 1 + table["rows"]]
            got[column["id"]] = [row[index] if index < len(row) else "" for row in cells]
        columns[table["name"]] = got
    named = {}
    for name, formula in state["names"]:
        if name not in plan["names"]:
            continue
        sheet_name, address = formula.lstrip("=").rsplit("!", 1)
        row, column = cell_index(address.replace("$", "").split(":")[0])
        rows = by_name[sheet_name.strip("'")]["rows"]
        value = rows[row][column] if row < len(rows) and column < len(rows[row]) else ""
        named[name] = [[value]]
    return {"structure": structure, "named": named, "columns": columns}


def load_into_stub(page: Any, state: dict[str, Any], rows_per_call: int = 50_000) -> None:
    """Fill the page's Office.js stub with ``state``, a large sheet's rows a
    part at a time (one message of a whole large workbook is more than
    Chromium takes)."""
    skeleton = {
        **state,
        "sheets": [{**sheet, "rows": sheet["rows"][:rows_per_call]} for sheet in state["sheets"]],
    }
    page.evaluate("(text) => officeStub.load(text)", json.dumps(skeleton, default=str))
    for sheet in state["sheets"]:
        for first in range(rows_per_call, len(sheet["rows"]), rows_per_call):
            part = json.dumps(sheet["rows"][first : first + rows_per_call], default=str)
            page.evaluate(
                "([name, first, text]) => officeStub.appendRows(name, first, text)",
                [sheet["name"], first, part],
            )
