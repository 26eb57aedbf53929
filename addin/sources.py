"""Tables from where the business keeps its data: ``kpi report --source URL``.

A source holds the tables of a starter workbook (Orders, Customers...), named
as the workbook names them, with the columns the business type's recipes
read; letter case does not matter, other tables and columns are ignored.

* A folder of files, one per table: ``Orders.parquet`` or ``Orders.csv``
  (or a folder ``Orders/`` of Parquet files). DuckDB reads them, embedded:
  no server. A CSV file is read as ``kpi import`` reads it, by the same code
  (``addin.importing.csv_columns``): its encoding and delimiter found, its
  header matched in any case, an ISO date (2024-06-15, 2024-06-15 10:30)
  or month (2025-06) is a date, a plain number is a number (a decimal comma
  in a semicolon-separated file for a French or Dutch report); other text
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
import math
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from addin.ooxml.package import ReportError
from addin.recipes import columns_read, month_shift
from addin.recipes.notes import Note, checks_for
from addin.recipes.tables import MASTERS, TABLES, column
from kpi_engine.inputs import first_of_month, to_serial

FILE_SUFFIXES = (".parquet", ".csv")
#: The table whose rows are per channel, and its column naming the channel.
CHANNEL_TABLE, CHANNEL_COLUMN = "Channels", "channel"
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


#: A date column's text that is no date, kept as a day Excel does not hold
#: (1899-12-30), so that a left_on holding it leaves its row out as in the
#: workbook, rather than reading as "still there" as a blank does.
_NOT_A_DATE = dt.datetime(1899, 12, 30)


def _csv_arrow(path: Path, table: str, where: str, language: str) -> Any:
    """A CSV file as an Arrow table of our column ids, typed by their kinds:
    read by ``kpi import``'s reader of CSV text, so that both read every
    cell alike (dates and months by ISO 8601 only, numbers with the file's
    decimal separator, its encoding, its header in any case)."""
    import pyarrow as pa  # noqa: PLC0415

    from addin.importing.csv_columns import read_csv_columns  # noqa: PLC0415
    from addin.importing.source import ImportInputError  # noqa: PLC0415

    try:
        read = read_csv_columns(path, TABLES[table], language=language)
    except ImportInputError as error:
        raise SourceError(f"{where}: the table {table}: {error}") from None
    if not read.cells:
        export = read.export
        raise SourceError(
            f"{where}: {path.name} has none of the columns of the table {table} "
            f"({', '.join(c.id for c in TABLES[table])}); its header names "
            f"{_listed(str(name)[:40] for name in export.header[:12])}"
            f"{', ...' if len(export.header) > 12 else ''}"
        )
    arrays = {}
    for our, cells in read.cells.items():
        kind = column(table, our).kind
        if kind in _DATE_KINDS:
            arrays[our] = pa.array([_moment(cell) for cell in cells], pa.timestamp("us"))
        elif kind in ("id", "text", "choice"):
            arrays[our] = pa.array(cells, pa.string())
        else:
            # Text in a number column is NaN, which the rules leave out and
            # the data notes count as no number; a blank stays NULL.
            arrays[our] = pa.array(
                [cell if isinstance(cell, float) or cell is None else math.nan for cell in cells],
                pa.float64(),
                from_pandas=False,
            )
    return pa.table(arrays)


def _moment(cell: Any) -> dt.datetime | None:
    """A date column's cell as read from CSV text: a moment, a blank, or text
    that is no date (``_NOT_A_DATE``)."""
    if cell is None:
        return None
    if isinstance(cell, dt.datetime):
        return cell
    if isinstance(cell, dt.date):
        return dt.datetime(cell.year, cell.month, cell.day)
    return _NOT_A_DATE


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


def _parquet_paths(path: Path) -> list[Path] | None:
    """The Parquet files of a table's entry in a folder: those of its own
    folder, or the file itself; None for a CSV file."""
    if path.is_dir():
        return sorted(path.glob("*.parquet"))
    return [path] if path.suffix.lower() == ".parquet" else None


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
    backend: Any,
    folder: Path,
    needed: Mapping[str, tuple[str, ...]],
    where: str,
    language: str,
    read: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The tables of ``folder``: a view of each Parquet file or of its copy
    already ``read`` (``ReadAhead``), each CSV file parsed into the engine."""
    files = _files_in(folder)
    tables = {}
    for table in needed:
        path = files.get(table.lower())
        if path is None:
            raise SourceError(
                f"{where}: no file for the table {table}: expected {table}.parquet or "
                f"{table}.csv in the folder (it holds: {_listed(p.name for p in files.values())})"
            )
        parquet = _parquet_paths(path)
        _refuse_special(parquet or [path], table, where)
        if parquet is None:
            _csv_header_width(path, table, where)
        if read and table in read:
            # Named as the table, as the view of its file would be: the
            # engine's own messages name the user's table.
            copy = _quoted(read[table])
            backend.raw_sql(f"CREATE OR REPLACE TEMP VIEW {_quoted(table)} AS SELECT * FROM {copy}")
            tables[table] = engine_table(backend, table)
        elif parquet is not None:
            pattern = str(path / "*.parquet") if path.is_dir() else str(path)
            tables[table] = backend.read_parquet(pattern, table_name=table)
        else:
            # Parsed once into the engine's own table: a view would parse the
            # file again for every month of every KPI.
            arrow = _csv_arrow(path, table, where, language)
            if backend.name == "pyspark":
                # Spark writes a table's data under its warehouse folder (by
                # default ./spark-warehouse); a temporary view of the parsed
                # rows writes nothing, and ibis makes no temporary Spark table.
                backend._session.createDataFrame(arrow).createOrReplaceTempView(table)
                tables[table] = backend.table(table)
            else:
                tables[table] = backend.create_table(table, arrow, overwrite=True)
    return tables


