"""How one cell of a data range is read: the project's data rules.

The same rules hold in the engine's range functions (``nps``, ``mau``...), in
the report refresh and in the native formulas of the starter workbooks (the
Excel form of each rule sits beside its use in ``addin.recipes``). They are
written down for users in the docs, "How your data is read" (docs/data-rules.md):

* A blank is an empty cell or text made only of spaces.
* A cell holding an Excel error (``#N/A``, ``#VALUE!``...) counts as nothing.
  Office.js hands errors over as their text, so text that reads exactly like
  an error is taken for that error.
* A date is a date cell: a number from 1 (1900-01-01) up to 9999-12-31, or a
  ``date``/``datetime`` in that span (``excel_dates`` converts between the
  two). Text that looks like a date is not one: Excel reads
  "03/06/2024" differently in every locale, so it is left out, never guessed.
* A number is a number cell: a finite number that a float holds (at most
  about 1.8e308 in size, as in Excel). NaN, infinity and a Python int too
  large for a float are no numbers. A number stored as text (``'9``) is
  text, as it is for Excel's SUM and AVERAGE.
* An identifier or a status is compared as Excel's TRIM, COUNTIF and UNIQUE
  compare text: without the spaces around it (runs of spaces inside shrink to
  one), ignoring letter case; a number counts as its digits, so the id 1001
  and the text "1001" are the same customer.
* A cell holds a number, text, TRUE/FALSE, a date, a time or nothing
  (``CELL_TYPES``). Anything else inside a range (a list, a dict, a set, a
  numpy array) is no cell at all: the engine's range functions raise
  ``KPIInputError`` naming its position rather than guess what it means. A
  range itself may come as a NumPy array or a pandas Series
  (``_inputs.cells``).

Each reader returns the value, or ``None`` where the cell does not count;
readers never raise, whatever they are given.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import Any

from .excel_dates import END_OF_DATES, FIRST_SERIAL, PHANTOM_LEAP_DAY, to_serial

#: Every error value Excel can show in a cell, as Office.js writes it.
ERROR_VALUES: frozenset[str] = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
        "#EXTERNAL!",
        "#PYTHON!",
    }
)

_DAY = dt.timedelta(days=1)
#: Serial 60 is 29 February 1900, a day that never was (kept from Lotus 1-2-3):
#: dates before 1 March 1900 sit one serial lower than the calendar says.
FAKE_LEAP_DAY = PHANTOM_LEAP_DAY
#: Serials of real dates: 1900-01-01 up to 9999-12-31 (END_OF_DATES, from
#: excel_dates, excluded). The add-in's rules import both from here.
FIRST_DATE = FIRST_SERIAL

#: The Excel serial number of a date or date-time (``excel_dates.to_serial``,
#: kept under its old name for the add-in); raises ValueError before 1900.
serial_of = to_serial

#: What a cell of a range may hold; numbers.Real lets numpy's numbers in.
CELL_TYPES: tuple[type, ...] = (
    type(None),
    str,
    bool,
    int,
    float,
    numbers.Real,
    dt.date,
    dt.time,
    dt.timedelta,
)


def is_cell_value(value: Any) -> bool:
    """True for what a worksheet cell can hold; False for a list, a dict, an array..."""
    return isinstance(value, CELL_TYPES)


def excel_trim(text: str) -> str:
    """Text as Excel's TRIM leaves it: no spaces around, single spaces inside.

    Only the space character counts, as in Excel and LibreOffice: a tab or a
    non-breaking space is text.
    """
    return " ".join(part for part in text.split(" ") if part)


def is_error(value: Any) -> bool:
    return isinstance(value, str) and value in ERROR_VALUES


def is_blank(value: Any) -> bool:
    """True for an empty cell and for text made only of spaces."""
    return value is None or (isinstance(value, str) and not excel_trim(value))


def finite_number(value: Any) -> float | None:
    """A number as a finite float; ``None`` for NaN, infinity, an int too large
    for a float, a boolean and anything that is no number."""
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None
        try:
            value = float(value)
        except (OverflowError, ValueError):
            return None
    return value if math.isfinite(value) else None


def number_value(value: Any) -> float | None:
    """A number cell's value; dates and times count as the numbers Excel stores."""
    if type(value) is float:
        # The usual cell, read at once (each reader below does the same): a
        # call from Excel reads thousands, and this is most of its work.
        return value if math.isfinite(value) else None
    number = finite_number(value)
    if number is not None:
        return number
    if isinstance(value, dt.date):
        try:
            return to_serial(value)
        except ValueError:  # before 1900: no date Excel holds
            return None
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / 86400 + (
            value.microsecond / 86400e6
        )
    if isinstance(value, dt.timedelta):
        return value / _DAY
    return None


def date_serial(value: Any) -> float | None:
    """A date cell as its Excel serial number; ``None`` for anything else."""
    serial = number_value(value)
    if serial is None or not FIRST_DATE <= serial < END_OF_DATES:
        return None
    return serial


def amount_value(value: Any) -> float | None:
    """A sum of money or of time: a number of 0 or more."""
    if type(value) is float:
        return value if 0 <= value < math.inf else None
    number = number_value(value)
    return number if number is not None and number >= 0 else None


def count_value(value: Any) -> float | None:
    """A number of things: a whole number of 0 or more."""
    if type(value) is float:
        # A whole float is finite; NaN is not at least 0.
        return value if value >= 0 and value.is_integer() else None
    number = amount_value(value)
    return number if number is not None and number.is_integer() else None


def score_value(value: Any) -> int | None:
    """An answer to the 0-10 recommend question: a whole number from 0 to 10."""
    if type(value) is float:
        return int(value) if 0 <= value <= 10 and value.is_integer() else None
    number = count_value(value)
    return int(number) if number is not None and number <= 10 else None


def number_text(number: float) -> str:
    """A number as Excel turns it into text (15 significant digits)."""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return format(number, ".15g")


def id_key(value: Any) -> str | None:
    """The text by which an identifier or a status is compared; ``None`` for a
    blank, an error or a value that is no text and no number."""
    if isinstance(value, str):
        if value in ERROR_VALUES:
            return None
        # TRIM's rule at once where it only strips the ends (most ids): the
        # same text excel_trim gives, without splitting it into words.
        trimmed = value.strip(" ")
        if "  " in trimmed:
            trimmed = excel_trim(trimmed)
        return trimmed.lower() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    number = number_value(value)
    return None if number is None else number_text(number).lower()
