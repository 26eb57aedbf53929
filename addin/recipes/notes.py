"""Data notes: which rows of a table the KPIs leave out, and why.

Every check is one kind of problem in one table column (a date that is text,
a score of 11, a delivery before its order, an id missing from the master
table...). Each has a Python form, which finds the offending rows for the
report and ``kpi report``, and an Excel form, which the KPI sheet uses to
count them with native formulas. The checks of a business type follow from
the columns its recipes read, so a new recipe brings its checks with it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import compress, count, repeat
from operator import is_, is_not
from types import NoneType
from typing import Any

import kpi_engine
from kpi_engine import display
from kpi_engine.cells import END_OF_DATES, ERROR_VALUES, FIRST_DATE, is_blank, is_error
from kpi_engine.texts import templates_dir

from .kpis import columns_read, recipe_for, tables_for
from .rules import Let, Rows, TableRows, excel_distinct, in_order, ref
from .tables import MASTERS, PARTS_OF_WHOLES, REFERENCES, Column
from .tables import column as column_of

#: The kinds read as a key: a blank cell is read as no key.
_KEY_KINDS = frozenset({"id", "text", "choice"})

#: How many row numbers a note lists.
FIRST_ROWS = 5

_DATE_TEST = f"({{x}}>={FIRST_DATE})*({{x}}<{END_OF_DATES})"
#: What a cell of each kind must be, as a problem id, and the Excel test of
#: a number cell of that kind (``{x}`` stands for the cell).
_INVALID: dict[str, tuple[str, str]] = {
    "date": ("not_a_date", _DATE_TEST),
    "datetime": ("not_a_date", _DATE_TEST),
    "month": ("not_a_date", _DATE_TEST),
    "money": ("not_an_amount", "{x}>=0"),
    "number": ("not_an_amount", "{x}>=0"),
    "whole": ("not_a_count", "({x}>=0)*({x}=INT({x}))"),
    "score": ("not_a_score", "({x}>=0)*({x}<=10)*({x}=INT({x}))"),
    "rating": ("not_a_number", "TRUE"),
}
#: Problems after which the row still counts: the note is for information.
STILL_COUNTED = frozenset({"unknown_id", "unknown_choice", "repeated_id"})


@dataclass(frozen=True)
class Check:
    """One kind of problem in one table column."""

    table: str
    column: str
    problem: str
    #: The other table or column the problem names ("Customers", "impressions"),
    #: or the allowed choices.
    other: str
    #: 0-based indexes of the offending rows.
    find: Callable[[Rows], list[int]] = field(compare=False, repr=False)
    #: Excel: an array, 1 on an offending row (None: count only, see ``excel_count``).
    mask: str | None = field(compare=False, repr=False)
    excel_count: str = field(compare=False, repr=False, default="")
    #: LET names the mask uses, with their values. LibreOffice cannot compute
    #: a LET inside another LET's value, so a mask never holds a LET itself.
    bindings: tuple[tuple[str, str], ...] = field(compare=False, repr=False, default=())

    @property
    def still_counted(self) -> bool:
        return self.problem in STILL_COUNTED

    def _let(self, *pairs: tuple[str, str], result: str) -> str:
        let = Let()
        for name, value in (*self.bindings, *pairs):
            let.bind(name, value)
        return let.formula(result) if let.pairs else result

    def count_formula(self) -> str:
        return self.excel_count or self._let(result=f"SUM({self.mask}*1)")

    def rows_formula(self, count_cell: str | None = None) -> str | None:
        """Excel: the first offending sheet rows, as text such as "14, 20".

        ``count_cell``: the cell holding ``count_formula``. The list then takes
        its count from there, and computes the mask only when the count is not
        0 (IF computes only the branch it takes), rather than again each time.
        """
        if self.mask is None:
            return None
        rows = ref(self.table, self.column)
        # SMALL, not INDEX(FILTER(...)): with a table of one row, LibreOffice
        # gives FILTER's one value as a plain number, which INDEX refuses.
        listed = f'TEXTJOIN(", ",TRUE,SMALL(IF(bad,ROW({rows})),SEQUENCE(MIN({FIRST_ROWS},found))))'
        if count_cell is None:
            return self._let(
                ("bad", str(self.mask)),
                ("found", "SUM(bad*1)"),
                result=f'IF(found=0,"",{listed})',
            )
        only_if_found = self._let(("bad", self.mask), ("found", count_cell), result=listed)
        return f'IF({count_cell}=0,"",{only_if_found})'


@dataclass(frozen=True)
class Note:
    """What a check found in a workbook's rows."""

    check: Check
    rows: int
    first_rows: tuple[int, ...]
    kpis: tuple[str, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "table": self.check.table,
            "column": self.check.column,
            "problem": self.check.problem,
            "other": self.check.other or None,
            "rows": self.rows,
            "first_rows": list(self.first_rows),
            "still_counted": self.check.still_counted,
            "kpis": list(self.kpis),
        }


