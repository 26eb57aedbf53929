"""The Trend sheet when the reporting period is set to a day late in a month.

A user may type any day of a month as the period (Settings, PERIOD): the
29th, 30th or 31st, a February's last day, in a leap year or not. The months
of the Trend sheet must still be whole calendar months, the twelve that end
with the period's month (EDATE from such a day lands on a shorter month's
last day, and a chain of EDATEs would drift), and every KPI of every month,
recalculated by LibreOffice, must equal what the engine computes for that
calendar month from the same table rows. The months here are computed apart
from the workbook's own cells, so a drift in them fails the test.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import kpi_engine
from addin.recipes import TableRows
from addin.starter import StarterOptions, new_workbook
from addin.starter.build import workbook_words
from kpi_engine._inputs import first_of_month, to_serial
from tests.libreoffice import convert
from tests.starter_reader import named_value, read_tables
from tests.test_starter_recalc import ERRORS, assert_same, engine_value

pytestmark = pytest.mark.libreoffice

AS_OF = dt.date(2024, 7, 15)
#: A day late in a month per business type: each of 29, 30 and 31, and
#: February's last day in a leap year and in another (the sample data runs
#: two years back from AS_OF, so every month of each Trend has rows).
PERIOD_DAYS = {
    "celebrity_video": dt.date(2024, 1, 31),
    "networking": dt.date(2024, 2, 29),
    "social_media": dt.date(2023, 12, 30),
    "songwriting": dt.date(2024, 3, 29),
    "video_marketing": dt.date(2024, 2, 29),
}
#: Each business type in a second language, on a non-leap February's last day.
MORE_DAYS = {"celebrity_video": dt.date(2023, 2, 28), "networking": dt.date(2024, 5, 31)}
CASES = [(t, "en", day) for t, day in PERIOD_DAYS.items()] + [
    (t, "fr" if t == "celebrity_video" else "nl", day) for t, day in MORE_DAYS.items()
]


def case_name(business_type: str, language: str, day: dt.date) -> str:
    return f"{business_type}_{language}_{day.isoformat()}"


def with_period(path: Path, day: dt.date) -> None:
    """Set the Settings sheet's PERIOD cell of ``path`` to ``day``, as a user types it."""
    with zipfile.ZipFile(path) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    serial = int(to_serial("test", "period", day))
    changed = 0
    for name, data in parts.items():
        if not name.startswith("xl/worksheets/sheet"):
            continue
        text = data.decode()
        new, count = re.subn(
            r'(<c r="B3" s="\d+" t="n"><v>)\d+(</v></c>)', rf"\g<1>{serial}\g<2>", text
        )
        if count and "DATE(YEAR(PERIOD),MONTH(PERIOD),1)" in text:
            parts[name] = new.encode()
            changed += count
    assert changed == 1, f"{path.name}: found {changed} PERIOD cells to set"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    source = tmp_path_factory.mktemp("month_ends")
    paths = []
    for business_type, language, day in CASES:
        target = source / f"{case_name(business_type, language, day)}.xlsx"
        new_workbook(StarterOptions(business_type, language, as_of=AS_OF), target)
        with_period(target, day)
        paths.append(target)
    converted = convert(paths, tmp_path_factory.mktemp("recalculated"))
    return {p.stem: p for p in converted}


def test_every_business_type_has_a_late_day() -> None:
    assert set(PERIOD_DAYS) == set(kpi_engine.BUSINESS_TYPES)
    assert {day.day for day in PERIOD_DAYS.values()} >= {29, 30, 31}


@pytest.mark.parametrize(
    ("business_type", "language", "day"), CASES, ids=[case_name(*c) for c in CASES]
)
def test_trend_of_a_period_set_late_in_a_month_equals_the_engine(
    recalculated: dict[str, Path], business_type: str, language: str, day: dt.date
) -> None:
    book = load_workbook(recalculated[case_name(business_type, language, day)], data_only=True)
    assert named_value(book, "PERIOD").date() == day
    assert named_value(book, "PERIOD_START").date() == first_of_month(day)
    assert named_value(book, "PERIOD_END").date() == first_of_month(day, 1)
    rows: dict[str, Any] = read_tables(book, business_type)
    if "GROSS_MARGIN" in book.defined_names:
        rows["Settings"] = TableRows({"GROSS_MARGIN": [named_value(book, "GROSS_MARGIN")]})
    profile = kpi_engine.get_business_type(business_type)
    trend = book[workbook_words()[language]["sheets"]["trend"]]
    for index, row in enumerate(range(4, 16)):
        first, after = first_of_month(day, index - 11), first_of_month(day, index - 10)
        assert trend.cell(row, 1).value.date() == first, f"Trend row {row} starts wrong"
        assert trend.cell(row, 2).value.date() == after, f"Trend row {row} ends wrong"
        start, end = to_serial("test", "month", first), to_serial("test", "month", after)
        for position, entry in enumerate(profile.kpis):
            cell = trend.cell(row, 3 + position).value
            assert not (isinstance(cell, str) and cell.startswith(ERRORS)), (
                f"Trend {entry.id} {first:%Y-%m}: {cell}"
            )
            expected = engine_value(business_type, entry.id, rows, start, end)
            assert_same(cell, expected, f"Trend {entry.id} {first:%Y-%m}")
    start = to_serial("test", "month", first_of_month(day))
    end = to_serial("test", "month", first_of_month(day, 1))
    for entry in profile.kpis:
        expected = engine_value(business_type, entry.id, rows, start, end)
        assert expected is not None, f"{entry.id}: the sample has no value in {day:%Y-%m}"
        assert_same(named_value(book, f"KPI_{entry.id.upper()}"), expected, f"KPI {entry.id}")
