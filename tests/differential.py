"""Three ways to compute one workbook's KPIs, and where they disagree.

For a starter workbook holding given table rows:

1. the workbook's own formulas, recalculated by LibreOffice and read back
   (KPI values, statuses, the trend table, the charts' copy of it and the
   data-note counts and rows of the KPI sheet);
2. ``kpi report --json`` on the original file (the report's reader and model,
   run in-process), with its data notes;
3. the add-in's Excel functions, called on the same columns as each KPI's
   recipe gives them to the engine;
4. each recipe's ibis form, on the same rows typed into DuckDB
   (tests/sources_support.py) as ``kpi report --source`` reads them, with
   the data notes it counts.

``disagreements`` lists every cell where they differ. The source leg
(``source_disagreements``) and the import leg (``imported_workbooks``,
``import_disagreements``) compare every slot of a report (``_slots``) with
the workbook's: the same rows as a Parquet and a CSV folder through
``kpi report --source``, and as a CSV and an .xlsx export through ``kpi
import`` into an empty workbook of the type.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

import kpi_engine
from addin import functions
from addin.ooxml.package import open_package, read_data
from addin.recipes import month_shift, recipe_for
from addin.recipes.notes import checks_for, problem_text
from addin.report.model import Report
from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from addin.starter.build import NOTE_COLUMNS, workbook_words
from kpi_engine._inputs import to_serial
from kpi_engine._labels import labels
from tests import addin_support
from tests.starter_reader import named_value

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
DASH = "-"


def write_workbook(
    business_type: str, language: str, tables: Mapping[str, Mapping[str, Sequence[Any]]], path: Path
) -> Path:
    return new_workbook(StarterOptions(business_type, language, as_of=AS_OF), path, data=tables)


@dataclass(frozen=True)
class Recalculated:
    """What LibreOffice computed in a starter workbook."""

    values: dict[str, Any]
    statuses: dict[str, Any]
    trend: list[list[Any]]  # per month, per KPI
    charted: list[list[Any]]  # the charts' copy
    months: list[dt.date]
    notes: list[tuple[Any, Any]]  # per data check: (count, first rows)


def read_recalculated(path: Path, business_type: str, language: str) -> Recalculated:
    book = load_workbook(path, data_only=True)
    profile = kpi_engine.get_business_type(business_type)
    words = workbook_words()[language]
    values = {e.id: named_value(book, f"KPI_{e.id.upper()}") for e in profile.kpis}
    statuses = {e.id: named_value(book, f"STATUS_{e.id.upper()}") for e in profile.kpis}
    trend_sheet = book[words["sheets"]["trend"]]
    count = len(profile.kpis)
    trend, charted, months = [], [], []
    for row in range(4, 16):
        months.append(trend_sheet.cell(row, 1).value.date())
        trend.append([trend_sheet.cell(row, 3 + i).value for i in range(count)])
        charted.append([trend_sheet.cell(row, 3 + count + 1 + i).value for i in range(count)])
    kpis = book[words["sheets"]["kpis"]]
    checks = checks_for(business_type)
    first = _notes_first_row(kpis, language)
    notes = []
    for offset, check in enumerate(checks):
        row = first + offset
        assert kpis.cell(row, 1).value == f"{check.table}[{check.column}]", (row, check)
        assert kpis[f"{NOTE_COLUMNS['problem']}{row}"].value == problem_text(check, language)
        notes.append(
            (
                kpis[f"{NOTE_COLUMNS['rows']}{row}"].value,
                kpis[f"{NOTE_COLUMNS['first_rows']}{row}"].value,
            )
        )
    return Recalculated(values, statuses, trend, charted, months, notes)


def _notes_first_row(kpis: Any, language: str) -> int:
    from addin.recipes.notes import notes_words  # noqa: PLC0415

    heading = notes_words(language)["headings"]["column"]
    for row in range(1, kpis.max_row + 1):
        if kpis.cell(row, 1).value == heading:
            return row + 1
    raise AssertionError("the KPI sheet has no data notes")


def report_of(path: Path) -> Report:
    """What ``kpi report --json`` computes from the original file."""
    return make_report(path)


def _same(got: Any, expected: float | None) -> bool:
    if expected is None:
        return got == DASH
    return (
        isinstance(got, int | float)
        and not isinstance(got, bool)
        and math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
    )


def _status_word(business_type: str, kpi_id: str, value: float | None, language: str) -> str:
    if value is None:
        return DASH
    entry = next(e for e in kpi_engine.get_business_type(business_type).kpis if e.id == kpi_id)
    if not entry.bands:
        return str(workbook_words()[language]["no_benchmark"])
    return labels(language)["ratings"][kpi_engine.benchmark_band(kpi_id, value, business_type)]


def addin_value(business_type: str, kpi_id: str, rows: Any, start: float, end: float) -> Any:
    """The add-in's Excel function on the columns the recipe gives the engine."""
    try:
        call = recipe_for(business_type, kpi_id).engine_call(rows, start, end)
    except kpi_engine.KPIUndefinedError:
        return DASH  # undefined before any function is called (no cohort)
    result = functions.EXCEL_FUNCTIONS[call.function](*call.args)
    return DASH if result == functions.DIV0 else result


