"""The ibis forms over every month of the report at once (what ``kpi report
--source`` runs: ``ibis_months``, ``ibis_notes``) give what the forms give
month by month (``ibis_forms.compute``, ``note_counts``, ``latest_date``,
``period_has_data``): for every KPI of every business type, on a starter
workbook's rows and on messy rows, in DuckDB; and in fewer statements."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import kpi_engine
from addin.recipes import month_shift
from addin.recipes.ibis_forms import (
    Prepared,
    compute,
    latest_date,
    note_counts,
    period_has_data,
    prepare,
)
from addin.recipes.ibis_months import months_values
from addin.recipes.ibis_notes import (
    cleaned_note_counts,
    has_rows_dated,
    latest_serial,
    note_columns,
)
from addin.recipes.notes import checks_for
from kpi_engine.inputs import first_of_month, to_serial
from tests.messy import BUSINESS_TYPES, messy_tables
from tests.sources_support import (
    duckdb_tables,
    starter_rows,
    typed_tables,
    write_parquet_folder,
)

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
#: The month a year before the period, then the 12 of the trend (and, for
#: growth over a quarter, months before them too).
MONTHS = [first_of_month(PERIOD, offset) for offset in range(-12, 1)]


def _windows() -> list[tuple[float, float]]:
    starts = [to_serial("test", "month", month) for month in MONTHS]
    return [(start, month_shift(start, 1)) for start in starts]


def _settings(rows: Any) -> dict[str, Any]:
    if "Settings" in rows and rows["Settings"].get("GROSS_MARGIN"):
        return {"GROSS_MARGIN": rows["Settings"]["GROSS_MARGIN"][0]}
    return {"GROSS_MARGIN": 0.6}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Exception) or isinstance(b, Exception):
        return (
            isinstance(a, Exception)
            and isinstance(b, Exception)
            and type(a) is type(b)
            and getattr(a, "code", None) == getattr(b, "code", None)
        )
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _disagreements(business_type: str, rows: Any) -> list[str]:
    """Where the grouped path differs from the month-by-month one, in DuckDB
    (the rules applied once into tables of their own, as the report does)."""
    con, raw = duckdb_tables(typed_tables(business_type, rows))
    checks = checks_for(business_type)
    cleaned = Prepared(
        {
            name: con.create_table(f"cleaned_{name}", table)
            for name, table in prepare(raw, note_columns(raw, checks)).items()
        }
    )
    try:
        return _compared(business_type, rows, raw, cleaned)
    finally:
        con.disconnect()


def _compared(business_type: str, rows: Any, raw: Any, cleaned: Any) -> list[str]:
    checks = checks_for(business_type)
    one_by_one = prepare(raw)
    kpis = [entry.id for entry in kpi_engine.get_business_type(business_type).kpis]
    found = []
    settings = _settings(rows)
    grouped = months_values(business_type, kpis, cleaned, _windows(), settings)
    for kpi_id in kpis:
        for index, (start, end) in enumerate(_windows()):
            try:
                alone: Any = compute(business_type, kpi_id, one_by_one, start, end, settings)
            except (kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError) as error:
                alone = error
            if not _same(alone, grouped[kpi_id][index]):
                found.append(
                    f"{kpi_id} in {MONTHS[index]:%Y-%m}: month by month {alone!r}, "
                    f"all months at once {grouped[kpi_id][index]!r}"
                )
    counted = {
        (n.check.table, n.check.column, n.check.problem): (n.rows, n.kpis)
        for n in note_counts(business_type, raw, checks)
    }
    at_once = {
        (n.check.table, n.check.column, n.check.problem): (n.rows, n.kpis)
        for n in cleaned_note_counts(business_type, raw, cleaned, checks)
    }
    if counted != at_once:
        found.append(f"notes: one by one {counted}, at once {at_once}")
    latest = latest_date(raw)
    if latest_serial(raw, cleaned) != latest:
        found.append(f"latest date: {latest}, at once {latest_serial(raw, cleaned)}")
    for start, end in _windows():
        if period_has_data(raw, start, end) != has_rows_dated(raw, cleaned, start, end):
            found.append(f"data in the month from {start}: the two differ")
    return found


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_every_month_at_once_equals_month_by_month_on_a_starter_workbook(
    business_type: str, tmp_path: Any
) -> None:
    rows = starter_rows(business_type, tmp_path, AS_OF)
    wrong = _disagreements(business_type, rows)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_every_month_at_once_equals_month_by_month_on_messy_rows(business_type: str) -> None:
    wrong: list[str] = []

    @settings(
        max_examples=4,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(messy_tables(business_type))
    def check(tables: dict[str, dict[str, list[Any]]]) -> None:
        wrong.extend(_disagreements(business_type, tables))

    check()
    assert not wrong, "\n".join(wrong[:20])


# --- the same on PostgreSQL and Spark -------------------------------------------------------


def _engine_sets(business_type: str) -> list[Any]:
    """A starter workbook's rows and one set of messy rows."""
    from tests.test_sources_engines import one_messy_set  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        sample = starter_rows(business_type, Path(folder), AS_OF)
    return [sample, one_messy_set(business_type)]


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    from tests.engines import postgres_server  # noqa: PLC0415

    with postgres_server() as url:
        yield url


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_every_month_at_once_equals_month_by_month_on_postgresql(
    postgres: str, business_type: str
) -> None:
    import ibis  # noqa: PLC0415

    con = ibis.connect(postgres)
    try:
        for rows in _engine_sets(business_type):
            raw = {
                name: con.create_table(name, table, overwrite=True)
                for name, table in typed_tables(business_type, rows).items()
            }
            cleaned = prepare(raw, note_columns(raw, checks_for(business_type)))
            wrong = _compared(business_type, rows, raw, cleaned)
            assert not wrong, "\n".join(wrong[:20])
    finally:
        con.disconnect()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from tests.engines import spark_local  # noqa: PLC0415

    with spark_local() as connection:
        yield connection


