"""Excel serial dates in a package: the 1900 and the 1904 date systems.

A date cell holds a number of days. In the 1900 system, Excel's default,
serial 1 is 1900-01-01, and serial 60 is 1900-02-29, a day that never was
(Lotus 1-2-3's leap-year mistake, kept by Excel): 1..59 are 1900-01-01 to
1900-02-28, 61 is 1900-03-01, and every later date sits one day above a plain
count from 1899-12-30. In the 1904 system (a workbook whose
``<workbookPr date1904="1"/>`` says so; Excel for Mac's old default) serial 0
is 1904-01-01, with no phantom day: the same date is 1462 days lower.

The date to serial direction is the engine's (``kpi_engine.cells.serial_of``,
which honours the phantom day and reads an aware date-time in UTC); this
module adds the other direction and the 1904 system, for the writers and
readers of packages. openpyxl's ``from_excel``/``to_excel`` agree for 1900
(tests compare them) but openpyxl is not imported here: the report code runs
in xlwings Lite too (Pyodide), where openpyxl is not installed.
"""

from __future__ import annotations

import datetime as dt
import math
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

from addin.ooxml.names import MAIN
from kpi_engine import excel_dates
from kpi_engine.cells import END_OF_DATES, FAKE_LEAP_DAY, serial_of

#: Days between the two systems' serial for one date (1904-01-01 is 1462 in 1900).
DAYS_1900_TO_1904 = 1462
#: The day before 1900-01-01, from which the 1900 system counts (serial 0, "1900-01-00").
_DAY_ZERO_1900 = dt.datetime(1899, 12, 31)
_EPOCH_1904 = dt.datetime(1904, 1, 1)
_MICROSECONDS_PER_DAY = 86_400_000_000


def to_serial(moment: dt.date, *, date1904: bool = False) -> float:
    """The serial number of a date or date-time (an aware one is taken in UTC).

    Raises ValueError for a moment before the date system's first day, which
    Excel cannot show as a date.
    """
    serial = serial_of(moment)
    if date1904:
        serial -= DAYS_1900_TO_1904
    if serial < 0:
        system = "1904-01-01 in the 1904" if date1904 else "1900-01-01 in the 1900"
        raise ValueError(f"{moment} comes before {system} date system; Excel has no serial for it")
    return serial


def from_serial(serial: float, *, date1904: bool = False) -> dt.datetime:
    """The date-time of a serial number, to the nearest microsecond.

    Built on the engine's ``kpi_engine.excel_dates.from_serial``, with what a
    cell may hold and a date may not: in the 1900 system serial 60, the
    phantom 1900-02-29, reads as 1900-02-28 (as openpyxl and calamine read
    it: Python has no such day and its month is right), and a serial below 1,
    a time without a date, falls on Excel's "1900-01-00", 1899-12-31. Raises
    ValueError for a negative serial or one past 9999-12-31.
    """
    last = END_OF_DATES - (DAYS_1900_TO_1904 if date1904 else 0)
    if not (math.isfinite(serial) and 0 <= serial < last):
        raise ValueError(f"{serial!r} is no Excel date serial (expected 0 up to {last})")
    if date1904:
        return excel_dates.from_serial(serial + DAYS_1900_TO_1904)
    if serial < 1 or FAKE_LEAP_DAY <= serial < FAKE_LEAP_DAY + 1:
        day = 0 if serial < 1 else FAKE_LEAP_DAY - 1
        time = dt.timedelta(microseconds=round((serial % 1) * _MICROSECONDS_PER_DAY))
        return _DAY_ZERO_1900 + dt.timedelta(days=day) + time
    return excel_dates.from_serial(serial)


def from_serial_date(serial: float, *, date1904: bool = False) -> dt.date:
    """The date of a serial number, its time of day dropped."""
    return from_serial(math.floor(serial), date1904=date1904).date()


def uses_1904(workbook: bytes | Element) -> bool:
    """Whether a workbook part (``xl/workbook.xml``, as bytes or parsed) says
    its dates count from 1904."""
    root = SafeET.fromstring(workbook) if isinstance(workbook, bytes) else workbook
    properties = root.find(f"{{{MAIN}}}workbookPr")
    if properties is None:
        return False
    return properties.get("date1904", "0").strip().lower() in ("1", "true")
