"""Turn arguments, in the shapes Excel delivers them, into checked values.

Excel hands a function a lone value for a single cell, ``None`` for a blank
cell, a flat list for a row or column, and a list of rows for a block; dates
come as ``datetime``/``date`` objects (COM, openpyxl) or as serial numbers
(Office.js). Everything here accepts all of these and raises
:class:`KPIInputError` naming the function, the argument, the 1-based
position (row by row) where there is one, and the value when an argument is
wrong. The cells of a data range are not checked here: they follow the data
rules of ``_cells``.
"""

from __future__ import annotations

import datetime as dt
import math
from itertools import chain
from typing import Any

from ._cells import FAKE_LEAP_DAY, is_blank, serial_of
from ._errors import KPIInputError

_NUMBER_TYPES = (int, float)


def is_number(value: Any) -> bool:
    """True for a finite int or float; booleans are not numbers here."""
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool) and math.isfinite(value)


def cells(values: Any) -> list[Any]:
    """Return the cells of a range as one flat list, row by row, blanks kept.

    A lone value is a one-cell range. Blanks stay in place so that cells of
    ranges that describe the same rows stay paired.
    """
    if isinstance(values, list | tuple):
        if not values:
            return []
        if isinstance(values[0], list | tuple):
            if all(type(row) is list or type(row) is tuple for row in values):
                return list(chain.from_iterable(values))
            return [
                cell
                for row in values
                for cell in (row if isinstance(row, list | tuple) else (row,))
            ]
        return values if type(values) is list else list(values)
    return [values]


def single(function: str, argument: str, value: Any) -> Any:
    """Unwrap a one-cell range given where a single value is expected."""
    if isinstance(value, list | tuple):
        flat = cells(value)
        if len(flat) == 1:
            return flat[0]
        raise KPIInputError(
            function, argument, value, "a single cell, not a range of several cells"
        )
    return value


def number(
    function: str,
    argument: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
    expected: str | None = None,
) -> float:
    """Check one numeric argument and return it as a float."""
    value = single(function, argument, value)
    if expected is None:
        expected = _describe_number(minimum, maximum, whole)
    if not is_number(value):
        raise KPIInputError(function, argument, value, expected)
    if whole and not float(value).is_integer():
        raise KPIInputError(function, argument, value, expected)
    if minimum is not None and value < minimum:
        raise KPIInputError(function, argument, value, expected)
    if maximum is not None and value > maximum:
        raise KPIInputError(function, argument, value, expected)
    return float(value)


def _describe_number(minimum: float | None, maximum: float | None, whole: bool) -> str:
    kind = "a whole number" if whole else "a number"
    if minimum == 0 and maximum is None:
        return f"{kind} of 0 or more" if whole else "a number of 0 or more"
    if minimum is not None and maximum is not None:
        return f"{kind} from {_g(minimum)} to {_g(maximum)}"
    if minimum is not None:
        return f"{kind} of at least {_g(minimum)}"
    if maximum is not None:
        return f"{kind} of at most {_g(maximum)}"
    return kind


def _g(x: float) -> str:
    return format(x, "g")


def count(function: str, argument: str, value: Any) -> float:
    """A number of things (customers, messages...): a whole number, 0 or more."""
    return number(function, argument, value, minimum=0, whole=True)


def amount(function: str, argument: str, value: Any) -> float:
    """A sum of money or of time: any number, 0 or more."""
    return number(function, argument, value, minimum=0)


def fraction(function: str, argument: str, value: Any) -> float:
    """A share written as a fraction, as Excel stores a percentage."""
    return number(
        function,
        argument,
        value,
        minimum=0,
        maximum=1,
        expected="a fraction from 0 to 1 (30 % is 0.3)",
    )


def part_of_whole(
    function: str, part_name: str, part: float, whole_name: str, whole: float
) -> None:
    """Reject a part larger than the whole it belongs to, e.g. csat(90, 80)."""
    if part > whole:
        raise KPIInputError(
            function,
            part_name,
            part,
            f"at most {whole_name}",
            detail=f"is {_g(part)}, more than {whole_name} ({_g(whole)})",
        )


# --- ranges ---------------------------------------------------------------


def paired_cells(function: str, names: tuple[str, ...], ranges: tuple[Any, ...]) -> list[list[Any]]:
    """Flatten ranges that describe the same rows, checking that they line up."""
    flats = [cells(r) for r in ranges]
    lengths = {len(f) for f in flats}
    if len(lengths) > 1:
        first = len(flats[0])
        for name, flat in zip(names[1:], flats[1:], strict=True):
            if len(flat) != first:
                raise KPIInputError(
                    function,
                    name,
                    flat,
                    f"as many cells as {names[0]} ({first}), one per row",
                    detail=f"has {len(flat)} cells",
                )
    return flats


# --- dates ----------------------------------------------------------------

DATE_EXPECTED = "a date (a date cell, an Excel date number or text such as 2024-06-30)"


def to_serial(function: str, argument: str, value: Any, position: int | None = None) -> float:
    """Return a date argument (not a data cell) as an Excel serial number of days.

    An argument may be written as ISO text ("2024-06-30"); a data cell may
    not (see ``_cells``). Working in serial days keeps the engine's
    arithmetic identical to a worksheet formula such as ``(D2-C2)*24``.
    """
    if isinstance(value, bool):
        raise KPIInputError(function, argument, value, DATE_EXPECTED, position)
    if isinstance(value, _NUMBER_TYPES):
        if not math.isfinite(value) or value < 0 or FAKE_LEAP_DAY <= value < FAKE_LEAP_DAY + 1:
            raise KPIInputError(function, argument, value, DATE_EXPECTED, position)
        return float(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise KPIInputError(function, argument, value, DATE_EXPECTED, position) from None
    if not isinstance(value, dt.date):
        raise KPIInputError(function, argument, value, DATE_EXPECTED, position)
    serial = serial_of(value)
    if serial < 0:
        raise KPIInputError(function, argument, value, "a date on or after 1900-01-01", position)
    return serial


def serial_to_date(serial: float) -> dt.date:
    if serial < FAKE_LEAP_DAY:
        serial += 1
    return (dt.datetime(1899, 12, 30) + dt.timedelta(days=math.floor(serial))).date()


def first_of_month(day: dt.date, shift: int = 0) -> dt.date:
    """The first day of the month ``shift`` months after the one holding ``day``."""
    index = day.year * 12 + day.month - 1 + shift
    return dt.date(index // 12, index % 12 + 1, 1)


def month_bounds(function: str, argument: str, value: Any) -> tuple[float, float]:
    """Serial numbers of the first day of the month containing ``value``, and
    of the first day of the next month."""
    value = single(function, argument, value)
    if isinstance(value, str) and len(value.strip()) == 7:
        # "2024-06": a month written on its own.
        value = value.strip() + "-01"
    day = serial_to_date(to_serial(function, argument, value))
    return (
        to_serial(function, argument, first_of_month(day)),
        to_serial(function, argument, first_of_month(day, 1)),
    )


def checked_text(function: str, argument: str, value: Any, expected: str) -> str:
    value = single(function, argument, value)
    if not isinstance(value, str) or is_blank(value):
        raise KPIInputError(function, argument, value, expected)
    return value
