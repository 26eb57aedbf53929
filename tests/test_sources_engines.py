"""The recipes' ibis forms, unchanged, on a real PostgreSQL server and on Spark.

PostgreSQL is started by the tests (tests/engines.py) on a unix socket in a
folder of its own and stopped after. Spark runs in local mode on two cores
(``local[2]``), the distributed engine on one machine. For each business
type, its sample data and a messy set (tests/messy.py) are typed into the
engine as a database would hold them (tests/sources_support.py); every KPI,
in every month of the report's trend, is compared with the engine on the
same rows. Then ``kpi report --source`` by URL, end to end.

Spark's part is marked ``spark``: ``make test`` runs it unless it is too slow
for its budget (see the Makefile); ``make test-spark`` runs it alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import kpi_engine
from addin.ooxml.package import open_package, read_data
from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from tests.engines import postgres_server
from tests.messy import messy_tables
from tests.sources_compare import disagreements
from tests.sources_support import typed_tables, write_csv_folder, write_parquet_folder

# pyspark 4.0 and ibis 12 still call pandas' deprecated copy= and infer_string.
pytestmark = [
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated"),
]

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
BUSINESS_TYPES = list(kpi_engine.BUSINESS_TYPES)


def one_messy_set(business_type: str) -> dict[str, Any]:
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=1,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(messy_tables(business_type))
    def collect(tables: dict[str, Any]) -> None:
        drawn.append(tables)

    collect()
    return drawn[0]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Any]]:
    """(type, "sample" or "messy") -> (workbook, rows as the report reads them)."""
    folder = tmp_path_factory.mktemp("engines")
    found = {}
    for business_type in BUSINESS_TYPES:
        for kind in ("sample", "messy"):
            data = None if kind == "sample" else one_messy_set(business_type)
            path = new_workbook(
                StarterOptions(business_type, "en", as_of=AS_OF),
                folder / f"{business_type}_{kind}.xlsx",
                data=data,
            )
            package = open_package(path)
            try:
                found[business_type, kind] = (path, read_data(package))
            finally:
                package.close()
    return found


def _assert_same_values(got: Any, want: Any) -> None:
    for mine, theirs in zip(got.kpis, want.kpis, strict=True):
        for a, b in zip(mine.trend, theirs.trend, strict=True):
            assert (a is None) == (b is None), mine.id
            if a is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (mine.id, a, b)
        assert mine.reason == theirs.reason


# --- PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_ibis_forms_on_postgresql_equal_the_engine(
    datasets: dict[tuple[str, str], tuple[Path, Any]], postgres: str, business_type: str
) -> None:
    import ibis  # noqa: PLC0415

    con = ibis.connect(postgres)
    try:
        for kind in ("sample", "messy"):
            _, data = datasets[business_type, kind]
            tables = {
                name: con.create_table(name, table, overwrite=True)
                for name, table in typed_tables(business_type, data.rows).items()
            }
            found = disagreements(business_type, data.rows, tables, PERIOD, "postgresql")
            assert not found, f"{kind} data:\n" + "\n".join(found)
    finally:
        con.disconnect()


def test_kpi_report_source_postgres_url_equals_the_workbooks_report(
    datasets: dict[tuple[str, str], tuple[Path, Any]], postgres: str
) -> None:
    import ibis  # noqa: PLC0415

    path, data = datasets["celebrity_video", "sample"]
    con = ibis.connect(postgres)
    for name, table in typed_tables("celebrity_video", data.rows).items():
        con.create_table(name.lower(), table, overwrite=True)  # as PostgreSQL folds names
        con.drop_table(name, force=True) if name in con.list_tables() else None
    con.disconnect()
    _assert_same_values(make_report(path, source=postgres), make_report(path))


# --- Spark ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from tests.engines import spark_local  # noqa: PLC0415

    with spark_local() as connection:
        yield connection


@pytest.mark.spark
@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_ibis_forms_on_spark_local_equal_the_engine(
    datasets: dict[tuple[str, str], tuple[Path, Any]],
    spark: Any,
    business_type: str,
    tmp_path: Path,
) -> None:
    for kind in ("sample", "messy"):
        _, data = datasets[business_type, kind]
        folder = write_parquet_folder(typed_tables(business_type, data.rows), tmp_path / kind)
        tables = {
            name: spark.read_parquet(str(folder / f"{name}.parquet"), table_name=f"{name}_{kind}")
            for name in typed_tables(business_type, data.rows)
        }
        found = disagreements(business_type, data.rows, tables, PERIOD, "spark")
        assert not found, f"{kind} data:\n" + "\n".join(found)


@pytest.mark.spark
def test_kpi_report_source_pyspark_folder_equals_the_workbooks_report(
    datasets: dict[tuple[str, str], tuple[Path, Any]], spark: Any, tmp_path: Path
) -> None:
    path, data = datasets["networking", "sample"]
    folder = write_parquet_folder(typed_tables("networking", data.rows), tmp_path / "parquet")
    _assert_same_values(make_report(path, source=f"pyspark://{folder}"), make_report(path))


@pytest.mark.spark
def test_kpi_report_source_pyspark_csv_folder_equals_the_workbooks_report(
    datasets: dict[tuple[str, str], tuple[Path, Any]],
    spark: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, data = datasets["celebrity_video", "sample"]
    folder = write_csv_folder(typed_tables("celebrity_video", data.rows), tmp_path / "csv")
    # A report writes nothing where it runs (Spark's tables would go to ./spark-warehouse).
    where_run = tmp_path / "where-run"
    where_run.mkdir()
    monkeypatch.chdir(where_run)
    _assert_same_values(make_report(path, source=f"pyspark://{folder}"), make_report(path))
    assert list(where_run.iterdir()) == []
