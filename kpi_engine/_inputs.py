"""Turn arguments, in the shapes Excel delivers them, into checked values.

Excel hands a function a lone value for a single cell, ``None`` for a blank
cell, a flat list for a row or column, and a list of rows for a block; dates
come as ``datetime``/``date`` objects (COM, openpyxl) or as serial numbers
(Office.js). Everything here accepts all of these, ignores blanks in ranges,
and raises :class:`KPIInputError` naming the function, the argument, the
1-based position (row by row) and the value when something is wrong.

The range helpers are written for ranges of a million cells: they count with
:class:`collections.Counter` and check each *distinct* value once, instead of
checking every cell in Python.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any

from ._errors import KPIInputError

#: Values that Excel uses for an empty cell: ``None`` everywhere, ``""`` for a
#: formula that returns empty text and in some Office.js payloads.
BLANKS: frozenset[Any] = frozenset({None, ""})

_NUMBER_TYPES = (int, float)


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def is_number(value: Any) -> bool:
    """True for a finite int or float; booleans are not numbers here."""
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool) and math.isfinite(value)


def cells(values: Any) -> list[Any]:
    """Return the cells of a range as one flat list, row by row, blanks kept.

    A lone value is a one-cell range. Blanks stay in place so that positions
    in error messages match the cells the user sees.
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


def tally(
    function: str,
    argument: str,
    values: Any,
    accept: Callable[[Any], bool],
    expected: str,
) -> Counter[Any]:
    """Count the non-blank cells of a range by value, checking each value.

    ``accept`` is called once per distinct value rather than once per cell,
    which keeps a million-cell range fast. Booleans are checked separately
    because ``True == 1`` would otherwise hide them among the ones.
    """
    flat = cells(values)
    kinds = set(map(type, flat))
    if bool in kinds:
        _raise_first(function, argument, flat, lambda v: isinstance(v, bool), expected)
    if list in kinds or tuple in kinds:
        _raise_first(function, argument, flat, lambda v: isinstance(v, list | tuple), expected)
    counts = Counter(flat)
    for blank in BLANKS:
        counts.pop(blank, None)
    if str in kinds:
        for key in [k for k in counts if isinstance(k, str) and is_blank(k)]:
            del counts[key]
    if any(not accept(key) for key in counts):
        _raise_first(function, argument, flat, lambda v: not accept(v), expected)
    return counts


def _raise_first(
    function: str,
    argument: str,
    flat: Sequence[Any],
    is_bad: Callable[[Any], bool],
    expected: str,
) -> None:
    """Raise for the first cell, in reading order, that ``is_bad`` rejects."""
    for position, value in iter_nonblank(flat):
        if is_bad(value):
            raise KPIInputError(function, argument, value, expected, position)
    raise AssertionError("a rejected value must be in the range it came from")


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


def is_id(value: Any) -> bool:
    """An identifier: non-blank text or a finite number (not TRUE/FALSE)."""
    if isinstance(value, str):
        return not is_blank(value)
    return is_number(value)


ID_EXPECTED = "an identifier (text or a number)"


def id_set(function: str, argument: str, values: Any) -> set[Any]:
    return set(tally(function, argument, values, is_id, ID_EXPECTED))


# --- dates ----------------------------------------------------------------

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_DAY = dt.timedelta(days=1)
#: Excel's serial 60 is 29 February 1900, a day that never existed (kept for
#: compatibility with Lotus 1-2-3); serials below it are one day off.
_FAKE_LEAP_DAY = 60
DATE_EXPECTED = "a date (a date cell, an Excel date number or text such as 2024-06-30)"


def to_serial(function: str, argument: str, value: Any, position: int | None = None) -> float:
    """Return a date or date-time as an Excel serial number of days.

    Working in serial days keeps the engine's arithmetic identical to the
    arithmetic of a worksheet formula such as ``(D2-C2)*24``.
    """
    if isinstance(value, bool):
        raise KPIInputError(function, argument, value, DATE_EXPECTED, position)
    if isinstance(value, _NUMBER_TYPES):
        if not math.isfinite(value) or value < 0 or _FAKE_LEAP_DAY <= value < _FAKE_LEAP_DAY + 1:
            raise KPIInputError(function, argument, value, DATE_EXPECTED, position)
        return float(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise KPIInputError(function, argument, value, DATE_EXPECTED, position) from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        serial: float = (value - _EXCEL_EPOCH) / _DAY
    elif isinstance(value, dt.date):
        serial = float((value - _EXCEL_EPOCH.date()).days)
    else:
        raise KPIInputError(function, argument, value, DATE_EXPECTED, position)
    if serial < 0:
        raise KPIInputError(function, argument, value, "a date on or after 1900-01-01", position)
    # Dates before 1 March 1900 sit one serial lower in Excel (see above).
    return serial if serial >= _FAKE_LEAP_DAY + 1 else serial - 1


def serial_to_date(serial: float) -> dt.date:
    if serial < _FAKE_LEAP_DAY:
        serial += 1
    return (_EXCEL_EPOCH + dt.timedelta(days=math.floor(serial))).date()


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


def iter_nonblank(values: Iterable[Any]) -> Iterable[tuple[int, Any]]:
    for position, value in enumerate(values, start=1):
        if not (value is None or (isinstance(value, str) and is_blank(value))):
            yield position, value
