"""Turn arguments, in the shapes Excel delivers them, into checked values.

Excel hands a function a lone value for a single cell, ``None`` for a blank
cell, a flat list for a row or column, and a list of rows for a block; dates
come as ``datetime``/``date`` objects (COM, openpyxl) or as serial numbers
(Office.js). Everything here accepts all of these and raises
:class:`KPIInputError` naming the function, the argument, the 1-based
position (row by row) where there is one, and the value when an argument is
wrong. The cells of a data range are read by the data rules of ``_cells``;
here they are only checked to be cells at all (:func:`range_cells`).

Numbers: an argument must be a finite number a float can hold (Excel's
largest is about 1.8e308). NaN, infinity and an int beyond that are refused,
and so is a KPI whose result would overflow (:func:`too_large`): the engine
answers with a finite number or a named error, never ``inf`` or ``nan``.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Mapping
from itertools import chain
from typing import Any

from . import excel_dates
from ._cells import CELL_TYPES, finite_number, is_blank, is_cell_value, is_error
from ._errors import KPIInputError, describe_value

TOO_LARGE_EXPECTED = "numbers small enough that the result stays within ±1.8e308"

#: The types most cells have, checked at once (``CELL_TYPES`` holds them all).
_PLAIN_CELL_KINDS = frozenset(
    {type(None), str, bool, int, float, dt.date, dt.datetime, dt.time, dt.timedelta}
)
_ROW_KINDS = frozenset({list, tuple})

CELL_EXPECTED = (
    "a cell value: a number, text, TRUE/FALSE, a date or blank "
    "(not a list, dict, set or array inside the range)"
)


def is_number(value: Any) -> bool:
    """True for a finite number a float holds; booleans are not numbers here."""
    return finite_number(value) is not None


def too_large(function: str, named: Mapping[str, Any]) -> KPIInputError:
    """The error for inputs whose result, or a step towards it, overflows a float."""
    names = ", ".join(named)
    shown = ", ".join(describe_value(_cell_shown(value)) for value in named.values())
    verb = "is" if len(named) == 1 else "are"
    values = tuple(named.values())
    return KPIInputError(
        function,
        names,
        values[0] if len(values) == 1 else values,
        TOO_LARGE_EXPECTED,
        detail=f"{verb} {shown}: too large to compute with",
    )


def _cell_shown(value: Any) -> Any:
    """A one-cell range as its cell, so that a message shows the number in it."""
    if isinstance(value, list | tuple):
        flat = cells(value)
        if len(flat) == 1:
            return flat[0]
    return value


def _array_values(values: Any) -> Any:
    """A NumPy array or a pandas Series, Index or DataFrame as the nested
    lists of Python values a range arrives as; anything else unchanged.

    Neither library is imported: an array is known by its ``ndim`` and
    ``tolist``. Missing values (NaN, NaT, None) become blanks, dates
    ``datetime``s, NumPy's numbers Python's.

    >>> import numpy as np
    >>> _array_values(np.array([[1, 2], [3, float("nan")]]))
    [[1.0, 2.0], [3.0, None]]
    """
    if isinstance(values, str | bytes | list | tuple) or not hasattr(values, "ndim"):
        return values
    array = values.to_numpy() if hasattr(values, "to_numpy") else values
    if not hasattr(array, "tolist") or not hasattr(array, "dtype"):
        return values
    if array.dtype.kind == "M":  # datetime64: microseconds make datetime objects
        array = array.astype("datetime64[us]")
    listed = array.tolist()
    return _blank_missing(listed)


def _blank_missing(value: Any) -> Any:
    if isinstance(value, list):
        return [_blank_missing(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):  # pandas' missing date, missing value
        return None
    return value


def cells(values: Any) -> list[Any]:
    """Return the cells of a range as one flat list, row by row, blanks kept.

    A lone value is a one-cell range. Blanks stay in place so that cells of
    ranges that describe the same rows stay paired. A NumPy array or a pandas
    Series is the range it holds (see ``_array_values``).
    """
    values = _array_values(values)
    if isinstance(values, list | tuple):
        if not values:
            return []
        if isinstance(values[0], list | tuple):
            if set(map(type, values)) <= _ROW_KINDS:
                return list(chain.from_iterable(values))
            return [
                cell
                for row in values
                for cell in (row if isinstance(row, list | tuple) else (row,))
            ]
        return values if type(values) is list else list(values)
    return [values]


def range_cells(function: str, argument: str, values: Any) -> list[Any]:
    """The cells of a range argument (see :func:`cells`), each checked to be
    something a cell can hold; anything else raises, naming its position."""
    return range_cells_and_kinds(function, argument, values)[0]


def range_cells_and_kinds(function: str, argument: str, values: Any) -> tuple[list[Any], set[type]]:
    """:func:`range_cells`, and the types of its cells (found on the way)."""
    flat = cells(values)
    # One check per distinct type keeps a million-cell range fast.
    kinds = set(map(type, flat))
    if kinds <= _PLAIN_CELL_KINDS or all(issubclass(kind, CELL_TYPES) for kind in kinds):
        return flat, kinds
    for position, value in enumerate(flat, start=1):
        if not is_cell_value(value):
            where = position if isinstance(values, list | tuple) else None
            raise KPIInputError(function, argument, value, CELL_EXPECTED, where)
    return flat, kinds


def single(function: str, argument: str, value: Any) -> Any:
    """Unwrap a one-cell range given where a single value is expected."""
    return single_cell(function, argument, value)[0]


def single_cell(function: str, argument: str, value: Any) -> tuple[Any, int | None]:
    """A single value and its position: 1 when it came as a one-cell range
    (so that a message points into the range), ``None`` for a lone value."""
    value = _array_values(value)
    if isinstance(value, list | tuple):
        flat = cells(value)
        if len(flat) == 1:
            return flat[0], 1
        raise KPIInputError(
            function, argument, value, "a single cell, not a range of several cells"
        )
    return value, None


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
    """Check one numeric argument and return it as a finite float."""
    value, position = single_cell(function, argument, value)
    if expected is None:
        expected = _describe_number(minimum, maximum, whole)
    checked = finite_number(value)
    if checked is None:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            # 10**400 is a whole number of 0 or more: say what is wrong with it.
            raise KPIInputError(
                function,
                argument,
                value,
                f"{expected}, at most 1.8e308",
                position,
                detail=f"is {describe_value(value)}: too large to compute with",
            )
        raise KPIInputError(function, argument, value, expected, position)
    if (
        (whole and not checked.is_integer())
        or (minimum is not None and checked < minimum)
        or (maximum is not None and checked > maximum)
    ):
        raise KPIInputError(function, argument, value, expected, position)
    return checked + 0.0  # -0.0 is 0 to Excel


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


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
    flats = [range_cells(function, name, r) for name, r in zip(names, ranges, strict=True)]
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

DATE_EXPECTED = (
    "a date from 1900-01-01 to 9999-12-31 "
    "(a date cell, an Excel date number or text such as 2024-06-30)"
)


def to_serial(function: str, argument: str, value: Any, position: int | None = None) -> float:
    """Return a date argument (not a data cell) as an Excel serial number of days.

    An argument may be written as ISO text ("2024-06-30"); a data cell may
    not (see ``_cells``). Working in serial days keeps the engine's
    arithmetic identical to a worksheet formula such as ``(D2-C2)*24``.
    A number must be the serial of a real date (``excel_dates.from_serial``
    accepts it).
    """
    if _is_real(value):
        try:
            excel_dates.from_serial(value)
        except ValueError:
            raise KPIInputError(function, argument, value, DATE_EXPECTED, position) from None
        return float(value)
    if isinstance(value, str) and not is_error(value):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise KPIInputError(function, argument, value, DATE_EXPECTED, position) from None
    if not isinstance(value, dt.date):
        raise KPIInputError(function, argument, value, DATE_EXPECTED, position)
    try:
        return excel_dates.to_serial(value)
    except ValueError:
        raise KPIInputError(function, argument, value, DATE_EXPECTED, position) from None


def serial_to_date(serial: float) -> dt.date:
    """The day of an Excel serial number; ``ValueError`` where there is none."""
    return excel_dates.from_serial(serial).date()


def first_of_month(day: dt.date, shift: int = 0) -> dt.date:
    """The first day of the month ``shift`` months after the one holding ``day``.

    Raises ``ValueError`` when that month is outside the years 1 to 9999.
    """
    index = day.year * 12 + day.month - 1 + shift
    if not 12 <= index < 10000 * 12:
        raise ValueError(f"{shift:+d} months from {day.isoformat()} is outside the years 1 to 9999")
    return dt.date(index // 12, index % 12 + 1, 1)


def month_bounds(function: str, argument: str, value: Any) -> tuple[float, float]:
    """Serial numbers of the first day of the month containing ``value``, and
    of the first day of the next month (``END_OF_DATES`` after 9999-12)."""
    value, position = single_cell(function, argument, value)
    day_text = value
    if isinstance(value, str) and len(value.strip()) == 7:
        # "2024-06": a month written on its own.
        day_text = value.strip() + "-01"
    try:
        serial = to_serial(function, argument, day_text, position)
    except KPIInputError:
        # Name the value as given, not with the day added to it.
        raise KPIInputError(function, argument, value, DATE_EXPECTED, position) from None
    day = serial_to_date(serial)
    start = excel_dates.to_serial(first_of_month(day))
    if (day.year, day.month) == (9999, 12):
        return start, float(excel_dates.END_OF_DATES)
    return start, excel_dates.to_serial(first_of_month(day, 1))


def checked_text(function: str, argument: str, value: Any, expected: str) -> str:
    """A text argument: not blank, and not an error value read as text."""
    value, position = single_cell(function, argument, value)
    if not isinstance(value, str) or is_blank(value) or is_error(value):
        raise KPIInputError(function, argument, value, expected, position)
    return value
