"""The recipes' ibis forms on DuckDB, embedded, and ``kpi report --source``.

Every KPI of every business type, in every month of the report's trend, is
computed by its ibis form on DuckDB and compared with the engine on the same
rows; then the whole report from a folder of Parquet files, of CSV files
(written by Python's csv module, not by us) and from a .duckdb file, against
the report of the workbook itself; then what a bad source gets told.
(tests/test_differential.py compares the ibis form on messy data too;
tests/test_sources_engines.py runs the same on PostgreSQL and Spark.)
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

import kpi_engine
from addin.cli import main
from addin.ooxml.package import open_package, read_data
from addin.recipes import RECIPES, TYPE_RECIPES, MissingRecipeError, recipe_for
from addin.recipes.ibis_forms import ibis_form_for
from addin.recipes.kpis import FORM_RECIPES
from addin.report.offline import make_report, refresh_file
from addin.starter import StarterOptions, new_workbook
from tests.sources_compare import disagreements
from tests.sources_support import (
    duckdb_tables,
    typed_tables,
    write_csv_folder,
    write_parquet_folder,
)

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
BUSINESS_TYPES = list(kpi_engine.BUSINESS_TYPES)
EVERY_KPI = [(t, e.id) for t in BUSINESS_TYPES for e in kpi_engine.get_business_type(t).kpis]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Per business type: a starter workbook with its sample data, and its rows."""
    folder = tmp_path_factory.mktemp("sources")
    found = {}
    for business_type in BUSINESS_TYPES:
        path = new_workbook(
            StarterOptions(business_type, "en", as_of=AS_OF), folder / f"{business_type}.xlsx"
        )
        package = open_package(path)
        try:
            found[business_type] = (path, read_data(package))
        finally:
            package.close()
    return found


@pytest.mark.parametrize(("business_type", "kpi_id"), EVERY_KPI)
def test_every_kpi_of_every_type_has_an_ibis_form(business_type: str, kpi_id: str) -> None:
    assert callable(ibis_form_for(business_type, kpi_id))


def test_every_recipe_of_the_registry_holds_its_ibis_form() -> None:
    for recipe in (*RECIPES.values(), *TYPE_RECIPES.values(), *FORM_RECIPES.values()):
        assert callable(recipe.ibis), recipe.kpi_id
    with pytest.raises(MissingRecipeError, match="has no recipe"):
        ibis_form_for("celebrity_video", "no_such_kpi")


@pytest.mark.parametrize(("business_type", "kpi_id"), EVERY_KPI)
def test_ibis_form_on_duckdb_equals_the_engine_reading_only_its_recipes_columns(
    samples: dict[str, tuple[Path, Any]], business_type: str, kpi_id: str
) -> None:
    """DuckDB holds only the tables and columns the recipe says it reads: a
    form that reads anything else fails here."""
    _, data = samples[business_type]
    reads = recipe_for(business_type, kpi_id).reads
    typed = typed_tables(business_type, data.rows)
    only = {t: typed[t].select(list(columns)) for t, columns in reads.items()}
    con, tables = duckdb_tables(only)
    try:
        found = disagreements(business_type, data.rows, tables, PERIOD, "duckdb", (kpi_id,))
    finally:
        con.disconnect()
    assert not found, "\n".join(found)


def _values(report: Any) -> dict[str, Any]:
    return {
        kpi.id: (kpi.value, kpi.previous, kpi.trend, kpi.reason, kpi.target, kpi.band)
        for kpi in report.kpis
    }


def _assert_same_report(got: Any, want: Any) -> None:
    assert (got.business_type, got.language, got.period) == (
        want.business_type,
        want.language,
        want.period,
    )
    for kpi_id, (value, previous, trend, reason, target, band) in _values(want).items():
        g = _values(got)[kpi_id]
        for a, b in zip((value, previous, *trend), (g[0], g[1], *g[2]), strict=True):
            assert (a is None) == (b is None), (kpi_id, a, b)
            if a is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (kpi_id, a, b)
        assert (reason, target) == (g[3], g[4]), kpi_id
        # A band can flip only where float noise crosses a band's edge.
        assert band == g[5] or math.isclose(value, g[0], rel_tol=1e-9), kpi_id
    # The year earlier and the table by channel come from the source too.
    for mine, theirs in zip(got.kpis, want.kpis, strict=True):
        _assert_close(mine.id, mine.year_ago, theirs.year_ago)
        assert [n for n, _ in mine.channels] == [n for n, _ in theirs.channels], mine.id
        for (name, a), (_, b) in zip(mine.channels, theirs.channels, strict=True):
            _assert_close(f"{mine.id} for {name}", a, b)
    notes = [
        [(n.check.table, n.check.column, n.check.problem, n.rows) for n in r.notes]
        for r in (got, want)
    ]
    assert notes[0] == notes[1]


