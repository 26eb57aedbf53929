"""The task pane of `kpi serve` open in headless Chromium, and the report it
writes held to `kpi report`'s: shared by the task pane's tests, the Lite
refresh test and the refresh benchmark.

Only office.js is replaced, by the in-memory workbook of
tests/officejs_stub.js (routed in place of office.js' address), which
refuses, as Excel on the web does, every sync over 5 MB.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from addin.report.model import Report
from addin.report.offline import make_report
from tests.addin_support import KPI, Server
from tests.conftest import ROOT
from tests.report_support import excel_value, sheet_values

STUB = (ROOT / "tests" / "officejs_stub.js").read_text(encoding="utf-8")
WORDS = tomllib.loads((ROOT / "templates" / "taskpane.toml").read_text(encoding="utf-8"))
#: Office.js refuses a request of more than 5 MB (Excel on the web).
OFFICE_JS_LIMIT = 5 * 1024 * 1024
SCRIPT_CALL = "/xlwings/custom-scripts-call/"


@dataclass
class Pane:
    """The task pane open in a page, and what the page did."""

    page: Any
    server: Server
    problems: list[str] = field(default_factory=list)
    #: (path, bytes sent, bytes received) of each script call.
    script_calls: list[tuple[str, int, int]] = field(default_factory=list)

    def wait(self, *selectors: str, timeout: float = 120_000) -> None:
        self.page.wait_for_selector(", ".join(selectors), timeout=timeout)

    def dump(self, skip: list[str] | None = None) -> dict[str, Any]:
        # As one JSON text: Playwright carries a string far faster than nested lists.
        return json.loads(self.page.evaluate("(skip) => officeStub.dump(skip)", skip or []))  # type: ignore[no-any-return]

    def rows(self, sheet: str, count: int, columns: int) -> list[list[Any]]:
        script = "([sheet, rows, columns]) => officeStub.rowsOf(sheet, 1, rows, columns)"
        return json.loads(self.page.evaluate(script, [sheet, count, columns]))  # type: ignore[no-any-return]

    def error(self) -> str:
        alert = self.page.locator("#global-error-alert")
        return "" if "d-none" in (alert.get_attribute("class") or "") else alert.inner_text()

    def start(self, business_type: str, language: str, rows: int | None = None) -> str:
        self.page.click("[data-tab=start]")
        self.page.select_option("#business-type", business_type)
        self.page.select_option("#workbook-language", language)
        self.page.fill("#sample-rows", "" if rows is None else str(rows))
        self.page.click("#start-button")
        self.wait("#start-done:not(.d-none)", "#global-error-alert:not(.d-none)")
        assert not self.error(), self.error()
        return self.page.inner_text("#start-done")  # type: ignore[no-any-return]

    def check_clean(self) -> None:
        missing = self.page.evaluate("officeStub.missing")
        assert missing == [], f"Office.js calls the stub does not model: {missing}"
        assert self.problems == []


def open_pane(browser: Any, server: Server, display_language: str = "en-US") -> Pane:
    page = browser.new_page(viewport={"width": 360, "height": 900})
    pane = Pane(page, server)
    page.on(
        "console",
        lambda message: (
            pane.problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda error: pane.problems.append(f"page error: {error}"))

    def check_request(request: Any) -> None:
        if not request.url.startswith((server.url + "/", "data:")):
            pane.problems.append(f"request outside kpi serve: {request.url}")

    def record(response: Any) -> None:
        request = response.request
        if SCRIPT_CALL in request.url:
            sent = len(request.post_data_buffer or b"")
            pane.script_calls.append(
                (request.url.split(SCRIPT_CALL)[1], sent, len(response.body()))
            )

    page.on("request", check_request)
    page.on("response", record)
    page.add_init_script(f"globalThis.__officeStubLanguage = {json.dumps(display_language)};")
    page.route(
        re.compile(r".*/office-js/.*/office\.js$"),
        lambda route: route.fulfill(body=STUB, content_type="text/javascript"),
    )
    page.goto(server.url + "/taskpane.html")
    pane.wait("body[data-ready=true]", timeout=30_000)
    return pane


def kpi_new(tmp_path: Path, business_type: str, language: str, as_of: str, *extra: str) -> Path:
    """The workbook the `kpi new` command writes."""
    path = tmp_path / f"{business_type}_{language}.xlsx"
    assert KPI
    subprocess.run(
        [KPI, "new", business_type, "--lang", language, "--as-of", as_of, "-o", str(path), *extra],
        check=True,
        capture_output=True,
    )
    return path


def assert_report_cells_are_kpi_reports(
    cells: Mapping[tuple[int, int], Any], path: Path, rel: float | None = None
) -> Report:
    """The report sheet's cells ((row, column): value, as Office.js holds
    them) are what `kpi report` computes from the file at ``path``, but for
    the time of the refresh; ``rel``: the relative difference a number may
    have (Pyodide's floating point may differ in the last bits of a sum).
    Returns that report."""
    expected = make_report(path)
    checked = 0
    for r, row in enumerate(sheet_values(expected), start=1):
        for c, value in enumerate(row, start=1):
            if (r, c) == (3, 2):
                continue  # the time of the refresh
            got = cells.get((r, c), "")
            if value is None:
                assert got == "", (r, c)
            elif rel is not None and isinstance(value, float):
                assert got == pytest.approx(value, rel=rel), (r, c, got, value)
                checked += 1
            else:
                assert got == excel_value(value), (r, c, got, value)
                checked += 1
    assert checked > 50
    return expected


def sync_summary(syncs: Sequence[Mapping[str, int]]) -> tuple[int, int]:
    """Of a refresh's Office.js syncs (the bytes of each one's request and
    response): the largest request or response, and how many syncs read
    cells (had a response)."""
    largest = max(max(sync["request"], sync["response"]) for sync in syncs)
    reading = sum(1 for sync in syncs if sync["response"] > 0)
    return largest, reading
