"""The data rules in their two forms: Python over table rows, Excel in a formula.

Each rule reads a cell as ``kpi_engine.cells`` does (see the docs, "How
your data is read"), once in Python for the report and once as a formula
fragment for the workbook. Both forms of a rule sit side by side here, so a
change to one shows up next to the other; the LibreOffice tests check that
they agree on every kind of messy cell.

Formulas are written as Excel shows them (``LET(since, ...)``, ``FILTER``):
``addin.ooxml.formulas`` adds the prefixes that the file format wants.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections import deque
from collections.abc import (
    Callable,
    Collection,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from itertools import compress, count, repeat
from math import inf, isnan, nan
from operator import call, is_not
from types import NoneType
from typing import Any, NamedTuple

from kpi_engine.cells import (
    END_OF_DATES,
    FIRST_DATE,
    amount_value,
    count_value,
    date_serial,
    id_key,
    is_blank,
    number_value,
    score_value,
)
from kpi_engine.excel_dates import PHANTOM_LEAP_DAY

# --- Python: table rows ------------------------------------------------------------

#: How a cell of each kind is read (``None``: it does not count).
READERS: Mapping[str, Callable[[Any], Any]] = {
    "id": id_key,
    "text": id_key,
    "choice": id_key,
    "date": date_serial,
    "datetime": date_serial,
    "month": date_serial,
    "money": amount_value,
    "number": amount_value,
    "whole": count_value,
    "score": score_value,
    "rating": number_value,
}
DATE_KINDS = frozenset({"date", "datetime", "month"})


class TableRows(dict[str, Sequence[Any]]):
    """One table's rows as columns of raw cell values.

    ``first_row`` is the sheet row of the first data row, so that a data note
    can name the rows a user sees. Each column is read by its kind's rule
    once, however many months are computed from it (the report computes
    fourteen).
    """

    def __init__(
        self, columns: Mapping[str, Sequence[Any]] | None = None, *, first_row: int = 2
    ) -> None:
        super().__init__(columns or {})
        self.first_row = first_row
        self._read: dict[tuple[str, Callable[[Any], Any]], list[Any]] = {}
        self._stays: dict[str, list[Stay]] = {}
        self._months: dict[str, list[MonthRows]] = {}
        self._masks: dict[Hashable, list[bool]] = {}
        self._present: dict[tuple[str, float], set[str]] = {}
        #: What a computation over many months keeps between them (see ``by_month``).
        self.memo: dict[Hashable, object] = {}

    @property
    def height(self) -> int:
        return max((len(values) for values in self.values()), default=0)

    def read(self, column: str, kind: str) -> list[Any]:
        """The column as its kind's rule reads it: a value, or None, per row
        (kinds read by the same rule share it: a datetime and a date column
        alike, an id and a choice)."""
        reader = READERS[kind]
        cached = self._read.get((column, reader))
        if cached is None:
            cells = self[column]
            if reader is date_serial:
                cached = _read_dates(cells)
            else:
                cached = _read_floats(cells, reader)
                if cached is None:
                    cached = _read_cells(cells, reader, self.memo, ("distinct", column, reader))
            self._read[(column, reader)] = cached
        return cached

    def numbers(self, column: str, kind: str) -> array[float]:
        """``read(column, kind)`` of a kind read as a number (an amount, a
        date...) in an array, NaN where a cell does not count: what a month's
        values are gathered from, where only cells that count are taken (its
        float objects lie all over memory; values taken from an array are
        made anew, close together). Callers must not change the array."""
        key = ("numbers", column, READERS[kind])
        found = self.memo.get(key)
        if not isinstance(found, array):
            read = self.read(column, kind)
            if None in read:
                read = [nan if v is None else v for v in read]
            found = self.memo[key] = array("d", read)
        return found

    def distinct(self, column: str, kind: str) -> set[Any]:
        """The different values of ``read(column, kind)`` (None among them
        where a cell does not count), found once. Callers must not change
        the set."""
        key = ("distinct", column, READERS[kind])
        found = self.memo.get(key)
        if not isinstance(found, set):
            read = self.read(column, kind)
            # A column read one distinct cell at a time left its readings.
            found = self.memo.get(key)
            if not isinstance(found, set):
                found = self.memo[key] = set(read)
        return found

    def different_cells(self, column: str, kind: str) -> Collection[Any]:
        """The column's different cells, where reading it by ``kind`` found
        them (one dict of a few thousand ids, rather than a million cells to
        look through), else its cells themselves."""
        self.read(column, kind)
        found = self.memo.get(("cells", ("distinct", column, READERS[kind])))
        return found if isinstance(found, Collection) else self[column]

    def mask(self, key: Hashable, build: Callable[[], list[bool]]) -> list[bool]:
        """A mask over every row that does not depend on the month (a status
        is "completed", an amount counts), built once under ``key``."""
        found = self._masks.get(key)
        if found is None:
            found = self._masks[key] = build()
        return found

    def months(self, column: str) -> list[MonthRows]:
        """The rows with a date in ``column``, bucketed by calendar month once
        (in the order of the months; each bucket's rows in sheet order)."""
        found = self._months.get(column)
        if found is None:
            found = self._months[column] = _bucket_by_month(self.read(column, "date"))
        return found

    def rows_within(self, column: str, start: float, end: float) -> Sequence[int]:
        """The indexes, in sheet order, of the rows whose date in ``column``
        falls in [start, end): what ``within`` holds as a mask, from the
        month buckets (``row_parts``). Callers must not change the array."""
        parts = self.row_parts(column, start, end)
        if len(parts) == 1:
            return parts[0]
        # Each part is in sheet order: sorting runs that are already sorted
        # merges them in about linear time.
        merged = row_indexes()
        for part in parts:
            merged.extend(part)
        return row_indexes(sorted(merged))

    def row_parts(self, column: str, start: float, end: float) -> list[Sequence[int]]:
        """``rows_within`` in parts, each in sheet order, the parts in the
        order of the months (for a count, which needs no sheet order): a
        bucket wholly inside is taken as it is, one that straddles an edge
        row by row (a window that does not start on the first of a month).
        Callers must not change the arrays."""
        parts: list[Sequence[int]] = []
        for bucket in self.months(column):
            if bucket.until <= start or bucket.since >= end:
                continue
            if start <= bucket.since and bucket.until <= end:
                parts.append(bucket.rows)
            else:
                dates = self.read(column, "date")
                parts.append(row_indexes(i for i in bucket.rows if start <= dates[i] < end))
        return parts


def row_indexes(indexes: Iterable[int] = ()) -> array[int]:
    """Row indexes as machine integers. A month's rows are spread over the
    whole sheet: a list would hold an int object per row, scattered in
    memory, which every pass over the month's values would visit again (at
    1,000,000 orders, gathering a month's values from a list of indexes takes
    about three times as long as from an array)."""
    return array("q", indexes)


@dataclass(frozen=True)
class MonthRows:
    """The rows of one calendar month of a date column: their indexes in
    sheet order, and the span [since, until) that holds all their dates."""

    rows: array[int]
    since: float
    until: float


_EPOCH = dt.datetime(1899, 12, 30)
_EPOCH_DAY = _EPOCH.date()
_DAY = dt.timedelta(days=1)
#: Serials from here to the end of dates are computed by a plain difference
#: (before it, the 1900 leap day that never was moves them by one; near the
#: end, to_serial keeps them below the first serial that is no date).
_PLAIN_FROM, _PLAIN_UNTIL = PHANTOM_LEAP_DAY + 1, END_OF_DATES - 1


def _date_cell(value: Any) -> float | None:
    """``date_serial`` of a cell, with its two commonest cells (a serial, a
    naive datetime) computed inline, to the same bits."""
    if value is None:  # an empty cell, the commonest that is no date
        return None
    kind = type(value)
    if kind is float:
        return value if FIRST_DATE <= value < END_OF_DATES else None
    if kind is dt.datetime and value.tzinfo is None:
        serial = (value - _EPOCH) / _DAY
        if _PLAIN_FROM <= serial < _PLAIN_UNTIL:
            return serial
    return date_serial(value)


def _read_dates(cells: Sequence[Any]) -> list[float | None]:
    """``date_serial`` of every cell. Dates are mostly distinct (a time of day
    each), so nothing is remembered; a column of naive datetimes and serials
    is read in two passes with no call per cell, any other cell by
    ``_date_cell``."""
    datetime, date, epoch, epoch_day, day = dt.datetime, dt.date, _EPOCH, _EPOCH_DAY, _DAY
    try:
        # As to_serial computes them; a serial stays itself; an aware
        # datetime raises (naive - aware).
        plain = [
            (v - epoch) / day
            if type(v) is datetime
            else float((v - epoch_day).days)
            if type(v) is date
            else v
            for v in cells
        ]
    except TypeError:
        return list(map(_date_cell, cells))
    low, high = _PLAIN_FROM, _PLAIN_UNTIL
    types = set(map(type, plain))
    if types <= {float, NoneType}:
        # Every cell a plain serial or empty (a None here is an empty cell,
        # which no rule reads as a date): the checks run in C.
        serials = (
            list(compress(plain, map(is_not, plain, repeat(None)))) if NoneType in types else plain
        )
        # A NaN makes the sum NaN (a sum in C, quicker than isnan per cell);
        # without one, min and max are the least and the greatest.
        if not serials or (not isnan(sum(serials)) and low <= min(serials) and max(serials) < high):
            return plain
    return [
        s if type(s) is float and low <= s < high else _date_cell(v)
        for s, v in zip(plain, cells, strict=True)
    ]


def _read_floats(cells: Sequence[Any], reader: Callable[[Any], Any]) -> list[Any] | None:
    """An amount or a count column of plain floats that all count, as its rule
    reads it (each cell itself), with the checks run in C: amounts are mostly
    distinct, so reading them one distinct value at a time saves nothing.
    None where a cell is of another type, or does not count (then each is read)."""
    if reader is not amount_value and reader is not count_value:
        return None
    # A NaN makes the sum NaN (as for dates: one sum in C).
    if not cells or set(map(type, cells)) != {float} or isnan(sum(cells)):
        return None
    # Without NaN, min and max are the least and the greatest.
    if not (min(cells) >= 0 and max(cells) < inf):
        return None
    if reader is count_value and not all(map(float.is_integer, cells)):
        return None
    return list(cells)


class _Readings(dict[Any, Any]):
    """Each different cell's reading, made the first time the cell is looked
    up: a column is read in one pass, its different cells found as it goes."""

    __slots__ = ("reader",)

    def __init__(self, reader: Callable[[Any], Any]) -> None:
        super().__init__()
        self.reader = reader

    def __missing__(self, value: Any) -> Any:
        reading = self[value] = self.reader(value)
        return reading


def _read_cells(
    cells: Sequence[Any],
    reader: Callable[[Any], Any],
    distinct: dict[Hashable, object] | None = None,
    key: Hashable = None,
) -> list[Any]:
    """``reader`` of every cell, once per distinct value; the different
    readings are kept in ``distinct`` under ``key``, when given, and the
    different cells under ``("cells", key)``."""
    readings = _Readings(reader)
    try:
        # One pass in C; Python code runs for each different cell only.
        read = list(map(readings.__getitem__, cells))
    except TypeError:  # an unhashable cell
        return _read_each(cells, reader)
    if (True in readings or False in readings) and bool in set(map(type, cells)):
        # TRUE reads as "true", 1 as "1", but they are one key of a dict
        # (which holds the first met: the cells tell whether TRUE is there).
        return _read_each(cells, reader)
    if distinct is not None:
        distinct[key] = set(readings.values())
        distinct[("cells", key)] = readings.keys()
    return read


def _read_each(cells: Sequence[Any], reader: Callable[[Any], Any]) -> list[Any]:
    """``reader`` of every cell, remembering what can be by type and value."""
    found: dict[tuple[type, Any], Any] = {}
    read = []
    for value in cells:
        typed = (type(value), value)
        try:
            result = found[typed]
        except KeyError:
            result = found[typed] = reader(value)
        except TypeError:
            result = reader(value)
        read.append(result)
    return read


class _MonthAdders(dict[int, Callable[[int], None]]):
    """Per serial day, the ``append`` of its month's bucket, found the first
    time the day is met (a column has a few hundred different days)."""

    def __init__(self) -> None:
        super().__init__()
        self.buckets: dict[int, array[int]] = {}

    def __missing__(self, day: int) -> Callable[[int], None]:
        month = _month_index(day)
        bucket = self.buckets.get(month)
        if bucket is None:
            bucket = self.buckets[month] = row_indexes()
        adder = self[day] = bucket.append
        return adder


def _bucket_by_month(dates: Sequence[float | None]) -> list[MonthRows]:
    """Row indexes by the calendar month of their date, in month order."""
    dated = list(map(is_not, dates, repeat(None)))
    adders = _MonthAdders()
    # Each dated row appended to its month's bucket, in sheet order, with no
    # Python code run per row (a deque of length 0 only drives the calls).
    days = map(int, compress(dates, dated))
    deque(map(call, map(adders.__getitem__, days), compress(count(), dated)), maxlen=0)
    return [
        MonthRows(adders.buckets[month], *_month_span(month)) for month in sorted(adders.buckets)
    ]


def _month_index(day: int) -> int:
    """year * 12 + month - 1 of a serial day; 0 for the days before
    1900-03-01 (around the phantom leap day), which share one bucket."""
    if day < _PLAIN_FROM:
        return 0
    date = _EPOCH_DAY + dt.timedelta(days=day)
    return date.year * 12 + date.month - 1


def _month_span(month: int) -> tuple[float, float]:
    """The serials [since, until) of a bucket's month. A date whose day is in
    the month lies in it: the day is the date's whole part, and a month's
    days are whole."""
    if month == 0:
        return float(FIRST_DATE), float(_PLAIN_FROM)
    first = dt.date(month // 12, month % 12 + 1, 1)
    since = float((first - _EPOCH_DAY).days)
    if month + 1 >= 10000 * 12:  # December 9999: the dates end with it
        return since, float(END_OF_DATES)
    after = dt.date((month + 1) // 12, (month + 1) % 12 + 1, 1)
    return since, float((after - _EPOCH_DAY).days)


#: Table rows by table name, as the recipes read them.
Rows = Mapping[str, TableRows]


def as_rows(tables: Mapping[str, Mapping[str, Sequence[Any]]]) -> dict[str, TableRows]:
    """Plain columns (``{"Orders": {"status": [...]}}``) as table rows."""
    return {
        name: table if isinstance(table, TableRows) else TableRows(table)
        for name, table in tables.items()
    }


def pick(column: Sequence[Any], mask: Sequence[bool]) -> list[Any]:
    if len(column) != len(mask):
        raise ValueError(f"pick: a column of {len(column)} values and a mask of {len(mask)}")
    return list(compress(column, mask))


def within(table: TableRows, date_column: str, start: float, end: float) -> list[bool]:
    """Rows whose date falls in [start, end); a row without a date never does."""
    return [v is not None and start <= v < end for v in table.read(date_column, "date")]


def in_order(table: TableRows, first: str, then: str) -> list[bool | None]:
    """Per row, whether the date in ``then`` is not before the one in
    ``first`` (None where either is no date), found once: the KPIs count the
    rows in order (``InOrder``), the data notes name the others. Dates as
    read are never NaN, so False is ``then < first``. Callers must not
    change the list."""
    key = ("in order", first, then)
    found = table.memo.get(key)
    if found is None:
        found = table.memo[key] = [
            None if a is None or b is None else b >= a
            for a, b in zip(table.read(first, "date"), table.read(then, "date"), strict=True)
        ]
    return found  # type: ignore[return-value]


def valid(table: TableRows, column: str, kind: str) -> list[bool]:
    return list(map(is_not, table.read(column, kind), repeat(None)))


def both(*masks: Iterable[bool]) -> list[bool]:
    if len(masks) == 1:
        return list(map(bool, masks[0]))
    if len(masks) == 2:  # the commonest: no tuple and no call per row
        first, second = masks
        return [a and b for a, b in zip(first, second, strict=True)]
    return [all(flags) for flags in zip(*masks, strict=True)]


def total(values: Sequence[Any], mask: Sequence[bool]) -> float:
    """The sum of the values where the mask holds (values already read)."""
    return float(sum(compress(values, mask)))


def equal_keys(table: TableRows, column: str, wanted: str) -> list[bool]:
    return [key == wanted for key in table.read(column, "choice")]


# --- Python: who is listed when ------------------------------------------------------


class Stay(NamedTuple):
    """One row of a master table: who, from when, until when (None: still there)."""

    row: int
    key: str
    since: float
    until: float | None


def stays(table: TableRows, id_column: str) -> list[Stay]:
    """The usable rows of a master table: an id, a date joined, and a date left
    that is blank or a date on or after it; other rows are left out."""
    found = table._stays.get(id_column)
    if found is None:
        keys = table.read(id_column, "id")
        since = table.read("joined_on", "date")
        until = table.read("left_on", "date")
        usable = [
            key is not None
            and joined is not None
            # A blank date left is still there; text, an error or a number
            # out of range is no date, and the row is left out.
            and (left >= joined if left is not None else raw is None or is_blank(raw))
            for key, joined, left, raw in zip(keys, since, until, table["left_on"], strict=True)
        ]
        # Each Stay made in C (tuple.__new__), not by a Python call per row.
        rows = zip(count(), keys, since, until)
        found = list(map(_new_stay, compress(rows, usable)))
        table._stays[id_column] = found
    return found


_new_stay = partial(tuple.__new__, Stay)


def present_at(listed: Sequence[Stay], moment: float) -> set[str]:
    """Who is there at a moment: joined before it, and not left before it."""
    return {s.key for s in listed if s.since < moment and (s.until is None or s.until >= moment)}


def present_keys(table: TableRows, id_column: str, moment: float) -> set[str]:
    """``present_at`` of a master table's stays, found once per moment (the
    report asks for each month's start and end from several KPIs). Callers
    must not change the set."""
    found = table._present.get((id_column, moment))
    if found is None:
        spans = table.memo.get(("spans", id_column))
        if not isinstance(spans, list):
            # (who, joined, left), left infinitely late for who has not left.
            spans = [
                (stay.key, stay.since, _NEVER if stay.until is None else stay.until)
                for stay in stays(table, id_column)
            ]
            table.memo[("spans", id_column)] = spans
        # As present_at: joined before the moment, not left before it.
        found = {key for key, since, until in spans if since < moment <= until}
        table._present[(id_column, moment)] = found
    return found


_NEVER = float("inf")


def present_during(listed: Sequence[Stay], start: float, end: float) -> set[str]:
    """Who is there at some time in [start, end)."""
    return {s.key for s in listed if s.since < end and (s.until is None or s.until >= start)}


def joined_during(listed: Sequence[Stay], start: float, end: float) -> set[str]:
    return {s.key for s in listed if start <= s.since < end}


# --- Excel: the same rules as formula fragments ----------------------------------------


def ref(table: str, column: str) -> str:
    return f"{table}[{column}]"


def excel_value(kind: str, reference: str) -> str:
    """A column read by its kind's rule, with a stand-in where a cell does not
    count: "" for an id, 0 for a date (never inside a month), -1 for a number
    of 0 or more, "" for a rating (any number counts)."""
    if kind in ("id", "text", "choice"):
        return f'IFERROR(TRIM({reference}),"")'
    if kind in DATE_KINDS:
        return f"IF(ISNUMBER({reference}),{reference},0)"
    if kind == "rating":
        return f'IF(ISNUMBER({reference}),{reference},"")'
    return f"IF(ISNUMBER({reference}),{reference},-1)"


def excel_counts(kind: str, value: str) -> str:
    """1 where a value read by ``excel_value`` counts, else 0."""
    if kind in ("id", "text", "choice"):
        return f'({value}<>"")'
    if kind in DATE_KINDS:
        return f"({value}>={FIRST_DATE})*({value}<{END_OF_DATES})"
    if kind in ("money", "number"):
        return f"({value}>=0)"
    if kind == "whole":
        return f"({value}>=0)*({value}=INT({value}))"
    if kind == "score":
        return f"({value}>=0)*({value}<=10)*({value}=INT({value}))"
    if kind == "rating":
        return f"ISNUMBER({value})"
    raise ValueError(kind)


def excel_within(date: str, start: str, end: str) -> str:
    return f"({date}>={start})*({date}<{end})"


def excel_distinct(keys: str, mask: str) -> str:
    """How many different keys the rows of the mask hold (the mask excludes
    blanks; ``keys`` is a column bound by ``Let.value``).

    FILTER keeps the blank keys too, counted as one and taken off again: a
    column bound by ``Let.value(padded=True)`` ends with blank cells, so
    FILTER gives an array,
    which LibreOffice's UNIQUE accepts, unless it keeps one blank alone,
    which LibreOffice turns into a plain value and UNIQUE refuses: no key.
    """
    return f'IFERROR(ROWS(UNIQUE(FILTER({keys},({mask})+({keys}="")>0)))-1,0)'


#: While set, every formula a Let builds reads only the rows of a table whose
#: column equals a cell: (table, column, cell reference). See ``only_rows``.
_ONLY_ROWS: ContextVar[tuple[str, str, str] | None] = ContextVar("only_rows", default=None)


@contextmanager
def only_rows(table: str, column: str, cell: str) -> Iterator[None]:
    """Formulas built inside read ``table`` only where ``table[column]`` equals
    ``cell`` (trimmed, any letter case, as the engine's text rule): its other
    rows read as blanks, which no rule counts. A KPI per channel is its
    formula with ``only_rows("Channels", "channel", "$B$40")``."""
    token = _ONLY_ROWS.set((table, column, cell))
    try:
        yield
    finally:
        _ONLY_ROWS.reset(token)


def _reference(table: str, column: str) -> str:
    """A table column, blank outside the rows that ``only_rows`` keeps."""
    column_ref = ref(table, column)
    only = _ONLY_ROWS.get()
    if only is None or only[0] != table:
        return column_ref
    _, key_column, cell = only
    return f'IF(IFERROR(TRIM({ref(table, key_column)}),"")=TRIM({cell}),{column_ref},"")'


class Let:
    """A LET formula, built name by name: each ``bind`` returns the name.

    Shared quantities compose in one LET: a value two of them bind alike (the
    month's dates of a table, its statuses) is bound once, and a name that
    two of them bind to different values is numbered (``counted_2``), so a
    quantity never needs to know what else the formula holds."""

    def __init__(self, *, padded: bool = False) -> None:
        self.pairs: list[tuple[str, str]] = []
        #: Every column bound padded (``cells``): a formula of all the
        #: months combines its columns into month-by-row arrays, and arrays
        #: of different lengths do not combine.
        self.padded = padded
        #: The LET name of the number of months of such a formula (``months_let``).
        self.months = ""

    def bind(self, name: str, expression: str) -> str:
        """Bind ``expression`` and return its name: ``name``, the name the
        same expression is already bound to, or ``name`` numbered when taken."""
        for bound, value in self.pairs:
            if value == expression:
                return bound
        taken = {bound for bound, _ in self.pairs}
        chosen, number = name, 1
        while chosen in taken:
            number += 1
            chosen = f"{name}_{number}"
        self.pairs.append((chosen, expression))
        return chosen

    def formula(self, result: str) -> str:
        return "LET(" + "".join(f"{n},{e}," for n, e in self.pairs) + result + ")"

    def cells(self, table: str, column: str, name: str) -> str:
        """Bind a table column with two blank cells more at its end.

        LibreOffice turns a one-value result into a plain value, and then
        refuses UNIQUE, ROWS, SORT and FILTER on it (Excel does not): the
        column of a table of one row, or FILTER's result with one row. With
        two blank cells, which never count, a column and what FILTER keeps of
        it together with its blanks stay arrays. A formula that sorts or
        counts different ids pads every column it combines with them, since
        arrays of different lengths do not combine; the others need no pad.
        """
        column_ref = _reference(table, column)
        count = f"ROWS({ref(table, column)})"
        place = self.bind(f"{table.lower()}_place", f"SEQUENCE({count}+2)")
        # The column against two more places: Excel and LibreOffice read a
        # column beyond its end as #N/A (a lone cell, as itself), which IF
        # never takes there. Cheaper than INDEX at each place.
        return self.bind(name, f'IF({place}<={count},{column_ref},"")')

    def value(self, table: str, column: str, kind: str, name: str, *, padded: bool = False) -> str:
        """Bind a column read by its kind's rule (see ``excel_value``), padded
        with two blank cells for a formula that sorts or counts ids."""
        if padded or self.padded:
            cells = self.cells(table, column, f"{name}_cells")
        else:
            cells = _reference(table, column)
        return self.bind(name, excel_value(kind, cells))


@dataclass(frozen=True)
class ExcelStays:
    """The LET names of a master table's stays, and who is there when."""

    who: str
    since: str
    until: str
    until_blank: str
    listed: str

    def present_at(self, moment: str) -> str:
        return (
            f"{self.listed}*({self.since}<{moment})*({self.until_blank}+({self.until}>={moment}))"
        )

    def present_during(self, start: str, end: str) -> str:
        return f"{self.listed}*({self.since}<{end})*({self.until_blank}+({self.until}>={start}))"

    def joined_during(self, start: str, end: str) -> str:
        return f"{self.listed}*{excel_within(self.since, start, end)}"


def excel_stays(let: Let, table: str, id_column: str) -> ExcelStays:
    """Bind a master table's stays: ``listed`` is 1 on a usable row, as ``stays``."""
    who = let.value(table, id_column, "id", "who", padded=True)
    since = let.value(table, "joined_on", "date", "since", padded=True)
    left = let.cells(table, "left_on", "until_cells")
    until_blank = let.bind("until_blank", f'IFERROR(TRIM({left})="",FALSE)')
    until = let.bind("until", f"IF(ISNUMBER({left}),{left},-1)")
    listed = let.bind(
        "listed",
        f'({who}<>"")*{excel_counts("date", since)}'
        f"*({until_blank}+({until}>={since})*({until}<{END_OF_DATES}))",
    )
    return ExcelStays(who, since, until, until_blank, listed)


# --- Excel: every month of the Trend sheet in one formula ----------------------------------
#
# The Trend sheet shows each KPI for twelve months. One formula per KPI
# computes them all, as a column of twelve values: the data rules read each
# column once (not twelve times), and the months are the rows of arrays of
# months by table rows. LibreOffice has no LAMBDA or MAP, so the months are
# taken with array arithmetic: a month-by-row window (``excel_by_month``)
# that MMULT sums row-wise, and FREQUENCY over ids made numbers
# (``excel_id_numbers``) for the different ids of each month. ``starts`` and
# ``ends`` are LET names of the months' first days and ends, in a column.


def months_let(starts: str, ends: str) -> tuple[Let, str, str]:
    """A formula of all the months, with their first days and ends bound."""
    let = Let(padded=True)
    first, last = let.bind("trend_start", starts), let.bind("trend_end", ends)
    let.months = let.bind("months", f"ROWS({first})")
    return let, first, last


def excel_by_month(let: Let, dated: str, starts: str, ends: str) -> str:
    """Bind the months-by-rows window: 1 where a row's date (a padded
    column, see ``Let.value``) falls in a month, else 0."""
    across = let.bind(f"{dated}_across", f"TRANSPOSE({dated})")
    return let.bind(f"{dated}_by_month", f"({across}>={starts})*({across}<{ends})")


def excel_month_sums(window: str, values: str) -> str:
    """Each month's sum of ``values`` (a column, 0/1 or numbers) over the
    window's rows: one matrix product for all the months."""
    return f"MMULT({window},{values})"


class ExcelIds(NamedTuple):
    """The LET names of a padded id column made numbers (``excel_id_numbers``)."""

    #: A number per row, across (0 for none); equal ids get the same number.
    across: str
    #: A number above every id's number.
    largest: str
    #: TRUE when no id is given on two rows (then each row's number is its place).
    once: str


def excel_id_numbers(let: Let, who: str) -> ExcelIds:
    """Bind a number per id, across (0 for none), a number above them all, and
    whether every id is given on one row only: ids equal by the text rule
    (trimmed, any letter case) get the same number. ``who`` is a padded id
    column (see ``Let.value``).

    When no id is given twice (UNIQUE, case-blind as ``=``, finds as many ids
    as there are rows that give one; a master table of one row per person),
    a row's number is its place: no text is sorted. Otherwise the column is
    sorted once, blanks last (so its last place is a blank); an id that
    differs from the one before it starts a group, and each place's number is
    its group's, found by a binary search among the groups' first places
    (numbers: MATCH's sorted mode finds them exactly, as it does not always
    among texts). No id is compared with every other. That work sits in IF's
    branch, which LibreOffice and Excel compute only when it is taken.
    """
    place = let.bind(f"{who}_place", f"SEQUENCE(ROWS({who}))")
    given = f'({who}<>"")'
    once = let.bind(f"{who}_once", f"ROWS(UNIQUE({who}))-1=SUM({given}*1)")

    def sorting(name: str, expression: str) -> str:
        return let.bind(name, unless(once, expression))

    order = sorting(f"{who}_order", f'SORTBY({place},{who}="",1,{who},1)')
    ordered = sorting(f"{who}_sorted", f"INDEX({who},{order})")
    # The sorted ids moved one place down (the last, a blank, comes first).
    before = sorting(f"{who}_before", f"SORTBY({ordered},MOD({place},ROWS({who})),1)")
    # The first and the last place start a group: FILTER then keeps two
    # places or more, an array (the last is a blank, never counted).
    starts = sorting(
        f"{who}_groups",
        f"FILTER({place},({place}=1)+({place}=ROWS({who}))+({ordered}<>{before})>0)",
    )
    grouped = f"SORTBY(MATCH({place},{starts},1),{order},1)"
    numbers = let.bind(f"{who}_number", f"{given}*IF({once},{place},{grouped})")
    return ExcelIds(
        let.bind(f"{who}_across", f"TRANSPOSE({numbers})"),
        let.bind(f"{who}_largest", f"MAX({numbers})+1"),
        once,
    )


def unless(once: str, expression: str) -> str:
    """``expression``, or 0 when ``once`` is TRUE: IF computes only the branch
    it takes (LibreOffice has no LET inside LET, so each name of the work
    that ``once`` spares is bound to its own IF)."""
    return f"IF({once},0,{expression})"


def excel_distinct_months(let: Let, ids: ExcelIds, rows: str, least: int = 1) -> str:
    """Each month's number of different ids among the rows of ``rows`` (a
    months-by-rows 0/1 array), in a column; with ``least``, only the ids found
    on that many rows or more of the month. ``ids``: the ids as numbers
    across (``excel_id_numbers``).

    When no id is on two rows, each month counts its rows that give an id
    (one matrix product); for ``least`` above 1 none counts. Otherwise month
    m's ids become the numbers after (m-1) times the largest, so one FREQUENCY
    counts every (month, id) pair, and a second one counts the pairs of each
    month; that work sits in IF's branch, computed only when taken."""
    months = let.months or let.bind("months", f"ROWS({rows})")
    numbers, largest = ids.across, ids.largest
    if least > 1:
        once = f"0*SEQUENCE({months})"
    else:
        ones = let.bind(f"{numbers}_ones", f"1+0*TRANSPOSE({numbers})")
        once = f"MMULT(({rows})*({numbers}>0),{ones})"
    # Arithmetic rather than IF or INDEX at each of the months-by-rows
    # places: LibreOffice computes those one place at a time. What is not a
    # pair is 0, counted apart below a first bin of 0 (FREQUENCY of no number
    # at all is an error in LibreOffice).
    paired = let.bind(
        "month_ids",
        unless(ids.once, f"({rows})*({numbers}>0)*({numbers}+{largest}*(SEQUENCE({months})-1))"),
    )
    # Over bins 0 to months * largest, FREQUENCY gives the count of 0, of each
    # (month, id) pair and of none above: its n-th count is the rows of the
    # pair numbered n - 1, which FILTER keeps by ``bins``, as long.
    bins = let.bind("id_bins", unless(ids.once, f"SEQUENCE({months}*{largest}+2)"))
    found = let.bind(
        "rows_per_id",
        unless(ids.once, f"FREQUENCY({paired},SEQUENCE({months}*{largest}+1,1,0))"),
    )
    kept = f"IFERROR(FILTER({bins}-1,({found}>={least})*({bins}>1)),0)"
    counted = f"FREQUENCY({kept},{largest}*SEQUENCE({months}+1,1,0))"
    return f"IF({ids.once},{once},INDEX({counted},SEQUENCE({months})+1))"


def excel_distinct_dated(let: Let, who: str, dated: str, starts: str, ends: str) -> str:
    """Each month's number of different ids among the rows dated in it, in a
    column (``who`` and ``dated``: padded columns; the months in order, none
    overlapping). Each row's month is found by two binary searches (its
    date's last start, and its last end, which is the month before when the
    date falls inside). Only the rows within a month are sorted, by id, then
    month: an id's rows of a month then stand together, and each month counts
    the rows that start such a run (their id or month differs from the row
    before). One sort of those rows, arithmetic and INDEX at each of them,
    and one FREQUENCY of the runs' months: no array of the months by rows."""
    place = let.bind(f"{who}_place", f"SEQUENCE(ROWS({who}))")
    last_start = let.bind(f"{dated}_start", excel_last_at_or_before(let, dated, starts))
    last_end = excel_last_at_or_before(let, dated, ends)
    month = let.bind(f"{dated}_month", f"{last_start}*({last_end}+1={last_start})")
    # The rows dated within a month, and the two blank places at the end of
    # the padded column: FILTER keeps an array, and the blanks, which sort
    # first, never count.
    kept = let.bind(
        f"{who}_dated",
        f'FILTER({place},({who}<>"")*({month}>0)+({place}>ROWS({who})-2)>0)',
    )
    kept_who = let.bind(f"{who}_kept", f"INDEX({who},{kept})")
    kept_month = let.bind(f"{dated}_kept", f"INDEX({month},{kept})")
    rank = let.bind(f"{who}_rank", f"SEQUENCE(ROWS({kept}))")
    order = let.bind(f"{who}_by_month", f"SORTBY({rank},{kept_who},1,{kept_month},1)")
    sorted_who = let.bind(f"{who}_ordered", f"INDEX({kept_who},{order})")
    sorted_month = let.bind(f"{dated}_ordered", f"INDEX({kept_month},{order})")
    # The place before each in that order (the first's: the last).
    before = let.bind(f"{who}_row_before", f"MOD({rank}-2,ROWS({kept}))+1")
    runs = (
        f'({sorted_who}<>"")*({sorted_month}>0)*(({sorted_who}<>INDEX({sorted_who},{before}))'
        f"+({sorted_month}<>INDEX({sorted_month},{before}))>0)"
    )
    months = let.months or let.bind("months", f"ROWS({starts})")
    counted = f"FREQUENCY({runs}*{sorted_month},SEQUENCE({months}+1,1,0))"
    return f"INDEX({counted},SEQUENCE({months})+1)"


def excel_last_at_or_before(let: Let, values: str, ascending: str) -> str:
    """For each of ``values``, the place of the last of ``ascending`` (a
    column of numbers in order) at or below it, 0 where none is: MATCH's
    binary search. Over an array (not cells), LibreOffice's answers one place
    short for a value at or above the last entry, so those take the last
    place by a comparison of their own."""
    found = f"IFERROR(MATCH({values},{ascending},1),0)"
    count = let.bind(f"{ascending}_count", f"ROWS({ascending})")
    at_last = f"({values}>=INDEX({ascending},{count}))"
    return f"({found}+{at_last}*({count}-{found}))"


def excel_window_buyers(let: Let, who: str, dated: str, since: str, until: str) -> tuple[str, str]:
    """Bind, for windows [since, until) (columns, both in order), each
    window's number of different ids among the rows dated in it, and of those
    ids found on two rows or more there (``who`` and ``dated``: padded
    columns). The rows within any window are sorted once, by id then date: an
    id's rows in a window then stand together. A row is its id's first in
    the windows that hold it but not the row before (same id), and its second
    in those that hold it and the row before but not the one before that;
    since a row's windows are a run of them (found by two binary searches),
    those are runs too, and each window counts the runs over it from where
    runs start and end (two FREQUENCY and a sum of the ones up to each
    window): no array of the windows by rows."""
    place = let.bind(f"{who}_place", f"SEQUENCE(ROWS({who}))")
    kept = let.bind(
        f"{who}_windowed",
        f'FILTER({place},({who}<>"")*({dated}>=MIN({since}))*({dated}<MAX({until}))'
        f"+({place}>ROWS({who})-2)>0)",
    )
    kept_who = let.bind(f"{who}_kept", f"INDEX({who},{kept})")
    kept_dated = let.bind(f"{dated}_kept", f"INDEX({dated},{kept})")
    rank = let.bind(f"{who}_rank", f"SEQUENCE(ROWS({kept}))")
    order = let.bind(f"{who}_by_date", f"SORTBY({rank},{kept_who},1,{kept_dated},1)")
    ids = let.bind(f"{who}_ordered", f"INDEX({kept_who},{order})")
    day = let.bind(f"{dated}_ordered", f"INDEX({kept_dated},{order})")
    # The windows holding each row: from ``first`` to ``last`` (none if after).
    first = let.bind("first_window", excel_last_at_or_before(let, day, until) + "+1")
    last = let.bind("last_window", excel_last_at_or_before(let, day, since))
    # The rows one and two places before in that order (wrapping round to
    # the padded blanks, which sort together at one end, and never count).
    count = f"ROWS({kept})"
    before = let.bind("row_before", f"MOD({rank}-2,{count})+1")
    before_2 = let.bind("row_before_2", f"MOD({rank}-3,{count})+1")
    given = f'({ids}<>"")'
    same = let.bind("same_as_before", f"{given}*({ids}=INDEX({ids},{before}))")
    same_2 = let.bind("same_as_before_2", f"{same}*({ids}=INDEX({ids},{before_2}))")
    last_before = let.bind("last_window_before", f"INDEX({last},{before})")
    last_before_2 = f"INDEX({last},{before_2})"

    def later(a: str, b: str) -> str:
        return f"({a})+(({b})-({a}))*(({b})>({a}))"

    months = let.months or let.bind("months", f"ROWS({until})")
    bins = let.bind("window_bins", f"SEQUENCE({months}+1,1,0)")
    # up_to[m, j]: 1 where j <= m + 1 (the counts of FREQUENCY up to window m).
    up_to = let.bind("window_up_to", f"--(TRANSPOSE(SEQUENCE({months}+2))<=SEQUENCE({months})+1)")
    below = let.bind("window_below", f"--(TRANSPOSE(SEQUENCE({months}+2))<=SEQUENCE({months}))")

    def runs_over(valid: str, low: str, high: str) -> str:
        # Runs [low, high]: those starting at or before each window less those
        # ending before it. A row with no run gives 0 twice, which cancels.
        low = let.bind("run_from", low)
        counted = let.bind("run_kept", f"{valid}*({low}<={high})")
        starts = f"FREQUENCY({counted}*{low},{bins})"
        ends = f"FREQUENCY({counted}*({high}),{bins})"
        return f"MMULT({up_to},{starts})-MMULT({below},{ends})"

    first_rows = runs_over(given, later(first, f"{same}*{last_before}+1"), last)
    second_rows = runs_over(same, later(first, f"{same_2}*{last_before_2}+1"), last_before)
    return let.bind("window_ids", first_rows), let.bind("window_ids_twice", second_rows)


def excel_year_before(day: str) -> str:
    """EDATE(day, -12) for a column of days (EDATE takes no array in Excel):
    the same day a year before, or the month's last day where there is none."""
    same = f"DATE(YEAR({day})-1,MONTH({day}),DAY({day}))"
    return f"IF(DAY({same})=DAY({day}),{same},DATE(YEAR({day})-1,MONTH({day})+1,0))"


def excel_across(stays: ExcelStays, numbers: str, let: Let) -> ExcelStays:
    """A master table's stays (``excel_stays``) as rows across, one column per
    table row, for months-by-rows arrays: who is there at a column of
    moments; ``numbers``: the ids as numbers across (``excel_id_numbers``)."""
    since, until, until_blank, listed = (
        let.bind(f"{name}_across", f"TRANSPOSE({name})")
        for name in (stays.since, stays.until, stays.until_blank, stays.listed)
    )
    return ExcelStays(numbers, since, until, until_blank, listed)
