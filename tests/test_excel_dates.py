"""Excel serial dates: the one pair of converters, against Excel and openpyxl."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.utils.datetime import from_excel, to_excel

from kpi_engine import _cells
from kpi_engine.excel_dates import (
    END_OF_DATES,
    FIRST_SERIAL,
    PHANTOM_LEAP_DAY,
    from_serial,
    to_serial,
)

#: Serial numbers as Excel shows them for these moments (1900 date system).
EXCEL_SHOWS = [
    (1, dt.datetime(1900, 1, 1)),
    (2, dt.datetime(1900, 1, 2)),
    (59, dt.datetime(1900, 2, 28)),
    (59.5, dt.datetime(1900, 2, 28, 12)),
    (61, dt.datetime(1900, 3, 1)),
    (45292, dt.datetime(2024, 1, 1)),
    (45292.75, dt.datetime(2024, 1, 1, 18)),
    (45473, dt.datetime(2024, 6, 30)),
    (2958465, dt.datetime(9999, 12, 31)),
]


@pytest.mark.parametrize(("serial", "moment"), EXCEL_SHOWS)
def test_serials_as_excel_shows_them(serial: float, moment: dt.datetime) -> None:
    assert from_serial(serial) == moment
    assert to_serial(moment) == serial
    if moment.time() == dt.time():
        assert to_serial(moment.date()) == serial


def test_constants_bound_the_dates_excel_holds() -> None:
    assert from_serial(FIRST_SERIAL) == dt.datetime(1900, 1, 1)
    assert from_serial(END_OF_DATES - 1) == dt.datetime(9999, 12, 31)
    assert PHANTOM_LEAP_DAY == 60


@pytest.mark.parametrize("serial", [60, 60.0, 60.5, 60.999])
def test_the_phantom_leap_day_is_no_date(serial: float) -> None:
    with pytest.raises(ValueError, match="1900-02-29, a day that never was"):
        from_serial(serial)


@pytest.mark.parametrize(
    "serial",
    [0, 0.5, -1, 2958466, 2958466.5, 1e300, 10**400, -(10**400), math.nan, math.inf, -math.inf],
)
def test_serials_outside_excels_dates_raise_value_error(serial: float) -> None:
    with pytest.raises(ValueError, match="is no Excel date"):
        from_serial(serial)


@pytest.mark.parametrize("not_a_number", [True, "45292", None, dt.date(2024, 1, 1)])
def test_from_serial_takes_only_numbers(not_a_number: object) -> None:
    with pytest.raises(TypeError):
        from_serial(not_a_number)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "moment",
    [
        dt.date(1899, 12, 31),
        dt.datetime(1899, 12, 31, 23, 59),
        dt.date(1, 1, 1),
        # 00:30 at +01:00 is the day before in UTC.
        dt.datetime(1900, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    ],
)
def test_moments_before_1900_raise_value_error(moment: dt.date) -> None:
    with pytest.raises(ValueError, match="before 1900-01-01"):
        to_serial(moment)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-2))),
    ],
)
def test_aware_moments_beyond_pythons_years_raise_value_error(moment: dt.datetime) -> None:
    with pytest.raises(ValueError, match="outside 0001-01-01 to 9999-12-31 in UTC"):
        to_serial(moment)


def test_an_aware_moment_counts_in_utc() -> None:
    paris_summer = dt.timezone(dt.timedelta(hours=2))
    assert to_serial(dt.datetime(2024, 1, 1, 20, tzinfo=paris_summer)) == 45292.75


def test_the_last_instant_of_9999_stays_a_date() -> None:
    # Near serial 3 million a float steps by about 40 microseconds.
    serial = to_serial(dt.datetime.max)
    assert serial < END_OF_DATES
    assert from_serial(serial).date() == dt.date(9999, 12, 31)
    assert from_serial(math.nextafter(END_OF_DATES, 0)).date() == dt.date(9999, 12, 31)


def test_cells_serial_of_is_the_same_converter() -> None:
    # The add-in imports the old name.
    assert _cells.serial_of is to_serial
    assert _cells.END_OF_DATES == END_OF_DATES
    assert _cells.FIRST_DATE == FIRST_SERIAL


moments = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(9999, 12, 31))


@given(moments)
def test_round_trip_keeps_the_moment(moment: dt.datetime) -> None:
    back = from_serial(to_serial(moment))
    # A float near serial 3 million holds the time to about 40 microseconds.
    assert abs(back - moment) <= dt.timedelta(microseconds=50)
    assert from_serial(to_serial(moment.date())) == dt.datetime.combine(moment.date(), dt.time())


# openpyxl (3.1) is an independent implementation of the same calendar. It
# agrees with Excel on serials 1 to 59 (it adds the missing day there) and
# from 61 on. It differs only where Excel has no real date: serial 60, which
# it reads as 1900-02-28 (a second serial for that day), and serials 0 to 1,
# which it reads as a time of day; from_serial refuses both. It rounds to
# milliseconds where from_serial rounds to microseconds.
whole_serials = st.integers(FIRST_SERIAL, END_OF_DATES - 1).filter(lambda s: s != PHANTOM_LEAP_DAY)


@given(whole_serials)
def test_whole_serials_agree_with_openpyxl(serial: int) -> None:
    assert from_serial(serial) == from_excel(serial)
    assert to_serial(from_serial(serial)) == to_excel(from_excel(serial)) == serial


@given(whole_serials, st.integers(0, 86_400_000 - 1))
def test_times_agree_with_openpyxl_to_the_millisecond(day: int, milliseconds: int) -> None:
    serial = day + milliseconds / 86_400_000
    if serial >= END_OF_DATES:
        return
    assert abs(from_serial(serial) - from_excel(serial)) <= dt.timedelta(milliseconds=1)
    moment = from_serial(serial)
    assert to_serial(moment) == pytest.approx(to_excel(moment), abs=1e-9)


def test_where_openpyxl_differs_from_excel_dates() -> None:
    assert from_excel(60) == dt.datetime(1900, 2, 28)  # the phantom day, read as its eve
    assert from_excel(59) == dt.datetime(1900, 2, 28)
    with pytest.raises(ValueError, match="never was"):
        from_serial(60)
    assert to_excel(dt.datetime(1899, 12, 31)) == 0
    with pytest.raises(ValueError, match="before 1900-01-01"):
        to_serial(dt.datetime(1899, 12, 31))