# --- the checks ----------------------------------------------------------------------------


def _has_none_of(cells: Collection[Any], values: frozenset[str]) -> bool:
    """Whether no cell equals one of ``values`` (False where that cannot be
    told at once: an unhashable cell)."""
    try:
        return values.isdisjoint(cells)
    except TypeError:
        return False


def _has_data(table: TableRows, columns: Sequence[str], row: int) -> bool:
    """Whether one of the row's cells is not blank (an error is data)."""
    return any(not is_blank(table[c][row]) for c in columns if c in table)


def _invalid(table: str, column: Column) -> Check:
    if column.kind in _KEY_KINDS:
        # Any text or number names something; only an error value does not.
        def find_errors(rows: Rows) -> list[int]:
            # The column is read (as the KPIs and the other checks read it)
            # one different cell at a time: those are what is looked through.
            data = rows[table]
            if _has_none_of(data.different_cells(column.id, column.kind), ERROR_VALUES):
                return []
            return [i for i, v in enumerate(data[column.id]) if is_error(v)]

        return Check(
            table, column.id, "error", "", find_errors, f"ISERROR({ref(table, column.id)})"
        )
    problem, test = _INVALID[column.kind]
    cell = ref(table, column.id)

    def find(rows: Rows) -> list[int]:
        data = rows[table]
        # The column as its rule reads it (once per distinct value); only the
        # cells read as nothing need the blank test.
        read = data.read(column.id, column.kind)
        if None not in read:  # every cell read: nothing to look at
            return []
        raw = data[column.id]
        # The rows read as nothing, found in C, less the empty cells among
        # them (blank: an undelivered order's date); the blank test for the
        # others alone.
        unread = list(map(is_, read, repeat(None)))
        given = map(is_not, compress(raw, unread), repeat(None))
        return [i for i in compress(compress(count(), unread), given) if not is_blank(raw[i])]

    # An error cell is not blank (IFERROR gives TRUE) and not a number. A
    # text cell fails ISNUMBER, whatever its test gives (or an error), so no
    # IF is needed: an IF over a column costs LibreOffice more than IFERROR.
    mask = (
        f'IFERROR(TRIM({cell})<>"",TRUE)*NOT(IFERROR(ISNUMBER({cell})*({test.format(x=cell)}),0))'
    )
    return Check(table, column.id, problem, "", find, mask)


def _blank(table: str, column: str, all_columns: Sequence[str]) -> Check:
    kind = column_of(table, column).kind

    def find(rows: Rows) -> list[int]:
        data = rows[table]
        if kind in _KEY_KINDS and None not in data.distinct(column, kind):
            # Every cell of an id column names someone: no blank (a blank,
            # as text of spaces, is read as no id).
            return []
        # A column of no empty cell and no text has no blank: seen in C by
        # the types of its cells, not cell by cell.
        types = set(map(type, data[column]))
        if NoneType not in types and not any(issubclass(t, str) for t in types):
            return []
        # Blank: no value, or text of spaces only (TRIM's rule: a space is " ").
        return [
            i
            for i, v in enumerate(data[column])
            if (v is None or (isinstance(v, str) and not v.strip(" ")))
            and _has_data(data, all_columns, i)
        ]

    # A row has data when one of its cells is not blank (an error is data):
    # one of its other cells, since this one is blank where it counts.
    # Each column is trimmed on its own: LibreOffice misplaces the elements of
    # a joined text array (c1&c2) that holds an error.
    has_data = "+".join(
        f'IFERROR(TRIM({ref(table, c)})<>"",TRUE)' for c in all_columns if c != column
    )
    mask = f'IFERROR(TRIM({ref(table, column)})="",FALSE)*(({has_data or 0})>0)'
    return Check(table, column, "blank", "", find, mask)


def _unknown_choice(table: str, column: Column) -> Check:
    def find(rows: Rows) -> list[int]:
        keys = rows[table].read(column.id, "choice")
        outside = rows[table].distinct(column.id, "choice") - set(column.choices) - {None}
        if not outside:
            return []
        return [i for i, k in enumerate(keys) if k in outside]

    key = ("key", f'IFERROR(TRIM({ref(table, column.id)}),"")')
    outside = "".join(f'*(key<>"{choice}")' for choice in column.choices)
    return Check(
        table,
        column.id,
        "unknown_choice",
        ", ".join(column.choices),
        find,
        f'(key<>""){outside}',
        bindings=(key,),
    )


