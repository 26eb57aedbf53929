"""The task pane of `kpi serve`, clicked in Debian's headless Chromium.

A real `kpi serve` process on 127.0.0.1 serves the page, its script and
xlwings' Office.js client; only office.js itself is replaced, by the
in-memory workbook of tests/officejs_stub.js (routed in place of office.js'
address). Each action is clicked as a person would, and what lands in that
workbook is compared with independent readings: openpyxl reading the file
that `kpi new` writes for the same business type, language and as-of date,
and the offline report of `kpi report` for the refresh.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.formula import ArrayFormula
from python_calamine import CalamineWorkbook

import kpi_engine
from addin import functions
from addin.ooxml.formulas import shown_formula, stored_formula
from addin.ooxml.widths import column_pixels
from addin.recipes import tables_for
from addin.recipes.calls import RECORD_COLUMNS, excel_call
from addin.report.offline import make_report
from addin.starter import StarterOptions
from addin.starter.plan import CHUNK_BYTES, DataRows, chunked, starter_plan
from tests.addin_support import KPI, Server, running_server, server_env
from tests.docs_blocks import pages
from tests.report_support import excel_value
from tests.taskpane_support import (
    OFFICE_JS_LIMIT,
    SCRIPT_CALL,
    WORDS,
    Pane,
    assert_report_cells_are_kpi_reports,
    kpi_new,
    open_pane,
)

pytestmark = pytest.mark.server


def namespace_of(server: Server) -> str:
    _, _, manifest = server.request("GET", "/manifest.xml")
    found = re.search(rb'id="Functions.Namespace" DefaultValue="([A-Z_]+)"', manifest)
    assert found
    return found.group(1).decode()


# --- the file's parts, as openpyxl reads them -----------------------------------------


_OFFICE_RULES = {"whole": "wholeNumber", "decimal": "decimal", "date": "date", "list": "list"}
_OFFICE_OPERATORS = {
    "between": "Between",
    "greaterThan": "GreaterThan",
    "greaterThanOrEqual": "GreaterThanOrEqualTo",
    "lessThan": "LessThan",
    "lessThanOrEqual": "LessThanOrEqualTo",
}


def file_cells(sheet: Any) -> dict[tuple[int, int], tuple[Any, str | None, str]]:
    """(value, formula as stored, number format) of each filled cell."""
    found = {}
    for row in sheet.iter_rows():
        for cell in row:
            value = cell.value
            if isinstance(value, ArrayFormula):
                found[cell.row, cell.column] = (None, value.text.lstrip("="), cell.number_format)
            elif cell.data_type == "f":
                found[cell.row, cell.column] = (None, str(value).lstrip("="), cell.number_format)
            elif value is not None:
                found[cell.row, cell.column] = (excel_value(value), None, cell.number_format)
    return found


def stub_cells(sheet: dict[str, Any]) -> dict[tuple[int, int], tuple[Any, str | None, str]]:
    found = {}
    for row, column, value, formula, number_format in sheet["cells"]:
        if formula is not None:
            found[row, column] = (None, stored_formula(formula.lstrip("=")), number_format)
        elif value != "":
            found[row, column] = (value, None, number_format)
    return found


def file_validations(sheet: Any) -> list[tuple[str, dict[str, Any]]]:
    rules = []
    for rule in sheet.data_validations.dataValidation:
        kind = _OFFICE_RULES[rule.type]
        for area in str(rule.sqref).split():
            if kind == "list":
                choices = rule.formula1.strip('"').split(",")
                rules.append(
                    (area, {"list": {"source": ",".join(choices), "inCellDropDown": True}})
                )
                continue
            detail = {"operator": _OFFICE_OPERATORS[rule.operator or "between"]}
            detail["formula1"] = "=" + rule.formula1
            if rule.formula2 is not None:
                detail["formula2"] = "=" + rule.formula2
            rules.append((area, {kind: detail}))
    return sorted(rules, key=repr)


def file_conditional_formats(sheet: Any) -> list[tuple[str, str, str | None]]:
    rules = []
    for area, entries in sheet.conditional_formatting._cf_rules.items():
        for rule in entries:
            fill = rule.dxf.fill.bgColor.rgb if rule.dxf and rule.dxf.fill else None
            rules.append(
                (str(area.sqref), rule.formula[0], f"#{fill[2:]}".lower() if fill else None)
            )
    return sorted(rules, key=repr)


def stub_conditional_formats(sheet: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    rules = []
    for rule in sheet["conditionalFormats"]:
        formula = rule["rule"].get("formula1") or rule["rule"].get("formula")
        fill = rule["fill"].lower() if rule["fill"] else None
        rules.append((rule["address"], stored_formula(formula.lstrip("=")), fill))
    return sorted(rules, key=repr)


def every_cell(sheet: Any) -> Iterator[tuple[tuple[int, int], Any]]:
    for row in sheet.iter_rows():
        for cell in row:
            yield (cell.row, cell.column), cell


def styled(store: dict[str, dict[str, Any]], attribute: str) -> set[tuple[int, int]]:
    """The cells (1-based) of the stub's ranges that got ``attribute``."""
    cells = set()
    for key, given in store.items():
        if not given.get(attribute):
            continue
        row, column, rows, columns = (int(part) for part in key.split(","))
        cells |= {(row + r + 1, column + c + 1) for r in range(rows) for c in range(columns)}
    return cells


