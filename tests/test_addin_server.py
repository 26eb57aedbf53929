"""`kpi serve` as a real process on 127.0.0.1, driven over real HTTP with the
request bodies that xlwings' Office.js client sends."""

from __future__ import annotations

import json
import math

import pytest

import kpi_engine
from addin import functions
from tests.addin_support import (
    Server,
    example_args,
    kpi_process,
    office_js_argument,
    running_server,
    server_env,
    undefined_args,
)
from tests.conftest import ALL_KPIS, ROOT, kpi_id

pytestmark = pytest.mark.server

DIV0 = {"type": "Error", "errorType": "Div0"}


def test_without_a_licence_key_serve_explains_and_exits() -> None:
    env = server_env()
    del env["XLWINGS_LICENSE_KEY"]
    result = kpi_process("serve", "--port", "1", env=env, timeout=60)
    assert result.returncode == 2
    assert "XLWINGS_LICENSE_KEY=noncommercial" in result.stderr
    assert "commercial use needs a paid licence key" in result.stderr
    assert "never sets a key" in result.stderr


def test_with_an_invalid_licence_key_serve_explains_and_exits() -> None:
    env = server_env(XLWINGS_LICENSE_KEY="not-a-key")
    result = kpi_process("serve", "--port", "1", env=env, timeout=60)
    assert result.returncode == 2
    assert "needs a valid xlwings licence key" in result.stderr
    assert "xlwings says: Invalid xlwings license key." in result.stderr
    assert "Traceback" not in result.stderr


def test_metadata_lists_every_function_with_its_descriptions(server: Server) -> None:
    status, content_type, body = server.request("GET", "/xlwings/custom-functions-meta.json")
    assert status == 200
    assert content_type.startswith("application/json")
    meta = json.loads(body)
    by_id = {function["id"]: function for function in meta["functions"]}
    assert set(by_id) == {name.upper() for name in functions.EXCEL_FUNCTIONS}
    for kpi in ALL_KPIS:
        entry = by_id[kpi.id.upper()]
        assert entry["description"] == kpi.summary
        assert [p["name"] for p in entry["parameters"]] == [a.name for a in kpi.arguments]
        assert [p["description"] for p in entry["parameters"]] == [
            a.description for a in kpi.arguments
        ]
        assert [p.get("optional", False) for p in entry["parameters"]] == [
            a.optional for a in kpi.arguments
        ]


def test_code_associates_every_function_with_xlwings_client(server: Server) -> None:
    status, content_type, body = server.request("GET", "/xlwings/custom-functions-code.js")
    assert status == 200
    assert content_type.startswith("text/javascript")
    code = body.decode()
    assert "async function makeServerCall(body" in code  # xlwings' own client
    assert '"/xlwings/custom-functions-call"' in code
    assert "placeholder_xlwings_version" not in code
    assert "placeholder_custom_functions_call_path" not in code
    for name in functions.EXCEL_FUNCTIONS:
        assert f'CustomFunctions.associate("{name.upper()}", kpi_function_{name});' in code


def test_manifest_names_the_add_in_and_the_kpi_namespace(server: Server) -> None:
    status, content_type, body = server.request("GET", "/manifest.xml")
    assert status == 200
    assert "xml" in content_type
    xml = body.decode()
    assert '<DisplayName DefaultValue="KPI add-in" />' in xml
    assert '<bt:String id="Functions.Namespace" DefaultValue="KPI" />' in xml
    assert f"{server.url}/xlwings/custom-functions-meta.json" in xml
    assert f"{server.url}/taskpane.html" in xml


def test_outside_production_the_namespace_carries_the_environment() -> None:
    with running_server(env=server_env(KPI_ENVIRONMENT="dev")) as dev:
        _, _, body = dev.request("GET", "/manifest.xml")
    xml = body.decode()
    assert '<bt:String id="Functions.Namespace" DefaultValue="KPI_DEV" />' in xml
    assert '<DisplayName DefaultValue="KPI add-in [dev]" />' in xml


def test_task_pane_has_its_actions_and_the_client_scripts(server: Server) -> None:
    status, _, body = server.request("GET", "/taskpane.html")
    assert status == 200
    html = body.decode()
    for button in ("start-button", "refresh-button", "insert-button"):
        assert f'id="{button}"' in html
    for path in (
        "/static/js/config.js",
        "/static/js/custom-scripts/index.js",
        "/static/vendor/bootstrap-xlwings/5.3.3-2/dist/bootstrap-xlwings.min.css",
        "/web/taskpane.js",
        "/web/taskpane.css",
        "/xlwings/custom-functions-code.js",
    ):
        assert path in html
        assert server.request("GET", path)[0] == 200
    office_js = html.split('src="/static/vendor/office-js/')[1].split('"')[0]
    assert server.request("GET", f"/static/vendor/office-js/{office_js}")[0] == 200