def _order_of_dates(table: str, first: str, then: str, problem: str) -> Check:
    """Rows whose ``then`` date comes before their ``first`` date."""

    def find(rows: Rows) -> list[int]:
        # Both dates given and the second before the first (the rows InOrder
        # leaves out for another reason than a missing date).
        order = in_order(rows[table], first, then)
        if False not in order:
            return []
        return [i for i, ok in enumerate(order) if ok is False]

    a, b = ref(table, first), ref(table, then)
    valid = f"({a}>={FIRST_DATE})*({a}<{END_OF_DATES})*({b}>={FIRST_DATE})*({b}<{END_OF_DATES})"
    # Not IF(ISNUMBER...): an IF over a column costs LibreOffice more; a text
    # or an error cell gives 0 here too (an error through IFERROR).
    mask = f"IFERROR(ISNUMBER({a})*ISNUMBER({b})*{valid}*({b}<{a}),0)"
    return Check(table, then, problem, first, find, mask)


def _part_over_whole(table: str, part: str, whole: str) -> Check:
    def find(rows: Rows) -> list[int]:
        data = rows[table]
        return [
            i
            for i, (p, w) in enumerate(
                zip(data.read(part, "whole"), data.read(whole, "whole"), strict=True)
            )
            if p is not None and w is not None and p > w
        ]

    p, w = ref(table, part), ref(table, whole)
    counts = f"({p}>=0)*({p}=INT({p}))*({w}>=0)*({w}=INT({w}))"
    mask = f"IFERROR(ISNUMBER({p})*ISNUMBER({w})*{counts}*({p}>{w}),0)"
    return Check(table, part, "part_over_whole", whole, find, mask)


def _unknown_id(table: str, column: str, master: str) -> Check:
    master_column = MASTERS[master]

    def find(rows: Rows) -> list[int]:
        listed = rows[master].distinct(master_column, "id")
        keys = rows[table].read(column, "id")
        unknown = rows[table].distinct(column, "id") - listed - {None}
        if not unknown:
            return []
        return [i for i, k in enumerate(keys) if k in unknown]

    # The master's ids, cleaned and sorted once; each row's id is then found
    # by XMATCH's binary search (mode 2): linear-logarithmic, where a plain
    # lookup per row would be quadratic. LibreOffice's binary search misses a
    # value equal to the last sorted entry (it answers one entry short there),
    # so that entry is compared on its own. The master column is padded: a
    # one-row table's column would be a plain value, which SORT refuses.
    let = Let()
    listed = let.value(master, master_column, "id", "listed", padded=True)
    sorted_ids = ("sorted_ids", f"SORT({listed})")
    bindings = (
        *let.pairs,
        sorted_ids,
        ("last_id", "INDEX(sorted_ids,ROWS(sorted_ids))"),
        ("key", f'IFERROR(TRIM({ref(table, column)}),"")'),
    )
    mask = '(key<>"")*(key<>last_id)*ISNA(XMATCH(key,sorted_ids,0,2))'
    return Check(table, column, "unknown_id", master, find, mask, bindings=bindings)


def _repeated_id(table: str) -> Check:
    column = MASTERS[table]

    def find(rows: Rows) -> list[int]:
        seen: set[str] = set()
        repeats = []
        for i, key in enumerate(rows[table].read(column, "id")):
            if key is None:
                continue
            if key in seen:
                repeats.append(i)
            seen.add(key)
        return repeats

    # Rows with an id, less the different ids: the rows that repeat one. The
    # rows themselves would need a lookup per row, so the sheet gives the count.
    let = Let()
    key = let.value(table, column, "id", "key", padded=True)
    named = let.bind("named", f'SUM(({key}<>"")*1)')
    present = f'({key}<>"")'
    count = let.formula(f"{named}-({excel_distinct(key, present)})")
    return Check(table, column, "repeated_id", "", find, None, count)


def checks_for(business_type: str) -> list[Check]:
    """Every check of a business type, table by table, in sheet order."""
    tables = tables_for(business_type)
    read = columns_read(business_type)
    checks: list[Check] = []
    for table, columns in tables.items():
        names = [c.id for c in columns]
        wanted = read.get(table, ())
        for column in columns:
            if column.id not in wanted and not column.required:
                continue
            checks.append(_invalid(table, column))
            if column.required:
                checks.append(_blank(table, column.id, names))
            if column.kind == "choice":
                checks.append(_unknown_choice(table, column))
            master = REFERENCES.get((table, column.id))
            if master in tables and column.id in wanted:
                checks.append(_unknown_id(table, column.id, master))
        if table == "Orders" and {"ordered_at", "delivered_at"} <= set(wanted):
            checks.append(
                _order_of_dates(table, "ordered_at", "delivered_at", "delivered_before_ordered")
            )
        if table in MASTERS:
            checks.append(_order_of_dates(table, "joined_on", "left_on", "left_before_joined"))
            checks.append(_repeated_id(table))
        for part, whole in PARTS_OF_WHOLES.get(table, ()):
            if part in wanted and whole in wanted:
                checks.append(_part_over_whole(table, part, whole))
    return checks