def local(reference: str) -> str:
    return reference.rsplit("!", 1)[1].replace("$", "")


def assert_same_workbook(dump: dict[str, Any], path: Path, skip: tuple[str, ...] = ()) -> None:
    """The stub's workbook holds what the `kpi new` file at ``path`` holds."""
    book = load_workbook(path)
    by_name = {sheet["name"]: sheet for sheet in dump["sheets"]}
    # The sheets, after the workbook's own "Sheet1", in kpi new's order.
    assert [sheet["name"] for sheet in dump["sheets"]][1:] == book.sheetnames
    assert sorted(map(tuple, dump["names"])) == sorted(
        (name, "=" + defined.attr_text) for name, defined in book.defined_names.items()
    )
    assert dump["active"] == book.sheetnames[0]
    for sheet in book.worksheets:
        written = by_name[sheet.title]
        if sheet.title not in skip:
            expected = file_cells(sheet)
            got = stub_cells(written)
            assert set(got) == set(expected), sheet.title
            for key, (value, formula, number_format) in expected.items():
                got_value, got_formula, got_format = got[key]
                assert got_formula == formula, (sheet.title, key)
                if isinstance(value, float):
                    assert got_value == pytest.approx(value, abs=1e-9), (sheet.title, key)
                else:
                    assert got_value == value, (sheet.title, key)
                assert got_format == number_format, (sheet.title, key)
        assert [(t["name"], t["address"], t["style"]) for t in written["tables"]] == [
            (t.displayName, t.ref, t.tableStyleInfo.name) for t in sheet.tables.values()
        ]
        got_rules = sorted(((v["address"], v["rule"]) for v in written["validations"]), key=repr)
        assert got_rules == file_validations(sheet), sheet.title
        # Set by the task pane's own Office.js (the Book API sets the rule only).
        alerts = sorted(
            (v["address"], v["ignoreBlanks"], v["errorAlert"]) for v in written["validations"]
        )
        assert alerts == sorted(
            (
                area,
                bool(rule.allow_blank),
                {"showAlert": bool(rule.showErrorMessage), "style": "Stop"},
            )
            for rule in sheet.data_validations.dataValidation
            for area in str(rule.sqref).split()
        ), sheet.title
        assert stub_conditional_formats(written) == file_conditional_formats(sheet), sheet.title
        assert_same_charts(written, sheet)
        assert_same_layout(written, sheet)
        assert_same_looks(written, sheet)


