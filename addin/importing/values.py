"""An export's cells as the cells a user would type, by the kind of their column.

A CSV export holds text only. What counts then is decided by the data rules
(``kpi_engine.cells``), which read a typed cell; this module only says which
text stands for a date or a number, and leaves every other text as it is, so
that the rules see it and the data notes name it:

* a date is ISO 8601 (``2024-03-31``, ``2024-03-31 14:05``,
  ``2024-03-31T14:05:09.5+01:00``; the offset is dropped, the time kept as
  written) or, with ``--date-format``, that ``strptime`` format. A month may
  also be ``2024-03``. Text such as ``03/04/2024`` is never guessed: it reads
  as a different day in every locale, so without a format it stays text,
  which is not a date;
* a number is plain digits with an optional sign, decimal separator and
  exponent, the separator being ``.`` or, for decimal-comma exports, ``,``.
  Thousands separators, currency signs and percent signs make it text, which
  is not a number;
* an id, a text or a choice is the text itself.

An .xlsx export's numbers and dates are kept as they are; its text is read
as a CSV cell is.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from kpi_engine.cells import excel_trim, is_blank

from .source import ImportInputError

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(?:\s*(?:Z|[+-]\d{2}(?::?\d{2})?))?"
)
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_POINT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_COMMA = re.compile(r"[+-]?(?:\d+(?:,\d*)?|,\d+)(?:[eE][+-]?\d+)?")
DATE_KINDS = frozenset({"date", "datetime", "month"})
NUMBER_KINDS = frozenset({"money", "number", "whole", "score", "rating"})
DECIMALS = {"point": ".", "comma": ","}


def iso_moment(text: str, month: bool = False) -> dt.datetime | dt.date | None:
    """An ISO 8601 date or date-time (a month too with ``month``), else None."""
    match = _ISO.fullmatch(text)
    try:
        if match is None:
            found = _MONTH.fullmatch(text) if month else None
            return None if found is None else dt.date(int(found[1]), int(found[2]), 1)
        year, mon, day, hour, minute, second, fraction = match.groups()
        if hour is None:
            return dt.date(int(year), int(mon), int(day))
        micro = int((fraction or "0").ljust(6, "0")[:6])
        return dt.datetime(
            int(year), int(mon), int(day), int(hour), int(minute), int(second or 0), micro
        )
    except ValueError:  # 2024-02-31, 25:00...
        return None


def check_date_format(date_format: str) -> None:
    """Refuse a --date-format that has no day, month and year."""
    if not all(part in date_format for part in ("%d", "%m")) or not (
        "%Y" in date_format or "%y" in date_format
    ):
        raise ImportInputError(
            f"--date-format is {date_format!r}; expected a strptime format with a day, a "
            "month and a year, such as %d/%m/%Y or %m/%d/%Y %H:%M"
        )


def reader(kind: str, decimal: str = ".", date_format: str | None = None) -> Callable[[Any], Any]:
    """The function that turns an export's cell into the cell to write for a
    column of ``kind``: None for a blank, a date or a number where the text is
    one, else the cell as it is (which the data rules then judge)."""
    if kind in DATE_KINDS:
        month = kind == "month"

        def read_date(cell: Any) -> Any:
            if not isinstance(cell, str):
                return cell
            text = excel_trim(cell)
            if not text:
                return None
            found = iso_moment(text, month)
            if found is None and date_format is not None:
                try:
                    found = dt.datetime.strptime(text, date_format).replace(tzinfo=None)
                except ValueError:
                    found = None
            return cell if found is None else found

        return read_date
    if kind in NUMBER_KINDS:
        pattern = _COMMA if decimal == "," else _POINT

        def read_number(cell: Any) -> Any:
            if not isinstance(cell, str):
                return cell
            text = excel_trim(cell)
            if not text:
                return None
            if pattern.fullmatch(text) is None:
                return cell
            return float(text.replace(",", ".")) if decimal == "," else float(text)

        return read_number

    def read_text(cell: Any) -> Any:
        return None if is_blank(cell) else cell

    return read_text


def decimal_separator(option: str, delimiter: str | None, language: str) -> str:
    """The decimal separator of an export's numbers.

    ``--decimal point|comma`` says it. ``auto`` (the default) takes the comma
    for a semicolon-separated CSV file going into a French or Dutch workbook:
    spreadsheets in those locales write their CSV files that way, because the
    comma is their decimal separator. Any other file uses the point; an .xlsx
    export holds numbers, not text, and needs neither.
    """
    if option in DECIMALS:
        return DECIMALS[option]
    if option != "auto":
        raise ImportInputError(f"--decimal is {option!r}; expected auto, point or comma")
    return "," if delimiter == ";" and language in ("fr", "nl") else "."