@pytest.mark.spark
@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_every_month_at_once_equals_month_by_month_on_spark(
    spark: Any, business_type: str, tmp_path: Path
) -> None:
    for number, rows in enumerate(_engine_sets(business_type)):
        typed = typed_tables(business_type, rows)
        folder = write_parquet_folder(typed, tmp_path / str(number))
        raw = {
            name: spark.read_parquet(str(folder / f"{name}.parquet"), table_name=f"{name}_{number}")
            for name in typed
        }
        cleaned = prepare(raw, note_columns(raw, checks_for(business_type)))
        wrong = _compared(business_type, rows, raw, cleaned)
        assert not wrong, "\n".join(wrong[:20])


def test_a_report_from_a_parquet_folder_asks_duckdb_a_few_grouped_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every KPI's 13 months and the data notes come from grouped queries over
    the tables read once: a few statements per table, not one per KPI and
    month (10 KPIs x 13 months are 130)."""
    import ibis.backends.duckdb as duckdb_backend  # noqa: PLC0415

    from addin.report.offline import SourceSettings, report_from_source  # noqa: PLC0415

    rows = starter_rows("celebrity_video", tmp_path, AS_OF)
    folder = write_parquet_folder(typed_tables("celebrity_video", rows), tmp_path / "parquet")
    statements: list[str] = []
    sent = duckdb_backend.Backend.raw_sql

    def counted(self: Any, query: Any, **options: Any) -> Any:
        statements.append(str(query))
        return sent(self, query, **options)

    monkeypatch.setattr(duckdb_backend.Backend, "raw_sql", counted)
    report = report_from_source(str(folder), SourceSettings("celebrity_video", "en", PERIOD))
    assert len(report.kpis) == 10
    assert all(len(kpi.trend) == 12 for kpi in report.kpis)
    reading = [s for s in statements if s.startswith("CREATE")]
    # Each of the 4 tables: a view of its file, and its rows read once by the rules.
    assert len(reading) == 8, reading
    assert len(statements) - len(reading) <= 16, "\n".join(s[:120] for s in statements)


def test_the_cyclic_collector_is_paused_while_a_source_report_queries_and_back_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc  # noqa: PLC0415

    import ibis.backends.duckdb as duckdb_backend  # noqa: PLC0415

    from addin.report.offline import SourceSettings, report_from_source  # noqa: PLC0415
    from addin.sources import SourceError  # noqa: PLC0415

    rows = starter_rows("celebrity_video", tmp_path, AS_OF)
    folder = write_parquet_folder(typed_tables("celebrity_video", rows), tmp_path / "parquet")
    collecting: list[bool] = []
    sent = duckdb_backend.Backend.raw_sql

    def watched(self: Any, query: Any, **options: Any) -> Any:
        collecting.append(gc.isenabled())
        return sent(self, query, **options)

    monkeypatch.setattr(duckdb_backend.Backend, "raw_sql", watched)
    assert gc.isenabled()
    report_from_source(str(folder), SourceSettings("celebrity_video", "en", PERIOD))
    assert collecting
    assert not any(collecting)
    assert gc.isenabled()
    # A report that fails (no data in its period) gives the collector back too.
    with pytest.raises(SourceError, match="no data for the period"):
        report_from_source(
            str(folder), SourceSettings("celebrity_video", "en", dt.date(1990, 1, 1))
        )
    assert gc.isenabled()


def test_a_quantity_several_kpis_read_is_measured_once() -> None:
    """celebrity_video's revenue, average order value and revenue per
    celebrity read the same revenue: one sum in the grouped query, not three."""
    from addin.recipes.ibis_months import _Plan  # noqa: PLC0415
    from addin.recipes.kpis import recipe_for  # noqa: PLC0415
    from addin.recipes.quantities import DatedSum  # noqa: PLC0415

    plan = _Plan(_windows())
    for kpi_id in ("revenue", "average_order_value", "revenue_per_celebrity"):
        parts = recipe_for("celebrity_video", kpi_id).ibis_parts
        assert parts is not None
        for part in parts.parts:
            plan.reader(part)
    measures = plan.bucketed["Orders", "delivered_at"].measures
    sums = [m for m in measures if isinstance(m, DatedSum)]
    assert len(sums) == 1, measures
    assert len(measures) == len(set(measures))


def test_who_is_present_is_counted_over_usable_rows_without_testing_each_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The query that counts who is present in each month groups the master
    table's usable rows (an id, a date joined, not leaving before joining);
    its flags, one per month and condition, do not test that again."""
    import ibis.backends.duckdb as duckdb_backend  # noqa: PLC0415

    from addin.report.offline import SourceSettings, report_from_source  # noqa: PLC0415

    rows = starter_rows("celebrity_video", tmp_path, AS_OF)
    folder = write_parquet_folder(typed_tables("celebrity_video", rows), tmp_path / "parquet")
    statements: list[str] = []
    sent = duckdb_backend.Backend.raw_sql

    def kept(self: Any, query: Any, **options: Any) -> Any:
        statements.append(str(query))
        return sent(self, query, **options)

    monkeypatch.setattr(duckdb_backend.Backend, "raw_sql", kept)
    report_from_source(str(folder), SourceSettings("celebrity_video", "en", PERIOD))
    present = [s for s in statements if "BOOL_OR" in s]
    assert len(present) == 2  # Customers and Celebrities
    for statement in present:
        # The rows' test, once, where the grouped rows are chosen; it was
        # also in each flag (40 times for Customers).
        assert statement.count('"joined_on" IS NOT NULL') == 1, statement
