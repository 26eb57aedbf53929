"""The third form of every recipe: an ibis expression over the same tables.

A recipe (``kpis``) measures a KPI for the month [start, end) as a workbook
formula and as an engine call on table rows. Its ibis form measures it from
tables that live in a database or in files: DuckDB (embedded), PostgreSQL,
Spark, or any engine ibis speaks to. The form builds the sums and counts in
the engine that holds the data, fetches those few numbers, and hands them to
the same ``kpi_engine`` function as the recipe (or its counting sibling), so
a KPI that has no value says why with the recipe's reason code.

The data rules are those of ``rules``, for typed columns:

* an id or a status is compared trimmed as Excel's TRIM trims (spaces only,
  runs inside shrink to one) and in lower case; a number counts as its digits
  (1001.0 is "1001"); an Excel error's text (``#N/A``) and a blank are no id;
* a date is a date, a timestamp or an Excel serial number, read as its serial
  (1900-01-01 is 1, with Excel's phantom 29 February 1900), counted from 1 up
  to 9999-12-31; a month window is [start, end);
* a number is a number column's value; money and hours count from 0 up,
  counts when whole, scores when whole from 0 to 10, ratings whatever they are;
* NaN and infinity are no numbers; NULL is a blank: neither ever counts. A
  master table's ``left_on`` that is NULL means "still there"; one that holds
  a value that is no date (in a CSV folder: text that is no ISO date, see
  ``addin.sources``) leaves the row out, as in the workbook.

A text column where numbers or dates are expected is refused (``SourceError``
from ``addin.sources``) rather than read as nothing: a database types its
columns, and text there means the wrong column was mapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

import kpi_engine
from kpi_engine.cells import END_OF_DATES, ERROR_VALUES, FIRST_DATE

from .kpis import recipe_for
from .tables import MASTERS, column

#: Tables by name, each with our column ids.
Tables = Mapping[str, ir.Table]
#: Serial of 1900-03-01: Excel counts 29 February 1900, which never was, so
#: dates before it sit one serial lower than the days since 1899-12-30 say.
_MARCH_1900 = 61
_EPOCH_SERIAL = 25569  # 1970-01-01


class ColumnTypeError(TypeError):
    """A source column whose type cannot hold what its kind needs."""

    def __init__(self, table: str, column_id: str, kind: str, found: str) -> None:
        self.table, self.column, self.kind, self.found = table, column_id, kind, found
        expected = {
            "id": "text or numbers",
            "text": "text",
            "choice": "text",
        }.get(kind, "dates or timestamps" if kind in ("date", "datetime", "month") else "numbers")
        super().__init__(
            f"column {table}.{column_id} is of type {found}; expected {expected} (a {kind} column)"
        )


# --- the data rules, as ibis expressions ---------------------------------------------------


def key(table: str, value: ir.Column) -> ir.StringValue:
    """An id or a status as the rules compare it (NULL: no id)."""
    kind = value.type()
    if kind.is_string():
        text = value
    elif kind.is_boolean():
        text = ibis.ifelse(value, "true", "false")
    elif kind.is_integer():
        text = value.cast("string")
    elif kind.is_numeric():
        number = value.cast("float64")
        # A whole number past int64 (1e300) stays in its float form instead of
        # stopping the engine with a conversion error: ibis's floor() is an
        # int64, hence _whole, and try_cast.
        whole = number.try_cast("int64").cast("string")
        text = ibis.ifelse(
            _whole(number), whole.fill_null(number.cast("string")), number.cast("string")
        )
    else:
        raise ColumnTypeError(table, value.get_name(), "id", str(kind))
    # The regular expressions run only on text with a space: the rule leaves
    # any other text as it is, and most ids have none (a regular expression
    # per row costs several times the rest of the rule).
    spaced = text.re_replace("^ +| +$", "").re_replace(" {2,}", " ")
    trimmed = ibis.ifelse(text.contains(" "), spaced, text)
    # An error is an error only as Excel writes it: " #N/A" is text.
    error = text.isin(sorted(ERROR_VALUES)) if kind.is_string() else ibis.literal(False)
    return ibis.cases(
        (error, ibis.null("string")),
        (trimmed == "", ibis.null("string")),
        else_=trimmed.lower(),
    )


def _whole(number: ir.FloatingValue) -> ir.BooleanValue:
    """A whole number, tested in floats: ``number == number.floor()`` casts
    the floor to int64, which 1e300 overflows."""
    return (number % 1) == 0


def _finite(value: ir.NumericColumn) -> ir.FloatingValue:
    """A number column as floats; NaN and infinity are no numbers (as in a workbook)."""
    number = value.cast("float64")
    if not value.type().is_floating():
        return number
    return ibis.ifelse(number.isnan() | number.isinf(), ibis.null("float64"), number)


def serial(table: str, value: ir.Column) -> ir.FloatingValue:
    """A date, a timestamp or a serial number as its Excel serial, NULL where
    it is no date Excel holds."""
    kind = value.type()
    if kind.is_numeric() and not kind.is_boolean():
        number = _finite(value)
    elif kind.is_timestamp() or kind.is_date():
        moment = value.cast("timestamp")
        days = moment.epoch_seconds().cast("float64") / 86400 + _EPOCH_SERIAL
        number = ibis.ifelse(days < _MARCH_1900, days - 1, days)
    else:
        raise ColumnTypeError(table, value.get_name(), "date", str(kind))
    inside = (number >= FIRST_DATE) & (number < END_OF_DATES)
    return ibis.ifelse(inside, number, ibis.null("float64"))


def amount(table: str, value: ir.Column, kind: str) -> ir.FloatingValue:
    """A number of its kind (money, hours, a count, a score, a rating); NULL
    where it does not count."""
    found = value.type()
    if not found.is_numeric() or found.is_boolean():
        raise ColumnTypeError(table, value.get_name(), kind, str(found))
    number = _finite(value)
    if kind == "rating":
        return number
    counts = number >= 0
    if kind in ("whole", "score"):
        counts &= _whole(number)
    if kind == "score":
        counts &= number <= 10
    return ibis.ifelse(counts, number, ibis.null("float64"))


def rule(tables: Tables, table: str, column_id: str) -> ir.Value:
    """A source table's column as its kind's rule reads it."""
    kind = column(table, column_id).kind
    value = tables[table][column_id]
    if kind in ("id", "text", "choice"):
        return key(table, value)
    if kind in ("date", "datetime", "month"):
        return serial(table, value)
    return amount(table, value, kind)


#: The suffix of a column kept as the source holds it, beside its reading.
RAW = "__as_stored"
#: A master table's column that says its rows are all usable stays (``stays``):
#: a condition over them need not test each row again.
USABLE = "kpi__usable"


class Prepared(dict[str, ir.Table]):
    """Tables whose columns are read by their rules once, in a subquery that
    every measure selects from: the SQL of a measure then names plain columns
    instead of repeating each rule at each use (which makes SQL generation,
    not the engine, the slow part)."""


def prepare(tables: Tables, extra: Mapping[str, Mapping[str, ir.Value]] | None = None) -> Prepared:
    """The tables read by their rules; ``extra``: further columns of a table,
    from its columns as stored (the data notes' blanks: ``ibis_notes``)."""
    if isinstance(tables, Prepared):
        return tables
    prepared = Prepared()
    for table, data in tables.items():
        columns = {name: rule(tables, table, name) for name in data.columns}
        if "left_on" in data.columns:
            columns["left_on" + RAW] = data["left_on"]
        columns |= (extra or {}).get(table, {})
        prepared[table] = data.select(**columns)
    return prepared


def read(tables: Tables, table: str, column_id: str) -> ir.Value:
    """A column of prepared tables, as its kind's rule reads it."""
    return tables[table][column_id]


def within(moment: ir.FloatingValue, start: float, end: float) -> ir.BooleanValue:
    """The rows whose date falls in [start, end); a row without one never does."""
    return ((moment >= start) & (moment < end)).fill_null(False)


def rows_of(table: ir.Table) -> list[dict[str, Any]]:
    """A small result's rows (a few aggregates). On DuckDB straight from its
    cursor: ibis's Arrow conversion imports pandas, which takes longer than
    a report's queries."""
    backend = table._find_backend()
    if getattr(backend, "name", "") == "duckdb":
        return _duckdb_rows(backend, backend.compile(table))
    return list(table.to_pyarrow().to_pylist())


def _duckdb_rows(backend: Any, query: str) -> list[dict[str, Any]]:
    cursor = backend.raw_sql(query)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class InTurn:
    """Queries whose rows are wanted later (``rows``): on DuckDB each is
    compiled at once and run by a thread of its own, one after another in
    the order asked, while Python builds and compiles the next (DuckDB lets
    go of Python's lock while it runs); elsewhere each runs when its rows
    are asked for. Leaving the ``with`` block waits for every query sent,
    or, on an error, for the one running (the others are not run)."""

    def __init__(self) -> None:
        self._engine: ThreadPoolExecutor | None = None

    def __enter__(self) -> InTurn:
        return self

    def __exit__(self, error: type[BaseException] | None, *_: object) -> None:
        if self._engine is not None:
            self._engine.shutdown(wait=True, cancel_futures=error is not None)

    def rows(self, table: ir.Table) -> Callable[[], list[dict[str, Any]]]:
        backend = table._find_backend()
        if getattr(backend, "name", "") != "duckdb":
            return lambda: rows_of(table)
        if self._engine is None:
            self._engine = ThreadPoolExecutor(1, thread_name_prefix="kpi-duckdb")
        return self._engine.submit(_duckdb_rows, backend, backend.compile(table)).result


def fetch(table: ir.Table, **measures: ir.Scalar) -> dict[str, float]:
    """The measures of one table in one query; a sum of no rows is 0."""
    row = rows_of(table.aggregate(**measures))[0]
    found = {}
    for name in measures:
        number = row[name]
        found[name] = 0.0 if number is None or math.isnan(number) else float(number)
    return found


def fetch_all(tables: Tables, measures: Sequence[tuple[str, ir.Scalar]]) -> list[float]:
    """The values of measures, each over a named table, in one query per
    table (the parts of a recipe mostly read one table)."""
    by_table: dict[str, dict[str, ir.Scalar]] = {}
    for index, (table, measure) in enumerate(measures):
        by_table.setdefault(table, {})[f"m{index}"] = measure
    found: dict[str, float] = {}
    for table, named in by_table.items():
        found |= fetch(tables[table], **named)
    return [found[f"m{index}"] for index in range(len(measures))]


def number_of(condition: ir.BooleanValue) -> ir.Scalar:
    return ibis.ifelse(condition, 1, 0).sum()


def total(value: ir.NumericValue, condition: ir.BooleanValue) -> ir.Scalar:
    return ibis.ifelse(condition & value.notnull(), value, 0.0).sum()


def undefined(function: str, reason: str, code: str) -> kpi_engine.KPIUndefinedError:
    return kpi_engine.KPIUndefinedError(function, reason, code)


def engine(function: str, *args: Any) -> float:
    return float(getattr(kpi_engine, function)(*args))


# --- who is there when ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Stays:
    """A master table's usable rows: an id, a date joined, a date left that
    is blank or a date on or after it."""

    table: ir.Table
    who: ir.StringValue
    since: ir.FloatingValue
    until: ir.FloatingValue
    until_blank: ir.BooleanValue
    listed: ir.BooleanValue

    def present_at(self, moment: float) -> ir.BooleanValue:
        still = self.until_blank | (self.until >= moment).fill_null(False)
        return self.listed & (self.since < moment).fill_null(False) & still

    def present_during(self, start: float, end: float) -> ir.BooleanValue:
        still = self.until_blank | (self.until >= start).fill_null(False)
        return self.listed & (self.since < end).fill_null(False) & still

    def joined_during(self, start: float, end: float) -> ir.BooleanValue:
        return self.listed & within(self.since, start, end)

    def distinct(self, condition: ir.BooleanValue) -> ir.Scalar:
        return self.who.nunique(where=condition)


def stays(tables: Tables, table: str) -> _Stays:
    data = tables[table]
    who = read(tables, table, MASTERS[table])
    since = read(tables, table, "joined_on")
    until = read(tables, table, "left_on")
    raw = data["left_on" + RAW]
    until_blank = raw.isnull()
    if raw.type().is_string():  # a CSV folder's blanks
        until_blank |= raw.strip() == ""
    if USABLE in data.columns:  # rows already kept to the usable ones (``ibis_months``)
        return _Stays(data, who, since, until, until_blank, data[USABLE])
    usable = who.notnull() & since.notnull() & (until_blank | (until >= since).fill_null(False))
    return _Stays(data, who, since, until, until_blank, usable)


# --- the forms ------------------------------------------------------------------------------

#: An ibis form: the KPI's value for [start, end) from the tables (and the
#: workbook's settings, such as GROSS_MARGIN); KPIUndefinedError when none.
Measure = Callable[[Tables, float, float, Mapping[str, Any]], float]


def scores(tables: Tables, column_id: str, s: float, e: float) -> tuple[ir.Value, ir.Boolean]:
    value = read(tables, "Survey", column_id)
    return value, within(read(tables, "Survey", "answered_on"), s, e) & value.notnull()


def nps_groups(tables: Tables, s: float, e: float) -> tuple[int, int, int]:
    """(promoters, passives, detractors) among the month's answers that count."""
    score, counted = scores(tables, "recommend_score", s, e)
    found = fetch(
        tables["Survey"],
        promoters=number_of(counted & (score >= 9)),
        passives=number_of(counted & (score >= 7) & (score <= 8)),
        detractors=number_of(counted & (score <= 6)),
    )
    return int(found["promoters"]), int(found["passives"]), int(found["detractors"])


def scores_like(groups: tuple[int, int, int]) -> list[int]:
    """Scores that fall in the same groups: what the engine's NPS and margin read."""
    promoters, passives, detractors = groups
    return [10] * promoters + [8] * passives + [0] * detractors


# --- the recipe's third form -----------------------------------------------------------------


class NoIbisFormError(KeyError):
    """A recipe without an ibis form: a KPI added to the catalogue and the
    recipes, but given no ibis form yet."""

    def __str__(self) -> str:
        return str(self.args[0])


def ibis_form_for(business_type: str, kpi_id: str) -> Measure:
    """The ibis form of the recipe ``recipe_for(business_type, kpi_id)``."""
    recipe = recipe_for(business_type, kpi_id)
    form = recipe.ibis
    if form is None:
        raise NoIbisFormError(
            f"the recipe of {kpi_id} ({business_type}) has no ibis form: give it one "
            f"(ibis=...) in {recipe.module_path}, beside its formula and engine call"
        )
    return form


def compute(
    business_type: str,
    kpi_id: str,
    tables: Tables,
    start: float,
    end: float,
    settings: Mapping[str, Any] | None = None,
) -> float:
    """The ibis form's value for [start, end); KPIUndefinedError when there is none."""
    measure = ibis_form_for(business_type, kpi_id)
    return float(measure(prepare(tables), start, end, settings or {}))


# --- data notes -------------------------------------------------------------------------------


def _blank_raw(value: ir.Column) -> ir.BooleanValue:
    blank = value.isnull()
    if value.type().is_string():
        # Only text with a space can be spaces alone: the regular expression
        # runs on that text only.
        spaces = value.re_replace("^ +| +$", "") == ""
        blank |= ibis.ifelse(value.contains(" "), spaces, value == "")
    return blank


def _found(tables: Tables, check: Any) -> ir.Scalar | int | None:  # noqa: PLR0912  (one branch per problem)
    """How many rows a data check finds, as an ibis count (None: a check
    whose columns the source does not hold)."""
    data = tables.get(check.table)
    if data is None or check.column not in data.columns:
        return None
    raw = data[check.column]
    problem = check.problem
    if problem == "error":
        if not raw.type().is_string():
            return 0
        return fetch(data, n=number_of(raw.isin(sorted(ERROR_VALUES))))["n"]
    if problem.startswith("not_a"):
        return fetch(
            data, n=number_of(~_blank_raw(raw) & rule(tables, check.table, check.column).isnull())
        )["n"]
    if problem == "blank":
        has_data = ibis.literal(False)
        for name in data.columns:
            has_data |= ~_blank_raw(data[name])
        return fetch(data, n=number_of(_blank_raw(raw) & has_data))["n"]
    if problem == "unknown_choice":
        chosen = rule(tables, check.table, check.column)
        allowed = list(column(check.table, check.column).choices)
        return fetch(data, n=number_of(chosen.notnull() & ~chosen.isin(allowed)))["n"]
    if problem in ("delivered_before_ordered", "left_before_joined", "part_over_whole"):
        if check.other not in data.columns:
            return None
        first = rule(
            tables, check.table, check.other if problem != "part_over_whole" else check.column
        )
        then = rule(
            tables, check.table, check.column if problem != "part_over_whole" else check.other
        )
        if problem == "part_over_whole":  # the part (first) over its whole (then)
            return fetch(data, n=number_of((first > then).fill_null(False)))["n"]
        return fetch(data, n=number_of((then < first).fill_null(False)))["n"]
    if problem == "unknown_id":
        master = tables.get(check.other)
        if master is None:
            return None
        keyed = data.select(k=rule(tables, check.table, check.column)).filter(ibis._.k.notnull())
        listed = master.select(k=rule(tables, check.other, MASTERS[check.other])).filter(
            ibis._.k.notnull()
        )
        return int(keyed.anti_join(listed.distinct(), "k").count().to_pyarrow().as_py())
    if problem == "repeated_id":
        who = rule(tables, check.table, check.column)
        found = fetch(data, named=number_of(who.notnull()), distinct=who.nunique())
        return found["named"] - found["distinct"]
    return None


def note_counts(business_type: str, tables: Tables, checks: Any) -> list[Any]:
    """The data notes of a source: per check, how many rows it finds (a
    database has no sheet rows to list, so a note names none)."""
    from .notes import Note, _kpis_reading  # noqa: PLC0415

    notes = []
    for check in checks:
        found = _found(tables, check)
        if not found:
            continue
        columns = {check.column} | (
            {check.other} if check.other in tables[check.table].columns else set()
        )
        notes.append(
            Note(check, int(found), (), _kpis_reading(business_type, check.table, columns))
        )
    return notes


def latest_date(tables: Tables) -> float | None:
    """The latest date serial in any date column of the tables (None: no date)."""
    latest: float | None = None
    for table, data in tables.items():
        for name in data.columns:
            if column(table, name).kind not in ("date", "datetime", "month"):
                continue
            found = fetch(data, latest=serial(table, data[name]).max())["latest"]
            if found and (latest is None or found > latest):
                latest = found
    return latest


def period_has_data(tables: Tables, start: float, end: float) -> bool:
    """Whether some row of the tables is dated in [start, end)."""
    for table, data in tables.items():
        dated = [
            name
            for name in data.columns
            if column(table, name).kind in ("date", "datetime", "month")
        ]
        if not dated:
            continue
        inside = ibis.literal(False)
        for name in dated:
            inside |= within(serial(table, data[name]), start, end)
        if fetch(data, n=number_of(inside))["n"]:
            return True
    return False