def _kpi_disagreements(lo: Recalculated, report: Report, language: str) -> list[str]:
    found = []
    for kpi in report.kpis:
        got = lo.values[kpi.id]
        if not _same(got, kpi.value):
            found.append(f"{kpi.id}: workbook {got!r}, kpi report {kpi.value!r}")
        want = _status_word(report.business_type, kpi.id, kpi.value, language)
        if lo.statuses[kpi.id] != want:
            found.append(f"{kpi.id} status: workbook {lo.statuses[kpi.id]!r}, expected {want!r}")
    return found


def _trend_disagreements(lo: Recalculated, report: Report, rows: Any | None) -> list[str]:
    """The trend table and the charts' copy against the report; the add-in's
    functions too, given the rows."""
    found = []
    for m, month in enumerate(lo.months):
        assert month == report.months[m]
        start = to_serial("test", "month", month)
        end = month_shift(start, 1)
        for k, kpi in enumerate(report.kpis):
            expected = kpi.trend[m]
            where = f"{kpi.id} in {month:%Y-%m}"
            if not _same(lo.trend[m][k], expected):
                found.append(f"{where}: workbook {lo.trend[m][k]!r}, kpi report {expected!r}")
            charted = lo.charted[m][k]
            if (charted != "#N/A") if expected is None else not _same(charted, expected):
                found.append(f"{where}: the chart plots {charted!r}, kpi report {expected!r}")
            if rows is None:
                continue
            added = addin_value(report.business_type, kpi.id, rows, start, end)
            if not _same(added, expected):
                found.append(f"{where}: add-in function {added!r}, kpi report {expected!r}")
    return found


def _note_disagreements(lo: Recalculated, report: Report) -> list[str]:
    found = []
    notes = {(n.check.table, n.check.column, n.check.problem): n for n in report.notes}
    for check, (count, first_rows) in zip(checks_for(report.business_type), lo.notes, strict=True):
        note = notes.get((check.table, check.column, check.problem))
        want_count = 0 if note is None else note.rows
        where = f"note {check.table}.{check.column} {check.problem}"
        if count != want_count:
            found.append(f"{where}: workbook counts {count!r}, kpi report {want_count}")
        if check.rows_formula() is not None:
            want_rows = "" if note is None else ", ".join(map(str, note.first_rows))
            if (first_rows or "") != want_rows:
                found.append(f"{where}: workbook rows {first_rows!r}, kpi report {want_rows!r}")
    return found


def ibis_values(business_type: str, rows: Any, months: Sequence[dt.date]) -> list[list[Any]]:
    """Per month, per KPI: the ibis form's value on DuckDB (None: undefined)."""
    from addin.recipes.ibis_forms import Prepared, compute, prepare  # noqa: PLC0415
    from tests.sources_support import duckdb_tables, typed_tables  # noqa: PLC0415

    settings = {}
    if "Settings" in rows:
        settings["GROSS_MARGIN"] = rows["Settings"]["GROSS_MARGIN"][0]
    con, raw = duckdb_tables(typed_tables(business_type, rows))
    # The rules applied once into tables of their own, as kpi report --source does.
    tables = Prepared(
        {name: con.create_table(f"read_{name}", table) for name, table in prepare(raw).items()}
    )
    try:
        found = []
        for month in months:
            start = to_serial("test", "month", month)
            end = month_shift(start, 1)
            values: list[Any] = []
            for entry in kpi_engine.get_business_type(business_type).kpis:
                try:
                    values.append(compute(business_type, entry.id, tables, start, end, settings))
                except (kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError):
                    values.append(None)
            found.append(values)
        return found
    finally:
        con.disconnect()


