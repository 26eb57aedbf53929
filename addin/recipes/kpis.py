"""The one registry of recipes and the one dispatch.

A KPI's recipe (``recipe.Recipe``: its workbook formula, engine call and
ibis form) lives in the module of its family:

* ``orders``: orders, their revenue and value, shares of rows by status;
* ``surveys``: NPS and CSAT;
* ``members``: members and cohorts (churn, retention, newcomers, active
  users, money per head);
* ``monthly``: monthly tables (counts, ratios of sums, growth).

each one declaration composed from the shared quantities of ``quantities``
(which rows count: the conditions of ``conditions``). This module
gathers them (``RECIPES``), adds what follows from each business type's
catalogue file (``TYPE_RECIPES``: where its revenue and members are; the
forms and the months an entry asks for) and picks one (``recipe_for``).

The formulas use functions of Excel 2021 and later (LET, FILTER, UNIQUE,
SORT, SEQUENCE), each column is read a fixed number of times, and no formula
compares every row with every other: recalculation grows with the data (a
sort adds a logarithm), not with its square. In particular "customers with
two orders or more" sorts the window's customer ids and counts the ids equal
to the one before them, because UNIQUE's exactly-once mode is quadratic in
LibreOffice, and churn counts the ids present at the start, at the end and
at either, which gives both the churned and the retained without a lookup.
"""

from __future__ import annotations

from collections.abc import Mapping

import kpi_engine

from . import members, monthly, orders, surveys
from .recipe import EngineCall, Measure, MissingRecipeError, Recipe, month_shift
from .tables import EXTRA_TABLES, TABLES, UNUSED_COLUMNS, Column

__all__ = [
    "FORM_RECIPES",
    "GROWTH_COLUMNS",
    "MONTHLY_COUNTS",
    "RECIPES",
    "TYPE_RECIPES",
    "EngineCall",
    "Measure",
    "MissingRecipeError",
    "Recipe",
    "columns_read",
    "month_shift",
    "recipe_for",
    "tables_for",
]

#: The modules of the recipe families, by family; a new KPI's recipe goes in one.
FAMILIES = {
    "orders": "addin/recipes/orders.py",
    "surveys": "addin/recipes/surveys.py",
    "members": "addin/recipes/members.py",
    "monthly": "addin/recipes/monthly.py",
}


#: Words of a KPI's arguments that point to its family, for the message that
#: says where a missing recipe goes.
_FAMILY_WORDS = {
    "members": ("member", "customer", "user", "celebrit", "retained", "churn"),
    "orders": ("order", "deliver", "fulfil", "completed", "cancel", "project"),
    "surveys": ("score", "survey", "satisf", "promoter"),
}


def family_for(kpi_id: str) -> str:
    """The module a new recipe of ``kpi_id`` most likely belongs in, judged by
    the words of its arguments in the catalogue (monthly tables otherwise)."""
    words = " ".join(argument.name for argument in kpi_engine.get_kpi(kpi_id).arguments)
    for family, hints in _FAMILY_WORDS.items():
        if any(hint in words for hint in hints):
            return FAMILIES[family]
    return FAMILIES["monthly"]


def _gather() -> dict[str, Recipe]:
    found: dict[str, Recipe] = {}
    for family in (orders, surveys, members, monthly):
        for recipe in family.RECIPES:
            if recipe.kpi_id in found:
                raise RuntimeError(f"two recipes measure {recipe.kpi_id}; keep one")
            found[recipe.kpi_id] = recipe
    return found


#: Every KPI's recipe, by KPI id.
RECIPES: Mapping[str, Recipe] = _gather()

#: What a business type measures differently, as its catalogue file says
#: (``[holds]``: the table and column of its revenue and members).
TYPE_RECIPES: Mapping[tuple[str, str], Recipe] = {
    (profile.id, kpi_id): recipe
    for profile in kpi_engine.BUSINESS_TYPES.values()
    for kpi_id, recipe in (
        orders.type_recipes(profile) | members.type_recipes(profile) | monthly.type_recipes(profile)
    ).items()
}

