"""Recipes: per KPI, the tables and columns it reads, its workbook formula and
its engine computation, side by side (see ``kpis``), over the data tables of
``tables`` and the data rules of ``rules``.

The starter workbooks, the report refresh, xlwings Lite and the add-in's
scripts all import this package; it imports only the engine.
"""

from .kpis import (
    RECIPES,
    TYPE_RECIPES,
    EngineCall,
    Recipe,
    columns_read,
    month_shift,
    recipe_for,
    tables_for,
)
from .rules import Rows, TableRows, as_rows
from .tables import MASTERS, NEEDS_GROSS_MARGIN, REFERENCES, TABLES, Column

__all__ = [
    "MASTERS",
    "NEEDS_GROSS_MARGIN",
    "RECIPES",
    "REFERENCES",
    "TABLES",
    "TYPE_RECIPES",
    "Column",
    "EngineCall",
    "Recipe",
    "Rows",
    "TableRows",
    "as_rows",
    "columns_read",
    "month_shift",
    "recipe_for",
    "tables_for",
]
