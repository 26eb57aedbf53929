"""xlwings' own Office.js custom-functions client, served by `kpi serve`, run
in Node with the Office.js globals stubbed, calling the functions as Excel
does: values, #VALUE! messages and #DIV/0! results arrive as Excel shows them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from addin import functions
from tests.addin_support import (
    example_args,
    office_js_argument,
    run_node,
    running_server,
    undefined_args,
)
from tests.conftest import ALL_KPIS, ROOT

pytestmark = pytest.mark.server

CLIENT = ROOT / "tests" / "node" / "office_js_client.mjs"


def run_client(base_url: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    return run_node(CLIENT, base_url, stdin=json.dumps(calls))  # type: ignore[no-any-return]


def test_xlwings_client_in_node_calls_every_function() -> None:
    calls: list[dict[str, Any]] = []
    expected: list[Any] = []
    for kpi in ALL_KPIS:
        example = kpi.examples[0]
        args = [office_js_argument(a) for a in example_args(kpi, example)]
        calls.append({"id": kpi.id.upper(), "args": args})
        expected.append(("value", example))
        if kpi.kind == "aggregate":
            # A total given as TRUE is a bad argument: #VALUE! with the message.
            bad = [office_js_argument(a) for a in example_args(kpi, example)]
            bad[0][0] = [True]
            calls.append({"id": kpi.id.upper(), "args": bad})
            expected.append(("error", f"{kpi.id}: {kpi.arguments[0].name}"))
        undefined = undefined_args(kpi)
        if undefined is not None:
            calls.append({"id": kpi.id.upper(), "args": [office_js_argument(a) for a in undefined]})
            expected.append(("div0", None))
    calls.append({"id": "BENCHMARK_BAND", "args": [[["nps"]], [[75]], [["celebrity_video"]]]})
    expected.append(("exact", [[functions.benchmark_band("nps", 75, "celebrity_video")]]))
    calls.append(
        {"id": "BENCHMARK_BAND", "args": [[["nps"]], [[35]], [["celebrity_video"]], [["nl"]]]}
    )
    expected.append(("exact", [[functions.benchmark_band("nps", 35, "celebrity_video", "nl")]]))
    calls.append({"id": "KPI_LIST", "args": [[["social_media"]], None]})
    expected.append(("exact", functions.kpi_list("social_media", "en")))

    with running_server() as server:
        out = run_client(server.url, calls)

    assert sorted(out["associated"]) == sorted(n.upper() for n in functions.EXCEL_FUNCTIONS)
    # One request per call: a #VALUE! (HTTP 400) is never retried.
    assert out["requests"] == len(calls)
    assert len(out["results"]) == len(calls)
    kinds = {kind for kind, _ in expected}
    assert kinds == {"value", "error", "div0", "exact"}
    for call, (kind, want), got in zip(calls, expected, out["results"], strict=True):
        if kind == "value":
            assert want.matches(got["value"][0][0]), (call, got)
        elif kind == "error":
            assert got["error"]["code"] == "#VALUE!", (call, got)
            assert got["error"]["message"].startswith(want), (call, got)
            assert "is TRUE; expected " in got["error"]["message"]
        elif kind == "div0":
            assert got == {"value": [[{"type": "Error", "errorType": "Div0"}]]}, call
        else:
            assert got == {"value": want}, call
