"""Recipes: per KPI, one ``Recipe`` object with the tables and columns it
reads, its workbook formula, its engine computation and its ibis form (see
``kpis``), mostly composed from the shared quantities of ``quantities``,
over the data tables of ``tables`` and the data rules of ``rules`` (for
ibis, ``ibis_forms``). ``recipe_for`` is the one
dispatch; ``columns_read`` says which columns a business type's recipes read.

The starter workbooks, the report refresh, xlwings Lite and the add-in's
scripts all import this package; it imports only the engine.
"""

from .kpis import (
    RECIPES,
    TYPE_RECIPES,
    EngineCall,
    MissingRecipeError,
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
    "MissingRecipeError",
    "Recipe",
    "Rows",
    "TableRows",
    "as_rows",
    "columns_read",
    "month_shift",
    "recipe_for",
    "tables_for",
]
