"""`kpi new` over its whole documented range: every --rows up to 500,000 for
every business type and every --as-of from 1903-01-01 to 9999-11-30 give a
workbook, or a one-line refusal that says why; never a traceback.

The dates are covered by building real workbooks (small samples, so the
property test stays cheap) and reading them back with openpyxl; the sizes by
the generator's tables at sizes a test can afford, whose proportions bound
the largest table at 500,000 rows without building it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

import kpi_engine
from addin.cli import main
from addin.starter.build import FIRST_AS_OF, LAST_AS_OF, MAX_ROWS, StarterError, StarterOptions
from addin.starter.sample import MOST_SAMPLE_ROWS, sample_tables

TYPES = sorted(kpi_engine.BUSINESS_TYPES)
#: Excel's rows below a table's header.
EXCEL_DATA_ROWS = 1_048_576 - 1
FIRST_EXCEL_DAY = dt.date(1900, 1, 1)
LAST_EXCEL_DAY = dt.date(9999, 12, 31)


def run_new(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["new", *args])
    # A traceback is an exception the command did not turn into a message.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        result.exception,
    )
    return result.exit_code, result.stdout, result.stderr


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    business_type=st.sampled_from(TYPES),
    as_of=st.dates(min_value=FIRST_AS_OF, max_value=LAST_AS_OF),
    rows=st.integers(min_value=1, max_value=40),
)
@example(business_type="networking", as_of=FIRST_AS_OF, rows=30)
@example(business_type="celebrity_video", as_of=FIRST_AS_OF, rows=30)
@example(business_type="video_marketing", as_of=LAST_AS_OF, rows=30)
@example(business_type="songwriting", as_of=LAST_AS_OF, rows=30)
@example(business_type="social_media", as_of=FIRST_AS_OF, rows=40)
def test_every_as_of_date_in_range_gives_a_workbook_with_dates_excel_holds(
    tmp_path: Path, business_type: str, as_of: dt.date, rows: int
) -> None:
    target = tmp_path / f"{business_type}_{as_of}_{rows}.xlsx"
    code, out, err = run_new(
        business_type,
        "-o",
        str(target),
        "--as-of",
        as_of.isoformat(),
        "--rows",
        str(rows),
        "--force",
    )
    assert code == 0, err
    assert out.strip() == str(target)
    book = load_workbook(target, read_only=True)
    try:
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                for value in row:
                    if isinstance(value, dt.date):
                        day = value.date() if isinstance(value, dt.datetime) else value
                        assert FIRST_EXCEL_DAY <= day <= LAST_EXCEL_DAY, (sheet.title, value)
    finally:
        book.close()


@pytest.mark.parametrize("as_of", ["1902-12-31", "9999-12-01", "0001-01-01"])
def test_an_as_of_date_out_of_range_is_refused_in_one_line(tmp_path: Path, as_of: str) -> None:
    code, _, err = run_new("networking", "-o", str(tmp_path / "n.xlsx"), "--as-of", as_of)
    assert code != 0
    assert err.count("\n") == 1, err
    assert "--as-of" in err
    assert "1903-01-01" in err
    assert not (tmp_path / "n.xlsx").exists()


@settings(max_examples=60, deadline=None)
@given(business_type=st.sampled_from(TYPES), rows=st.integers(min_value=-5, max_value=MAX_ROWS + 5))
def test_every_rows_count_is_accepted_or_refused_in_one_line(business_type: str, rows: int) -> None:
    """The check that runs before anything is built: a count a type can hold
    passes, any other gets one line naming the option, its value and the limit."""
    most = MOST_SAMPLE_ROWS.get(business_type, MAX_ROWS)
    options = StarterOptions(business_type, rows=rows, as_of=dt.date(2024, 7, 15))
    if 1 <= rows <= most:
        assert options.checked().rows == rows
    else:
        with pytest.raises(StarterError) as refused:
            options.checked()
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith("kpi new")
        assert "--rows" in message
        assert f"{min(most, MAX_ROWS):,}" in message


def test_the_largest_social_media_sample_is_written() -> None:
    most = MOST_SAMPLE_ROWS["social_media"]
    tables = sample_tables("social_media", as_of=dt.date(2024, 7, 15), rows=most)
    assert len(tables["Channels"]["month"]) == most


@settings(max_examples=25, deadline=None)
@given(business_type=st.sampled_from(TYPES), rows=st.integers(min_value=1, max_value=3000))
def test_every_table_grows_at_most_in_proportion_to_rows(business_type: str, rows: int) -> None:
    """No table has more than twice the main table's rows (plus the monthly
    tables' few): so at 500,000 rows every table fits in Excel's sheet."""
    rows = min(rows, MOST_SAMPLE_ROWS.get(business_type, rows))
    tables = sample_tables(business_type, as_of=dt.date(2024, 7, 15), rows=rows)
    fixed = max(MOST_SAMPLE_ROWS.values())
    for name, table in tables.items():
        size = len(next(iter(table.values())))
        assert size <= 2 * rows + fixed, (name, size, rows)
    assert 2 * MAX_ROWS + fixed <= EXCEL_DATA_ROWS
