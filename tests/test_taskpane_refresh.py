"""The task pane's "Refresh report" at a real shop's size, in headless Chromium.

A real `kpi serve` answers; office.js is the in-memory workbook of
tests/officejs_stub.js, which refuses, as Excel on the web does, every sync
whose request or response passes 5 MB and every range over 5 million cells.
The workbook is the file of `kpi new celebrity_video --rows 100000`, loaded
into the stub; the report the pane writes is compared with `kpi report`'s
on the same file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from addin.recipes import tables_for
from addin.report.offline import make_report
from addin.report.pane import MAX_SYNC_BYTES
from tests.addin_support import Server, running_server
from tests.pane_support import stub_state
from tests.taskpane_support import (
    OFFICE_JS_LIMIT,
    WORDS,
    Pane,
    assert_report_cells_are_kpi_reports,
    kpi_new,
    open_pane,
    sync_summary,
)


def load(pane: Pane, state_json: str) -> None:
    pane.page.evaluate("(text) => officeStub.load(text)", state_json)


def refresh(pane: Pane) -> str:
    """Click "Refresh the report"; the error shown, or ''."""
    pane.page.click("[data-tab=refresh]")
    pane.page.click("#refresh-button")
    pane.wait("#refresh-done:not(.d-none)", "#global-error-alert:not(.d-none)", timeout=600_000)
    return pane.error()


def report_cells(pane: Pane, name: str) -> dict[tuple[int, int], Any]:
    dump = pane.dump(skip=[s for s in sheet_names(pane) if s != name])
    sheet = next(s for s in dump["sheets"] if s["name"] == name)
    return {(row, column): value for row, column, value, _, _ in sheet["cells"]}


def sheet_names(pane: Pane) -> list[str]:
    return pane.page.evaluate("officeStub.sheetNames()")  # type: ignore[no-any-return]


def assert_report_is_kpi_reports(pane: Pane, path: Path) -> None:
    """The report sheet in the pane's workbook is `kpi report`'s on ``path``."""
    cells = report_cells(pane, make_report(path).sheet_name)
    assert_report_cells_are_kpi_reports(cells, path)


def sync_sizes(pane: Pane) -> list[dict[str, int]]:
    return pane.page.evaluate("officeStub.syncLog")  # type: ignore[no-any-return]


def test_refresh_of_100000_orders_reads_in_chunks_under_the_cap(
    server: Server, browser: Any, large_shop: tuple[Path, str]
) -> None:
    path, state_json = large_shop
    pane = open_pane(browser, server)
    load(pane, state_json)
    requests: list[tuple[str, int, int]] = []
    pane.page.on(
        "response",
        lambda response: (
            requests.append(
                (
                    response.url.split(server.url)[1],
                    len(response.request.post_data_buffer or b""),
                    len(response.body()),
                )
            )
            if "/taskpane/refresh" in response.url
            else None
        ),
    )
    # What the progress bar says, as it says it.
    pane.page.evaluate(
        """() => {
          globalThis.stepsShown = [];
          const step = document.getElementById("refresh-step");
          new MutationObserver(() => stepsShown.push(step.textContent))
            .observe(step, { childList: true, characterData: true, subtree: true });
        }"""
    )
    assert refresh(pane) == ""
    assert pane.page.inner_text("#refresh-done") == WORDS["en"]["refreshed"]
    assert_report_is_kpi_reports(pane, path)
    shown = pane.page.evaluate("stepsShown")
    rows = [text for text in shown if text.startswith("Rows read: ")]
    # Every data row of the tables the KPIs read (orders, customers, answers, celebrities).
    total = sum(
        table_rows(table["address"])
        for sheet in json.loads(state_json)["sheets"]
        for table in sheet["tables"]
        if table["name"] in tables_for("celebrity_video")
    )
    assert total > 100_000
    assert rows[0] == f"Rows read: 0 of {total:,}"
    assert rows[-1] == f"Rows read: {total:,} of {total:,}"
    assert len(rows) >= 6
    assert shown[-1] == WORDS["en"]["refresh_writing"]
    syncs = sync_sizes(pane)
    largest, reading = sync_summary(syncs)
    print(
        f"\n100,000 orders: {len(syncs)} syncs ({reading} reading cells), "
        f"the largest {largest:,} bytes"
    )
    assert largest < MAX_SYNC_BYTES < OFFICE_JS_LIMIT
    # The orders alone are more than one sync takes: they came in several.
    reads = [sync["response"] for sync in syncs if sync["response"] > 100_000]
    assert len(reads) >= 3
    # One plan, then one request with every column: nothing kept on the server between them.
    assert [url for url, _, _ in requests] == ["/taskpane/refresh-plan", "/taskpane/refresh"]
    body = requests[-1][1]
    print(f"the refresh request: {body:,} bytes; its answer {requests[-1][2]:,} bytes")
    # The report took the place of no sheet (there was none): it is last, and
    # no sheet of the writing is left.
    names = sheet_names(pane)
    assert names[-1] == "Report"
    assert not [name for name in names if name.startswith("~")]
    pane.check_clean()


def test_the_whole_book_read_of_xlwings_fails_at_that_size(
    server: Server, browser: Any, large_shop: tuple[Path, str]
) -> None:
    """What the pane did before: xlwings' runPython reads every sheet's values
    and number formats in one sync, which Excel on the web (and the stub) refuses."""
    _, state_json = large_shop
    pane = open_pane(browser, server)
    load(pane, state_json)
    error = pane.page.evaluate(
        """async () => {
          try {
            await Excel.run(async (context) => { await xlwings.getBookData({}, context); });
            return "";
          } catch (error) { return `${error.code}: ${error.message}`; }
        }"""
    )
    assert error.startswith("ResponsePayloadSizeLimitExceeded: "), error
    print(f"\nxlwings' whole-book read at 100,000 orders: {error}")
    pane.problems.clear()


def assert_same_dump(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert [s["name"] for s in got["sheets"]] == [s["name"] for s in expected["sheets"]]
    for sheet, wanted in zip(got["sheets"], expected["sheets"], strict=True):
        for key in wanted:
            assert sheet[key] == wanted[key], (sheet["name"], key)
    assert got == expected


def table_rows(address: str) -> int:
    """The data rows of a table at ``address`` ("A1:F100001"), its header left out."""
    first, last = (int(re.sub(r"[A-Z$]", "", end)) for end in address.split(":"))
    return last - first


def has_table(sheet: dict[str, Any], name: str) -> bool:
    return any(table["name"] == name for table in sheet["tables"])


def small_shop(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    path = kpi_new(tmp_path, "celebrity_video", "fr", "2026-11-15")
    return path, stub_state(path)


def test_a_chunk_that_fails_leaves_the_report_as_it_was(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    path, state = small_shop(tmp_path)
    pane = open_pane(browser, server, "fr-FR")
    load(pane, json.dumps(state))
    assert refresh(pane) == ""
    assert_report_is_kpi_reports(pane, path)
    before = pane.dump()
    # Excel fails the read of the Orders' 700th row: the pane says what failed,
    # the report is untouched.
    orders = next(sheet["name"] for sheet in state["sheets"] if has_table(sheet, "Orders"))
    pane.page.evaluate("(sheet) => { officeStub.fault = {read: {sheet, row: 700}}; }", orders)
    sentence, detail = refresh(pane).splitlines()
    assert sentence.startswith("La lecture du tableau Orders, lignes 1 à "), sentence
    assert sentence.endswith("La feuille du rapport est restée telle quelle."), sentence
    assert detail.startswith("Détail\u00a0: "), detail
    assert_same_dump(pane.dump(), before)
    # Excel fails a write of the new report: the sheet being written goes, the old stays.
    pane.page.evaluate("officeStub.fault = {write: '~Rapport'}")
    sentence, detail = refresh(pane).splitlines()
    assert sentence == WORDS["fr"]["refresh_write_failed"]
    assert_same_dump(pane.dump(), before)
    pane.page.evaluate("officeStub.fault = null")
    assert refresh(pane) == ""
    assert sheet_names(pane) == [s["name"] for s in before["sheets"]]
    assert_report_is_kpi_reports(pane, path)
    assert pane.page.evaluate("officeStub.missing") == []
    pane.problems.clear()  # the failures' console errors, asked for


@pytest.mark.parametrize("display_language", ["en-US", "fr-FR", "nl-NL"])
def test_a_failure_is_told_whole_in_the_panes_language(
    server: Server, browser: Any, tmp_path: Path, display_language: str
) -> None:
    """Excel fails a read, then a write: the pane's sentence is whole in its
    language, as templates/taskpane.toml words it, and what Excel or xlwings
    said (in English) comes on a line of its own after the detail label,
    never inside the sentence, with no doubled full stop."""
    language = display_language.split("-", maxsplit=1)[0]
    words = WORDS[language]
    label, _ = words["detail"].split("{message}")
    _, state = small_shop(tmp_path)  # a French workbook: its report sheet is Rapport
    orders = next(sheet["name"] for sheet in state["sheets"] if has_table(sheet, "Orders"))
    pane = open_pane(browser, server, display_language)
    load(pane, json.dumps(state))
    read_failed = words["refresh_read_failed"].split("{first}")[0].replace("{table}", "Orders")
    for fault, expected in (
        (f"{{read: {{sheet: {json.dumps(orders)}, row: 2}}}}", read_failed),
        ("{write: '~Rapport'}", words["refresh_write_failed"]),
    ):
        pane.page.evaluate(f"officeStub.fault = {fault}")
        shown = refresh(pane)
        sentence, detail = shown.splitlines()
        assert sentence.startswith(expected), shown
        assert "{" not in sentence
        assert "{message}" not in words["refresh_read_failed"] + words["refresh_write_failed"]
        # What Excel said: on its own line, after the label, whole.
        assert detail.startswith(label), shown
        said = detail.removeprefix(label)
        assert said, shown
        assert said not in sentence
        assert not re.search(r"[.:;!?]\s*[.:;!?]", sentence), sentence
        assert not re.search(r"\.\.(?!\.)", shown), shown
    pane.page.evaluate("officeStub.fault = null")
    pane.problems.clear()  # the failures' console errors, asked for


def test_cells_longer_than_their_kind_are_read_in_smaller_chunks(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    """Order ids of 6,000 characters: the first chunk, sized from the kinds,
    is refused by Excel as too large; the pane reads it again in halves."""
    path, state = small_shop(tmp_path)
    orders = next(sheet for sheet in state["sheets"] if has_table(sheet, "Orders"))
    for row in orders["rows"][1:]:
        row[0] = f"{row[0]}-{'x' * 6000}"
    pane = open_pane(browser, server, "fr-FR")
    load(pane, json.dumps(state))
    assert refresh(pane) == ""
    syncs = sync_sizes(pane)
    refused = [s for s in syncs if s["response"] > OFFICE_JS_LIMIT]
    # The first try, refused; then read again in smaller chunks, which passed.
    assert len(refused) == 1
    assert syncs.index(refused[0]) < len(syncs) - 1
    assert_report_is_kpi_reports(pane, path)
    pane.problems.clear()


def test_a_workbook_without_a_table_gets_a_message_and_no_sheet(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    _, state = small_shop(tmp_path)
    for sheet in state["sheets"]:
        sheet["tables"] = [t for t in sheet["tables"] if t["name"] != "Survey"]
    pane = open_pane(browser, server)
    load(pane, json.dumps(state))
    error = refresh(pane)
    assert error.startswith("It did not work: this workbook: the celebrity_video report needs"), (
        error
    )
    assert "Survey" in error
    assert sheet_names(pane) == [sheet["name"] for sheet in state["sheets"]]
    pane.problems.clear()


def test_refresh_requests_that_are_not_the_panes_get_a_message(
    server: Server, tmp_path: Path
) -> None:
    from addin.report.pane import refresh_plan  # noqa: PLC0415
    from tests.pane_support import pane_request  # noqa: PLC0415

    _, state = small_shop(tmp_path)
    good = pane_request(state, refresh_plan)
    status, _, body = server.request("POST", "/taskpane/refresh-plan", good["structure"])
    assert status == 200
    assert json.loads(body) == refresh_plan(good["structure"])
    orders = good["columns"]["Orders"]
    cases: list[tuple[Any, str]] = [
        ([1, 2], "refresh_report: the request is not a JSON object"),
        (
            {**good, "structure": {"sheets": []}},
            "refresh_report: the structure has no list of sheets",
        ),
        ({**good, "columns": []}, "refresh_report: columns is not an object of tables"),
        (
            {**good, "columns": {**good["columns"], "Orders": {**orders, "amount": [1.0]}}},
            "refresh_report: table Orders, column amount: 1 values; expected a list of",
        ),
        (
            {
                **good,
                "columns": {
                    **good["columns"],
                    "Orders": {**orders, "amount": [{"x": 1}, *orders["amount"][1:]]},
                },
            },
            "refresh_report: table Orders, column amount: value 1 is {'x': 1}; expected text",
        ),
        (
            {**good, "named": {"PERIOD": {"a": 1}}},
            "refresh_report: the named cell PERIOD: value 1 is {",
        ),
        ({**good, "named": {"PERIOD": [["2026-13"]]}}, "this workbook: the named cell PERIOD is"),
    ]
    for request, expected in cases:
        status, _, body = server.request("POST", "/taskpane/refresh", request)
        assert status == 400, (expected, body[:200])
        assert json.loads(body)["detail"].startswith(expected), (expected, body[:300])
    status, _, body = server.request(
        "POST", "/taskpane/refresh-plan", {"sheets": ["A"], "tables": 3}
    )
    assert status == 400
    assert json.loads(body)["detail"] == "refresh_report: tables is not an object of tables"


def test_a_refresh_over_the_servers_body_limit_gets_a_sentence() -> None:
    from tests.addin_support import server_env  # noqa: PLC0415

    with running_server(env=server_env(KPI_MAX_BODY_MB="1")) as small:
        body = {"structure": {"sheets": ["Orders"]}, "columns": {"x": ["y" * 100] * 20_000}}
        status, _, answer = small.request("POST", "/taskpane/refresh", body)
    assert status == 413
    detail = json.loads(answer)["detail"]
    assert detail.startswith("refresh_report: the columns the report reads make 2.0 MB; "), detail
    assert "KPI_MAX_BODY_MB" in detail


def test_the_stub_refuses_what_excel_on_the_web_refuses(server: Server, browser: Any) -> None:
    """Reads and writes alike: over 5 MB in one sync, over 5 million cells in one range."""
    pane = open_pane(browser, server)
    said = pane.page.evaluate(
        """async () => {
          const attempt = async (work) => {
            try { await Excel.run(work); return "passed"; }
            catch (error) { return `${error.code || ""}: ${error.message}`; }
          };
          const big = Array.from({ length: 60000 }, (_, i) => [`${i}`.padStart(90, "x")]);
          const sheet = (context) => context.workbook.worksheets.getItem("Sheet1");
          return {
            write: await attempt(async (context) => {
              sheet(context).getRange("A1:A60000").values = big;
              await context.sync();
            }),
            writtenInTwo: await attempt(async (context) => {
              sheet(context).getRange("A1:A30000").values = big.slice(0, 30000);
              await context.sync();
              sheet(context).getRange("A30001:A60000").values = big.slice(30000);
              await context.sync();
            }),
            read: await attempt(async (context) => {
              sheet(context).getRange("A1:A60000").load("values");
              await context.sync();
            }),
            readInTwo: await attempt(async (context) => {
              sheet(context).getRange("A1:A30000").load("values");
              await context.sync();
              sheet(context).getRange("A30001:A60000").load("values");
              await context.sync();
            }),
            cells: await attempt(async (context) => {
              sheet(context).getRangeByIndexes(0, 0, 5000001, 1).load("values");
              await context.sync();
            }),
          };
        }"""
    )
    assert said["write"].startswith("RequestPayloadSizeLimitExceeded: "), said
    assert said["writtenInTwo"] == "passed"
    assert said["read"].startswith("ResponsePayloadSizeLimitExceeded: "), said
    assert said["readInTwo"] == "passed"
    assert "a range of 5000001 cells is over Excel's 5,000,000" in said["cells"]
    pane.problems.clear()
