"""`kpi import`: exports written by independent writers, loaded into `kpi new`
workbooks, give the KPIs the engine computes from the exported rows.

The exports are written by Python's csv module in several dialects (comma,
semicolon with decimal comma in Windows-1252, tab with a BOM) and by
XlsxWriter; the workbooks are read back by `kpi report --json` (a real
process), by openpyxl (tests.starter_reader) and, in one case, after
LibreOffice recalculated every formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import kpi_engine
from addin.importing import workbook as importing
from addin.importing.presets import presets
from addin.importing.source import ImportInputError
from addin.recipes import as_rows, month_shift, recipe_for, tables_for
from addin.starter import StarterOptions, new_workbook
from addin.starter.sample import sample_tables
from kpi_engine import display
from kpi_engine._inputs import to_serial
from tests.addin_support import Ran, kpi_process, run_kpi, write_xlsx_export
from tests.sources_support import export_text
from tests.starter_reader import compute

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
TYPE = "celebrity_video"


# --- helpers --------------------------------------------------------------------------


def empty_workbook(folder: Path, language: str = "en", business_type: str = TYPE) -> Path:
    target = folder / f"{business_type}_{language}.xlsx"
    new_workbook(
        StarterOptions(business_type, language, empty=True, as_of=AS_OF), target, force=True
    )
    return target


def sample(business_type: str = TYPE) -> dict[str, dict[str, list[Any]]]:
    """The sample rows of the type's tables, only the columns its workbook has."""
    data = sample_tables(business_type, as_of=AS_OF, seed=3)
    return {
        table: {c.id: list(data[table][c.id]) for c in columns}
        for table, columns in tables_for(business_type).items()
    }


def write_csv(
    path: Path,
    columns: Mapping[str, Sequence[Any]],
    *,
    dialect: str = "excel",
    delimiter: str | None = None,
    encoding: str = "utf-8",
    decimal: str = ".",
    quoting: int = csv.QUOTE_MINIMAL,
    header: Sequence[str] | None = None,
) -> Path:
    names = list(columns)
    options: dict[str, Any] = {"dialect": dialect, "quoting": quoting}
    if delimiter:
        options["delimiter"] = delimiter
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, **options)
        writer.writerow(header or names)
        for row in zip(*columns.values(), strict=True):
            writer.writerow([export_text(v, decimal) for v in row])
    return path


def write_xlsx(path: Path, tables: Mapping[str, Mapping[str, Sequence[Any]]]) -> Path:
    """Each table on a sheet of its own name; dates as date cells."""
    return write_xlsx_export(path, tables, "dd/mm/yyyy hh:mm")


def engine_kpis(business_type: str, tables: Mapping[str, Mapping[str, Sequence[Any]]]) -> dict:
    rows = as_rows(tables)
    start = to_serial("test", "period", PERIOD)
    end = month_shift(start, 1)
    found: dict[str, float | None] = {}
    for entry in kpi_engine.get_business_type(business_type).kpis:
        try:
            found[entry.id] = recipe_for(business_type, entry.id).compute(rows, start, end)
        except kpi_engine.KPIUndefinedError:
            found[entry.id] = None
    return found


def report_kpis(path: Path, *, process: bool = False) -> dict[str, float | None]:
    run = kpi_process if process else run_kpi
    result = run("report", path, "--json", "--period", PERIOD.strftime("%Y-%m"))
    assert result.returncode == 0, result.stderr
    return {k: v["value"] for k, v in json.loads(result.stdout)["kpis"].items()}


def assert_same_kpis(found: Mapping[str, Any], expected: Mapping[str, Any], where: str) -> None:
    assert set(found) == set(expected), where
    defined = 0
    for kpi_id, value in expected.items():
        if value is None:
            assert found[kpi_id] is None, f"{where}: {kpi_id} is {found[kpi_id]!r}, engine None"
            continue
        defined += 1
        assert found[kpi_id] is not None, f"{where}: {kpi_id} undefined, engine {value!r}"
        assert math.isclose(found[kpi_id], value, rel_tol=1e-9, abs_tol=1e-12), (
            f"{where}: {kpi_id} is {found[kpi_id]!r}, engine {value!r}"
        )
    assert defined >= 3, f"{where}: only {defined} KPIs defined; the data do not test much"


