"""Every starter workbook, recalculated by LibreOffice, equals the engine.

For every business type and language, with sample data and empty: no cell
holds an error, and every KPI value, status and trend value equals what
kpi_engine computes from the same table rows, read back from the file.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import kpi_engine
from addin.recipes import TableRows, recipe_for
from addin.report.model import channel_names, channel_value
from addin.starter import StarterOptions, new_workbook
from addin.starter.build import workbook_words
from kpi_engine._inputs import to_serial
from kpi_engine._labels import labels
from tests.differential import read_recalculated
from tests.libreoffice import convert
from tests.selection import selected_params
from tests.starter_reader import named_value, read_tables

pytestmark = pytest.mark.libreoffice

AS_OF = dt.date(2024, 7, 15)
CASES = [
    (business_type, language, empty)
    for business_type in kpi_engine.BUSINESS_TYPES
    for language in kpi_engine.LANGUAGES
    for empty in (False, True)
]
ERRORS = ("#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#N/A", "#NUM!", "#NULL!", "Err:")


def case_name(business_type: str, language: str, empty: bool) -> str:
    return f"{business_type}_{language}_{'empty' if empty else 'sample'}"


def selected_cases(request: pytest.FixtureRequest) -> list[tuple[str, str, bool]]:
    """The CASES whose test this run selected, in CASES' order."""
    chosen = set(selected_params(request, "business_type", "language", "empty"))
    return [case for case in CASES if case in chosen]


@pytest.fixture(scope="module")
def recalculated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The recalculated workbooks of the cases selected in this run (``-k``
    picks a few: LibreOffice then opens only those)."""
    source = tmp_path_factory.mktemp("starter")
    paths = []
    for business_type, language, empty in selected_cases(request):
        target = source / f"{case_name(business_type, language, empty)}.xlsx"
        new_workbook(StarterOptions(business_type, language, empty=empty, as_of=AS_OF), target)
        paths.append(target)
    out = tmp_path_factory.mktemp("recalculated")
    converted = convert(paths, out)
    return {p.stem: p for p in converted}


def engine_value(
    business_type: str, kpi_id: str, rows: Any, start: float, end: float
) -> float | None:
    try:
        return recipe_for(business_type, kpi_id).compute(rows, start, end)
    except kpi_engine.KPIUndefinedError:
        return None


def assert_same(cell: Any, expected: float | None, where: str) -> None:
    if expected is None:
        assert cell == "-", f"{where}: workbook shows {cell!r}, the engine says undefined"
        return
    assert isinstance(cell, int | float), (
        f"{where}: workbook shows {cell!r}, the engine {expected!r}"
    )
    assert math.isclose(cell, expected, rel_tol=1e-9, abs_tol=1e-12), (
        f"{where}: {cell!r} != engine {expected!r}"
    )


def assert_no_error_cells(book: Any, trend: Any, chart_columns: range) -> None:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if sheet is trend and cell.column in chart_columns:
                    continue  # the charts' copy of the trend: #N/A for no value
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(ERRORS), (
                        f"{sheet.title}!{cell.coordinate} is {cell.value}"
                    )


def assert_trend(trend: Any, business_type: str, rows: Any, chart_columns: range) -> None:
    profile = kpi_engine.get_business_type(business_type)
    for row in range(4, 16):
        month_start = to_serial("test", "month", trend.cell(row, 1).value)
        month_end = to_serial("test", "month", trend.cell(row, 2).value)
        for index, entry in enumerate(profile.kpis):
            expected = engine_value(business_type, entry.id, rows, month_start, month_end)
            assert_same(trend.cell(row, 3 + index).value, expected, f"trend {entry.id} row {row}")
            charted = trend.cell(row, chart_columns[index]).value
            if expected is None:
                assert charted == "#N/A", f"chart of {entry.id} row {row} plots {charted!r}"
            else:
                assert_same(charted, expected, f"chart of {entry.id} row {row}")


@pytest.mark.parametrize(
    ("business_type", "language", "empty"), CASES, ids=[case_name(*c) for c in CASES]
)
def test_recalculated_workbook_equals_engine(
    recalculated: dict[str, Path], business_type: str, language: str, empty: bool
) -> None:
    path = recalculated[case_name(business_type, language, empty)]
    book = load_workbook(path, data_only=True)
    profile = kpi_engine.get_business_type(business_type)
    trend = book[workbook_words()[language]["sheets"]["trend"]]
    chart_columns = range(3 + len(profile.kpis) + 1, 3 + 2 * len(profile.kpis) + 1)
    assert_no_error_cells(book, trend, chart_columns)
    rows: dict[str, Any] = read_tables(book, business_type)
    if "GROSS_MARGIN" in book.defined_names:
        rows["Settings"] = TableRows({"GROSS_MARGIN": [named_value(book, "GROSS_MARGIN")]})
    period = named_value(book, "PERIOD_START")
    assert period.date() == dt.date(2024, 6, 1)
    start = to_serial("test", "period", period)
    end = to_serial("test", "period", named_value(book, "PERIOD_END"))
    ratings = labels(language)["ratings"]
    no_benchmark = workbook_words()[language]["no_benchmark"]
    for entry in profile.kpis:
        value = named_value(book, f"KPI_{entry.id.upper()}")
        expected = engine_value(business_type, entry.id, rows, start, end)
        assert_same(value, expected, f"KPI_{entry.id.upper()}")
        status = named_value(book, f"STATUS_{entry.id.upper()}")
        if expected is None:
            assert status == "-"
        elif entry.bands:
            assert status == ratings[kpi_engine.benchmark_band(entry.id, expected, business_type)]
        else:
            assert status == no_benchmark
        assert empty or expected is not None, (
            f"{entry.id} has no value for the sample's reporting period"
        )
    assert_trend(trend, business_type, rows, chart_columns)
    assert_channels(book, business_type, rows, period.date())
    # Clean sample data and empty tables: every data check counts 0 rows.
    counts = [count for count, _ in read_recalculated(path, business_type, language).notes]
    assert counts == [0] * len(counts)


def assert_channels(book: Any, business_type: str, rows: Any, month: dt.date) -> None:
    """The KPI sheet's table by channel: each cell as the report computes that
    channel's value, the channel read from its column's heading."""
    profile = kpi_engine.get_business_type(business_type)
    per_channel_kpis = [
        e for e in profile.kpis if set(recipe_for(profile.id, e.id).reads) == {"Channels"}
    ]
    if not per_channel_kpis:
        assert "CHANNEL_1" not in book.defined_names
        return
    names = []
    while f"CHANNEL_{len(names) + 1}" in book.defined_names:
        names.append(named_value(book, f"CHANNEL_{len(names) + 1}"))
    assert len(names) == 3, names  # the sample's channels, or the first guess of an empty book
    if channel_names(rows):  # sample data; an empty book starts with a first guess
        assert names == channel_names(rows)
    for entry in per_channel_kpis:
        for number, name in enumerate(names, start=1):
            value = named_value(book, f"KPI_{entry.id.upper()}_CHANNEL_{number}")
            expected = channel_value(business_type, entry.id, rows, month, name)
            assert_same(value, expected, f"{entry.id} for {name}")
