"""Excel's serial dates (the 1900 date system), converted in one place.

Excel stores a date as a number of days, the time of day as its fraction.
Serial 1 is 1900-01-01. Lotus 1-2-3 counted a 29 February 1900 that never
was, and Excel keeps it for compatibility: serials 1 to 59 are 1900-01-01 to
1900-02-28, serial 60 is that phantom 1900-02-29, and from serial 61
(1900-03-01) on a serial is the number of days since 1899-12-30. Excel's
last date is 9999-12-31, serial 2958465.

``from_serial(60)`` raises ``ValueError``: no real date lies there. Mapping
it to a neighbouring day instead (openpyxl returns 1900-02-28) would give two
serials one date, and a date round-tripped through a workbook would move.

Both functions raise ``ValueError`` for a moment outside 1900-01-01 to
9999-12-31; the engine turns that into a ``KPIInputError`` naming the
argument.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers

__all__ = ["END_OF_DATES", "FIRST_SERIAL", "PHANTOM_LEAP_DAY", "from_serial", "to_serial"]

#: The serial of 1900-01-01, the first date Excel holds.
FIRST_SERIAL = 1
#: Serial 60 is 1900-02-29, a day that never was: dates before 1900-03-01
#: sit one serial lower than a plain count of days from 1899-12-30.
PHANTOM_LEAP_DAY = 60
#: The serial of 10000-01-01: the first day Excel cannot hold. Real dates
#: are the serials from FIRST_SERIAL up to, not including, END_OF_DATES.
END_OF_DATES = 2958466

_EPOCH = dt.datetime(1899, 12, 30)
_DAY = dt.timedelta(days=1)
_MICROSECONDS_PER_DAY = 86_400_000_000
#: The largest float below END_OF_DATES. Near 3 million a float steps by
#: about 40 microseconds, so the last instants of 9999-12-31 would otherwise
#: round up to END_OF_DATES, a serial that is not a date.
_LAST_SERIAL = math.nextafter(END_OF_DATES, 0)


def to_serial(value: dt.date | dt.datetime) -> float:
    """The Excel serial number of a date or a date and time.

    An aware datetime counts in UTC; a naive one is taken as it is.
    Raises ``ValueError`` for a moment before 1900-01-01 (Excel has no
    serial for it) and ``TypeError`` for anything but a date.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            except OverflowError:
                raise ValueError(
                    f"{value.isoformat()} is outside 0001-01-01 to 9999-12-31 in UTC"
                ) from None
        serial = (value - _EPOCH) / _DAY
    elif isinstance(value, dt.date):
        serial = float((value - _EPOCH.date()).days)
    else:
        raise TypeError(f"to_serial takes a date or datetime, not {type(value).__name__}")
    if serial < PHANTOM_LEAP_DAY + 1:
        serial -= 1
    if serial < FIRST_SERIAL:
        raise ValueError(
            f"{value.isoformat()} is before 1900-01-01, the first date Excel holds (serial 1)"
        )
    return min(serial, _LAST_SERIAL)


def from_serial(serial: float) -> dt.datetime:
    """The date and time of an Excel serial number, to the nearest microsecond.

    Raises ``ValueError`` for a serial outside 1 (1900-01-01) to 2958465.99...
    (9999-12-31) and for serial 60 up to 61, the phantom 1900-02-29;
    ``TypeError`` for anything but a number (TRUE is no number here).
    """
    if isinstance(serial, bool) or not isinstance(serial, numbers.Real):
        raise TypeError(f"from_serial takes a number, not {type(serial).__name__}")
    try:
        number = float(serial)
    except OverflowError:
        number = math.inf
    if not FIRST_SERIAL <= number < END_OF_DATES:
        raise ValueError(
            f"serial {_short(serial)} is no Excel date: dates are the serials from "
            f"{FIRST_SERIAL} (1900-01-01) up to {END_OF_DATES} (10000-01-01), not included"
        )
    if PHANTOM_LEAP_DAY <= number < PHANTOM_LEAP_DAY + 1:
        raise ValueError(
            f"serial {_short(serial)} is 1900-02-29, a day that never was; Excel counts it "
            "only for compatibility with Lotus 1-2-3"
        )
    days = math.floor(number)
    microseconds = round((number - days) * _MICROSECONDS_PER_DAY)
    if days < PHANTOM_LEAP_DAY:
        days += 1
    if days == END_OF_DATES - 1:
        # Rounding must not carry 9999-12-31 over into a year Python cannot hold.
        microseconds = min(microseconds, _MICROSECONDS_PER_DAY - 1)
    return _EPOCH + dt.timedelta(days=days, microseconds=microseconds)


def _short(serial: float) -> str:
    text = repr(serial) if not isinstance(serial, int) or abs(serial) < 10**20 else "a huge number"
    return text[:40]