#: A folder's Parquet tables up to this size on disk are read ahead (``ReadAhead``).
#: Past it the engine's own work dwarfs the third of a second saved, and
#: a copy of the files beside the prepared tables would double what DuckDB
#: holds in memory or spills to disk.
READ_AHEAD_BYTES = 128 * 2**20


def _read_name(table: str) -> str:
    return f"kpi_read_{table.lower()}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ReadAhead:
    """DuckDB reading a folder's Parquet tables into its own columns, in a
    thread, while Python imports ibis (about a third of a second, in which
    DuckDB would otherwise wait): the rules then read the copy in memory
    instead of decoding the files. Only the columns the tables may use are
    copied, as the files hold them; nothing is checked or said here. Any
    failure (no DuckDB, a corrupt or special file, a column missing) leaves
    the usual path, a view of each file, to read the folder and say what is
    wrong, as it would have."""

    def __init__(self, url: str, business_type: str) -> None:
        #: The tables read, by name: their copies' names in the connection.
        self.tables: dict[str, str] = {}
        self._loading: Any = None
        self._read_into: Any = None
        self._thread: threading.Thread | None = None
        needed = _needed(business_type)
        files = self._parquet_files(url, needed)
        if files:
            self._thread = threading.Thread(
                target=self._read, args=(files, needed), name="kpi read-ahead", daemon=True
            )
            self._thread.start()

    @staticmethod
    def _parquet_files(url: str, needed: Mapping[str, Any]) -> dict[str, list[str]]:
        """The Parquet files of the ``needed`` tables in the folder ``url``,
        if they are all regular files and not too large."""
        try:
            folder = Path(url)
            if not url.strip() or not folder.is_dir():
                return {}
            found = _files_in(folder)
            files: dict[str, list[str]] = {}
            size = 0
            for table in needed:
                path = found.get(table.lower())
                paths = _parquet_paths(path) if path is not None else None
                if paths is None:
                    continue  # (read by the usual path)
                if not all(p.is_file() for p in paths):
                    return {}
                size += sum(p.stat().st_size for p in paths)
                files[table] = [str(p) for p in paths]
        except (OSError, ValueError):
            return {}
        return files if size <= READ_AHEAD_BYTES else {}

    def _read(self, files: Mapping[str, list[str]], needed: Mapping[str, tuple[str, ...]]) -> None:
        try:
            import duckdb  # noqa: PLC0415

            self._loading = connection = duckdb.connect()
            # One core reads while the other imports ibis.
            connection.execute("SET threads = 1")
            for table, paths in files.items():
                # The files in the statement's text: a statement with
                # parameters holds Python's lock, and would wait for the imports.
                listed = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
                described = connection.execute(
                    f"DESCRIBE SELECT * FROM read_parquet({listed})"
                ).fetchall()
                known = {c.id for c in TABLES[table]}
                names = [row[0] for row in described if row[0].lower() in known]
                held = {name.lower() for name in names}
                if any(our.lower() not in held for our in needed[table]):
                    # The usual path names the table's columns in its error.
                    raise LookupError(table)
                connection.execute(
                    f"CREATE TEMP TABLE {_quoted(_read_name(table))} AS SELECT "
                    f"{', '.join(map(_quoted, names))} FROM read_parquet({listed})"
                )
                self.tables[table] = _read_name(table)
            connection.execute("RESET threads")
            self._read_into = connection
        except Exception:  # (any: the usual path reads the folder and says why)
            self.tables = {}
            if self._loading is not None:
                self._loading.close()
        finally:
            self._loading = None

    def _taken(self) -> Any:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        connection, self._read_into = self._read_into, None
        return connection

    def connection(self) -> Any:
        """DuckDB's connection holding the tables read (``tables``), once
        they are, now the caller's to close; None when nothing was read."""
        return self._taken()

    def close(self) -> None:
        """Stop the reading (DuckDB is interrupted) and close the connection,
        if it was not taken."""
        loading = self._loading
        if loading is not None:
            with contextlib.suppress(Exception):
                loading.interrupt()
        connection = self._taken()
        if connection is not None:
            connection.close()


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


