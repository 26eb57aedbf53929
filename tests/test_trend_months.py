"""The Trend sheet's formulas of all the months, checked without LibreOffice:
a KPI whose recipe computes its twelve months in one formula has that
formula over its twelve cells, storable as Excel stores it, reading the
columns its month's formula reads; the others keep a formula per month.
(The LibreOffice tests check the values: test_starter_recalc, test_messy_data,
test_differential.)"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.worksheet.formula import ArrayFormula

import kpi_engine
from addin.ooxml.formulas import CLASSIC_FUNCTIONS, FUTURE_FUNCTIONS, stored_formula
from addin.recipes import recipe_for
from addin.starter import StarterOptions, new_workbook
from addin.starter.build import workbook_words
from tests.conftest import ALL_PROFILE_ENTRIES, ALL_PROFILE_ENTRY_IDS, EXCEL_BUILTINS

pytestmark = pytest.mark.fast

#: KPIs that compare a month with the months before it, or combine two
#: quotients with their own undefined cases: a formula per month.
PER_MONTH = {
    "follower_growth_rate",
    "engagement_growth",
    "customer_lifetime_value",
    "customer_lifetime_revenue",
}
STARTS, ENDS = "$A$4:$A$15", "$B$4:$B$15"
_REFERENCE = re.compile(r"\b([A-Z][A-Za-z]*)\[([a-z_]+)\]")


@pytest.mark.parametrize(("profile", "entry"), ALL_PROFILE_ENTRIES, ids=ALL_PROFILE_ENTRY_IDS)
def test_every_months_formula_is_storable_and_reads_the_months_columns(
    profile: kpi_engine.BusinessType, entry: kpi_engine.ProfileKPI
) -> None:
    recipe = recipe_for(profile.id, entry.id)
    if entry.id in PER_MONTH:
        assert recipe.months is None, f"{entry.id} now has a formula of all the months"
        return
    assert recipe.months is not None, f"{entry.id} ({profile.id}) lost its months formula"
    shown = recipe.months(STARTS, ENDS)
    stored = stored_formula(shown)
    assert len(stored) < 8192, "Excel's limit on a formula's length"
    assert stored.count("LET(") == 1, "LibreOffice cannot compute a LET inside a LET"
    tokens = Tokenizer("=" + stored).items
    for token in tokens:
        if token.type == Token.FUNC and token.subtype == Token.OPEN:
            bare = token.value[:-1].removeprefix("_xlfn.").removeprefix("_xlws.")
            assert bare in CLASSIC_FUNCTIONS or bare in FUTURE_FUNCTIONS, bare
            assert bare in EXCEL_BUILTINS, f"{bare} is no Excel function"
    names = {t.value for t in tokens if t.type == Token.OPERAND and t.value.startswith("_xlpm.")}
    plain = {
        t.value
        for t in tokens
        if t.type == Token.OPERAND and t.subtype == Token.RANGE and "[" not in t.value
    }
    assert plain - names <= {STARTS, ENDS, "GROSS_MARGIN"}, plain - names
    month = recipe.formula("PERIOD_START", "PERIOD_END")
    assert set(_REFERENCE.findall(shown)) == set(_REFERENCE.findall(month))


@pytest.mark.parametrize("business_type", list(kpi_engine.BUSINESS_TYPES))
def test_trend_sheet_has_one_formula_over_the_months_where_the_recipe_has_one(
    tmp_path: Path, business_type: str
) -> None:
    path = new_workbook(
        StarterOptions(business_type, as_of=dt.date(2024, 7, 15), rows=50), tmp_path / "t.xlsx"
    )
    book = load_workbook(path)
    trend = book[workbook_words()["en"]["sheets"]["trend"]]
    profile = kpi_engine.get_business_type(business_type)
    for index, entry in enumerate(profile.kpis):
        column = trend.cell(4, 3 + index).column_letter
        first = trend.cell(4, 3 + index)
        below = [trend.cell(row, 3 + index) for row in range(5, 16)]
        if entry.id in PER_MONTH:
            assert all(isinstance(c.value, ArrayFormula) for c in [first, *below]), entry.id
            continue
        assert isinstance(first.value, ArrayFormula), entry.id
        assert first.value.ref == f"{column}4:{column}15", entry.id
        assert all(c.value is None for c in below), f"{entry.id}: the spill range is free"
        assert {c.number_format for c in below} == {first.number_format}, entry.id
    with zipfile.ZipFile(path) as package:
        sheet = package.read("xl/worksheets/sheet3.xml").decode()
    assert 'ref="C4:C15"' in sheet
    assert 'cm="1"' in sheet, "Excel reads it as a dynamic array"
