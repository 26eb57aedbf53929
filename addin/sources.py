"""Tables from where the business keeps its data: ``kpi report --source URL``.

A source holds the tables of a starter workbook (Orders, Customers...), named
as the workbook names them, with the columns the business type's recipes
read; letter case does not matter, other tables and columns are ignored.

* A folder of files, one per table: ``Orders.parquet`` or ``Orders.csv``
  (or a folder ``Orders/`` of Parquet files). DuckDB reads them, embedded:
  no server. CSV cells are read as Excel reads a CSV it opens: a number is a
  number, an ISO date (2024-06-15, 2024-06-15 10:30) is a date; other text
  in a date column is no date (never guessed: 03/06/2024 means two days).
* A DuckDB database file: ``shop.duckdb``.
* ``pyspark:///FOLDER`` (or ``pyspark:///FOLDER?master=local[4]``): the same
  folder through Spark, in local mode unless ``master`` names a cluster.
* Any other URL that ``ibis.connect`` takes: ``postgres://user@host/db``,
  ``bigquery://project/dataset``, ``snowflake://...``, ``duckdb://file``.

Each KPI is then computed by its recipe's ibis form (``addin.recipes.
ibis_forms``) in that engine; only a few numbers per month come back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from addin.ooxml.package import ReportError
from addin.recipes import columns_read, month_shift
from addin.recipes.notes import Note, checks_for
from addin.recipes.tables import MASTERS, TABLES, column
from kpi_engine.inputs import to_serial

FILE_SUFFIXES = (".parquet", ".csv")
_DATE_KINDS = ("date", "datetime", "month")
#: What --source takes, said when it takes none of it.
ACCEPTED_FORMS = (
    "the accepted forms are a folder of .parquet or .csv files named like the tables "
    "(Orders.csv...), a .duckdb file, duckdb:///FILE.duckdb, sqlite:///FILE.db, "
    "pyspark:///FOLDER, postgres://user@host/db, or another database URL whose ibis "
    "engine is installed"
)
#: A CSV source file's header may name at most this many columns, far more
#: than any table here has: DuckDB's CSV reader costs grow with the columns
#: (16,000 took 20 s and 400 MB, 100,000 over a minute and 1.4 GB). Its
#: first line is read, at most ``_HEADER_BYTES``, before DuckDB sees the file.
CSV_COLUMNS = 4_096
_HEADER_BYTES = 1 << 20
#: The schemes of database files on this machine: the file must exist.
_FILE_SCHEMES = ("duckdb", "sqlite")


class SourceError(ReportError):
    """A source that cannot give the report its tables: it names the source,
    the table or column, and what was expected."""


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_select(path: Path) -> str:
    """DuckDB SQL reading a CSV export with every cell as text (its header gives
    the column names, then ``_typed_csv`` reads each column by its kind)."""
    header = f"read_csv({_sql_text(str(path))}, all_varchar = true, header = true)"
    return f"SELECT * FROM {header}"


def _csv_cast(table: str, name: str, our: str) -> str:
    kind = column(table, our).kind
    cell = f'"{name}"'
    blank = f"({cell} IS NULL OR trim({cell}) = '')"
    if kind in _DATE_KINDS:
        # Text that is no ISO date is no date; kept as a day Excel does not
        # hold (1899-12-30), so that a left_on holding it leaves its row out
        # as in the workbook, rather than reading as "still there".
        return (
            f"CASE WHEN {blank} THEN NULL ELSE coalesce(try_cast(trim({cell}) AS TIMESTAMP), "
            f"TIMESTAMP '1899-12-30') END"
        )
    if kind in ("id", "text", "choice"):
        return cell
    return f"CASE WHEN {blank} THEN NULL ELSE try_cast(trim({cell}) AS DOUBLE) END"


@dataclass
class Source:
    """A connected source and the tables the report reads from it."""

    where: str
    backend: Any
    tables: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        disconnect = getattr(self.backend, "disconnect", None)
        if disconnect is not None:
            # Closing never hides the report's own outcome.
            with contextlib.suppress(Exception):
                disconnect()


def _needed(business_type: str) -> dict[str, tuple[str, ...]]:
    read = columns_read(business_type)
    # A master table is read whole: its stays need the id and both dates.
    for table in read:
        if table in MASTERS:
            read[table] = tuple(
                c.id
                for c in TABLES[table]
                if c.id in {MASTERS[table], "joined_on", "left_on"} or c.id in read[table]
            )
    return read


def _files_in(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and any(entry.glob("*.parquet")):
            found.setdefault(entry.name.lower(), entry)
        elif entry.suffix.lower() in FILE_SUFFIXES:
            # A FIFO or a device is kept, to be refused by name when it is read.
            found.setdefault(entry.stem.lower(), entry)
    return found


def _refuse_special(paths: list[Path], table: str, where: str) -> None:
    """A FIFO would make the engine wait for ever, a device read without end."""
    for path in paths:
        if not path.is_file():
            raise SourceError(
                f"{where}: {path.name}, the file of the table {table}, is not a regular file "
                "(a FIFO, a device or a socket); expected a .parquet or .csv file"
            )


def _csv_header_width(path: Path, table: str, where: str) -> None:
    """Refuse a CSV file whose header is wider than Excel's columns (100,000
    columns cost DuckDB a minute and gigabytes), from its first line alone."""
    with path.open("rb") as handle:
        start = handle.read(_HEADER_BYTES)
    line = start.split(b"\n", 1)[0]
    if len(line) == len(start) == _HEADER_BYTES:
        raise SourceError(
            f"{where}: the header line of {path.name} (table {table}) is longer than "
            f"{_HEADER_BYTES >> 20} MB; expected a header row of column names"
        )
    width = max(line.count(d.encode()) for d in (",", ";", "\t", "|")) + 1
    if width > CSV_COLUMNS:
        raise SourceError(
            f"{where}: the header of {path.name} (table {table}) names {width:,} columns, "
            f"more than the {CSV_COLUMNS:,} a source file may have; expected the table's columns"
        )


def _folder_tables(
    backend: Any, folder: Path, needed: Mapping[str, tuple[str, ...]], where: str, spark: bool
) -> dict[str, Any]:
    files = _files_in(folder)
    tables = {}
    for table in needed:
        path = files.get(table.lower())
        if path is None:
            raise SourceError(
                f"{where}: no file for the table {table}: expected {table}.parquet or "
                f"{table}.csv in the folder (it holds: {_listed(p.name for p in files.values())})"
            )
        _refuse_special(sorted(path.glob("*.parquet")) if path.is_dir() else [path], table, where)
        if path.suffix.lower() == ".csv" and not path.is_dir():
            _csv_header_width(path, table, where)
        if path.is_dir() or path.suffix.lower() == ".parquet":
            pattern = str(path / "*.parquet") if path.is_dir() else str(path)
            tables[table] = backend.read_parquet(pattern, table_name=table)
        elif spark:
            tables[table] = backend.read_csv(
                str(path), table_name=table, header=True, inferSchema=False
            )
            tables[table] = _typed_text(tables[table], table, where)
        else:
            tables[table] = backend.sql(_csv_select(path))
            tables[table] = _typed_csv(backend, tables[table], table, path, where)
    return tables


def _typed_csv(backend: Any, raw: Any, table: str, path: Path, where: str) -> Any:
    names = _column_names(raw, table, where, wanted=None)
    if not names:
        raise SourceError(
            f"{where}: {path.name} has none of the columns of the table {table} "
            f"({', '.join(c.id for c in TABLES[table])}); its header names "
            f"{_listed(str(name)[:40] for name in raw.columns[:12])}"
            f"{', ...' if len(raw.columns) > 12 else ''}"
        )
    casts = ", ".join(f'{_csv_cast(table, name, our)} AS "{our}"' for our, name in names.items())
    header = f"read_csv({_sql_text(str(path))}, all_varchar = true, header = true)"
    # Parsed once into DuckDB's own table: a view would parse the file again
    # for every month of every KPI.
    return backend.create_table(table, backend.sql(f"SELECT {casts} FROM {header}"))


def _typed_text(raw: Any, table: str, where: str) -> Any:
    """Spark's reading of a CSV of text cells, typed as ``_csv_cast`` types them."""
    import ibis  # noqa: PLC0415

    names = _column_names(raw, table, where, wanted=None)
    typed = {}
    for our, name in names.items():
        kind = column(table, our).kind
        cell = raw[name]
        blank = cell.isnull() | (cell.strip() == "")
        if kind in _DATE_KINDS:
            moment = cell.strip().try_cast("timestamp")
            typed[our] = ibis.ifelse(
                blank, ibis.null("timestamp"), moment.fill_null(ibis.timestamp("1899-12-30"))
            )
        elif kind in ("id", "text", "choice"):
            typed[our] = cell
        else:
            typed[our] = ibis.ifelse(blank, ibis.null("float64"), cell.strip().try_cast("float64"))
    return raw.select(**typed)