def ibis_note_counts(business_type: str, rows: Any) -> dict[tuple[str, str, str], int]:
    """What the data notes of a source count on the same rows, typed into DuckDB."""
    from addin.recipes.ibis_forms import note_counts  # noqa: PLC0415
    from tests.sources_support import duckdb_tables, typed_tables  # noqa: PLC0415

    con, tables = duckdb_tables(typed_tables(business_type, rows))
    try:
        notes = note_counts(business_type, tables, checks_for(business_type))
    finally:
        con.disconnect()
    return {(n.check.table, n.check.column, n.check.problem): n.rows for n in notes}


def _ibis_disagreements(lo: Recalculated, report: Report, rows: Any) -> list[str]:
    found = []
    values = ibis_values(report.business_type, rows, lo.months)
    for m, month in enumerate(lo.months):
        for k, kpi in enumerate(report.kpis):
            got = values[m][k]
            if not _same(lo.trend[m][k], got):
                found.append(
                    f"{kpi.id} in {month:%Y-%m}: workbook {lo.trend[m][k]!r}, ibis on DuckDB {got!r}"
                )
    counted = ibis_note_counts(report.business_type, rows)
    for note in report.notes:
        key = (note.check.table, note.check.column, note.check.problem)
        if counted.get(key, 0) != note.rows:
            found.append(
                f"note {'.'.join(key)}: kpi report {note.rows}, ibis {counted.get(key, 0)}"
            )
    for key, count in counted.items():
        if not any((n.check.table, n.check.column, n.check.problem) == key for n in report.notes):
            found.append(f"note {'.'.join(key)}: kpi report 0, ibis {count}")
    return found


def disagreements(
    original: Path, recalculated: Path, business_type: str, language: str
) -> list[str]:
    """Every place where the formulas, the report, the add-in and the ibis form differ."""
    lo = read_recalculated(recalculated, business_type, language)
    report = report_of(original)
    assert report.period == PERIOD
    assert report.business_type == business_type
    package = open_package(original)
    try:
        rows = read_data(package).rows
    finally:
        package.close()
    return [
        *_kpi_disagreements(lo, report, language),
        *_trend_disagreements(lo, report, rows),
        *_note_disagreements(lo, report),
        *_ibis_disagreements(lo, report, rows),
    ]


def formula_disagreements(
    report: Report, recalculated: Path, business_type: str, language: str
) -> list[str]:
    """Every KPI value, status, trend cell, chart value and data note where
    the recalculated formulas differ from ``report``, the same workbook's
    (the add-in and the ibis forms left to ``disagreements``: they compute
    from rows, not from cells as written)."""
    lo = read_recalculated(recalculated, business_type, language)
    return [
        *_kpi_disagreements(lo, report, language),
        *_trend_disagreements(lo, report, None),
        *_note_disagreements(lo, report),
    ]


# --- the source leg: the same rows as a Parquet and a CSV folder, through --source --------


def _slots(report: Report) -> dict[str, float | None]:
    """Every figure of a report by slot: each KPI's month, previous month,
    year earlier, trend months and channels; each data note's count."""
    slots: dict[str, float | None] = {}
    for kpi in report.kpis:
        slots[f"{kpi.id} value"] = kpi.value
        slots[f"{kpi.id} previous"] = kpi.previous
        slots[f"{kpi.id} year earlier"] = kpi.year_ago
        for month, value in zip(report.months, kpi.trend, strict=True):
            slots[f"{kpi.id} in {month:%Y-%m}"] = value
        for name, value in kpi.channels:
            slots[f"{kpi.id} for channel {name!r}"] = value
    for note in report.notes:
        slots[f"note {note.check.table}.{note.check.column} {note.check.problem}"] = note.rows
    return slots


