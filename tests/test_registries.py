"""A half-added KPI, named in one run: every piece it lacks, with the file to
edit and what to write there (see ``tests/completeness.py``). Part of
``make check``, the fast tier."""

from __future__ import annotations

import ast
import importlib.util
import re

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
    assert said.startswith("no_such_kpi (networking) has no recipe: add it to RECIPES in ")
    assert "addin/recipes/members.py" in said
    assert "addin/recipes/quantities.py" in said


def test_a_recipe_without_an_ibis_form_is_named_with_its_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from addin.recipes import kpis  # noqa: PLC0415

    own = kpis.RECIPES["mau"]
    bare = Recipe(own.kpi_id, own.formula, own.engine_call)
    monkeypatch.setitem(kpis.TYPE_RECIPES, ("networking", "mau"), bare)  # type: ignore[index]
    with pytest.raises(NoIbisFormError, match=r"mau \(networking\) has no ibis form"):
        ibis_form_for("networking", "mau")
    found = completeness.missing_pieces()
    assert any(piece.startswith("mau (networking) has no ibis form") for piece in found)


def test_the_signatures_snapshot_is_what_the_engine_exports() -> None:
    """The ids and argument orders users rely on: a change shows as a diff of
    tests/snapshots/signatures.txt (make regen rewrites it)."""
    assert completeness.SIGNATURES.read_text(encoding="utf-8") == completeness.signatures()


def _adding_a_kpi() -> str:
    page = (completeness.ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    start = page.index("## Adding a KPI")
    end = page.find("\n## ", start + 1)
    return page[start:] if end < 0 else page[start:end]


def test_the_adding_a_kpi_checklist_names_the_real_files_and_registries() -> None:
    """Every file the checklist names exists; it names every recipe family,
    every shared quantity, the make targets and the reason file the checks
    ask for."""
    from addin.recipes import kpis, quantities  # noqa: PLC0415

    checklist = _adding_a_kpi()
    named = set(re.findall(r"`([\w./-]+\.(?:py|toml|txt))`", checklist))
    for path in named:
        assert (completeness.ROOT / path).exists(), f"the checklist names {path}, not there"
    for module in kpis.FAMILIES.values():
        assert f"`{module}`" in checklist, f"the checklist lacks the family module {module}"
    for quantity in ("DatedSum", "DatedCount", "ActiveUsers", "PresentAtStart"):
        assert hasattr(quantities, quantity)
        assert f"`{quantity}`" in checklist
    for composer in ("quotient", "total_of"):
        assert callable(getattr(quantities, composer))
    makefile = (completeness.ROOT / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"`make (\w+)`", checklist):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is no Makefile target"
    # The files the missing-piece messages send a newcomer to are in the checklist.
    for path in (
        "kpi_engine/__init__.py",
        "templates/reasons.toml",
        "kpi_engine/catalogue/kpis.toml",
    ):
        assert path in named


def test_the_add_in_uses_only_the_engine_s_public_api() -> None:
    """addin imports kpi_engine's public modules and names, never an
    underscore module: those stay free to change."""
    private = []
    for path in sorted((completeness.ROOT / "addin").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            private += [
                f"{path.relative_to(completeness.ROOT)}: {name}"
                for name in names
                if name.startswith("kpi_engine._")
            ]
    assert not private, "\n".join(private)
    import kpi_engine.cells  # noqa: PLC0415
    import kpi_engine.inputs  # noqa: PLC0415
    import kpi_engine.texts  # noqa: PLC0415

    for module in (kpi_engine.cells, kpi_engine.inputs, kpi_engine.texts):
        assert module.__doc__
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)


def _private(name: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in name.split("."))


def _unit(module: str) -> str:
    """The add-in's part a module belongs to: its subpackage (addin.report),
    or the top-level module itself (addin.progress)."""
    return ".".join(module.split(".")[:2])


def _add_in_imports(tree: ast.Module, package: str) -> list[tuple[int, str, str]]:
    """(line, full dotted name, local name) of every add-in name or module
    imported; relative imports resolved from ``package``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            source = ".".join([*base, node.module or ""] if node.level else [node.module or ""])
            found += [
                (node.lineno, f"{source.strip('.')}.{alias.name}", alias.asname or alias.name)
                for alias in node.names
            ]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, a.asname or a.name) for a in node.names]
    return [entry for entry in found if entry[1].startswith("addin.")]


def test_no_add_in_module_uses_another_subpackage_s_private_names() -> None:
    """A subpackage's underscore names are its own: another part of the add-in
    that needs one asks for a public home for it (documented, typed). Checked
    on every import of an add-in module, on the names it imports and on the
    attributes read from an imported add-in module."""
    borrowed = []
    for path in sorted((completeness.ROOT / "addin").rglob("*.py")):
        relative = path.relative_to(completeness.ROOT)
        here = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {}  # local name -> the other part's module it stands for
        for line, name, local in _add_in_imports(tree, package):
            if _unit(name) == _unit(here):
                continue
            if _private(name):
                borrowed.append(f"{relative}:{line}: imports {name}")
            if _is_module(name):
                modules[local] = name
        borrowed += [
            f"{relative}:{node.lineno}: reads {modules[node.value.id]}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ]
    assert not borrowed, "\n".join(borrowed)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def test_make_bench_runs_every_benchmark() -> None:
    makefile = (completeness.ROOT / "Makefile").read_text(encoding="utf-8")
    listed = set(re.findall(r"\b(bench_\w+\.py)\b", makefile))
    scripts = {
        path.name for path in (completeness.ROOT / "tests" / "benchmarks").glob("bench_*.py")
    }
    assert scripts - listed == set(), "make bench does not run these benchmarks"
    assert listed - scripts == set(), "make bench names benchmarks that do not exist"