def test_custom_scripts_come_from_the_scripts_module(server: Server) -> None:
    status, _, body = server.request("GET", "/xlwings/custom-scripts-meta.json")
    assert status == 200
    assert [entry["function_name"] for entry in json.loads(body)] == [
        "refresh_report",
        "start_workbook",
    ]
    status, _, body = server.request("POST", "/xlwings/custom-scripts-call/no_such_script", {})
    assert status == 400
    assert json.loads(body)["detail"] == (
        "Custom script 'no_such_script' doesn't exist yet: define it with @script in addin.scripts"
    )


@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_every_example_through_the_server(server: Server, kpi: kpi_engine.KPI) -> None:
    for example in kpi.examples:
        args = [office_js_argument(a) for a in example_args(kpi, example)]
        status, body = server.call(kpi.id, args)
        assert status == 200, body
        value = body["result"][0][0]
        assert example.matches(value), (example, value)


@pytest.mark.parametrize("kpi", [k for k in ALL_KPIS if k.kind == "aggregate"], ids=kpi_id)
def test_bad_input_is_value_error_with_the_engine_message(
    server: Server, kpi: kpi_engine.KPI
) -> None:
    args = [office_js_argument(a) for a in example_args(kpi, kpi.examples[0])]
    # TRUE is no valid first argument of any KPI computed from totals.
    args[0][0] = [True]
    status, body = server.call(kpi.id, args)
    assert status == 400
    assert body["detail"].startswith(f"{kpi.id}: {kpi.arguments[0].name}")
    assert "is TRUE; expected " in body["detail"]
    assert "Traceback" not in body["detail"]


@pytest.mark.parametrize("kpi", [k for k in ALL_KPIS if k.kind == "records"], ids=kpi_id)
def test_cells_that_do_not_count_are_left_out(server: Server, kpi: kpi_engine.KPI) -> None:
    """An error cell, as Office.js sends it, and a blank add nothing to a range."""
    args = [office_js_argument(a) for a in example_args(kpi, kpi.examples[0])]
    error = {"type": "Error", "basicValue": "#N/A", "errorType": "NotAvailable"}
    padded = [[*a, [error], [""]] if isinstance(a, list) and len(a) > 1 else a for a in args]
    assert server.call(kpi.id, padded) == server.call(kpi.id, args)


@pytest.mark.parametrize("kpi", [k for k in ALL_KPIS if undefined_args(k) is not None], ids=kpi_id)
def test_undefined_kpi_is_a_real_div0_error(server: Server, kpi: kpi_engine.KPI) -> None:
    args = [office_js_argument(a) for a in undefined_args(kpi) or []]
    assert server.call(kpi.id, args) == (200, {"result": [[DIV0]]})
    # Before custom functions runtime 1.4 Excel knows errors only as text.
    assert server.call(kpi.id, args, runtime="1.3") == (200, {"result": [["#DIV/0!"]]})


def test_most_kpis_have_an_undefined_case() -> None:
    assert sum(undefined_args(k) is not None for k in ALL_KPIS) >= 30


def test_error_message_names_function_argument_and_value(server: Server) -> None:
    assert server.call("churn_rate", [[[-5.0]], [[100.0]]]) == (
        400,
        {"detail": "churn_rate: churned is -5; expected a whole number of 0 or more"},
    )


def test_shapes_office_js_sends(server: Server) -> None:
    # A one-cell range arrives as [[value]]; a row as one list; blanks as "" or null.
    assert server.call("nps", [[[9.0]]]) == (200, {"result": [[100.0]]})
    assert server.call("nps", [[[10.0, 9.0, 3.0, "", None]]]) == (200, {"result": [[100 / 3]]})
    assert server.call("nps", [[[10.0, 3.0], [None, 7.0]]]) == (200, {"result": [[0.0]]})
    # A date written by xlwings comes back as a formatted number.
    dates = [[{"type": "FormattedNumber", "basicValue": 45446.0, "numberFormat": "m/d/yyyy"}]]
    assert server.call("mau", [[["ann"]], dates, [[45458.0]]]) == (200, {"result": [[1.0]]})
    # An error cell in a range counts as nothing, as in the workbook's formulas.
    error = {"type": "Error", "basicValue": "#N/A", "errorType": "NotAvailable"}
    assert server.call("nps", [[[9.0], [error], [3.0]]]) == (200, {"result": [[0.0]]})


