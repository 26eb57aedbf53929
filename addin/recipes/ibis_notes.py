"""The data notes of a source, counted over its cleaned tables in one pass
per table, and the dates of those tables: what ``kpi report --source`` runs.

``ibis_forms.note_counts`` counts each check with a query of its own over
the tables as stored, applying the rules again. Here the tables prepared
once (``ibis_forms.prepare``) carry, beside each column read by its rule,
whether the cell as stored is blank (``note_columns``), and whether the
row holds any data: every check of a table is then one count of the same
query over those columns, and an unknown id compares keys already cleaned.
The counts are those of ``note_counts``:

* an error (``#N/A``) is text that the id rule reads as no id and that is
  not blank;
* a value that is no date, amount, count or score is not blank and read as
  nothing by its rule;
* a blank required cell is blank in a row that holds some data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from .ibis_forms import InTurn, Tables, _blank_raw, number_of, rows_of, within
from .tables import MASTERS, column

#: The suffix of a column's "blank as stored" flag, and the row's "has data" flag.
BLANK = "__blank"
HAS_DATA = "kpi__has_data"
_DATES = ("date", "datetime", "month")
#: The problems counted from the cell as stored being blank.
_FROM_BLANKS = ("error", "blank")


def _flagged(check: Any) -> bool:
    return check.problem in _FROM_BLANKS or check.problem.startswith("not_a")


def note_columns(tables: Tables, checks: Sequence[Any]) -> dict[str, dict[str, ir.Value]]:
    """Per table, the flags its checks count from: a column's cells blank as
    stored, and (for a check of blank required cells) the rows with data."""
    extra: dict[str, dict[str, ir.Value]] = {}
    for check in checks:
        data = tables.get(check.table)
        if data is None or check.column not in data.columns or not _flagged(check):
            continue
        flags = extra.setdefault(check.table, {})
        flags[check.column + BLANK] = _blank_raw(data[check.column])
        if check.problem == "blank" and HAS_DATA not in flags:
            has_data = ibis.literal(False)
            for name in data.columns:
                has_data |= ~_blank_raw(data[name])
            flags[HAS_DATA] = has_data
    return extra


def _count(stored: ir.Table, cleaned: ir.Table, check: Any) -> ir.Scalar | int | None:
    """A check's count as a measure of the cleaned table (None: a check whose
    columns the source does not hold; an int: known without a query)."""
    if check.column not in stored.columns:
        return None
    value = cleaned[check.column]
    problem = check.problem
    if problem == "error":
        if not stored[check.column].type().is_string():
            return 0
        return number_of(~cleaned[check.column + BLANK] & value.isnull())
    if problem.startswith("not_a"):
        return number_of(~cleaned[check.column + BLANK] & value.isnull())
    if problem == "blank":
        return number_of(cleaned[check.column + BLANK] & cleaned[HAS_DATA])
    if problem == "unknown_choice":
        allowed = list(column(check.table, check.column).choices)
        return number_of(value.notnull() & ~value.isin(allowed))
    if problem in ("delivered_before_ordered", "left_before_joined", "part_over_whole"):
        if check.other not in stored.columns:
            return None
        if problem == "part_over_whole":  # the part over its whole
            return number_of((value > cleaned[check.other]).fill_null(False))
        return number_of((value < cleaned[check.other]).fill_null(False))
    if problem == "repeated_id":
        return number_of(value.notnull()) - value.nunique()
    return None


def _unknown_ids(
    stored: Tables, cleaned: Tables, check: Any, later: InTurn
) -> Callable[[], int] | None:
    if check.column not in stored[check.table].columns or check.other not in cleaned:
        return None
    keys = cleaned[check.table]
    keyed = keys.select(k=keys[check.column]).filter(ibis._.k.notnull())
    master = cleaned[check.other]
    listed = master.select(k=master[MASTERS[check.other]]).filter(ibis._.k.notnull())
    unknown = keyed.anti_join(listed.distinct(), "k")
    found = later.rows(unknown.aggregate(n=unknown.count()))
    return lambda: int(found()[0]["n"])


def cleaned_note_counts(
    business_type: str, stored: Tables, cleaned: Tables, checks: Sequence[Any]
) -> list[Any]:
    """The data notes of a source (as ``ibis_forms.note_counts``), counted over
    the tables prepared with ``note_columns``: one query per table, and one
    per check of unknown ids."""
    from .notes import Note, _kpis_reading  # noqa: PLC0415

    found: dict[int, int] = {}
    by_table: dict[str, dict[str, ir.Scalar]] = {}
    # Every query is sent before any count is read: the engine runs one
    # while Python builds the next.
    with InTurn() as later:
        unknown: dict[int, Callable[[], int]] = {}
        for index, check in enumerate(checks):
            if check.table not in stored:
                continue
            if check.problem == "unknown_id":
                counted = _unknown_ids(stored, cleaned, check, later)
                if counted is not None:
                    unknown[index] = counted
                continue
            count = _count(stored[check.table], cleaned[check.table], check)
            if count is None:
                continue
            if isinstance(count, int):
                found[index] = count
            else:
                by_table.setdefault(check.table, {})[f"c{index}"] = count
        rows = {
            table: later.rows(cleaned[table].aggregate(**measures))
            for table, measures in by_table.items()
        }
        for index, counted in unknown.items():
            found[index] = counted()
        for table_rows in rows.values():
            for name, count in table_rows()[0].items():
                found[int(name[1:])] = int(count or 0)
    notes = []
    for index, check in enumerate(checks):
        if not found.get(index):
            continue
        columns = {check.column} | (
            {check.other} if check.other in stored[check.table].columns else set()
        )
        notes.append(
            Note(
                check,
                found[index],
                (),
                _kpis_reading(business_type, check.table, columns),
            )
        )
    return notes


# --- the dates of the cleaned tables ----------------------------------------------------------


def _dated(stored: Tables) -> list[tuple[str, str]]:
    return [
        (table, name)
        for table, data in stored.items()
        for name in data.columns
        if column(table, name).kind in _DATES
    ]


def latest_serial(stored: Tables, cleaned: Tables) -> float | None:
    """The latest date serial in any date column (as ``ibis_forms.latest_date``),
    in one query over the cleaned tables (None: no date)."""
    dated = _dated(stored)
    if not dated:
        return None
    parts = [cleaned[table].aggregate(latest=cleaned[table][name].max()) for table, name in dated]
    together = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    found = rows_of(together.aggregate(latest=together.latest.max()))[0]
    latest = found["latest"]
    return float(latest) if latest else None


def has_rows_dated(stored: Tables, cleaned: Tables, start: float, end: float) -> bool:
    """Whether some row is dated in [start, end) (as ``ibis_forms.period_has_data``),
    in one query over the cleaned tables."""
    inside: dict[str, ir.BooleanValue] = {}
    for table, name in _dated(stored):
        data = cleaned[table]
        inside[table] = inside.get(table, ibis.literal(False)) | within(data[name], start, end)
    if not inside:
        return False
    # The first row found is enough: the engine stops reading there.
    parts = [
        cleaned[table].filter(rows).select(n=ibis.literal(1)).limit(1)
        for table, rows in inside.items()
    ]
    together = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    return bool(rows_of(together.aggregate(n=together.count()))[0]["n"])
