"""A CSV file's columns as a table's cells: the one reading of CSV text that
``kpi import`` and ``kpi report --source`` (a folder of .csv files) share.

The file is read by ``source.read_csv`` (its encoding and delimiter found as
``kpi import`` finds them), its header matched to the table's columns as
``kpi import`` matches it (``workbook.column_key``: letter case, spaces,
"-" and "_" aside), and each cell read by its column's kind by
``values.reader``: ISO 8601 dates and the month form ``2025-01``, plain
numbers with the file's decimal separator, text as it is. Nothing else is
guessed: ``2024/06/10`` and ``2024-11-5`` stay text, which no date column
counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from addin.recipes.tables import Column

from .source import Export, ImportInputError, read_csv
from .values import decimal_separator, reader
from .workbook import column_key


@dataclass
class CSVColumns:
    """A CSV file read for a table: the export, and per column of the table
    found in its header, the cells as ``values.reader`` reads them (None for
    a blank, a date or a number where the text is one, else the text)."""

    export: Export
    decimal: str
    #: Our column id -> the file's name for it.
    names: dict[str, str]
    cells: dict[str, list[Any]]


def read_csv_columns(
    path: Path,
    columns: Sequence[Column],
    *,
    language: str = "en",
    decimal: str = "auto",
    date_format: str | None = None,
) -> CSVColumns:
    """The columns of ``columns`` that the file's header names (other columns
    of the file are passed over), each cell read by its column's kind."""
    export = read_csv(path)
    ours = {column_key(c.id): c for c in columns}
    placed: dict[str, tuple[int, Column]] = {}
    for position, name in enumerate(export.header):
        column = ours.get(column_key(name))
        if column is None:
            continue
        if column.id in placed:
            first = export.header[placed[column.id][0]]
            raise ImportInputError(
                f"{path}: the columns {first!r} and {name!r} both name the column "
                f"{column.id}; expected one column of the file per column of the table"
            )
        placed[column.id] = (position, column)
    separator = decimal_separator(decimal, export.delimiter, language)
    cells = {}
    for our, (position, column) in placed.items():
        read = reader(column.kind, separator, date_format)
        cells[our] = [read(row[position]) for row in export.rows]
    names = {our: export.header[position] for our, (position, _) in placed.items()}
    return CSVColumns(export, separator, names, cells)


__all__ = ["CSVColumns", "read_csv_columns"]
