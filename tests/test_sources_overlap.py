"""What ``kpi report --source`` overlaps: DuckDB reading a folder while
Python imports ibis (``addin.sources.ReadAhead``), and DuckDB running one
query while Python builds the next (``ibis_forms.InTurn``).

While Python imports ibis, DuckDB copies the folder's Parquet tables into its
own columns; the report then reads the copies. Here, for every business type,
on its starter workbook's rows and on messy rows: the report read ahead
equals the report read through a view of each file (the path taken past
``READ_AHEAD_BYTES``, or when the read-ahead fails), values, reasons, notes
and channels; the read-ahead is really taken; a missing column, a corrupt
file and a table in other letter cases are said or read as before; and the
tables ibis is given from DuckDB's DESCRIBE equal ibis's own. Then queries
sent in turn run in the order sent, before their rows are asked for, give
the rows ``rows_of`` gives, and say the engine's error where it is asked.
(The months and notes computed in turn are held equal to the month-by-month
forms by tests/test_sources_months.py and tests/test_differential.py.)
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import kpi_engine
from addin import sources
from addin.recipes import NEEDS_GROSS_MARGIN
from addin.recipes.ibis_forms import InTurn, rows_of
from addin.report.offline import SourceSettings, report_from_source
from addin.sources import ReadAhead, SourceError, engine_table
from tests.sources_support import starter_rows, typed_tables, write_parquet_folder
from tests.test_sources_engines import one_messy_set

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
BUSINESS_TYPES = list(kpi_engine.BUSINESS_TYPES)


def _settings(business_type: str) -> SourceSettings:
    margin = 0.4 if business_type in NEEDS_GROSS_MARGIN else None
    return SourceSettings(business_type, "en", PERIOD, gross_margin=margin)


def _outcome(folder: Path, business_type: str) -> Any:
    """The report's every number and note, or the error it says."""
    try:
        report = report_from_source(str(folder), _settings(business_type))
    except SourceError as error:
        return ("error", str(error))
    return (
        [
            (
                kpi.id,
                [kpi.value, kpi.previous, kpi.year_ago, *kpi.trend],
                (kpi.reason, kpi.answers, kpi.narrative),
                list(kpi.channels),
            )
            for kpi in report.kpis
        ],
        [(n.check.table, n.check.column, n.check.problem, n.rows) for n in report.notes],
    )


def _assert_same(got: Any, want: Any) -> None:
    if got[0] == "error" or want[0] == "error":
        assert got == want
        return
    assert got[1] == want[1]
    for (kpi_id, numbers, said, channels), (_, theirs, their_said, their_channels) in zip(
        got[0], want[0], strict=True
    ):
        assert said == their_said, kpi_id
        ours = [*numbers, *(v for _, v in channels)]
        for a, b in zip(ours, [*theirs, *(v for _, v in their_channels)], strict=True):
            assert (a is None) == (b is None), (kpi_id, a, b)
            if a is not None:
                assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), (kpi_id, a, b)
        assert [n for n, _ in channels] == [n for n, _ in their_channels], kpi_id


