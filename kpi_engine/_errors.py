"""The two ways a KPI can fail: bad input, or a value that does not exist."""

from __future__ import annotations

import datetime as dt
import functools
import math
import reprlib
from typing import Any

from ._cells import ERROR_VALUES, is_cell_value

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
        return _quoted(value)
    if isinstance(value, int):
        return _whole_number(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # float's own repr: numpy's float64 would say np.float64(0.5).
        return float.__repr__(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return f"a range of {len(value)} cell{'' if len(value) == 1 else 's'}"
    return _shortened(_SHORT_REPR.repr(value))


def _quoted(text: str) -> str:
    """Text in quotes, cut after its first 50 characters when it is long.

    Only the start is ever turned into a repr: a 10 MB text is not copied,
    and escapes (a control character reads as ``\\x00``), which can make a
    short text's repr ten times its length, are cut too.
    """
    if len(text) <= SHOWN_CHARACTERS:
        quoted = repr(text)
        if len(quoted) <= SHOWN_CHARACTERS + 2:
            return quoted
    start = repr(text[: SHOWN_CHARACTERS - 10])[: SHOWN_CHARACTERS - 9]
    return f"{start}...{start[0]} ({len(text):,} characters)"


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


class _ShortRepr(reprlib.Repr):
    """A repr that never builds more than it shows.

    A dict or a set from a hostile caller may hold a 10 MB text, an int of
    5000 digits (whose ``str`` raises ValueError), thousands of items or
    nesting deep enough to exhaust the stack; ``repr`` would build all of it,
    or raise, before ``_shortened`` cut it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxother = SHOWN_CHARACTERS
        self.maxlevel = 3

    def repr_int(self, value: int, level: int) -> str:
        return _whole_number(value)

    def repr_str(self, value: str, level: int) -> str:
        return _quoted(value) if value not in ERROR_VALUES else repr(value)

    def repr_bytes(self, value: bytes, level: int) -> str:
        if len(value) <= SHOWN_CHARACTERS:
            return repr(value)
        return f"{repr(value[: SHOWN_CHARACTERS - 10])[:-1]}...' ({len(value):,} bytes)"


_SHORT_REPR = _ShortRepr()


def _pickles_as_it_is(value: Any) -> bool:
    """A cell value, or a range of them (a list of cells or of rows)."""
    if isinstance(value, list | tuple):
        return all(
            is_cell_value(item)
            or (isinstance(item, list | tuple) and all(map(is_cell_value, item)))
            for item in value
        )
    return is_cell_value(value)


def short_repr(value: Any) -> str:
    """Any value as Python writes it, shortened to about ``SHOWN_CHARACTERS``
    without ever building the whole of a huge or deeply nested value."""
    return _shortened(_SHORT_REPR.repr(value))


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
        self.detail = detail
        where = argument if position is None else f"{argument}[{position}]"
        shown = detail if detail is not None else f"is {describe_value(value)}"
        super().__init__(f"{function}: {where} {shown}; expected {expected}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by its parts, for process pools: the default (the message
        # alone) cannot rebuild an error whose __init__ takes the parts. The
        # shown value travels as shown, so the message stays the same, and a
        # value that no cell holds travels as its description: pickle cannot
        # take every one (a list nested 5000 deep exhausts its stack).
        shown = self.detail if self.detail is not None else f"is {describe_value(self.value)}"
        value = self.value if _pickles_as_it_is(self.value) else describe_value(self.value)
        return (
            functools.partial(type(self), detail=shown),
            (self.function, self.argument, value, self.expected, self.position),
        )


class KPIUndefinedError(ZeroDivisionError):
    """A KPI that has no value for this data, such as a rate over zero customers.

    Excel shows it as ``#DIV/0!``; the engine never turns it into 0, NaN or
    infinity, which would read as a real measurement. ``reason`` says why in
    English, for the message; ``code`` says it for programs and for the
    report, which words it in the reader's language (``templates/reasons.toml``):
    ``zero_<argument>`` when a denominator is 0, else a word such as
    ``no_responses``.
    """

    def __init__(self, function: str, reason: str, code: str) -> None:
        self.function = function
        self.reason = reason
        self.code = code
        super().__init__(f"{function} is undefined: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.function, self.reason, self.code))
