"""The recipes layer, checked in seconds without LibreOffice: every KPI of
every business type has a recipe, whose tables and columns exist, whose
formula Excel can store, and whose engine side calls a catalogue function."""

from __future__ import annotations

import re

import pytest
from openpyxl.formula.tokenizer import Token, Tokenizer

import kpi_engine
from addin import functions
from addin.ooxml.formulas import CLASSIC_FUNCTIONS, FUTURE_FUNCTIONS, stored_formula
from addin.recipes import MASTERS, REFERENCES, TABLES, as_rows, recipe_for, tables_for
from addin.recipes.notes import checks_for
from tests.conftest import ALL_PROFILE_ENTRIES, ALL_PROFILE_ENTRY_IDS, EXCEL_BUILTINS

pytestmark = pytest.mark.fast

#: A name Excel would read as a cell (A1, XFD1048576) or in R1C1 style.
CELL_LIKE = re.compile(r"(?i)([a-z]{1,3}\d+|r\d*c\d*|r|c)")


@pytest.mark.parametrize(("profile", "entry"), ALL_PROFILE_ENTRIES, ids=ALL_PROFILE_ENTRY_IDS)
def test_every_kpi_of_every_type_has_a_recipe_over_its_tables(
    profile: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI
) -> None:
    recipe = recipe_for(profile.id, entry.id)
    assert recipe.kpi_id == entry.id
    tables = tables_for(profile.id)
    assert recipe.reads, "a recipe reads at least one table"
    for table, columns in recipe.reads.items():
        assert table in tables, f"{entry.id} reads {table}, which {profile.id} lacks"
        have = {c.id for c in tables[table]}
        missing = set(columns) - have
        assert not missing, f"{entry.id} reads {table}[{', '.join(sorted(missing))}], not there"


@pytest.mark.parametrize(("profile", "entry"), ALL_PROFILE_ENTRIES, ids=ALL_PROFILE_ENTRY_IDS)
def test_every_formula_is_stored_as_excel_stores_it(
    profile: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI
) -> None:
    shown = recipe_for(profile.id, entry.id).formula("PERIOD_START", "PERIOD_END")
    stored = stored_formula(shown)
    assert len(stored) < 8192, "Excel's limit on a formula's length"
    assert stored.count("LET(") == 1, "LibreOffice cannot compute a LET inside a LET"
    tokens = Tokenizer("=" + stored).items
    functions_called = {
        t.value[:-1] for t in tokens if t.type == Token.FUNC and t.subtype == Token.OPEN
    }
    for name in functions_called:
        bare = name.removeprefix("_xlfn.").removeprefix("_xlws.")
        assert bare in CLASSIC_FUNCTIONS or bare in FUTURE_FUNCTIONS, name
        assert bare in EXCEL_BUILTINS, f"{name} is no Excel function"
        if bare in FUTURE_FUNCTIONS:
            assert name == FUTURE_FUNCTIONS[bare]
    # Every name the formula binds with LET is stored as _xlpm.name, is no
    # Excel function and cannot be read as a cell reference.
    names = {t.value for t in tokens if t.type == Token.OPERAND and t.value.startswith("_xlpm.")}
    assert names, "every recipe formula is a LET"
    for name in names:
        bare = name.removeprefix("_xlpm.")
        assert bare.upper() not in EXCEL_BUILTINS, f"LET name {bare} is an Excel function"
        assert not CELL_LIKE.fullmatch(bare), f"LET name {bare} reads as a cell"
    plain = {
        t.value
        for t in tokens
        if t.type == Token.OPERAND and t.subtype == Token.RANGE and "[" not in t.value
    }
    assert plain - names <= {"PERIOD_START", "PERIOD_END", "GROSS_MARGIN"}, plain - names


@pytest.mark.parametrize(("profile", "entry"), ALL_PROFILE_ENTRIES, ids=ALL_PROFILE_ENTRY_IDS)
def test_every_engine_side_calls_a_catalogue_function_with_an_excel_twin(
    profile: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI
) -> None:
    recipe = recipe_for(profile.id, entry.id)
    empty = {
        table: {c.id: [] for c in columns} for table, columns in tables_for(profile.id).items()
    }
    empty["Settings"] = {"GROSS_MARGIN": [0.6]}
    try:
        call = recipe.engine_call(as_rows(empty), 45444.0, 45474.0)
    except kpi_engine.KPIUndefinedError:
        return  # undefined before the call (no customers at the start)
    assert call.function in kpi_engine.KPIS
    assert call.function in functions.EXCEL_FUNCTIONS


def test_tables_are_well_formed() -> None:
    for table, columns in TABLES.items():
        ids = [c.id for c in columns]
        assert len(ids) == len(set(ids)), table
        for column in columns:
            if column.kind == "choice":
                assert column.choices, f"{table}.{column.id} needs its choices"
    for table, id_column in MASTERS.items():
        assert {id_column, "joined_on", "left_on"} <= {c.id for c in TABLES[table]}
    for (table, column), master in REFERENCES.items():
        assert column in {c.id for c in TABLES[table]}
        assert MASTERS[master] == column or master in MASTERS


@pytest.mark.parametrize("business_type", list(kpi_engine.BUSINESS_TYPES))
def test_a_data_checks_row_list_waits_for_its_count(business_type: str) -> None:
    """On the sheet, a check's list of rows reads the count beside it and
    computes its mask only when that count is not 0: the count's work is
    not done again for a check that finds nothing."""
    for check in checks_for(business_type):
        rows_formula = check.rows_formula("$B$30")
        if rows_formula is None:
            continue
        assert rows_formula.startswith('IF($B$30=0,"",LET('), rows_formula
        assert "found,$B$30," in rows_formula, rows_formula
        assert "SUM(bad" not in rows_formula, rows_formula
        assert stored_formula(rows_formula).count("LET(") == 1, rows_formula


@pytest.mark.parametrize("business_type", list(kpi_engine.BUSINESS_TYPES))
def test_every_data_check_has_both_forms(business_type: str) -> None:
    checks = checks_for(business_type)
    assert checks
    tables = tables_for(business_type)
    for check in checks:
        assert check.table in tables
        rows_formula = check.rows_formula()
        assert rows_formula is not None or check.problem == "repeated_id"
        for formula in (check.count_formula(), rows_formula or ""):
            # LibreOffice cannot compute a LET inside a LET.
            assert stored_formula(formula).count("LET(") <= 1, formula
