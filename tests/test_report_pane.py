"""The refresh inside Excel computes what `kpi report` computes, for every
business type: the columns the plan names, read as Office.js gives them
(values only, dates as serial numbers), give the same report sheet."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import kpi_engine
from addin.ooxml.package import ReportError
from addin.recipes import tables_for
from addin.report.offline import make_report
from addin.report.pane import (
    CHUNK_BYTES,
    MAX_RANGE_CELLS,
    batches,
    cell_bytes,
    refresh_plan,
    report_from_pane,
    temporary_name,
)
from addin.starter import StarterOptions, new_workbook
from tests.pane_support import pane_request, stub_state
from tests.report_support import FIXED_CLOCK, sheet_values


def clock() -> dt.datetime:
    return FIXED_CLOCK


@pytest.mark.parametrize("language", kpi_engine.LANGUAGES)
def test_every_business_type_gives_kpi_reports_report(
    any_type: kpi_engine.BusinessType, language: str, tmp_path: Path
) -> None:
    path = tmp_path / "shop.xlsx"
    new_workbook(StarterOptions(any_type.id, language, as_of=dt.date(2026, 11, 15)), path)
    request = pane_request(stub_state(path), refresh_plan)
    plan = refresh_plan(request["structure"])
    assert plan["business_type"] == any_type.id
    # Only the recipes' tables and columns, each chunk under the bytes and cells of one read.
    wanted = tables_for(any_type.id)
    assert [table["name"] for table in plan["tables"]] == list(wanted)
    for table in plan["tables"]:
        columns = wanted[table["name"]]
        assert [c["id"] for c in table["columns"]] == [c.id for c in columns]
        per_row = sum(cell_bytes(c) for c in columns) + 2
        assert table["chunk_rows"] * per_row <= CHUNK_BYTES
        assert table["chunk_rows"] * len(columns) <= MAX_RANGE_CELLS
    report, _ = report_from_pane(request, clock)
    assert sheet_values(report) == sheet_values(make_report(path, clock=clock))


def test_the_temporary_sheet_name_is_free_and_short() -> None:
    assert temporary_name("Report", ["Orders", "Report"]) == "~Report"
    assert temporary_name("Report", ["~report", "Report"]) == "Report (2)"
    long = "R" * 31
    name = temporary_name(long, [long, "~" + long[:30]])
    assert len(name) <= 31
    assert name.lower() not in {long.lower(), ("~" + long[:30]).lower()}


def test_actions_are_cut_in_batches_under_the_limit() -> None:
    actions = [{"func": "setValues", "values": [["x" * 100]] * n} for n in range(1, 40)]
    cut = batches(actions, limit=5_000)
    assert [a for batch in cut for a in batch] == actions
    assert len(cut) > 5
    for batch in cut:
        assert sum(len(json.dumps(a, separators=(",", ":"))) + 1 for a in batch) <= 5_000
    with pytest.raises(ReportError, match="one action of the report takes 6,"):
        batches([{"func": "setValues", "values": [["x" * 6_000]]}], limit=5_000)