def source_disagreements(
    original: Path, report: Report, rows: Any, folder: Path
) -> tuple[int, list[str]]:
    """The workbook's rows typed as a database export types them, written as
    a Parquet folder and as a CSV folder (Python's csv module), and reported
    on with ``--source``: (slots compared, every slot that differs from the
    workbook's report)."""
    from addin.sources import SourceError  # noqa: PLC0415
    from tests.sources_support import (  # noqa: PLC0415
        typed_tables,
        write_csv_folder,
        write_parquet_folder,
    )

    typed = typed_tables(report.business_type, rows)
    want = _slots(report)
    compared, found = 0, []
    for form, where in (
        ("Parquet", write_parquet_folder(typed, folder / "parquet")),
        ("CSV", write_csv_folder(typed, folder / "csv")),
    ):
        try:
            got = _slots(make_report(original, source=str(where)))
        except SourceError as error:
            found.append(f"--source on {form}: {error}")
            continue
        count, differ = compare_slots(want, got, f"--source on {form}")
        compared += count
        found.extend(differ)
    return compared, found


def compare_slots(
    want: Mapping[str, float | None], got: Mapping[str, float | None], where: str
) -> tuple[int, list[str]]:
    """(slots compared, every slot where ``got`` differs from the workbook's report)."""
    found = []
    slots = sorted(set(want) | set(got))
    for slot in slots:
        a, b = want.get(slot), got.get(slot)
        same = (a is None and b is None) or (
            a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        )
        if not same:
            found.append(f"{slot}: kpi report {a!r}, {where} {b!r}")
    return len(slots), found


# --- the import leg: the same rows as an export, through kpi import ----------------------

#: The exports ``kpi import`` reads: a CSV file per table, an .xlsx export of a sheet per table.
IMPORT_FORMS = ("CSV", "xlsx")


def write_xlsx_export(tables: Mapping[str, Any], path: Path) -> Path:
    """The typed tables as one .xlsx export, a sheet per table (see
    ``addin_support.write_xlsx_export``)."""
    return addin_support.write_xlsx_export(
        path,
        {
            name: {header: table.column(header).to_pylist() for header in table.column_names}
            for name, table in tables.items()
        },
    )


def imported_workbooks(
    business_type: str, language: str, rows: Any, folder: Path
) -> dict[str, Path]:
    """The workbook's rows typed as a database export types them (the export
    the source leg reads), written as CSV files (Python's csv module) and as
    an .xlsx export (XlsxWriter), each loaded table by table with ``kpi
    import`` into an empty starter workbook of the type: the workbook per form."""
    from click.testing import CliRunner  # noqa: PLC0415

    from addin.cli import main  # noqa: PLC0415
    from tests.sources_support import typed_tables, write_csv_folder  # noqa: PLC0415

    typed = typed_tables(business_type, rows)
    csv_folder = write_csv_folder(typed, folder / "csv")
    exports = {
        "CSV": {t: csv_folder / f"{t.lower()}.csv" for t in typed},
        "xlsx": dict.fromkeys(typed, write_xlsx_export(typed, folder / "export.xlsx")),
    }
    made = {}
    for form in IMPORT_FORMS:
        workbook = new_workbook(
            StarterOptions(business_type, language, empty=True, as_of=AS_OF),
            # Named after the folder: LibreOffice names what it saves by the file's name.
            folder / f"{folder.name}_imported_{form}.xlsx",
        )
        for table, export in exports[form].items():
            args = ["import", str(workbook), str(export), "--table", table]
            if form == "xlsx":
                args += ["--sheet", table]
            ran = CliRunner().invoke(main, args, catch_exceptions=False)
            assert ran.exit_code == 0, f"kpi import {form} {table}: {ran.output}"
        made[form] = workbook
    return made


def import_disagreements(
    report: Report, imported: Mapping[str, Path]
) -> tuple[int, list[str], dict[str, Report]]:
    """(slots compared, every slot of ``kpi report`` on each imported workbook
    that differs from ``report``, the original workbook's; each imported
    workbook's report, by form)."""
    from addin.ooxml.package import ReportError  # noqa: PLC0415

    want = _slots(report)
    compared, found, reports = 0, [], {}
    for form, workbook in imported.items():
        try:
            got = reports[form] = make_report(workbook)
        except ReportError as error:
            found.append(f"kpi report on the import of the {form} export: {error}")
            continue
        if got.period != report.period:
            found.append(f"kpi import of the {form} export: period {got.period}")
            continue
        count, differ = compare_slots(want, _slots(got), f"kpi import of the {form} export")
        compared += count
        found.extend(differ)
    return compared, found, reports
