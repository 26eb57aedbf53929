"""The two ways a KPI can fail: bad input, or a value that does not exist."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ._cells import ERROR_VALUES

#: The longest a value is shown in a message: a 10 MB cell must not become a
#: 10 MB message in Excel's tooltip.
SHOWN_CHARACTERS = 60


def describe_value(value: Any) -> str:
    """Return a value as a user would recognise it from their sheet, shortened.

    Whole floats print without the ``.0`` that Excel never shows; text keeps
    its quotes so that ``'12'`` (text) and ``12`` (a number) look different;
    an error value reads as one. Nothing shown is longer than about
    ``SHOWN_CHARACTERS``.
    """
    if value is None:
        return "blank"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        if value in ERROR_VALUES:
            return f"the error value {value}"
        if len(value) > SHOWN_CHARACTERS:
            return f"{repr(value[: SHOWN_CHARACTERS - 10])[:-1]}...' ({len(value):,} characters)"
        return repr(value)
    if isinstance(value, int):
        return _whole_number(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return f"a range of {len(value)} cells"
    return _shortened(repr(value))


def _whole_number(value: int) -> str:
    """An int in full, or in scientific notation once it is too long to read."""
    if -(10**15) < value < 10**15:
        return str(value)
    # str() of an int of more than 4300 digits raises, and is unreadable
    # long before that: keep the leading digits and count the rest.
    magnitude = abs(value)
    dropped = max(int(magnitude.bit_length() * math.log10(2)) - 6, 0)
    leading = str(magnitude // 10**dropped)
    exponent = len(leading) - 1 + dropped
    mantissa = f"{leading[0]}.{leading[1:6]}".rstrip("0").rstrip(".")
    return f"{'-' if value < 0 else ''}{mantissa}e+{exponent}"


def _shortened(text: str) -> str:
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return text[: SHOWN_CHARACTERS - 3] + "..."


class KPIInputError(ValueError):
    """An input that a KPI function cannot use, and what it expected instead.

    The message names the function, the argument, the 1-based position in the
    range (counted row by row, as Excel reads a range) where there is one, the
    value, and what would be right, for example
    ``nps: scores[3] is 'abc'; expected a whole number from 0 to 10``.
    The same parts are kept as attributes for callers that format their own
    messages.
    """

    def __init__(
        self,
        function: str,
        argument: str,
        value: Any,
        expected: str,
        position: int | None = None,
        *,
        detail: str | None = None,
    ) -> None:
        self.function = function
        self.argument = argument
        self.value = value
        self.expected = expected
        self.position = position
        where = argument if position is None else f"{argument}[{position}]"
        shown = detail if detail is not None else f"is {describe_value(value)}"
        super().__init__(f"{function}: {where} {shown}; expected {expected}")


class KPIUndefinedError(ZeroDivisionError):
    """A KPI that has no value for this data, such as a rate over zero customers.

    Excel shows it as ``#DIV/0!``; the engine never turns it into 0, NaN or
    infinity, which would read as a real measurement.
    """

    def __init__(self, function: str, reason: str) -> None:
        self.function = function
        self.reason = reason
        super().__init__(f"{function} is undefined: {reason}")