def row_checks(table: str, columns: Sequence[Column]) -> list[Check]:
    """The checks that judge one row of ``table`` on its own, over every one of
    ``columns`` (``kpi import`` checks each row it loads): a value its kind's
    rule does not read, a blank where a value is required, a choice that is
    not listed, dates in the wrong order and a part above its whole. The
    checks that compare rows (an id missing from its master table, an id
    repeated) are left to the report, which sees the whole workbook."""
    names = [c.id for c in columns]
    checks: list[Check] = []
    for column in columns:
        checks.append(_invalid(table, column))
        if column.required:
            checks.append(_blank(table, column.id, names))
        if column.kind == "choice":
            checks.append(_unknown_choice(table, column))
    if table == "Orders" and {"ordered_at", "delivered_at"} <= set(names):
        checks.append(
            _order_of_dates(table, "ordered_at", "delivered_at", "delivered_before_ordered")
        )
    if table in MASTERS and {"joined_on", "left_on"} <= set(names):
        checks.append(_order_of_dates(table, "joined_on", "left_on", "left_before_joined"))
    for part, whole in PARTS_OF_WHOLES.get(table, ()):
        if part in names and whole in names:
            checks.append(_part_over_whole(table, part, whole))
    return checks


def _kpis_reading(business_type: str, table: str, columns: set[str]) -> tuple[str, ...]:
    profile = kpi_engine.get_business_type(business_type)
    return tuple(
        entry.id
        for entry in profile.kpis
        if columns & set(recipe_for(profile.id, entry.id).reads.get(table, ()))
    )


def data_notes(business_type: str, rows: Rows) -> list[Note]:
    """What the checks of a business type find in ``rows``: one note per check
    that found something, with the sheet rows to look at."""
    notes = []
    for check in checks_for(business_type):
        found = check.find(rows)
        if not found:
            continue
        first = rows[check.table].first_row
        columns = {check.column} | ({check.other} if check.other in rows[check.table] else set())
        notes.append(
            Note(
                check,
                len(found),
                tuple(first + i for i in found[:FIRST_ROWS]),
                _kpis_reading(business_type, check.table, columns),
            )
        )
    return notes


# --- words -----------------------------------------------------------------------------------


@cache
def notes_words(language: str) -> Mapping[str, Any]:
    """The words of the data notes in one language (templates/notes.toml)."""
    with templates_dir().joinpath("notes.toml").open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data[language]  # type: ignore[no-any-return]


def problem_text(check: Check, language: str) -> str:
    return str(notes_words(language)["problems"][check.problem]).format(other=check.other)


def effect_text(check: Check, language: str, rows: int | None = None) -> str:
    """What happens to the rows of a check ("left out"), agreeing with their
    count where the language makes it agree ("1 ligne ... écartée"); the plural
    where no count is given (a heading over counts of any size)."""
    effect = notes_words(language)["effects"][
        "still_counted" if check.still_counted else "left_out"
    ]
    if isinstance(effect, str):
        return effect
    if rows is None:
        return str(effect["other"])
    return display.counted(language, {form: str(text) for form, text in effect.items()}, rows)


def message(note: Note, language: str) -> str:
    """A note as one sentence: "Orders, ordered_at: not a date in 3 rows (14, 20, 31); left out"."""
    words = notes_words(language)
    count = display.counted(language, words["rows"], note.rows)
    shown = ", ".join(map(str, note.first_rows)) + (
        ", ..." if note.rows > len(note.first_rows) else ""
    )
    template = str(words["message"])
    if not note.first_rows:  # a source's note: a database has no sheet rows
        template = template.replace(" ({first_rows})", "")
    return template.format(
        table=note.check.table,
        column=note.check.column,
        problem=problem_text(note.check, language),
        rows=count,
        first_rows=shown,
        effect=effect_text(note.check, language, note.rows),
    )


__all__ = [
    "FIRST_ROWS",
    "STILL_COUNTED",
    "Check",
    "Note",
    "checks_for",
    "data_notes",
    "effect_text",
    "message",
    "notes_words",
    "problem_text",
    "row_checks",
]