def assert_same_charts(written: dict[str, Any], sheet: Any) -> None:
    """The charts: data, months, place, title, legend, axis formats, and
    how they plot hidden columns and #N/A."""
    # A chart's data: its title cell down to the last value, and the months.
    charts = [
        (
            local(chart.series[0].tx.strRef.f)
            + ":"
            + local(chart.series[0].val.numRef.f).split(":")[1],
            local(chart.series[0].cat.numRef.f),
            f"{chr(65 + chart.anchor._from.col)}{chart.anchor._from.row + 1}",
        )
        for chart in sheet._charts
    ]
    got_charts = [
        (chart["source"], chart["categories"], chart["anchor"]) for chart in written["charts"]
    ]
    assert got_charts == charts, sheet.title
    blanks = {"gap": "NotPlotted", "zero": "Zero", "span": "Interplotted"}
    for chart, made in zip(sheet._charts, written["charts"], strict=True):
        assert made["title"] == "".join(
            run.t for paragraph in chart.title.tx.rich.p for run in paragraph.r
        )
        assert made.get("legend", True) is (chart.legend is not None)
        assert made["axes"]["category"]["numberFormat"] == chart.x_axis.numFmt.formatCode
        assert made["axes"]["value"]["numberFormat"] == chart.y_axis.numFmt.formatCode
        # Written by the task pane's own Office.js (no Book API action).
        assert made["plotVisibleOnly"] is bool(chart.visible_cells_only)
        assert made["displayBlanksAs"] == blanks[chart.display_blanks]


def assert_same_layout(written: dict[str, Any], sheet: Any) -> None:
    """The page setup, the row heights and the cells' alignment."""
    layout = written["pageLayout"]
    assert layout["orientation"] == sheet.page_setup.orientation.capitalize()
    assert layout["zoom"] == {
        "horizontalFitToPages": sheet.page_setup.fitToWidth,
        "verticalFitToPages": sheet.page_setup.fitToHeight,
    }
    assert layout.get("printTitleRows") == sheet.print_title_rows
    heights = {
        row - 1: dimension.height
        for row, dimension in sheet.row_dimensions.items()
        if dimension.height
    }
    assert {int(k): v for k, v in written["rowHeights"].items()} == heights, sheet.title
    for attribute, name in (
        ("horizontalAlignment", "horizontal"),
        ("verticalAlignment", "vertical"),
    ):
        got = {
            cell: value
            for key, given in written["formats"].items()
            if given.get(attribute)
            for cell in styled({key: given}, attribute)
            for value in [given[attribute].lower()]
        }
        assert got == {
            key: getattr(cell.alignment, name)
            for key, cell in every_cell(sheet)
            if getattr(cell.alignment, name)
        }, (sheet.title, attribute)


def assert_same_looks(written: dict[str, Any], sheet: Any) -> None:
    """Merged cells, frozen panes, fonts, fills, wrapping, widths, hidden columns."""
    assert sorted(m["address"] for m in written["merged"]) == sorted(
        str(area) for area in sheet.merged_cells.ranges
    )
    assert written["freeze"] == sheet.freeze_panes
    assert styled(written["fonts"], "bold") == {
        key for key, cell in every_cell(sheet) if cell.font.b
    }, sheet.title
    sizes = {
        cell: given["size"]
        for key, given in written["fonts"].items()
        if given.get("size")
        for cell in styled({key: given}, "size")
    }
    assert sizes == {
        key: cell.font.sz for key, cell in every_cell(sheet) if cell.font.sz not in (None, 11)
    }, sheet.title
    assert styled(written["fills"], "color") == {
        key for key, cell in every_cell(sheet) if cell.fill.fill_type == "solid"
    }, sheet.title
    assert styled(written["formats"], "wrapText") == {
        key for key, cell in every_cell(sheet) if cell.alignment.wrap_text
    }, sheet.title
    widths = {
        index - 1: round(column_pixels(dimension.width) * 0.75, 2)
        for dimension in sheet.column_dimensions.values()
        if dimension.width
        for index in range(dimension.min, dimension.max + 1)
    }
    assert {int(k): v for k, v in written["widths"].items()} == widths, sheet.title
    hidden = [
        index
        for letter, dimension in sheet.column_dimensions.items()
        if dimension.hidden
        for index in range(dimension.min - 1, dimension.max)
    ]
    assert sorted(written["hidden"]) == sorted(hidden), sheet.title