def parts(path: Path) -> dict[str, tuple[bytes, int, int]]:
    with zipfile.ZipFile(path) as archive:
        return {
            info.filename: (archive.read(info), info.compress_type, info.CRC)
            for info in archive.infolist()
        }


def table_parts(path: Path, table: str) -> set[str]:
    """The table part of ``table`` and its sheet's part."""
    from addin.ooxml.package import open_package  # noqa: PLC0415

    package = open_package(path)
    try:
        entry = package.tables[table]
        sheet = next(s for s in package.sheets if s.name == entry.sheet)
        return {sheet.part, importing.table_part(package, sheet.part, table)}
    finally:
        package.close()


def openpyxl_rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    """The data rows of a table's sheet, as openpyxl reads them."""
    import openpyxl  # noqa: PLC0415

    sheet = openpyxl.load_workbook(path)[table]
    return [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]


def import_all(workbook: Path, exports: Mapping[str, Path], *extra: str) -> dict[str, Ran]:
    results = {}
    for table, export in exports.items():
        result = run_kpi("import", workbook, export, "--table", table, *extra)
        assert result.returncode == 0, result.stderr
        results[table] = result
    return results


# --- imports equal the engine ---------------------------------------------------------

DIALECTS = {
    "comma": {"dialect": "excel"},
    "semicolon_decimal_comma_cp1252": {
        "dialect": "excel",
        "delimiter": ";",
        "encoding": "cp1252",
        "decimal": ",",
        "quoting": csv.QUOTE_ALL,
    },
    "tab_utf8_bom": {"dialect": "excel-tab", "encoding": "utf-8-sig"},
}


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_csv_exports_give_the_engine_kpis(tmp_path: Path, dialect: str) -> None:
    options = DIALECTS[dialect]
    # Decimal comma comes with a French workbook: auto picks it for ;-separated files.
    language = "fr" if options.get("decimal") == "," else "en"
    workbook = empty_workbook(tmp_path, language)
    before = parts(workbook)
    data = sample()
    exports = {
        table: write_csv(tmp_path / f"{table}.csv", columns, **options)
        for table, columns in data.items()
    }
    results = import_all(workbook, exports)
    expected = engine_kpis(TYPE, data)
    assert_same_kpis(report_kpis(workbook, process=True), expected, f"kpi report after {dialect}")
    _, _, read_back = compute(workbook)
    assert_same_kpis({v.kpi_id: v.value for v in read_back}, expected, f"openpyxl, {dialect}")
    # Every row of the sample is loaded.
    for table, columns in data.items():
        count = len(next(iter(columns.values())))
        shown = display.format_value(count, "count", language)  # "1,200", "1 200"
        assert f"{shown} " in results[table].stdout, results[table].stdout
    # Only the tables' sheet and table parts changed, every other part is byte-identical.
    after = parts(workbook)
    assert set(after) == set(before)
    touched = set().union(*(table_parts(workbook, t) for t in data))
    for name in before:
        if name not in touched:
            assert after[name] == before[name], f"{name} changed"
    assert all(after[name] != before[name] for name in touched)


