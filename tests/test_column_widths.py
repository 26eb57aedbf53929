"""No header and no band text is wider than its column, in any language.

The KPIs, Trend and Report sheets of every business type and language are
read back with openpyxl, and each header and band text is measured with
Pillow in Carlito (Calibri's metric twin, the font LibreOffice draws these
sheets in): independently of the width table the writers size columns with
(``addin/ooxml/font_widths.json``). A header that wraps must have each word
fit its column and its row tall enough for all its lines; any other text
must fit on one line.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from functools import cache
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from PIL import ImageFont

import kpi_engine
from addin.report.offline import refresh_file
from addin.starter import StarterOptions, new_workbook
from addin.starter.build import KPI_SHEET_COLUMNS, workbook_words
from kpi_engine import display
from kpi_engine._labels import labels
from tests.libreoffice import convert

FONTS = Path("/usr/share/fonts/truetype/crosextra")
#: Room that Excel and LibreOffice keep between a cell's text and its edges, in pixels.
MARGIN_PIXELS = 5
#: A line of Calibri 11 in points, as Excel's default row height.
LINE_POINTS = 15.0
CASES = [(t, lang) for t in kpi_engine.BUSINESS_TYPES for lang in kpi_engine.LANGUAGES]


@cache
def font(bold: bool, size: float) -> ImageFont.FreeTypeFont:
    name = "Carlito-Bold.ttf" if bold else "Carlito-Regular.ttf"
    assert (FONTS / name).exists(), "needs fonts-crosextra-carlito (make system-deps installs it)"
    return ImageFont.truetype(str(FONTS / name), size=size * 96 / 72)


def pixels(text: str, cell: Cell) -> float:
    return font(bool(cell.font.b), float(cell.font.sz or 11)).getlength(text)


def column_pixels(sheet: Worksheet, column: int) -> int:
    """A column's width in pixels (ECMA-376 18.3.1.13, 7-pixel digits)."""
    width = 8.43  # Excel's default column
    for dimension in sheet.column_dimensions.values():
        if dimension.min and dimension.max and dimension.min <= column <= dimension.max:
            width = dimension.width or width
    return math.trunc((256 * width + math.trunc(128 / 7)) / 256 * 7)


def cell_pixels(sheet: Worksheet, cell: Cell) -> int:
    """The room a cell's text has: its column, or its merged range's columns."""
    for merged in sheet.merged_cells.ranges:
        if cell.coordinate in merged:
            return sum(column_pixels(sheet, c) for c in range(merged.min_col, merged.max_col + 1))
    return column_pixels(sheet, cell.column)


def lines_of(text: str, cell: Cell, room: float) -> list[str]:
    """``text`` wrapped at spaces to ``room`` pixels, as a spreadsheet wraps it."""
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if line and pixels(candidate, cell) > room:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line]


def too_wide(sheet: Worksheet, cell: Cell, text: str | None = None) -> str | None:
    """Why ``text`` (default: the cell's value) does not fit ``cell``, or None."""
    text = str(cell.value) if text is None else text
    room = cell_pixels(sheet, cell) - MARGIN_PIXELS
    where = f"{sheet.title}!{cell.coordinate} {text!r}"
    if cell.alignment.wrap_text:
        for word in text.split():
            if pixels(word, cell) > room:
                return f"{where}: the word {word!r} is {pixels(word, cell):.0f} px, room {room} px"
        lines = len(lines_of(text, cell, room))
        height = sheet.row_dimensions[cell.row].height or LINE_POINTS
        if lines * LINE_POINTS > height + 0.01:
            return f"{where}: {lines} lines need {lines * LINE_POINTS} pt, the row is {height} pt"
        return None
    if pixels(text, cell) > room:
        return f"{where}: {pixels(text, cell):.0f} px, room {room} px"
    return None


def is_header(cell: Cell) -> bool:
    """A cell in the header style: bold on a filled background."""
    return bool(
        isinstance(cell.value, str)
        and cell.font.b
        and cell.fill.fill_type == "solid"
        and not cell.value.startswith("=")
    )


def header_rows(sheet: Worksheet) -> list[tuple[Cell, ...]]:
    return [row for row in sheet.iter_rows() if any(is_header(cell) for cell in row)]


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    folder = tmp_path_factory.mktemp("widths")
    made = {}
    for business_type, language in CASES:
        path = folder / f"{business_type}_{language}.xlsx"
        new_workbook(StarterOptions(business_type, language, as_of=dt.date(2024, 7, 15)), path)
        refresh_file(path)
        made[business_type, language] = path
    return made


