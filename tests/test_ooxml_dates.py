"""Excel serial dates (``addin.ooxml.dates``) against openpyxl and LibreOffice."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils.datetime import MAC_EPOCH, from_excel, to_excel

from addin.ooxml import dates
from addin.ooxml.package import _serial_date, period_from
from addin.report.offline import refresh_file
from addin.starter import StarterOptions, new_workbook
from kpi_engine import display
from tests.ooxml_support import SHEET, libreoffice_column, package_parts, write_workbook

#: Around the phantom 1900-02-29 (serial 60), the start of the 1904 system
#: (1462), a leap day, today's serials and the last day Excel holds.
DAYS = [
    dt.date(1900, 1, 1),
    dt.date(1900, 1, 31),
    dt.date(1900, 2, 28),
    dt.date(1900, 3, 1),
    dt.date(1903, 12, 31),
    dt.date(1904, 1, 1),
    dt.date(1904, 2, 29),
    dt.date(2000, 2, 29),
    dt.date(2024, 6, 15),
    dt.date(9999, 12, 31),
]
MOMENTS = [
    dt.datetime(1900, 1, 1, 6),
    dt.datetime(1900, 2, 28, 23, 59, 58),
    dt.datetime(1900, 3, 1, 0, 0, 1),
    dt.datetime(1904, 1, 1, 12),
    dt.datetime(2024, 7, 15, 18, 30, 15),
]


def test_the_phantom_leap_day() -> None:
    assert dates.to_serial(dt.date(1900, 1, 1)) == 1
    assert dates.to_serial(dt.date(1900, 2, 28)) == 59
    assert dates.to_serial(dt.date(1900, 3, 1)) == 61
    assert dates.from_serial(1) == dt.datetime(1900, 1, 1)
    assert dates.from_serial(59) == dt.datetime(1900, 2, 28)
    assert dates.from_serial(61) == dt.datetime(1900, 3, 1)
    # 60 is 1900-02-29, which Python cannot hold: it reads as the day before, in its month.
    assert dates.from_serial(60) == dt.datetime(1900, 2, 28)
    assert dates.from_serial(60.5) == dt.datetime(1900, 2, 28, 12)


def test_the_1904_system() -> None:
    assert dates.to_serial(dt.date(1904, 1, 1), date1904=True) == 0
    assert dates.to_serial(dt.date(2024, 6, 15), date1904=True) == 45458 - 1462
    assert dates.from_serial(45458 - 1462, date1904=True) == dt.datetime(2024, 6, 15)
    with pytest.raises(ValueError, match="1904-01-01"):
        dates.to_serial(dt.date(1903, 12, 31), date1904=True)
    with pytest.raises(ValueError, match="no Excel date serial"):
        dates.from_serial(-1)


@pytest.mark.parametrize("moment", DAYS + MOMENTS, ids=str)
def test_agrees_with_openpyxl(moment: dt.date) -> None:
    serial = dates.to_serial(moment)
    assert serial == pytest.approx(to_excel(moment), abs=1e-9)
    as_datetime = (
        moment if isinstance(moment, dt.datetime) else dt.datetime(*moment.timetuple()[:3])
    )
    assert from_excel(serial) == as_datetime
    assert dates.from_serial(serial) == as_datetime
    if moment >= type(moment)(1904, 1, 1):
        serial_1904 = dates.to_serial(moment, date1904=True)
        assert serial_1904 == pytest.approx(to_excel(moment, MAC_EPOCH), abs=1e-9)
        assert dates.from_serial(serial_1904, date1904=True) == as_datetime


@given(st.integers(min_value=1, max_value=2958465))
def test_every_day_serial_matches_openpyxl(serial: int) -> None:
    assert dates.from_serial(serial) == from_excel(serial)
    assert dates.from_serial_date(serial + 0.75) == from_excel(serial).date()
    if serial != 60:  # the phantom day has no date to go back from
        assert dates.to_serial(dates.from_serial_date(serial)) == serial


def test_the_report_reads_periods_with_the_leap_rule() -> None:
    # package.py's reader goes through dates.from_serial_date; a report's
    # period itself starts in 1902 (its windows reach two years back).
    assert _serial_date(59.0) == dt.date(1900, 2, 28)
    assert _serial_date(61.0) == dt.date(1900, 3, 1)
    assert period_from(45458.0, "test") == dt.date(2024, 6, 1)
    assert period_from(45458.0 - 1462, "test", date1904=True) == dt.date(2024, 6, 1)


def test_uses_1904_reads_the_workbook_properties() -> None:
    assert dates.uses_1904(package_parts([], date1904=True)["xl/workbook.xml"])
    assert not dates.uses_1904(package_parts([])["xl/workbook.xml"])
    assert dates.uses_1904(
        b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<workbookPr date1904='true' codeName='ThisWorkbook'/></workbook>"
    )


@pytest.mark.parametrize("date1904", [False, True], ids=["1900", "1904"])
def test_openpyxl_reads_the_cells_back(tmp_path: Path, date1904: bool) -> None:
    moments = [m for m in DAYS + MOMENTS if not date1904 or m >= type(m)(1904, 1, 1)]
    path = write_workbook(tmp_path / "dates.xlsx", moments, date1904)
    read = [cell.value for cell in load_workbook(path)[SHEET]["A"]]
    expected: list[object] = [
        m if isinstance(m, dt.datetime) else dt.datetime(*m.timetuple()[:3]) for m in moments
    ]
    if date1904:
        # openpyxl reads any serial below 1 as a time of day, also 1904-01-01's (serial 0).
        expected = [
            m.time() if isinstance(m, dt.datetime) and m.date() == dt.date(1904, 1, 1) else m
            for m in expected
        ]
    assert read == expected


@pytest.mark.libreoffice
def test_libreoffice_reads_the_cells_back(tmp_path: Path) -> None:
    moments = DAYS + MOMENTS
    later = [m for m in moments if m >= type(m)(1904, 1, 1)]
    paths = [
        write_workbook(tmp_path / "d1900.xlsx", moments),
        write_workbook(tmp_path / "d1904.xlsx", later, date1904=True),
    ]
    shown_1900, shown_1904 = libreoffice_column(paths, tmp_path / "csv")
    # LibreOffice counts from 1899-12-30 without the phantom 1900-02-29, so it
    # shows serials 1 to 60 one day earlier than Excel; from 1900-03-01 on, the same.
    expected = [m - dt.timedelta(days=1) if m < type(m)(1900, 3, 1) else m for m in moments]
    assert shown_1900 == [f"{m:%Y-%m-%d %H:%M:%S}" for m in expected]
    assert shown_1904 == [f"{m:%Y-%m-%d %H:%M:%S}" for m in later]


def test_refresh_writes_dates_in_the_workbooks_own_system(tmp_path: Path) -> None:
    starter = new_workbook(
        StarterOptions("celebrity_video", as_of=dt.date(2024, 7, 15)), tmp_path / "s.xlsx"
    )
    # The same workbook, told to count its dates from 1904 (every date in it
    # now reads 1462 days later; the refresh reads and writes in that system).
    book1904 = tmp_path / "book1904.xlsx"
    with zipfile.ZipFile(starter) as source, zipfile.ZipFile(book1904, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"<workbookPr/>", b'<workbookPr date1904="1"/>', 1)
                assert dates.uses_1904(data)
            target.writestr(info, data)
    report = refresh_file(book1904)
    sheet = load_workbook(book1904)["Report"]  # openpyxl reads with the 1904 epoch
    month_format = display.excel_date_format("month", "en")
    months = [
        cell.value
        for row in sheet.iter_rows()
        for cell in row
        if cell.number_format == month_format
    ]
    assert len(months) >= 12
    # A 1900 serial in a 1904 workbook would read one day into the month.
    assert all(isinstance(m, dt.datetime) and (m.day, m.hour) == (1, 0) for m in months)
    assert max(months).date() == report.period