def test_xlsx_export_gives_the_engine_kpis(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    data = sample()
    export = write_xlsx(tmp_path / "export.xlsx", data)
    for table in data:
        result = run_kpi("import", workbook, export, "--table", table, "--sheet", table)
        assert result.returncode == 0, result.stderr
    assert_same_kpis(report_kpis(workbook), engine_kpis(TYPE, data), "xlsx export")


@pytest.mark.libreoffice
def test_libreoffice_recalculates_the_imported_rows(tmp_path: Path) -> None:
    from tests.differential import read_recalculated  # noqa: PLC0415
    from tests.libreoffice import convert  # noqa: PLC0415

    workbook = empty_workbook(tmp_path)
    data = sample()
    import_all(workbook, {t: write_csv(tmp_path / f"{t}.csv", c) for t, c in data.items()})
    (recalculated,) = convert([workbook], tmp_path / "recalculated")
    values = read_recalculated(recalculated, TYPE, "en").values
    expected = engine_kpis(TYPE, data)
    cells = {
        k: (None if v == "-" else v) for k, v in values.items()
    }  # the KPI sheet shows "-" for a KPI with no value
    assert_same_kpis(cells, expected, "LibreOffice")

    # LibreOffice saved the workbook in its own way (shared strings, a
    # <dimension>, its own table parts, no full recalculation on load): an
    # append into it keeps its rows and asks Excel to recalculate.
    more = {c: v[:40] for c, v in sample_tables(TYPE, as_of=AS_OF, seed=11)["Orders"].items()}
    more = {c.id: more[c.id] for c in tables_for(TYPE)["Orders"]}
    more["order_id"] = [f"X{i}" for i in range(40)]
    before = parts(recalculated)
    appended = run_kpi(
        "import",
        recalculated,
        write_csv(tmp_path / "more.csv", more),
        "--table",
        "Orders",
        "--append",
    )
    assert appended.returncode == 0, appended.stderr
    orders = {c: data["Orders"][c] + more[c] for c in more}
    assert_same_kpis(
        report_kpis(recalculated),
        engine_kpis(TYPE, {**data, "Orders": orders}),
        "appended into LibreOffice's file",
    )
    after = parts(recalculated)
    touched = table_parts(recalculated, "Orders") | {"xl/workbook.xml", "xl/styles.xml"}
    for name in before:
        if name not in touched:
            assert after[name] == before[name], f"{name} changed"
    assert b'fullCalcOnLoad="1"' in after["xl/workbook.xml"][0]
    (table_part,) = [p for p in table_parts(recalculated, "Orders") if "/tables/" in p]
    bottom = len(orders["order_id"]) + 1
    assert f':G{bottom}"'.encode() in after[table_part][0]


# --- modes ------------------------------------------------------------------------------


def test_append_adds_after_the_rows_and_replace_replaces_them(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    data = sample()
    orders = data["Orders"]
    half = len(orders["order_id"]) // 2
    first = {c: v[:half] for c, v in orders.items()}
    second = {c: v[half:] for c, v in orders.items()}
    import_all(
        workbook, {t: write_csv(tmp_path / f"{t}.csv", data[t]) for t in data if t != "Orders"}
    )
    assert (
        run_kpi(
            "import", workbook, write_csv(tmp_path / "a.csv", first), "--table", "Orders"
        ).returncode
        == 0
    )
    refused = run_kpi(
        "import", workbook, write_csv(tmp_path / "b.csv", second), "--table", "Orders"
    )
    assert refused.returncode == 2
    assert f"the table Orders already holds {half:,} row(s) of data" in refused.stderr
    assert "--replace" in refused.stderr
    assert "--append" in refused.stderr
    appended = run_kpi("import", workbook, tmp_path / "b.csv", "--table", "Orders", "--append")
    assert appended.returncode == 0, appended.stderr
    assert f"after the {half:,} rows already there" in appended.stdout
    assert_same_kpis(report_kpis(workbook), engine_kpis(TYPE, data), "appended")
    # --replace with the first half only: the table shrinks back.
    replaced = run_kpi("import", workbook, tmp_path / "a.csv", "--table", "Orders", "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert_same_kpis(
        report_kpis(workbook), engine_kpis(TYPE, {**data, "Orders": first}), "replaced"
    )
    with zipfile.ZipFile(workbook) as archive:
        (part,) = [p for p in table_parts(workbook, "Orders") if "/tables/" in p]
        table = archive.read(part).decode()
    assert f'ref="A1:G{half + 1}"' in table


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    before = workbook.read_bytes()
    export = write_csv(tmp_path / "o.csv", sample()["Orders"])
    result = run_kpi("import", workbook, export, "--table", "Orders", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout
    assert workbook.read_bytes() == before


# --- what is left out, and why --------------------------------------------------------

BAD_ORDERS = """order_id,customer_id,celebrity_id,ordered_at,delivered_at,status,amount
O1,C1,S1,2024-06-03 10:00,2024-06-04 09:30,completed,120.50
O2,C1,S1,31/02/2024,,completed,99
O3,C1,S1,2024-06-05,2024-06-04,completed,10
O4,C1,S1,2024-06-06,,Refunded,10
O5,C1,S1,2024-06-07,,completed,-3
O6,C1,S1,2024-06-08,,completed,1.234,50
,,,,,,
O7,C1,S1,,,completed,5
O8,C1,S1,05/06/2024,,completed,12
"""


def test_bad_values_are_named_by_row_column_and_value(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "bad.csv"
    export.write_text(BAD_ORDERS.replace("1.234,50", '"1.234,50"'), encoding="utf-8")
    result = run_kpi("import", workbook, export, "--table", "Orders", "--date-format", "%d/%m/%Y")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    not_a_date = "is not a date (text, an error or a number out of range); left out"
    assert f"row 3, column ordered_at: '31/02/2024' {not_a_date}" in out
    assert "row 4, column delivered_at: '2024-06-04' is delivered before ordered; left out" in out
    assert (
        "row 5, column status: 'Refunded' is not one of completed, in_progress, cancelled; "
        "still counted" in out
    )
    assert "row 6, column amount: '-3' is not a number of 0 or more; left out" in out
    assert "row 7, column amount: '1.234,50' is not a number of 0 or more; left out" in out
    assert "row 9, column ordered_at: blank; left out" in out
    # The report's own notes, with the file's rows.
    assert (
        "- Orders, ordered_at: not a date (text, an error or a number out of range) in 1 row (3); left out"
        in out
    )
    # Every row with data is loaded, as a paste would load it: the workbook's
    # data rules then leave each cell out of the KPIs that read it.
    assert "Orders: 8 imported, 6 of them with a data note" in out
    report = json.loads(run_kpi("report", workbook, "--json", "--period", "2024-06").stdout)
    # June's orders (05/06/2024 with %d/%m/%Y is 5 June): O1, O3, O4, O5, O6
    # and O8; all but the refunded O4 completed. O2 and O7 have no order date.
    assert report["kpis"]["completion_rate"]["value"] == pytest.approx(5 / 6)
    cells = openpyxl_rows(workbook, "Orders")
    assert cells[1][3] == "31/02/2024"  # the text it was, not a date
    assert cells[4][6] == -3  # a number, which no amount counts
    assert cells[5][6] == "1.234,50"


def test_text_dates_are_never_guessed(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "o.csv"
    export.write_text("ordered_at,amount\n05/06/2024,1\n2024-06-05,2\n", encoding="utf-8")
    result = run_kpi("import", workbook, export, "--table", "Orders")
    assert "row 2, column ordered_at: '05/06/2024' is not a date" in result.stdout
    assert "Orders: 2 imported, 1 of them with a data note" in result.stdout
    cells = openpyxl_rows(workbook, "Orders")
    assert [row[3] for row in cells] == ["05/06/2024", dt.datetime(2024, 6, 5)]
    assert "columns not in the export, left blank: order_id" in result.stdout


def test_notes_speak_the_workbook_language(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path, "nl")
    export = tmp_path / "o.csv"
    export.write_text("ordered_at;amount\n2024-06-05;1,5\n2024-06-05;abc\n", encoding="utf-8")
    result = run_kpi("import", workbook, export, "--table", "Orders")
    assert result.returncode == 0, result.stderr
    assert "rij 3, kolom amount: 'abc' is geen getal van 0 of meer; weggelaten" in result.stdout
    assert "Orders: 2 rijen geïmporteerd, waarvan 1 met een opmerking" in result.stdout


# --- columns ------------------------------------------------------------------------------


def test_unknown_and_missing_columns_are_refused_by_name(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "o.csv"
    export.write_text("Order date,Total,Note\n2024-06-05,10,x\n", encoding="utf-8")
    result = run_kpi("import", workbook, export, "--table", "Orders")
    assert result.returncode == 2
    assert (
        "the column 'Order date' (column 1 of the header) is not a column of the table Orders"
        in result.stderr
    )
    assert (
        "expected order_id, customer_id, celebrity_id, ordered_at, delivered_at, status, amount"
        in result.stderr
    )
    missing = run_kpi(
        "import",
        workbook,
        export,
        "--table",
        "Orders",
        "--map",
        "Order date=",
        "--map",
        "Note=",
        "--map",
        "Total=amount",
    )
    assert missing.returncode == 2
    assert (
        "the table Orders needs the column(s) ordered_at, which the export lacks" in missing.stderr
    )
    mapped = run_kpi(
        "import",
        workbook,
        export,
        "--table",
        "Orders",
        "--map",
        "Order date=ordered_at",
        "--map",
        "Total=amount",
        "--map",
        "Note=",
    )
    assert mapped.returncode == 0, mapped.stderr
    assert "columns of the export left out: Note" in mapped.stdout
    assert "Orders: 1 imported\n" in mapped.stdout


@pytest.mark.parametrize("spelling", ["Order ID", "order-id", "ORDER_ID", "OrderId", " order id "])
def test_a_column_matches_however_people_write_its_name(tmp_path: Path, spelling: str) -> None:
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "o.csv"
    export.write_text(
        f"{spelling},Ordered-At,AMOUNT\nO1,2024-06-05,10\n",
        encoding="utf-8",
    )
    result = run_kpi("import", workbook, export, "--table", "Orders")
    assert result.returncode == 0, result.stderr
    assert "Orders: 1 imported\n" in result.stdout


def test_every_column_problem_is_named_in_one_run_with_the_map_to_paste(tmp_path: Path) -> None:
    """An export of eight columns, three of them unknown: one run names all
    three and the missing column, suggests the nearest column of the table,
    and gives the --map options that, pasted, load it."""
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "o.csv"
    export.write_text(
        "Order ID,Customer-ID,CELEBRITY_ID,Order date,Delivered At,Status,Total,Note\n"
        "O1,C1,S1,2024-06-05,2024-06-06,completed,10,x\n",
        encoding="utf-8",
    )
    first = run_kpi("import", workbook, export, "--table", "Orders")
    assert first.returncode == 2
    for name, column in (("Order date", 4), ("Total", 7), ("Note", 8)):
        assert f"the column '{name}' (column {column} of the header) is not a column" in (
            first.stderr
        )
    assert "did you mean ordered_at?" in first.stderr
    assert "the table Orders needs the column(s) ordered_at" in first.stderr
    pasted = first.stderr.split("add: ")[1].split("\n")[0]
    assert pasted == "--map 'Order date=ordered_at' --map Total= --map Note="
    options = [option.strip("'") for option in pasted.split("--map ")[1:]]
    second = run_kpi(
        "import",
        workbook,
        export,
        "--table",
        "Orders",
        *(part for option in options for part in ("--map", option.strip().strip("'"))),
    )
    assert second.returncode == 0, second.stderr
    assert "Orders: 1 imported\n" in second.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"ordered_at,amount\n2024-06-05,\x81\x8d\n",
            "is not utf-8-sig nor utf-8 nor cp1252 text: byte",
        ),
        ("ordered_at,amount\n".encode("utf-16"), "is UTF-16 text"),
        (b"", "is empty; expected a header row"),
        (
            b"ordered_at,amount\n2024-06-05,1,2\n",
            "row 2 has 3 cells but the header names 2 columns",
        ),
        (b"ordered_at,Ordered_At\n", "the header names 'Ordered_At' twice"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(
    tmp_path: Path, content: bytes, message: str
) -> None:
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "o.csv"
    export.write_bytes(content)
    before = workbook.read_bytes()
    result = kpi_process("import", workbook, export, "--table", "Orders")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert workbook.read_bytes() == before


def test_cp1252_text_is_read(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "o.csv"
    export.write_bytes("order_id;ordered_at;amount\ncafé 1;2024-06-05;12\n".encode("cp1252"))
    assert run_kpi("import", workbook, export, "--table", "Orders").returncode == 0
    result = importing.import_file(workbook, export, "Orders", mode="replace", dry_run=True)
    assert result.rows["order_id"] == ["café 1"]
    assert result.encoding == "cp1252"
    assert result.delimiter == "semicolon"


# --- presets ------------------------------------------------------------------------------


def test_every_preset_cites_its_documentation_and_fits_its_table() -> None:
    from addin.recipes import TABLES  # noqa: PLC0415

    assert presets(), "no preset"
    for preset in presets().values():
        assert preset.source.startswith("https://")
        ids = {c.id for c in TABLES[preset.table]}
        assert set(preset.columns.values()) <= ids, preset.id


def test_stripe_payments_preset(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path, business_type="networking")
    export = tmp_path / "payments.csv"
    export.write_text(
        "ID,Description,Created (UTC),Amount,Currency,Converted Amount,Fee,Tax,"
        "Converted Currency,Customer ID\n"
        "py_1,Dues,2024-06-03 10:11:12,25.00,usd,25.00,1.03,0,usd,cus_A\n"
        "py_2,Dues,2024-06-04 08:00:00,40.00,usd,40.00,1.46,0,usd,cus_B\n",
        encoding="utf-8",
    )
    result = run_kpi("import", workbook, export, "--preset", "stripe_payments")
    assert result.returncode == 0, result.stderr
    assert "Payments: 2 imported\n" in result.stdout
    loaded = importing.import_file(
        workbook, export, preset="stripe_payments", mode="replace", dry_run=True
    )
    assert loaded.rows["member_id"] == ["cus_A", "cus_B"]
    assert loaded.rows["amount"] == [25.0, 40.0]
    assert loaded.rows["paid_on"][0] == dt.datetime(2024, 6, 3, 10, 11, 12)


# --- writing ------------------------------------------------------------------------------


def test_the_file_mode_is_kept(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    workbook.chmod(0o640)
    export = write_csv(tmp_path / "o.csv", sample()["Orders"])
    assert run_kpi("import", workbook, export, "--table", "Orders").returncode == 0
    assert workbook.stat().st_mode & 0o777 == 0o640


def test_a_failed_write_leaves_the_workbook_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workbook = empty_workbook(tmp_path)
    before = workbook.read_bytes()
    export = write_csv(tmp_path / "o.csv", sample()["Orders"])
    real = importing.write_package

    def fail_half_way(package: Any, changed: Any, new: Any, out: Any) -> None:
        real(package, changed, new, out)
        out.seek(out.tell() // 2)
        out.truncate()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(importing, "write_package", fail_half_way)
    with pytest.raises(OSError, match="No space left"):
        importing.import_file(workbook, export, "Orders")
    assert workbook.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([workbook.name, "o.csv"]), (
        "a temporary file was left behind"
    )


def test_errors_name_the_argument() -> None:
    with pytest.raises(
        ImportInputError, match="--map number 1 is 'amount'; expected THEIR_COLUMN=OUR_COLUMN"
    ):
        importing.parse_map(["amount"])


def test_decimal_separator_is_the_files_or_the_options(tmp_path: Path) -> None:
    export = tmp_path / "o.csv"
    export.write_text("ordered_at;amount\n2024-06-05;1,5\n2024-06-06;2.5\n", encoding="utf-8")
    french = empty_workbook(tmp_path, "fr")
    auto = importing.import_file(french, export, "Orders", dry_run=True)
    assert auto.decimal == ","
    assert auto.rows["amount"] == [1.5, "2.5"]  # '2.5' is text in a decimal-comma file
    point = importing.import_file(french, export, "Orders", decimal="point", dry_run=True)
    assert point.rows["amount"] == ["1,5", 2.5]
    english = empty_workbook(tmp_path, "en")
    assert importing.import_file(english, export, "Orders", dry_run=True).decimal == "."


def test_xlsx_sheet_options(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    export = write_xlsx(tmp_path / "export.xlsx", {"Orders": sample()["Orders"]})
    missing = run_kpi("import", workbook, export, "--table", "Orders", "--sheet", "Sales")
    assert missing.returncode == 2
    assert "has no sheet named 'Sales' (--sheet); its sheets are 'Orders'" in missing.stderr
    first = run_kpi("import", workbook, export, "--table", "Orders")  # the first sheet
    assert first.returncode == 0, first.stderr
    csv_file = write_csv(tmp_path / "o.csv", sample()["Orders"])
    wrong = run_kpi("import", workbook, csv_file, "--table", "Orders", "--sheet", "Orders")
    assert wrong.returncode == 2
    assert "--sheet is for .xlsx exports" in wrong.stderr


def test_cells_in_the_way_of_the_table_are_refused(tmp_path: Path) -> None:
    import openpyxl  # noqa: PLC0415

    workbook = empty_workbook(tmp_path)
    # A note typed beside the table, in a row the import would fill.
    book = openpyxl.load_workbook(workbook)
    book["Orders"]["J5"] = "checked by Ann"
    book.save(workbook)
    before = workbook.read_bytes()
    export = write_csv(tmp_path / "o.csv", sample()["Orders"])
    result = run_kpi("import", workbook, export, "--table", "Orders")
    assert result.returncode == 2
    assert "row 5 holds cells that are not in the table Orders" in result.stderr
    assert workbook.read_bytes() == before


def test_unknown_table_and_missing_table_option(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    export = write_csv(tmp_path / "o.csv", sample()["Orders"])
    unknown = run_kpi("import", workbook, export, "--table", "Sales")
    assert unknown.returncode == 2
    assert "has no table named 'Sales' (--table); its tables are Celebrities, Customers" in (
        unknown.stderr
    )
    no_table = run_kpi("import", workbook, export).stderr
    assert "--table is missing" in no_table
    # Only this workbook's tables: celebrity_video has no Members or Funnel.
    assert "one of Celebrities, Customers, Orders, Survey" in no_table
    assert "Members" not in no_table
    assert "Funnel" not in no_table
    not_ours = run_kpi(
        "import", workbook, export, "--table", "Orders", "--preset", "stripe_payments"
    )
    assert "--preset stripe_payments loads the table Payments, not Orders" in not_ours.stderr


def test_a_1904_workbook_gets_its_own_serials(tmp_path: Path) -> None:
    import openpyxl  # noqa: PLC0415

    starter = empty_workbook(tmp_path)
    workbook = tmp_path / "mac.xlsx"
    with zipfile.ZipFile(starter) as source, zipfile.ZipFile(workbook, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"<workbookPr/>", b'<workbookPr date1904="1"/>')
            target.writestr(info, data)
    export = tmp_path / "o.csv"
    export.write_text("ordered_at,amount\n1903-12-31,1\n2024-06-05 10:30,2\n", encoding="utf-8")
    result = run_kpi("import", workbook, export, "--table", "Orders")
    assert result.returncode == 0, result.stderr
    assert "row 2, column ordered_at: '1903-12-31' is not a date" in result.stdout
    book = openpyxl.load_workbook(workbook)
    assert book.epoch == openpyxl.utils.datetime.CALENDAR_MAC_1904
    # A date the workbook cannot hold is loaded as the text it was.
    assert book["Orders"]["D2"].value == "1903-12-31"
    assert book["Orders"]["D3"].value == dt.datetime(2024, 6, 5, 10, 30)


def test_a_refreshed_workbook_is_told_its_report_sheet_is_stale(tmp_path: Path) -> None:
    workbook = empty_workbook(tmp_path)
    data = sample()
    import_all(workbook, {t: write_csv(tmp_path / f"{t}.csv", c) for t, c in data.items()})
    assert run_kpi("refresh", workbook, "--period", "2024-06").returncode == 0
    extra = {c: v[:5] for c, v in data["Orders"].items()}
    result = run_kpi(
        "import", workbook, write_csv(tmp_path / "x.csv", extra), "--table", "Orders", "--append"
    )
    assert result.returncode == 0, result.stderr
    assert "shows the report before the import: kpi refresh" in result.stdout


@pytest.mark.parametrize("business_type", list(kpi_engine.BUSINESS_TYPES))
def test_every_type_imports_its_tables_and_gets_the_engine_kpis(
    tmp_path: Path, business_type: str
) -> None:
    from addin.recipes.tables import NEEDS_GROSS_MARGIN  # noqa: PLC0415
    from addin.starter.build import DEFAULT_GROSS_MARGIN  # noqa: PLC0415

    languages = list(kpi_engine.LANGUAGES)
    language = languages[list(kpi_engine.BUSINESS_TYPES).index(business_type) % len(languages)]
    workbook = empty_workbook(tmp_path, language, business_type)
    data = sample(business_type)
    # French and Dutch spreadsheets write ;-separated files with decimal commas.
    local = {"delimiter": ";", "decimal": ","} if language != "en" else {}
    import_all(workbook, {t: write_csv(tmp_path / f"{t}.csv", c, **local) for t, c in data.items()})
    tables: dict[str, Any] = dict(data)
    if business_type in NEEDS_GROSS_MARGIN:
        tables["Settings"] = {"GROSS_MARGIN": [DEFAULT_GROSS_MARGIN]}
    assert_same_kpis(
        report_kpis(workbook), engine_kpis(business_type, tables), f"{business_type}, {language}"
    )


def test_error_text_is_loaded_as_the_error_and_named(tmp_path: Path) -> None:
    """A CSV has no errors: "#N/A" is what the spreadsheet that wrote it showed
    for a failed lookup. It is loaded as the error value #N/A, as Excel makes
    it when the text is typed or pasted, so the workbook's formulas and the
    report both read an error; the row is kept (the order was placed) and the
    cell named ("How your data is read")."""
    workbook = empty_workbook(tmp_path)
    export = tmp_path / "o.csv"
    export.write_text(
        "order_id,customer_id,ordered_at,status\n"
        "O1,C1,2024-06-03,completed\n"
        "O2,#N/A,2024-06-04,completed\n"
        "O3,C2,2024-06-05,#N/A\n",
        encoding="utf-8",
    )
    result = run_kpi("import", workbook, export, "--table", "Orders")
    assert result.returncode == 0, result.stderr
    assert "row 3, column customer_id: '#N/A'" in result.stdout, result.stdout
    assert "row 4, column status: '#N/A'" in result.stdout, result.stdout
    assert "Orders: 3 imported, 2 of them with a data note" in result.stdout
    (part,) = [p for p in table_parts(workbook, "Orders") if "/tables/" not in p]
    with zipfile.ZipFile(workbook) as archive:
        sheet = archive.read(part).decode()
    assert sheet.count('t="e"><v>#N/A</v>') == 2
    report = json.loads(run_kpi("report", workbook, "--json", "--period", "2024-06").stdout)
    # O1 and O2 (whose customer is an error) are completed; O3's status is an
    # error, so it has none and the completion rate leaves it out.
    assert report["kpis"]["completion_rate"]["value"] == pytest.approx(1.0)