def _assert_close(what: str, a: float | None, b: float | None) -> None:
    assert (a is None) == (b is None), (what, a, b)
    if a is not None and b is not None:
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (what, a, b)


@pytest.mark.parametrize("business_type", BUSINESS_TYPES)
def test_report_from_a_parquet_folder_equals_the_workbooks(
    samples: dict[str, tuple[Path, Any]], business_type: str, tmp_path: Path
) -> None:
    path, data = samples[business_type]
    folder = write_parquet_folder(typed_tables(business_type, data.rows), tmp_path / "parquet")
    _assert_same_report(make_report(path, source=str(folder)), make_report(path))


def test_report_from_a_csv_folder_written_by_pythons_csv_module_equals_the_workbooks(
    samples: dict[str, tuple[Path, Any]], tmp_path: Path
) -> None:
    # Dates and times (Orders) and months (Channels, Funnel): the kinds a CSV spells.
    for business_type in ("celebrity_video", "social_media"):
        path, data = samples[business_type]
        folder = write_csv_folder(typed_tables(business_type, data.rows), tmp_path / business_type)
        _assert_same_report(make_report(path, source=str(folder)), make_report(path))


def test_report_from_a_duckdb_file_and_without_a_workbook(
    samples: dict[str, tuple[Path, Any]], tmp_path: Path
) -> None:
    import ibis  # noqa: PLC0415

    path, data = samples["video_marketing"]
    database = tmp_path / "shop.duckdb"
    con = ibis.duckdb.connect(str(database))
    for name, table in typed_tables("video_marketing", data.rows).items():
        con.create_table(name.lower(), table)
    con.disconnect()
    want = make_report(path)
    _assert_same_report(make_report(path, source=str(database)), want)

    result = CliRunner().invoke(
        main,
        [
            "report",
            "--source",
            str(database),
            "--type",
            "video_marketing",
            "--period",
            "2024-06",
            *(
                ["--gross-margin", str(data.rows["Settings"]["GROSS_MARGIN"][0])]
                if "Settings" in data.rows
                else []
            ),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["period"] == "2024-06"
    for kpi in want.kpis:
        got = summary["kpis"][kpi.id]["value"]
        assert (got is None) == (kpi.value is None)
        if got is not None:
            assert math.isclose(got, kpi.value, rel_tol=1e-9)


@pytest.mark.parametrize("business_type", ["celebrity_video", "social_media"])
def test_refresh_with_a_source_writes_the_report_sheet_as_from_the_workbook(
    samples: dict[str, tuple[Path, Any]], tmp_path: Path, business_type: str
) -> None:
    """The same sheet, the table by channel included (social media's)."""
    path, data = samples[business_type]
    folder = write_parquet_folder(typed_tables(business_type, data.rows), tmp_path / "data")
    from_source, from_book = tmp_path / "source.xlsx", tmp_path / "book.xlsx"
    result = CliRunner().invoke(
        main, ["refresh", str(path), "-o", str(from_source), "--source", str(folder)]
    )
    assert result.exit_code == 0, result.output
    refresh_file(path, from_book)
    sheets = []
    for file in (from_source, from_book):
        book = load_workbook(file, data_only=False)
        sheet = book[book.sheetnames[-1]] if "Report" not in book.sheetnames else book["Report"]
        sheets.append([[c.value for c in row] for row in sheet.iter_rows()])
        assert book.sheetnames == load_workbook(path).sheetnames + (
            [] if "Report" in load_workbook(path).sheetnames else ["Report"]
        )
    source_cells, book_cells = sheets
    assert len(source_cells) == len(book_cells)
    for row_a, row_b in zip(source_cells, book_cells, strict=True):
        for a, b in zip(row_a, row_b, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            elif isinstance(a, dt.datetime) or (isinstance(a, str) and "refreshed" in a.lower()):
                continue  # the refresh time
            elif isinstance(a, str) and isinstance(b, str) and any(ch.isdigit() for ch in a):
                continue  # a sentence with a number in it: rounding may differ in the last digit
            else:
                assert a == b


@pytest.fixture(scope="module")
def good_folder(
    samples: dict[str, tuple[Path, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    _, data = samples["celebrity_video"]
    return write_parquet_folder(
        typed_tables("celebrity_video", data.rows), tmp_path_factory.mktemp("good")
    )


def _error_of(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output.strip()


def test_a_source_without_a_table_a_column_or_the_right_type_is_named(
    samples: dict[str, tuple[Path, Any]], good_folder: Path, tmp_path: Path
) -> None:
    path, data = samples["celebrity_video"]
    typed = typed_tables("celebrity_video", data.rows)

    missing_table = write_parquet_folder(
        {k: v for k, v in typed.items() if k != "Survey"}, tmp_path / "a"
    )
    said = _error_of(["report", str(path), "--source", str(missing_table)])
    assert (
        f"error: --source {missing_table}: no file for the table Survey: expected Survey.parquet or Survey.csv"
        in said
    )

    orders = typed["Orders"].drop_columns(["delivered_at"])
    missing_column = write_parquet_folder({**typed, "Orders": orders}, tmp_path / "b")
    said = _error_of(["report", str(path), "--source", str(missing_column)])
    assert "the table Orders has no column delivered_at; its columns are" in said

    texts = typed["Orders"].set_column(
        typed["Orders"].column_names.index("amount"),
        "amount",
        pa.array(["12"] * typed["Orders"].num_rows),
    )
    wrong_type = write_parquet_folder({**typed, "Orders": texts}, tmp_path / "c")
    said = _error_of(["report", str(path), "--source", str(wrong_type)])
    assert "column Orders.amount is of type string; expected numbers (a money column)" in said


def test_a_bad_source_url_or_path_is_said_in_one_line(
    samples: dict[str, tuple[Path, Any]], tmp_path: Path
) -> None:
    path, _ = samples["celebrity_video"]
    said = _error_of(["report", str(path), "--source", str(tmp_path / "nowhere")])
    assert said == f"error: --source {tmp_path / 'nowhere'}: {tmp_path / 'nowhere'} does not exist"
    said = _error_of(["report", str(path), "--source", "nosuchengine://x/y"])
    assert said.startswith("error: --source nosuchengine://x/y: ")
    assert len(said.splitlines()) == 1
    said = _error_of(
        ["report", str(path), "--source", "postgres://kpi@localhost:1/none?host=/nonexistent"]
    )
    assert said.startswith(
        "error: --source postgres://kpi@localhost:1/none?host=/nonexistent: cannot open it: "
    )
    assert len(said.splitlines()) == 1


def test_a_csv_month_column_in_the_documented_form_is_read(
    samples: dict[str, tuple[Path, Any]], tmp_path: Path
) -> None:
    """A month column holding 2025-01 (the form "How your data is read" gives
    for a month) reads as that month, as `kpi import` reads it; it was once
    taken for no date, and the report said there was no data."""
    path, data = samples["social_media"]
    folder = write_csv_folder(typed_tables("social_media", data.rows), tmp_path / "months")
    for name in ("channels.csv", "funnel.csv"):
        file = folder / name
        lines = file.read_text(encoding="utf-8").splitlines()
        header, *rows = lines
        assert header.split(",")[0] == "month"
        months = [row.split(",", 1) for row in rows]
        assert all(month[7:] in ("-01", "-01 00:00:00") for month, _ in months)
        file.write_text(
            "\n".join([header, *(f"{month[:7]},{rest}" for month, rest in months)]) + "\n",
            encoding="utf-8",
        )
    _assert_same_report(make_report(path, source=str(folder)), make_report(path))


def test_report_from_a_source_without_a_workbook_needs_a_type(good_folder: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--source", str(good_folder)])
    assert result.exit_code == 2
    assert "--source without a workbook FILE needs --type TYPE" in result.output
    result = CliRunner().invoke(
        main, ["report", "--source", str(good_folder), "--type", "social_media"]
    )
    assert result.exit_code == 2
    assert "no file for the table Channels" in result.output


def test_report_from_a_source_says_what_is_wrong_with_its_options(good_folder: Path) -> None:
    said = _error_of(["report", "--source", str(good_folder), "--type", "nosuch"])
    assert said == (
        "error: kpi report: --type is 'nosuch'; expected one of celebrity_video, "
        "networking, social_media, songwriting, video_marketing"
    )
    said = _error_of(
        ["report", "--source", str(good_folder), "--type", "celebrity_video", "--period", "2020-01"]
    )
    assert said == (
        f"error: --source {good_folder}: no data for the period 2020-01; choose a month "
        "with data (--period YYYY-MM)"
    )