@pytest.mark.parametrize(("business_type", "language"), CASES)
def test_headers_and_band_texts_fit_their_columns(
    workbooks: dict[tuple[str, str], Path], business_type: str, language: str
) -> None:
    book = load_workbook(workbooks[business_type, language])
    sheet_names = workbook_words()[language]["sheets"]
    kpis, trend, report = book[sheet_names["kpis"]], book[sheet_names["trend"]], book.worksheets[-1]
    ratings = labels(language)["ratings"]
    target_met = labels(language)["target_met"]
    problems: list[str | None] = []
    checked = 0

    for sheet in (kpis, trend, report):
        rows = header_rows(sheet)
        assert rows, f"{sheet.title}: no header row found"
        for row in rows:
            for cell in row:
                if is_header(cell):
                    problems.append(too_wide(sheet, cell))
                    checked += 1

    # The KPIs sheet: the band texts (typical... exceptional) as written, and
    # every word its band and target-met formulas can show.
    kpi_header = header_rows(kpis)[0]  # the KPI table; the data notes follow
    first_row = kpi_header[0].row + 1
    kpi_count = len(kpi_engine.BUSINESS_TYPES[business_type].kpis)
    for key in ("typical", "above_average", "exceptional", "status", "target_met"):
        column = KPI_SHEET_COLUMNS.index(key) + 1
        for row in range(first_row, first_row + kpi_count):
            cell = kpis.cell(row, column)
            # A formula's cell may show any of its words; a band shows its text.
            formula_words = {"status": ratings, "target_met": target_met}.get(key)
            texts = [str(cell.value)] if formula_words is None else [*formula_words.values()]
            for text in texts:
                problems.append(too_wide(kpis, cell, text))
                checked += 1

    # The Report sheet: its band and target-met cells, as the refresh wrote them.
    words = {*ratings.values(), *target_met.values()}
    for row in report.iter_rows():
        for cell in row:
            if cell.value in words:
                problems.append(too_wide(report, cell))
                checked += 1

    assert checked > 3 * kpi_count
    assert [problem for problem in problems if problem] == []


def test_the_check_finds_a_text_that_is_too_wide(
    workbooks: dict[tuple[str, str], Path],
) -> None:
    # The same check on a narrowed column reports it: the test can fail.
    book = load_workbook(workbooks["celebrity_video", "fr"])
    kpis = book[workbook_words()["fr"]["sheets"]["kpis"]]
    header = header_rows(kpis)[0]
    cell = header[KPI_SHEET_COLUMNS.index("above_average")]
    assert too_wide(kpis, cell) is None
    kpis.column_dimensions[get_column_letter(cell.column)].width = 6
    assert "Supérieur" in str(too_wide(kpis, cell))


@pytest.fixture(scope="module")
def month_texts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The twelve months of a year in each language, as LibreOffice shows a
    cell in the workbooks' month format (not as babel writes them)."""
    folder = tmp_path_factory.mktemp("months")
    book = Workbook()
    sheet = book.active
    for language in kpi_engine.LANGUAGES:
        for month in range(1, 13):
            sheet.append([dt.date(2024, month, 1)])
            sheet.cell(sheet.max_row, 1).number_format = display.excel_date_format(
                "month", language
            )
    book.save(folder / "months.xlsx")
    (exported,) = convert(
        [folder / "months.xlsx"], folder / "out", fmt="csv:Text - txt - csv (StarCalc):44,34,76,1"
    )
    with exported.open(encoding="utf-8", newline="") as handle:
        shown = [row[0] for row in csv.reader(handle)]
    return {
        language: shown[12 * index : 12 * index + 12]
        for index, language in enumerate(kpi_engine.LANGUAGES)
    }


@pytest.mark.parametrize(("business_type", "language"), CASES)
def test_every_month_fits_the_period_cells(
    workbooks: dict[tuple[str, str], Path],
    month_texts: dict[str, list[str]],
    business_type: str,
    language: str,
) -> None:
    """The KPIs sheet's reporting period and the Trend sheet's months never
    show ###, whichever month the user picks: the longest month name of the
    language, as LibreOffice writes it, fits with the cell's margins."""
    months = month_texts[language]
    assert len(set(months)) == 12, months
    assert all("2024" in month for month in months), months
    book = load_workbook(workbooks[business_type, language])
    sheet_names = workbook_words()[language]["sheets"]
    kpis, trend = book[sheet_names["kpis"]], book[sheet_names["trend"]]
    period = kpis["B2"]
    assert period.value == "=PERIOD_START"
    assert period.number_format == display.excel_date_format("month", language)
    trend_months = [
        cell
        for (cell,) in trend.iter_rows(min_col=1, max_col=1)
        if str(cell.value).startswith("=EDATE(PERIOD_START,")
    ]
    assert len(trend_months) == 12
    problems = [
        too_wide(sheet, cell, month)
        for sheet, cell in [(kpis, period), (trend, trend_months[0])]
        for month in months
    ]
    assert [problem for problem in problems if problem] == []


def test_the_period_check_finds_a_month_too_wide(
    workbooks: dict[tuple[str, str], Path], month_texts: dict[str, list[str]]
) -> None:
    book = load_workbook(workbooks["celebrity_video", "en"])
    kpis = book[workbook_words()["en"]["sheets"]["kpis"]]
    kpis.column_dimensions["B"].width = 12
    assert too_wide(kpis, kpis["B2"], max(month_texts["en"], key=len)) is not None