def test_omitted_or_blank_optional_argument_takes_its_default(server: Server) -> None:
    scores = [[10.0], [9.0], [9.0], [3.0], [7.0]]
    default = kpi_engine.nps_margin([10, 9, 9, 3, 7])
    assert server.call("nps_margin", [scores, None]) == (200, {"result": [[default]]})
    assert server.call("nps_margin", [scores, [[""]]]) == (200, {"result": [[default]]})
    status, body = server.call("nps_margin", [scores, [[0.9]]])
    assert status == 200
    assert math.isclose(body["result"][0][0], kpi_engine.nps_margin(scores, 0.9))


def test_benchmark_band(server: Server) -> None:
    assert server.call("benchmark_band", [[["nps"]], [[75.0]], [["celebrity_video"]]]) == (
        200,
        {"result": [[functions.benchmark_band("nps", 75, "celebrity_video")]]},
    )
    status, body = server.call("benchmark_band", [[["nps"]], [[75.0]], [["bakery"]]])
    assert status == 400
    assert body["detail"].startswith("benchmark_band: business_type is 'bakery'; expected one of")


@pytest.mark.parametrize("language", kpi_engine.LANGUAGES)
def test_kpi_list_spills_the_catalogue(server: Server, language: str) -> None:
    for business_type in kpi_engine.BUSINESS_TYPES.values():
        status, body = server.call("kpi_list", [[[business_type.id]], [[language]]])
        assert status == 200
        rows = body["result"]
        assert [row[0] for row in rows[1:]] == [entry.id for entry in business_type.kpis]
        assert [row[1] for row in rows[1:]] == [e.title[language] for e in business_type.kpis]
        assert all(len(row) == 4 for row in rows)
    status, body = server.call("kpi_list", [None, None])
    assert status == 200
    assert [row[0] for row in body["result"][1:]] == list(kpi_engine.KPIS)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"func_name": "no_such_kpi", "args": []}, "there is no function named 'no_such_kpi'"),
        ({"func_name": "nps"}, "nps: the request has no list of arguments"),
        ({"func_name": "nps", "args": [[[1.0]], [[2.0]]]}, "nps: takes at most 1 arguments"),
        ({"func_name": "churn_rate", "args": [[[1.0]]]}, "churn_rate: missing arguments"),
        ([1, 2], "the request body must be a JSON object"),
    ],
)
def test_malformed_calls_are_400_not_500(server: Server, body: object, message: str) -> None:
    status, _, answer = server.request("POST", "/xlwings/custom-functions-call", body)
    assert status == 400
    assert json.loads(answer)["detail"].startswith(message)


def test_invalid_json_is_400(server: Server) -> None:
    status, _, answer = server.request("POST", "/xlwings/custom-functions-call", b"{not json")
    assert status == 400
    assert json.loads(answer)["detail"].startswith("the request body is not valid JSON")


def test_a_million_cell_column(server: Server) -> None:
    scores = [[float(i % 11)] for i in range(1_000_000)]
    status, body = server.call("nps", [scores])
    assert status == 200
    assert body["result"][0][0] == kpi_engine.nps(scores)


def test_task_pane_scripts_are_discovered_and_run() -> None:
    """What the Refresh report button relies on: a @script function of the
    scripts module is listed and runs on the workbook that Office.js sends."""
    env = server_env(KPI_SCRIPTS_MODULE="tests.fixtures.task_pane_scripts", PYTHONPATH=str(ROOT))
    book = {
        "client": "Office.js",
        "version": "0.37.8",
        "book": {"name": "Report.xlsx", "active_sheet_index": 0, "selection": "A1"},
        "names": [],
        "sheets": [{"name": "Report", "values": [["old"]], "pictures": [], "tables": []}],
        "args": ["refreshed"],
    }
    with running_server(env=env) as scripted:
        status, _, body = scripted.request("GET", "/xlwings/custom-scripts-meta.json")
        assert status == 200
        assert [entry["function_name"] for entry in json.loads(body)] == ["stamp_selection"]
        status, _, body = scripted.request(
            "POST", "/xlwings/custom-scripts-call/stamp_selection", book
        )
    assert status == 200, body
    (action,) = json.loads(body)["actions"]
    assert (action["func"], action["values"], action["sheet_position"]) == (
        "setValues",
        [["refreshed"]],
        0,
    )


def test_several_workers_serve_the_same_functions() -> None:
    with running_server("--workers", "2") as workers:
        results = [workers.call("churn_rate", [[[50.0]], [[1000.0]]]) for _ in range(20)]
    assert results == [(200, {"result": [[0.05]]})] * 20