def open_source(  # noqa: PLR0912, PLR0915  (one branch per kind of source)
    url: str, business_type: str, language: str = "en", read_ahead: ReadAhead | None = None
) -> Source:
    """Connect to ``url`` and find the tables and columns ``business_type`` reads
    (a CSV file's decimal separator follows ``language`` as ``kpi import``'s does);
    a folder's tables already read by ``read_ahead`` are taken from its copy."""
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
                # ibis's DuckDB backend is imported (a tenth of a second)
                # before the reading ahead is waited for.
                duckdb_backend = ibis.duckdb
                read = read_ahead.connection() if read_ahead is not None else None
                copies = read_ahead.tables if read_ahead is not None and read is not None else {}
                backend = (
                    duckdb_backend.connect()
                    if read is None
                    else duckdb_backend.from_connection(read)
                )
                tables = _folder_tables(backend, path, needed, where, language, copies)
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
            tables = _folder_tables(backend, folder, needed, where, language)
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
    for table, read in needed.items():
        expr = tables[table]
        # Where the source has them, the table's other columns are read too,
        # as a workbook's are: the data notes check them (a row is blank only
        # when all of it is), and the channel gives the table by channel.
        held = {name.lower() for name in expr.columns}
        extra = [c.id for c in TABLES[table] if c.id not in read and c.id in held]
        columns = (*read, *extra)
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
    """The prepared table as a temporary table (DuckDB, PostgreSQL) or a
    cached view (Spark) of the engine, where it can hold one: every query
    then names it, ibis compiles the rules once, and the engine applies them
    once per row (an id trimmed and in lower case), not again in each query.
    Elsewhere the expression itself."""
    name = f"kpi_prepared_{table.lower()}"
    try:
        if backend.name == "pyspark":
            view = backend.create_view(name, expr, overwrite=True)
            # Kept by Spark once computed (in memory, spilled to disk).
            backend._session.catalog.cacheTable(name)
            return view
        if backend.name == "duckdb":
            # Files are read, and their rules applied, once into DuckDB's own
            # columns (compressed, spilled to disk past its memory limit),
            # instead of decoding the files again for each month of each KPI.
            backend.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {backend.compile(expr)}')
            return engine_table(backend, name)
        if backend.name == "postgres":
            # A temporary table of the session: the rules (an id trimmed and
            # in lower case) run once per row, not again in every query.
            backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"').close()
            backend.raw_sql(f'CREATE TEMP TABLE "{name}" AS {backend.compile(expr)}').close()
            return backend.table(name)
    except Exception:  # (a read-only engine: the expression does the same)
        _check_readable(backend, table, expr, where)
        return expr
    return expr