def _listed(names: Any) -> str:
    shown = sorted(names)
    return ", ".join(shown) if shown else "nothing"


def _column_names(
    table_expr: Any, table: str, where: str, wanted: tuple[str, ...] | None
) -> dict[str, str]:
    """Our column ids -> the source's names, matched without letter case."""
    theirs = {name.lower(): name for name in table_expr.columns}
    ours = wanted if wanted is not None else tuple(c.id for c in TABLES[table])
    found = {}
    for our in ours:
        name = theirs.get(our.lower())
        if name is None:
            if wanted is None:
                continue
            raise SourceError(
                f"{where}: the table {table} has no column {our}; its columns are "
                f"{_listed(table_expr.columns)}"
            )
        found[our] = name
    return found


def _database_tables(
    backend: Any, needed: Mapping[str, tuple[str, ...]], where: str
) -> dict[str, Any]:
    listed = {name.lower(): name for name in backend.list_tables()}
    tables = {}
    for table in needed:
        name = listed.get(table.lower())
        if name is None:
            raise SourceError(
                f"{where}: no table {table}; the database holds {_listed(listed.values())}"
            )
        tables[table] = backend.table(name)
    return tables


def engine_said(error: BaseException) -> str:
    """An engine's error as one line: its first, at most 200 characters."""
    text = str(error).strip()
    first = text.splitlines()[0].strip() if text else type(error).__name__
    return first if len(first) <= 200 else first[:197] + "..."


