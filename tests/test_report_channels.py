"""Channels are names as Excel compares them: trimmed by TRIM's rule (ASCII
spaces only) and in any letter case. A name ending in a no-break space is
another channel, and keeps its own figures on the report sheet (read back
with python-calamine), in `kpi report --json` and on the HTML page (parsed
with html5lib), under a name a reader can tell apart."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import html5lib
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

import kpi_engine
from addin.cli import main
from addin.report.model import channel_names, made_visible, shown_names, words
from addin.starter import StarterOptions, new_workbook
from addin.starter.sample import sample_tables

AS_OF = dt.date(2024, 7, 15)
PERIOD = dt.date(2024, 6, 1)
HTML = "{http://www.w3.org/1999/xhtml}"
NBSP = "\u00a0"


def test_names_that_look_alike_are_made_visible_and_others_are_not() -> None:
    assert made_visible(f"Instagram{NBSP}") == "Instagram[U+00A0]"
    assert made_visible("Insta\u200bgram") == "Insta[U+200B]gram"
    assert shown_names(["Instagram", f"Instagram{NBSP}", "TikTok"]) == [
        "Instagram",
        "Instagram[U+00A0]",
        "TikTok",
    ]
    # Alike in any letter case; a lone name with a no-break space stays as written.
    assert shown_names(["INSTAGRAM", f"instagram{NBSP}", f"TikTok{NBSP}"]) == [
        "INSTAGRAM",
        "instagram[U+00A0]",
        f"TikTok{NBSP}",
    ]
    # A name of invisible characters alone would show nothing.
    assert shown_names(["\u200b"]) == ["[U+200B]"]
    # A name spelling the code out stays apart from the one it spells.
    assert shown_names(["X", f"X{NBSP}", "X[U+00A0]"]) == ["X", "X[U+00A0]", "X[U+00A0] (2)"]


def _reach(rows: dict[str, Any], channel: str) -> float:
    table = rows["Channels"]
    return float(
        sum(
            reach
            for name, month, reach in zip(
                table["channel"], table["month"], table["reach"], strict=True
            )
            if name == channel and month == PERIOD
        )
    )


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, float]]]:
    """A social media workbook per language whose TikTok rows are named
    "Instagram" with a no-break space, and whose YouTube rows are " INSTAGRAM "
    (the same channel as "Instagram" by TRIM and in any case); with the
    reach each channel must show."""
    data = sample_tables("social_media", as_of=AS_OF)
    original = {name: _reach(data, name) for name in ("Instagram", "TikTok", "YouTube")}
    assert all(original.values()), original
    renamed = {"TikTok": f"Instagram{NBSP}", "YouTube": " INSTAGRAM "}
    data["Channels"]["channel"] = [renamed.get(n, n) for n in data["Channels"]["channel"]]
    assert channel_names(_as_rows(data)) == ["Instagram", "Instagram[U+00A0]"]
    expected = {
        "Instagram": original["Instagram"] + original["YouTube"],
        "Instagram[U+00A0]": original["TikTok"],
    }
    folder = tmp_path_factory.mktemp("channels")
    made = {}
    for language in kpi_engine.LANGUAGES:
        path = folder / f"social_{language}.xlsx"
        new_workbook(StarterOptions("social_media", language, as_of=AS_OF), path, data=data)
        made[language] = (path, expected)
    return made


def _as_rows(data: dict[str, Any]) -> Any:
    from addin.recipes import as_rows  # noqa: PLC0415

    return as_rows(data)


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("language", kpi_engine.LANGUAGES)
def test_json_keeps_each_channel_apart(
    books: dict[str, tuple[Path, dict[str, float]]], language: str
) -> None:
    path, expected = books[language]
    summary = json.loads(run("report", str(path), "--json", "--period", "2024-06").stdout)
    assert summary["kpis"]["reach"]["channels"] == expected


@pytest.mark.parametrize("language", kpi_engine.LANGUAGES)
def test_report_sheet_keeps_each_channel_apart(
    books: dict[str, tuple[Path, dict[str, float]]], language: str, tmp_path: Path
) -> None:
    path, expected = books[language]
    out = tmp_path / "refreshed.xlsx"
    run("refresh", str(path), "-o", str(out), "--period", "2024-06")
    said = words(language)
    values = CalamineWorkbook.from_path(str(out)).get_sheet_by_name(said["sheet"]).to_python()
    (start,) = [i for i, row in enumerate(values) if row and row[0] == said["by_channel"]]
    header = values[start + 1]
    assert header[1] == said["all_channels"]
    names = [name for name in header[2:] if name != ""]
    assert names == list(expected)
    title = kpi_engine.get_kpi("reach").title[language]
    reach_row = next(row for row in values[start + 2 :] if row and row[0] == title)
    assert dict(zip(names, reach_row[2 : 2 + len(names)], strict=True)) == expected
    assert any(row and row[0] == said["invisible_note"] for row in values[start:])


def _text(element: Any) -> str:
    return re.sub(r"[ \t\r\n]+", " ", "".join(element.itertext())).strip()


@pytest.mark.parametrize("language", kpi_engine.LANGUAGES)
def test_html_page_keeps_each_channel_apart(
    books: dict[str, tuple[Path, dict[str, float]]], language: str, tmp_path: Path
) -> None:
    path, expected = books[language]
    page = tmp_path / "report.html"
    run("report", str(path), "--html", str(page), "--period", "2024-06")
    with page.open("rb") as handle:
        tree = html5lib.parse(handle, treebuilder="etree")
    (table,) = [t for t in tree.iter(f"{HTML}table") if "channels" in t.get("class", "")]
    header = [_text(th) for th in table.iter(f"{HTML}th") if th.get("scope") == "col"]
    said = words(language)
    assert header[1] == said["all_channels"]
    assert header[2:] == list(expected)
    (reach_row,) = [tr for tr in table.iter(f"{HTML}tr") if tr.get("data-channel-kpi") == "reach"]
    cells = [_text(td) for td in reach_row.iter(f"{HTML}td")]
    shown = [
        kpi_engine.display.format_value(value, "count", language) for value in expected.values()
    ]
    assert cells[1:] == shown
    notes = [_text(p) for p in tree.iter(f"{HTML}p") if "invisible-note" in p.get("class", "")]
    assert notes == [said["invisible_note"]]


def test_the_workbook_gives_each_channel_its_own_column(
    books: dict[str, tuple[Path, dict[str, float]]],
) -> None:
    """The starter's table by channel heads a column with each channel as
    written, "Instagram" with its no-break space too (its formulas compare
    the heading with TRIM, which keeps that space)."""
    from openpyxl import load_workbook  # noqa: PLC0415

    path, _ = books["en"]
    book = load_workbook(path)
    names = []
    while f"CHANNEL_{len(names) + 1}" in book.defined_names:
        (sheet, cell), *_ = book.defined_names[f"CHANNEL_{len(names) + 1}"].destinations
        names.append(book[sheet][cell.replace("$", "")].value)
    assert names == ["Instagram", f"Instagram{NBSP}"]


def test_a_source_keeps_each_channel_apart(
    books: dict[str, tuple[Path, dict[str, float]]], tmp_path: Path
) -> None:
    """`kpi report --source` measures each channel in the source's engine,
    telling channels apart and naming them as the workbook path does."""
    from addin.ooxml.package import open_package, read_data  # noqa: PLC0415
    from tests.sources_support import typed_tables, write_parquet_folder  # noqa: PLC0415

    path, expected = books["en"]
    package = open_package(path)
    try:
        rows = read_data(package).rows
    finally:
        package.close()
    folder = write_parquet_folder(typed_tables("social_media", rows), tmp_path / "parquet")
    args = ("report", str(path), "--json", "--period", "2024-06", "--source", str(folder))
    summary = json.loads(run(*args).stdout)
    assert summary["kpis"]["reach"]["channels"] == expected