class _Taken:
    """Whether the report took the read-ahead's connection."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.taken: list[bool] = []
        connection = ReadAhead.connection

        def watched(read_ahead: ReadAhead) -> Any:
            found = connection(read_ahead)
            self.taken.append(found is not None)
            return found

        monkeypatch.setattr(ReadAhead, "connection", watched)


def _both_ways(folder: Path, business_type: str, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _Taken(monkeypatch)
    ahead = _outcome(folder, business_type)
    assert taken.taken == [True]
    with monkeypatch.context() as patch:
        patch.setattr(sources, "READ_AHEAD_BYTES", -1)
        viewed = _outcome(folder, business_type)
    assert taken.taken == [True, False]
    _assert_same(ahead, viewed)


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_a_report_read_ahead_equals_the_report_of_views_of_the_files(
    business_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = starter_rows(business_type, tmp_path, AS_OF)
    folder = write_parquet_folder(typed_tables(business_type, rows), tmp_path / "sample")
    _both_ways(folder, business_type, monkeypatch)
    messy = write_parquet_folder(
        typed_tables(business_type, one_messy_set(business_type)), tmp_path / "messy"
    )
    _both_ways(messy, business_type, monkeypatch)


def test_columns_in_other_letter_cases_and_columns_of_no_table_are_read_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = starter_rows("celebrity_video", tmp_path, AS_OF)
    typed = typed_tables("celebrity_video", rows)
    orders = typed["Orders"]
    orders = orders.rename_columns([name.upper() for name in orders.column_names])
    orders = orders.append_column("internal_note", pa.array(["x"] * orders.num_rows))
    folder = write_parquet_folder({**typed, "Orders": orders}, tmp_path / "cases")
    _both_ways(folder, "celebrity_video", monkeypatch)


def test_a_missing_column_or_a_corrupt_file_is_said_as_without_the_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = starter_rows("celebrity_video", tmp_path, AS_OF)
    typed = typed_tables("celebrity_video", rows)
    orders = typed["Orders"].drop_columns(["delivered_at"])
    orders = orders.append_column("internal_note", pa.array(["x"] * orders.num_rows))
    missing = write_parquet_folder({**typed, "Orders": orders}, tmp_path / "missing")
    taken = _Taken(monkeypatch)
    said = _outcome(missing, "celebrity_video")
    assert taken.taken == [False]
    assert said[0] == "error"
    # The file's own columns are listed, those of no table too.
    assert "the table Orders has no column delivered_at; its columns are" in said[1]
    assert "internal_note" in said[1]

    corrupt = write_parquet_folder(typed, tmp_path / "corrupt")
    whole = (corrupt / "Orders.parquet").read_bytes()
    (corrupt / "Orders.parquet").write_bytes(whole[: len(whole) // 2] + whole[-8:])
    said = _outcome(corrupt, "celebrity_video")
    assert said[0] == "error"
    assert said[1].startswith(f"--source {corrupt}: ")
    with monkeypatch.context() as patch:
        patch.setattr(sources, "READ_AHEAD_BYTES", -1)
        assert _outcome(corrupt, "celebrity_video") == said
    assert taken.taken == [False, False, False]


def test_a_folder_past_the_size_is_not_read_ahead_and_nothing_is_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = starter_rows("celebrity_video", tmp_path, AS_OF)
    folder = write_parquet_folder(typed_tables("celebrity_video", rows), tmp_path / "p")
    size = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    monkeypatch.setattr(sources, "READ_AHEAD_BYTES", size - 1)
    assert ReadAhead(str(folder), "celebrity_video").connection() is None
    monkeypatch.setattr(sources, "READ_AHEAD_BYTES", size)
    read_ahead = ReadAhead(str(folder), "celebrity_video")
    connection = read_ahead.connection()
    assert connection is not None
    assert set(read_ahead.tables) == {"Orders", "Customers", "Celebrities", "Survey"}
    connection.close()
    # Not taken: closed, its thread ended; neither a file nor a URL is read ahead.
    running = threading.active_count()
    for url in (str(folder), str(folder / "Orders.parquet"), "postgres://x/y", ""):
        ReadAhead(url, "celebrity_video").close()
    assert threading.active_count() == running


def test_the_tables_ibis_is_given_from_describe_equal_ibiss_own(tmp_path: Path) -> None:
    import ibis  # noqa: PLC0415

    backend = ibis.duckdb.connect()
    backend.raw_sql(
        "CREATE TEMP TABLE kinds AS SELECT 1::TINYINT a, 2::BIGINT b, 1.5::DOUBLE c, "
        "1.25::DECIMAL(18,3) d, 'x' e, DATE '2024-01-02' f, TIMESTAMP '2024-01-02 03:04' g, "
        "TIMESTAMPTZ '2024-01-02 03:04:00+00' h, TRUE i, [1, 2] j, {'k': 1} k, NULL::INTEGER l"
    )
    backend.raw_sql('CREATE TEMP TABLE "a ""strict"" one" (n INTEGER NOT NULL, m VARCHAR)')
    for name in ("kinds", 'a "strict" one'):
        assert engine_table(backend, name).equals(backend.table(name))
    for business_type in BUSINESS_TYPES:
        rows = starter_rows(business_type, tmp_path / business_type, AS_OF)
        folder = write_parquet_folder(typed_tables(business_type, rows), tmp_path / business_type)
        source = sources.open_source(str(folder), business_type)
        try:
            measure = sources.SourceMeasure(source, business_type=business_type)
            for table in source.tables:
                name = f"kpi_prepared_{table.lower()}"
                assert engine_table(source.backend, name).equals(source.backend.table(name))
                assert engine_table(source.backend, table).equals(source.backend.table(table))
            assert measure.prepared
        finally:
            source.close()


def test_queries_sent_in_turn_run_in_that_order_before_their_rows_are_asked_for() -> None:
    import ibis  # noqa: PLC0415

    backend = ibis.duckdb.connect()
    backend.raw_sql("CREATE SEQUENCE sent START 1")
    numbers = backend.sql("SELECT nextval('sent') AS n")
    running = threading.active_count()
    with InTurn() as later:
        rows = [later.rows(numbers) for _ in range(5)]
        # The last sent, asked for first, ran after the four before it.
        assert rows[4]() == [{"n": 5}]
        assert [r() for r in rows] == [[{"n": n}] for n in range(1, 6)]
        failing = later.rows(
            backend.sql("SELECT CAST('x' || n AS INTEGER) AS v FROM range(3) t(n)")
        )
        after = later.rows(numbers)
    assert threading.active_count() == running
    # The engine's own error, where the rows are asked for; the next query ran.
    with pytest.raises(Exception, match="Could not convert string 'x0' to INT32"):
        failing()
    assert after() == [{"n": 6}]
    table = backend.sql("SELECT n, n * 1.5 AS x, 'k' || n AS k FROM range(4) t(n) ORDER BY n")
    with InTurn() as later:
        assert later.rows(table)() == rows_of(table)


def test_queries_elsewhere_run_when_their_rows_are_asked_for(tmp_path: Path) -> None:
    import ibis  # noqa: PLC0415

    backend = ibis.sqlite.connect(str(tmp_path / "shop.db"))
    backend.raw_sql("CREATE TABLE sent (n INTEGER)")
    count = backend.table("sent").count().as_table()
    running = threading.active_count()
    with InTurn() as later:
        rows = later.rows(count)
        backend.raw_sql("INSERT INTO sent VALUES (1), (2)")
        assert threading.active_count() == running
        assert list(rows()[0].values()) == [2]
