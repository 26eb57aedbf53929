"""How the engine reads one cell: the data rules the add-in's recipes and
readers share with the KPI functions.

A cell counts for a KPI only when its kind's rule accepts it: a blank, an
Excel error (``ERROR_VALUES``), text where a number is expected, or a date
outside Excel's calendar (``FIRST_DATE`` to ``END_OF_DATES``) does not. Each
reader returns the value the KPI works with, or None where the cell does not
count (see the README, "How your data is read").
"""

from __future__ import annotations

from ._cells import (
    ERROR_VALUES,
    FAKE_LEAP_DAY,
    FIRST_DATE,
    amount_value,
    count_value,
    date_serial,
    excel_trim,
    id_key,
    is_blank,
    is_error,
    number_value,
    score_value,
    serial_of,
)
from ._records import nps_groups
from .excel_dates import END_OF_DATES

__all__ = [
    "END_OF_DATES",
    "ERROR_VALUES",
    "FAKE_LEAP_DAY",
    "FIRST_DATE",
    "amount_value",
    "count_value",
    "date_serial",
    "excel_trim",
    "id_key",
    "is_blank",
    "is_error",
    "nps_groups",
    "number_value",
    "score_value",
    "serial_of",
]
