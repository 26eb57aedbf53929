"""A half-added KPI, named in one run: every piece it lacks, with the file to
edit and what to write there (see ``tests/completeness.py``). Part of
``make check``, the fast tier."""

from __future__ import annotations

import pytest

from addin.recipes import MissingRecipeError, Recipe, recipe_for
from addin.recipes.ibis_forms import NoIbisFormError, ibis_form_for
from tests import completeness

pytestmark = pytest.mark.fast


def test_no_kpi_lacks_a_piece() -> None:
    missing = completeness.missing_pieces()
    assert not missing, "\n" + "\n".join(f"- {piece}" for piece in missing)


def test_a_kpi_without_a_recipe_is_named_with_the_file_to_edit() -> None:
    with pytest.raises(MissingRecipeError) as caught:
        recipe_for("networking", "no_such_kpi")
    said = str(caught.value)
    assert said.startswith("no_such_kpi (networking) has no recipe: add one to RECIPES in ")
    assert "addin/recipes/kpis.py" in said


def test_a_recipe_without_an_ibis_form_is_named_with_its_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from addin.recipes import kpis  # noqa: PLC0415

    own = kpis.RECIPES["mau"]
    bare = Recipe(own.kpi_id, own.reads, own.formula, own.engine_call)
    monkeypatch.setitem(kpis.TYPE_RECIPES, ("networking", "mau"), bare)  # type: ignore[index]
    with pytest.raises(NoIbisFormError, match=r"mau \(networking\) has no ibis form"):
        ibis_form_for("networking", "mau")
    found = completeness.missing_pieces()
    assert any(piece.startswith("mau (networking) has no ibis form") for piece in found)


def test_the_signatures_snapshot_is_what_the_engine_exports() -> None:
    """The ids and argument orders users rely on: a change shows as a diff of
    tests/snapshots/signatures.txt (make regen rewrites it)."""
    assert completeness.SIGNATURES.read_text(encoding="utf-8") == completeness.signatures()