# --- a. start a KPI workbook here ------------------------------------------------------


def test_start_then_refresh_writes_kpi_new_and_the_report(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    pane = open_pane(browser, server)
    done = pane.start("social_media", "en")
    as_of = dt.date.today().isoformat()
    path = kpi_new(tmp_path, "social_media", "en", as_of)
    assert done == WORDS["en"]["started"].format(count=6, kpis="KPIs")
    dump = pane.dump()
    assert_same_workbook(dump, path)
    # One request per step: the sheets, each table's rows, the rest.
    assert [name for name, _, _ in pane.script_calls] == ["start_workbook"] * 4

    # b. Refresh the report: the report sheet holds what kpi report computes from the file.
    pane.page.click("[data-tab=refresh]")
    pane.page.click("#refresh-button")
    pane.wait("#refresh-done:not(.d-none)", "#global-error-alert:not(.d-none)")
    assert not pane.error(), pane.error()
    assert pane.page.inner_text("#refresh-done") == WORDS["en"]["refreshed"]
    sheet_name = make_report(path).sheet_name
    report = next(s for s in pane.dump()["sheets"] if s["name"] == sheet_name)
    cells = {(row, column): value for row, column, value, _, _ in report["cells"]}
    expected = assert_report_cells_are_kpi_reports(cells, path)
    assert len(report["charts"]) == len(expected.kpis)
    # The refresh runs no xlwings script: it reads in chunks (tests/test_taskpane_refresh.py).
    assert [name for name, _, _ in pane.script_calls] == ["start_workbook"] * 4
    pane.check_clean()

    # Started again in the same workbook: refused, with the sheets named, nothing written.
    sheets = len(pane.dump()["sheets"])
    pane.page.click("[data-tab=start]")
    pane.page.click("#start-button")
    pane.wait("#global-error-alert:not(.d-none)")
    assert "this workbook already has a sheet named 'Read me', 'KPIs'" in pane.error()
    assert len(pane.dump()["sheets"]) == sheets


def test_start_in_dutch_from_a_french_office(server: Server, browser: Any, tmp_path: Path) -> None:
    pane = open_pane(browser, server, "fr-FR")
    # The pane speaks French; the workbook is Dutch, as chosen.
    assert pane.page.inner_text("#start-button") == WORDS["fr"]["start_button"]
    done = pane.start("networking", "nl")
    assert done.startswith("Terminé")
    path = kpi_new(tmp_path, "networking", "nl", dt.date.today().isoformat())
    assert_same_workbook(pane.dump(), path)
    pane.check_clean()


def test_start_splits_a_table_too_large_for_one_request(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    rows = 70_000
    pane = open_pane(browser, server)
    pane.start("celebrity_video", "en", rows=rows)
    path = kpi_new(
        tmp_path, "celebrity_video", "en", dt.date.today().isoformat(), "--rows", str(rows)
    )
    # Every data sheet holds the rows of kpi new's file, read by calamine.
    book = CalamineWorkbook.from_path(str(path))
    data_sheets = [table.sheet for table in starter_plan_tables(pane)]
    for name in data_sheets:
        expected = [
            [excel_value(value) for value in row]
            for row in book.get_sheet_by_name(name).to_python()
        ]
        got = pane.rows(name, len(expected) + 1, len(expected[0]) + 1)
        assert got[-1] == [""] * (len(expected[0]) + 1), name  # nothing below or beside
        got_rows = [row[:-1] for row in got[:-1]]
        assert len(got_rows) == len(expected), name
        for index, (got_row, row) in enumerate(zip(got_rows, expected, strict=True)):
            assert same_row(got_row, row), (name, index, got_row, row)
    orders = book.get_sheet_by_name("Orders").to_python()
    assert len(orders) == rows + 1
    # The Orders rows are more than Office.js takes in one request...
    assert len(json.dumps(orders[1:], default=str)) > OFFICE_JS_LIMIT
    # ...so they went in several, each request, answer and Excel batch under 5 MB.
    steps = pane.page.evaluate(
        "officeStub.calls.filter((call) => call.op === 'values' && call.address.startsWith('Orders!A')).length"
    )
    assert steps >= 3  # the header and two chunks of rows at least
    assert len(pane.script_calls) >= 6
    for _, sent, received in pane.script_calls:
        assert sent < OFFICE_JS_LIMIT
        assert received < OFFICE_JS_LIMIT
    assert max(pane.page.evaluate("officeStub.syncs")) < OFFICE_JS_LIMIT
    pane.check_clean()


def same_row(got: list[Any], expected: list[Any]) -> bool:
    """Equal cell by cell, numbers to a millionth (a date's serial goes through
    a datetime on the file's side)."""
    return len(got) == len(expected) and all(
        abs(g - e) < 1e-6
        if isinstance(g, int | float) and isinstance(e, int | float) and not isinstance(g, bool)
        else g == e
        for g, e in zip(got, expected, strict=True)
    )


def starter_plan_tables(pane: Pane) -> list[Any]:
    """The tables the pane made, read back from the stub."""

    @dataclass
    class Made:
        sheet: str
        name: str

    dump = pane.dump(skip=["Orders", "Customers", "Survey"])
    return [
        Made(sheet["name"], table["name"]) for sheet in dump["sheets"] for table in sheet["tables"]
    ]


def test_with_a_shared_token_the_steps_need_it() -> None:
    token = "a-shared-token-for-the-tests"
    env = server_env(KPI_AUTH="token", KPI_AUTH_TOKEN=token)
    with running_server(env=env) as guarded:
        path = "/taskpane/starter?type=networking&lang=en"
        status, headers, body = guarded.exchange("GET", path)
        assert status == 401
        assert headers["www-authenticate"] == "Bearer"
        status, _, body = guarded.exchange(
            "GET", path, headers={"Authorization": f"Bearer {token}"}
        )
        assert status == 200
        assert json.loads(body)["steps"][0] == {"kind": "sheets"}


def test_rows_are_cut_under_the_byte_and_cell_limits() -> None:
    rows = DataRows(
        "Orders", [[index, "x" * (index % 97)] for index in range(10_000)], (None, None)
    )
    for max_bytes, max_cells in ((100_000, 1_000_000), (CHUNK_BYTES, 6_000)):
        chunks = chunked({"Orders": rows}, max_bytes=max_bytes, max_cells=max_cells)
        assert chunks[0].first == 0
        assert chunks[-1].stop == len(rows.rows)
        assert all(c.first == p.stop for p, c in itertools.pairwise(chunks))
        for chunk, _following in itertools.pairwise(chunks):
            part = rows.rows[chunk.first : chunk.stop]
            size = sum(len(json.dumps(row, separators=(",", ":"))) + 1 for row in part)
            assert size <= max_bytes
            assert 2 * len(part) <= max_cells
            # Each step is as large as the limits allow: one row more would pass one.
            grown = size + len(json.dumps(rows.rows[chunk.stop], separators=(",", ":"))) + 1
            assert grown > max_bytes or 2 * (len(part) + 1) > max_cells
        assert len(chunks) > 3


def test_start_refuses_bad_requests_with_a_message(server: Server) -> None:
    status, _, body = server.request("GET", "/taskpane/starter?type=bakery&lang=en")
    assert status == 400
    assert json.loads(body)["detail"].startswith(
        "start_workbook: business_type is 'bakery'; expected one of celebrity_video"
    )
    status, _, body = server.request("GET", "/taskpane/starter?type=networking&lang=nl&rows=ten")
    assert status == 400
    assert json.loads(body)["detail"] == "start_workbook: rows is 'ten'; expected a whole number"
    book = {
        "client": "Office.js",
        "version": "0.37.8",
        "book": {"name": "Book1.xlsx", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [{"name": "KPIs", "values": [[]], "pictures": [], "tables": [], "charts": []}],
        "args": ["social_media", "en", "2026-01-15", None, 0],
    }
    status, _, body = server.request("POST", SCRIPT_CALL + "start_workbook", book)
    assert status == 400
    assert "already has a sheet named 'KPIs'" in body.decode()
    # A table or a name that the starter would add is there already: nothing is written.
    book["sheets"] = [
        {
            "name": "Data",
            "values": [[]],
            "pictures": [],
            "charts": [],
            "tables": [
                {
                    "name": "Channels",
                    "range_address": "A1:B3",
                    "header_row_range_address": "A1:B1",
                    "data_body_range_address": "A2:B3",
                    "total_row_range_address": None,
                    "show_headers": True,
                    "show_totals": False,
                    "table_style": "TableStyleMedium2",
                    "show_autofilter": True,
                }
            ],
        }
    ]
    book["names"] = [
        {
            "name": "PERIOD",
            "sheet_index": 0,
            "address": "C1",
            "book_scope": True,
            "scope_sheet_name": None,
            "scope_sheet_index": None,
        }
    ]
    status, _, body = server.request("POST", SCRIPT_CALL + "start_workbook", book)
    assert status == 400
    assert "already has a table or name called 'Channels', 'PERIOD'" in body.decode()
    for query in ("type=networking&lang=de", "type=networking&rows=0", "rows=600000", ""):
        status, _, body = server.request("GET", f"/taskpane/starter?{query}")
        assert status == 400, (query, body)
        assert json.loads(body)["detail"].startswith("start_workbook: "), query
    for args in (
        [7, "en", "", None, 0],
        ["networking", "en", "2026-02-30", None, 0],
        ["networking", "en", "", True, 0],
        ["networking", "en", "", None, "first"],
        ["networking", "en", "", None, 1.5],
        ["networking", ["en"], "", None, 0],
    ):
        status, _, body = server.request(
            "POST", SCRIPT_CALL + "start_workbook", {**book, "args": args}
        )
        assert status == 400, (args, body)
        assert json.loads(body)["detail"].startswith("start_workbook"), args
    book["args"] = ["social_media", "en", "2026-01-15", None, 99]
    status, _, body = server.request("POST", SCRIPT_CALL + "start_workbook", book)
    assert status == 400
    assert "step is 99; expected 0 to 3" in body.decode()


# --- c. the KPI browser and the languages -----------------------------------------------


def test_browser_shows_a_kpi_and_inserts_its_call(server: Server, browser: Any) -> None:
    pane = open_pane(browser, server)
    namespace = namespace_of(server)
    intro = pane.page.inner_text("#kpi-intro")
    assert f"={namespace}." in intro
    assert f"={namespace}.NPS(Survey[recommend_score])" in intro
    pane.page.click("[data-tab=browse]")
    pane.page.fill("#kpi-search", "promoter")
    titles = pane.page.locator("#kpi-list li").all_inner_texts()
    assert len(titles) >= 3
    assert all("NPS" in title for title in titles)
    pane.page.click("#kpi-list li[data-kpi=nps]")
    nps = kpi_engine.KPIS["nps"]
    assert pane.page.inner_text("#kpi-definition") == nps.definition["en"]
    assert pane.page.inner_text("#kpi-formula") == nps.formula
    assert "40" in pane.page.inner_text("#kpi-examples")  # the worked example's result
    bands = pane.page.inner_text("#kpi-bands")
    assert "exceptional" in bands
    assert "> 70" in bands
    call = f"={namespace}.NPS(Survey[recommend_score])"
    assert pane.page.inner_text("#kpi-call") == call
    pane.page.click("#insert-button")
    pane.wait("#insert-done:not(.d-none)")
    cell = pane.page.evaluate("officeStub.workbook.sheets[0].cell(0, 0, false)")
    assert cell["formula"] == call
    assert pane.page.inner_text("#insert-done") == f"Inserted {call} in Sheet1!A1."
    pane.check_clean()


@pytest.mark.parametrize(("office", "language"), [("fr-FR", "fr"), ("nl-BE", "nl")])
def test_the_pane_speaks_offices_language(
    server: Server, browser: Any, office: str, language: str
) -> None:
    pane = open_pane(browser, server, office)
    said = WORDS[language]
    assert pane.page.evaluate("document.documentElement.lang") == language
    for key in ("title", "tab_start", "tab_browse", "start_heading", "start_button"):
        assert pane.page.locator(f"[data-word={key}]").first.inner_text() == said[key]
    types = pane.page.locator("#business-type option").all_inner_texts()
    assert types == [profile.title[language] for profile in kpi_engine.BUSINESS_TYPES.values()]
    assert pane.page.input_value("#workbook-language") == language
    # The version to name when asking for help, in the pane's language.
    assert pane.page.inner_text("#kpi-version") == said["version"].format(
        version=metadata.version("kpi-addin")
    )
    pane.page.click("[data-tab=browse]")
    pane.page.click("#kpi-list li[data-kpi=churn_rate]")
    assert pane.page.inner_text("#kpi-title") == kpi_engine.KPIS["churn_rate"].title[language]
    assert (
        pane.page.inner_text("#kpi-definition")
        == kpi_engine.KPIS["churn_rate"].definition[language]
    )
    pane.check_clean()


def test_formulas_go_to_office_js_as_excel_shows_them() -> None:
    """Every formula of every starter workbook, as the pane writes it with
    Office.js, is the one the file stores once Excel's prefixes are added."""
    for business_type in kpi_engine.BUSINESS_TYPES:
        plan = starter_plan(StarterOptions(business_type, "en", as_of=dt.date(2025, 3, 10)))
        formulas = [cell.formula for sheet in plan.sheets for cell in sheet.cells if cell.formula]
        assert len(formulas) > 50
        for formula in formulas:
            assert "_xl" not in formula
            assert shown_formula(stored_formula(formula[1:])) == formula[1:]


def test_every_inserted_call_names_real_starter_columns() -> None:
    columns = {
        f"{table}[{column.id}]"
        for profile in kpi_engine.BUSINESS_TYPES
        for table, table_columns in tables_for(profile).items()
        for column in table_columns
    }
    for kpi_id, given in RECORD_COLUMNS.items():
        kpi = kpi_engine.KPIS[kpi_id]
        assert set(given) <= {argument.name for argument in kpi.arguments}, kpi_id
        assert {ref for ref in given.values() if ref != "PERIOD"} <= columns, kpi_id
    for kpi in kpi_engine.KPIS.values():
        call = excel_call(kpi, "KPI_DEV")
        assert call.startswith(f"=KPI_DEV.{kpi.id.upper()}(")
        for reference in re.findall(r"\w+\[\w+\]", call):
            assert reference in columns, (kpi.id, reference)


def test_the_example_names_a_real_column_and_the_namespace(server: Server) -> None:
    namespace = namespace_of(server)
    _, _, manifest = server.request("GET", "/manifest.xml")
    count = len(functions.EXCEL_FUNCTIONS) - 1
    assert (
        f"Business KPIs as Excel functions: ={namespace}.NPS(Survey[recommend_score]) "
        f"and {count} more."
    ) in manifest.decode()
    assert KPI
    shown = subprocess.run([KPI, "serve", "--help"], capture_output=True, text=True, check=True)
    assert "=KPI.NPS(Survey[recommend_score])" in " ".join(shown.stdout.split())
    docs = [p.read_text(encoding="utf-8") for p in pages()]
    for text in (shown.stdout, *docs, manifest.decode()):
        assert "Survey[Score]" not in text