def engine_table(backend: Any, name: str) -> Any:
    """``backend.table(name)``; on DuckDB, from the rows of its DESCRIBE:
    ibis reads them through Arrow, whose import (and NumPy's) costs a
    report from a folder more time than most of its queries."""
    if backend.name != "duckdb":
        return backend.table(name)
    import ibis.expr.operations as ops  # noqa: PLC0415
    import ibis.expr.schema as sch  # noqa: PLC0415

    described = backend.con.sql(f"DESCRIBE {_quoted(name)}").fetchall()
    types = backend.compiler.type_mapper
    schema = sch.Schema(
        {
            column: types.from_string(kind, nullable=null == "YES")
            for column, kind, null, *_ in described
        }
    )
    if schema.geospatial:  # (ibis loads DuckDB's spatial extension for it)
        return backend.table(name)
    namespace = ops.Namespace(catalog=None, database=None)
    return ops.DatabaseTable(name, schema=schema, source=backend, namespace=namespace).to_expr()


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
    #: The business type whose data notes the prepared tables can count.
    business_type: str = ""
    #: The Channels table's channels, (key, name as first written), once listed.
    _channels: list[tuple[str, str]] | None = None
    #: The months of the report (``plan``), by first day, and every KPI's
    #: value in each, fetched at once on the first value asked for.
    _months: dict[dt.date, int] = field(default_factory=dict)
    _values: dict[str, list[Any]] | None = None

    def __post_init__(self) -> None:
        from addin.recipes.ibis_forms import Prepared, prepare  # noqa: PLC0415
        from addin.recipes.ibis_notes import note_columns  # noqa: PLC0415

        tables = self.source.tables
        with self.engine("reading the tables"):
            # The data notes' flags are kept beside the rules' readings, so
            # that the notes are counted without reading the tables again.
            flags = (
                note_columns(tables, checks_for(self.business_type)) if self.business_type else {}
            )
            self.prepared = Prepared(
                {
                    name: _as_view(self.source.backend, name, table, self.source.where)
                    for name, table in prepare(tables, flags).items()
                }
            )

    def plan(self, period: dt.date) -> None:
        """The report's months: the 12 of the trend that end with ``period``
        and the month a year before it, whose values every KPI's ibis form
        then gives at once (``ibis_months``) instead of month by month."""
        months = [first_of_month(period, offset) for offset in range(-12, 1)]
        self._months = {month: index for index, month in enumerate(months)}
        self._values = None

    def _planned(self, business_type: str, kpi_id: str, month: dt.date) -> Any:
        """The KPI's value (or why it has none) from the values of every
        month at once; None where they are not at hand, or the engine
        failed on them (then the month's own query says where)."""
        if month not in self._months:
            return None
        if self._values is None:
            from addin.recipes.ibis_months import months_values  # noqa: PLC0415
            from kpi_engine import get_business_type  # noqa: PLC0415

            windows = []
            for day in self._months:
                start = to_serial("report", "month", day)
                windows.append((start, month_shift(start, 1)))
            kpis = [entry.id for entry in get_business_type(business_type).kpis]
            try:
                with self.engine("computing the KPIs"):
                    self._values = months_values(
                        business_type, kpis, self.prepared, windows, self.settings
                    )
            except SourceError:
                self._values = {}
        found = self._values.get(kpi_id)
        return None if found is None else found[self._months[month]]

    def has_data(self, start: float, end: float) -> bool:
        """Whether some row of the tables is dated in [start, end)."""
        from addin.recipes.ibis_notes import has_rows_dated  # noqa: PLC0415

        with self.engine("looking for data in the period"):
            return has_rows_dated(self.source.tables, self.prepared, start, end)

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

        planned = self._planned(business_type, kpi_id, month)
        if isinstance(planned, Exception):
            raise planned
        if planned is not None:
            return float(planned)
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
        from addin.recipes.ibis_notes import cleaned_note_counts  # noqa: PLC0415

        checks = checks_for(business_type)
        with self.engine("counting the data notes"):
            if business_type == self.business_type:
                return cleaned_note_counts(business_type, self.source.tables, self.prepared, checks)
            return note_counts(business_type, self.source.tables, checks)

    def channels(
        self, business_type: str, kpi_id: str, month: dt.date
    ) -> tuple[tuple[str, float | None], ...]:
        """A KPI's value for each channel, where its recipe reads the Channels
        table alone: the channels told apart and named as ``per_channel``
        does for a workbook's rows, each measured by the ibis form over that
        channel's rows."""
        import kpi_engine  # noqa: PLC0415
        from addin.recipes import recipe_for  # noqa: PLC0415
        from addin.recipes.ibis_forms import Prepared, compute  # noqa: PLC0415
        from addin.recipes.rules import TableRows  # noqa: PLC0415
        from addin.report.model import channels_written, shown_names  # noqa: PLC0415

        if set(recipe_for(business_type, kpi_id).reads) != {CHANNEL_TABLE}:
            return ()
        if self._channels is None:
            self._channels = []
            table = self.source.tables.get(CHANNEL_TABLE)
            if table is not None and CHANNEL_COLUMN in table.columns:
                with self.engine("listing the channels"):
                    written = table.select(CHANNEL_COLUMN).to_pyarrow()
                rows = TableRows({CHANNEL_COLUMN: written[CHANNEL_COLUMN].to_pylist()})
                self._channels = channels_written({CHANNEL_TABLE: rows})
        names = shown_names([name for _, name in self._channels])
        start = to_serial("report", "month", month)
        found = []
        for name, (key, _) in zip(names, self._channels, strict=True):
            prepared = self.prepared[CHANNEL_TABLE]
            only = Prepared(
                {**self.prepared, CHANNEL_TABLE: prepared.filter(prepared[CHANNEL_COLUMN] == key)}
            )
            try:
                with self.engine(f"computing {kpi_id} for {name} in {month:%Y-%m}"):
                    value: float | None = compute(
                        business_type, kpi_id, only, start, month_shift(start, 1), self.settings
                    )
            except (kpi_engine.KPIUndefinedError, kpi_engine.KPIInputError):
                value = None
            found.append((name, value))
        return tuple(found)

    def latest_month(self, business_type: str) -> float | None:
        """The latest date serial of the tables (None: no date)."""
        from addin.recipes.ibis_notes import latest_serial  # noqa: PLC0415

        with self.engine("finding the latest month"):
            return latest_serial(self.source.tables, self.prepared)


__all__ = ["ReadAhead", "Source", "SourceError", "SourceMeasure", "open_source"]