def _duckdb_file(ibis: Any, path: Path) -> Any:
    """A DuckDB file opened read-only, with no access to any other file: a
    view in it may not read /etc/passwd (or any file beside it) and show its
    first line in an error message."""
    backend = ibis.duckdb.connect(str(path), read_only=True)
    backend.raw_sql("SET enable_external_access = false")
    return backend


def _spark(folder: str, query: Mapping[str, list[str]]) -> Any:
    import ibis  # noqa: PLC0415
    from pyspark.sql import SparkSession  # noqa: PLC0415

    master = query.get("master", [os.environ.get("KPI_SPARK_MASTER", "local[2]")])[0]
    session = (
        SparkSession.builder.master(master)
        .appName("kpi report")
        # Timestamps are wall-clock times, as in a workbook: no time zone shift.
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    return ibis.pyspark.connect(session)


def open_source(url: str, business_type: str) -> Source:  # noqa: PLR0912, PLR0915  (one branch per kind of source)
    """Connect to ``url`` and find the tables and columns ``business_type`` reads."""
    try:
        import ibis  # noqa: PLC0415
    except ImportError:
        raise SourceError(
            "--source needs ibis: pip install 'kpi-addin[sources]' "
            "(add [postgres] or [spark] for those engines)"
        ) from None
    from addin.recipes.ibis_forms import ColumnTypeError, rule  # noqa: PLC0415

    where = f"--source {url}"
    if not url.strip():
        # '' would read the current folder.
        raise SourceError(f"--source is empty; {ACCEPTED_FORMS}")
    needed = _needed(business_type)
    parts = urlsplit(url)
    scheme = parts.scheme.lower() if len(parts.scheme) > 1 else ""  # C:\ is no scheme
    try:
        if not scheme:
            path = Path(url)
            if path.is_dir():
                backend = ibis.duckdb.connect()
                tables = _folder_tables(backend, path, needed, where, spark=False)
            elif path.is_file() and path.suffix.lower() in (".duckdb", ".ddb", ".db"):
                backend = _duckdb_file(ibis, path)
                tables = _database_tables(backend, needed, where)
            elif path.exists():
                raise SourceError(
                    f"{where}: {path} is neither a folder of .parquet/.csv files nor a "
                    ".duckdb file; or give a database URL such as postgres://user@host/db"
                )
            else:
                raise SourceError(f"{where}: {path} does not exist")
        elif scheme == "pyspark":
            folder = Path(parts.path)
            if not folder.is_dir():
                raise SourceError(f"{where}: pyspark:///FOLDER needs a folder; {folder} is none")
            backend = _spark(str(folder), parse_qs(parts.query))
            tables = _folder_tables(backend, folder, needed, where, spark=True)
        elif scheme in _FILE_SCHEMES:
            # A database file is read, never made: ibis.connect would create
            # new.duckdb or new.db, and write into an existing one.
            # ibis's reading of the URL: sqlite://relative.db, sqlite:///abs/x.db.
            named = [p for p in (parts.netloc, parts.path[bool(parts.netloc) :]) if p]
            path = Path(*named).resolve() if named else Path(":memory:")
            if not path.is_file():
                raise SourceError(
                    f"{where}: {path} does not exist or is not a regular file; expected "
                    f"the {scheme} database file to read"
                )
            if scheme == "duckdb":
                backend = _duckdb_file(ibis, path)
            else:
                # SQLite's read-only URI: it neither creates nor writes the file.
                backend = ibis.sqlite.connect(f"file:{quote(str(path))}?mode=ro")
            tables = _database_tables(backend, needed, where)
        else:
            backend = ibis.connect(url)
            tables = _database_tables(backend, needed, where)
    except SourceError:
        raise
    except ImportError as error:
        raise SourceError(
            f"{where}: the engine for {scheme or 'this source'} is not installed "
            f"({engine_said(error)}); install its ibis extra, ibis-framework[{scheme}], "
            f"or 'kpi-addin[postgres]' or 'kpi-addin[spark]'; {ACCEPTED_FORMS}"
        ) from None
    except Exception as error:  # (a driver's own error, said in one line)
        said = engine_said(error)
        if "backend" in said.lower() and "not" in said.lower() and scheme:
            # ibis.connect("mysql://...") without the engine: an unknown backend.
            raise SourceError(f"{where}: cannot open it: {said}; {ACCEPTED_FORMS}") from None
        raise SourceError(f"{where}: cannot open it: {said}") from None

    source = Source(where, backend)
    for table, columns in needed.items():
        expr = tables[table]
        names = _column_names(expr, table, where, columns)
        expr = expr.select(**{our: expr[name] for our, name in names.items()})
        for column_id in columns:
            try:
                rule({table: expr}, table, column_id)
            except ColumnTypeError as error:
                raise SourceError(f"{where}: {error}") from None
        source.tables[table] = expr
    return source


def _as_view(backend: Any, table: str, expr: Any, where: str = "--source") -> Any:
    """The prepared table as a temporary table (DuckDB) or view of the engine,
    where it can hold one: every query then names it, and ibis compiles the
    rules once instead of once per query (compiling, not the engine, is the
    slow part of a month's small query). Elsewhere the expression itself."""
    name = f"kpi_prepared_{table.lower()}"
    try:
        if backend.name == "pyspark":
            return backend.create_view(name, expr, overwrite=True)
        if backend.name == "duckdb":
            # Files are read, and their rules applied, once into DuckDB's own
            # columns (compressed, spilled to disk past its memory limit),
            # instead of decoding the files again for each month of each KPI.
            backend.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {backend.compile(expr)}')
            return backend.table(name)
        if backend.name == "postgres":
            backend.raw_sql(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {backend.compile(expr)}')
            return backend.table(name)
    except Exception:  # (a read-only engine: the expression does the same)
        _check_readable(backend, table, expr, where)
        return expr
    return expr


def _check_readable(backend: Any, table: str, expr: Any, where: str) -> None:
    """Read the table once, to tell bad data (a corrupt Parquet page, a
    number out of range) from an engine that only cannot keep a copy: bad
    data is said now, naming the table, rather than as a traceback later."""
    try:
        expr.count().execute()
    except Exception as error:  # (the engine's own error types)
        raise SourceError(
            f"{where}: the table {table} cannot be read: {engine_said(error)}"
        ) from None


# --- the report's numbers from a source ---------------------------------------------------


@dataclass
class SourceMeasure:
    """What ``build_report`` asks of its data, answered by the ibis forms."""

    source: Source
    settings: Mapping[str, Any] = field(default_factory=dict)
    prepared: Any = None

    def __post_init__(self) -> None:
        from addin.recipes.ibis_forms import Prepared, prepare  # noqa: PLC0415

        with self.engine("reading the tables"):
            self.prepared = Prepared(
                {
                    name: _as_view(self.source.backend, name, table, self.source.where)
                    for name, table in prepare(self.source.tables).items()
                }
            )

    @contextlib.contextmanager
    def engine(self, doing: str) -> Iterator[None]:
        """An engine's error while querying as one line: what was being
        computed, from which tables, and the engine's own first line (which
        names the column or the file)."""
        import kpi_engine  # noqa: PLC0415

        try:
            yield
        except (SourceError, kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError):
            raise
        except Exception as error:  # (the engine's own error types)
            tables = ", ".join(sorted(self.source.tables))
            raise SourceError(
                f"{self.source.where}: the engine failed {doing} (tables {tables}): "
                f"{engine_said(error)}"
            ) from None

    def value(self, business_type: str, kpi_id: str, month: dt.date) -> float:
        from addin.recipes.ibis_forms import compute  # noqa: PLC0415

        start = to_serial("report", "month", month)
        with self.engine(f"computing {kpi_id} for {month:%Y-%m}"):
            return compute(
                business_type, kpi_id, self.prepared, start, month_shift(start, 1), self.settings
            )

    def nps_scores(self, month: dt.date) -> list[Any]:
        from addin.recipes.ibis_forms import nps_groups, scores_like  # noqa: PLC0415

        if "Survey" not in self.source.tables:
            return []
        start = to_serial("report", "month", month)
        with self.engine(f"counting the Survey's scores for {month:%Y-%m}"):
            return scores_like(nps_groups(self.prepared, start, month_shift(start, 1)))

    def notes(self, business_type: str) -> list[Note]:
        from addin.recipes.ibis_forms import note_counts  # noqa: PLC0415

        with self.engine("counting the data notes"):
            return note_counts(business_type, self.source.tables, checks_for(business_type))

    def latest_month(self, business_type: str) -> dt.date | None:
        from addin.recipes.ibis_forms import latest_date  # noqa: PLC0415

        with self.engine("finding the latest month"):
            return latest_date(self.source.tables)


__all__ = ["Source", "SourceError", "SourceMeasure", "open_source"]
