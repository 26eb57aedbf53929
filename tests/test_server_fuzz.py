"""No HTTP 500 for any input: Hypothesis throws Office.js-shaped bodies at a
real `kpi serve` process (values, rich values, nesting, extremes, wrong
types, every function, the task pane's script) and each answer must be a
200 with finite Excel values or a 400 with a message.

`make test` runs KPI_SERVER_FUZZ_EXAMPLES (default 300) bodies of each kind;
`make fuzz` runs more.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from addin import functions
from tests.addin_support import XLWINGS_VERSION, Server

pytestmark = pytest.mark.server

EXAMPLES = int(os.environ.get("KPI_SERVER_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("KPI_FUZZ_SEED"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: make fuzz's seed, so that `make fuzz SEED=<seed>` repeats a run.
SEED = int(os.environ.get("KPI_FUZZ_SEED") or 0)
ERROR_TYPES = {"Div0", "NotAvailable", "Name", "Null", "Num", "Ref", "Value"}


extreme_numbers = st.sampled_from(
    [0.0, -0.0, 1e308, -1e308, 5e-324, 1e300, 2.0**53, 2.0**63, 10.0**20, 1 - 2**-53, 0.5, 9.0]
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**64),
    extreme_numbers,
    st.integers(min_value=0, max_value=10).map(float),
    st.integers(min_value=1, max_value=2_958_465).map(float),  # Excel's dates
)
texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "#N/A",
            "#DIV/0!",
            "2024-06",
            "9999-12",
            "0000-01",
            "2024-02-30",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-14:00",
            "1e400",
            "nan",
            "inf",
            "celebrity_video",
            "nps",
            "fr",
        ]
    ),
    st.text(min_size=1000, max_size=5000),
)
scalars = st.one_of(numbers, texts, st.booleans(), st.none())
rich_values = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("FormattedNumber"), "basicValue": numbers, "numberFormat": texts}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("Error"),
            "basicValue": st.sampled_from(["#N/A", "#DIV/0!", "#VALUE!", "#BOGUS"]),
            "errorType": st.sampled_from(sorted(ERROR_TYPES)),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("Entity"), "text": texts},
        optional={"basicValue": scalars, "properties": st.dictionaries(texts, scalars)},
    ),
    st.dictionaries(st.sampled_from(["basicValue", "type", "x"]), scalars | st.lists(scalars)),
    st.fixed_dictionaries({"basicValue": st.dictionaries(texts, scalars)}),
)
cells = st.one_of(scalars, rich_values, st.lists(scalars, max_size=3))
matrices = st.one_of(
    st.lists(st.lists(cells, min_size=1, max_size=4), min_size=1, max_size=30),
    st.lists(st.lists(numbers, min_size=1, max_size=1), min_size=1, max_size=60),
    st.lists(cells, max_size=5),
    cells,
    st.none(),
)
function_names = st.one_of(st.sampled_from(sorted(functions.EXCEL_FUNCTIONS)), texts, numbers)
runtimes = st.one_of(st.sampled_from(["1.4", "1.3", "1.1", "1.10", "2.0"]), texts, numbers)


@st.composite
def calls(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {
        "client": "Office.js",
        "func_name": draw(function_names),
        "args": draw(st.one_of(st.lists(matrices, max_size=5), matrices)),
        "caller_address": "[Book1.xlsx]Sheet1!B2",
        "session_id": "fuzz",
        "culture_info_name": draw(st.sampled_from(["en-US", "fr-FR", "nl-NL", ""])),
        "date_format": "M/d/yyyy",
        "version": XLWINGS_VERSION,
        "runtime": draw(runtimes),
    }
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        body.pop(key, None)
    return draw(st.one_of(st.just(body), st.just(body), scalars, st.lists(scalars, max_size=3)))


def _is_excel_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return value.get("type") == "Error" and value.get("errorType") in ERROR_TYPES
    return isinstance(value, str | bool | int)


def check(status: int, answer: bytes, body: Any) -> None:
    assert status in (200, 400), (status, answer[:300], json.dumps(body)[:500])
    data = json.loads(answer)
    if status == 400:
        assert isinstance(data["detail"], str)
        assert data["detail"]
        assert "Traceback" not in data["detail"]
        assert len(data["detail"]) < 2000, data["detail"][:300]
        return
    result = data["result"]
    assert isinstance(result, list)
    assert all(isinstance(row, list) for row in result)
    assert all(_is_excel_value(cell) for row in result for cell in row), result


@seed(SEED)
@FUZZ
@given(body=calls())
def test_no_custom_function_call_gives_a_500(server: Server, body: Any) -> None:
    payload = json.dumps(body, allow_nan=False).encode()
    status, _, answer = server.request("POST", "/xlwings/custom-functions-call", payload)
    check(status, answer, body)


sheets = st.lists(
    st.fixed_dictionaries(
        {"name": texts, "values": st.lists(st.lists(scalars, max_size=4), max_size=6)},
        optional={
            "pictures": st.lists(scalars, max_size=1),
            "tables": st.lists(scalars, max_size=1),
        },
    ),
    max_size=3,
)
books = st.one_of(
    st.fixed_dictionaries(
        {
            "client": st.just("Office.js"),
            "version": st.just(XLWINGS_VERSION),
            "book": st.fixed_dictionaries(
                {
                    "name": texts,
                    "active_sheet_index": st.integers(min_value=-1, max_value=3),
                    "selection": st.sampled_from(["A1", "B2:C3", "", "ZZZ0"]),
                }
            ),
            "names": st.lists(scalars, max_size=2),
            "sheets": sheets,
        }
    ),
    st.dictionaries(st.sampled_from(["book", "sheets", "client", "version", "names"]), scalars),
    scalars,
)


@seed(SEED)
@settings(FUZZ, max_examples=max(20, EXAMPLES // 5))
@given(book=books)
def test_no_refresh_report_call_gives_a_500(server: Server, book: Any) -> None:
    payload = json.dumps(book, allow_nan=False).encode()
    status, _, answer = server.request(
        "POST", "/xlwings/custom-scripts-call/refresh_report", payload
    )
    assert status in (200, 400), (status, answer[:300])
    if status == 400:
        assert json.loads(answer)["detail"]
