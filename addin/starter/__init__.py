"""Starter workbooks: a ready workbook per business type and language."""

from .build import StarterError, StarterOptions, build_workbook, new_workbook, save_workbook
from .model import RECIPES, TABLES, recipe_for, tables_for

__all__ = [
    "RECIPES",
    "TABLES",
    "StarterError",
    "StarterOptions",
    "build_workbook",
    "new_workbook",
    "recipe_for",
    "save_workbook",
    "tables_for",
]