#: Recipes of the forms a business type may measure a KPI by (its ``form``).
FORM_RECIPES: Mapping[str, Recipe] = orders.FORM_RECIPES
GROWTH_COLUMNS = monthly.GROWTH_COLUMNS
MONTHLY_COUNTS = monthly.MONTHLY_COUNTS


def _from_catalogue(business_type: str, kpi_id: str) -> Recipe | None:
    """The recipe that a type's catalogue entry asks for: its form, or a
    growth over more months than one."""
    try:
        entry = kpi_engine.get_business_type(business_type).kpi(kpi_id)
    except (KeyError, kpi_engine.KPIInputError):
        return None
    if entry.form in FORM_RECIPES:
        return FORM_RECIPES[entry.form]
    if entry.months != 1 and entry.id in GROWTH_COLUMNS:
        return monthly.growth(entry.id, *GROWTH_COLUMNS[entry.id], months=entry.months)
    return None


def recipe_for(business_type: str, kpi_id: str) -> Recipe:
    """The recipe by which ``business_type`` measures ``kpi_id``: the type's
    own, then the form or the months its catalogue entry asks for, then the
    KPI's recipe. The one dispatch: ``ibis_forms.ibis_form_for`` is this
    recipe's ``ibis``."""
    found = (
        TYPE_RECIPES.get((business_type, kpi_id))
        or _from_catalogue(business_type, kpi_id)
        or RECIPES.get(kpi_id)
    )
    if found is None:
        where = (
            family_for(kpi_id)
            if kpi_id in kpi_engine.KPIS
            else f"the module of its family ({', '.join(FAMILIES.values())})"
        )
        raise MissingRecipeError(
            f"{kpi_id} ({business_type}) has no recipe: add it to RECIPES in {where}, "
            "or compose it from the shared quantities of addin/recipes/quantities.py "
            f"(quotient({kpi_id!r}, DatedSum.revenue_of({business_type!r}), "
            f"PresentAtStart.members_of({business_type!r})), ActiveUsers(), DatedCount...); "
            "a recipe that reads the type's revenue or members finds them in [holds] of "
            f"kpi_engine/catalogue/business_types/{business_type}.toml"
        )
    return found


def _recipes_of(business_type: str) -> list[Recipe]:
    """The recipes of the type's KPIs; one still missing is left out here
    (tests/test_registries.py names it, with where to add it), so that the
    other KPIs' tables stay whole."""
    profile = kpi_engine.get_business_type(business_type)
    recipes = []
    for entry in profile.kpis:
        try:
            recipes.append(recipe_for(profile.id, entry.id))
        except MissingRecipeError:
            continue
    return recipes


def tables_for(business_type: str) -> dict[str, tuple[Column, ...]]:
    """The data tables of a business type, in sheet order, with their columns."""
    profile = kpi_engine.get_business_type(business_type)
    wanted: list[str] = []
    for recipe in _recipes_of(profile.id):
        for table in recipe.reads:
            if table not in wanted:
                wanted.append(table)
    for table in EXTRA_TABLES.get(profile.id, ()):
        if table not in wanted:
            wanted.append(table)
    unused = UNUSED_COLUMNS[profile.id]
    return {
        table: tuple(c for c in TABLES[table] if (table, c.id) not in unused) for table in wanted
    }


def columns_read(business_type: str) -> dict[str, tuple[str, ...]]:
    """Per table, the columns that some KPI of the type reads, in table order."""
    read: dict[str, set[str]] = {}
    for recipe in _recipes_of(business_type):
        for table, columns in recipe.reads.items():
            read.setdefault(table, set()).update(columns)
    return {
        table: tuple(c.id for c in TABLES[table] if c.id in read[table])
        for table in tables_for(business_type)
        if table in read
    }
