"""Every French and Dutch string holds to the glossary (templates/glossary.toml):
one term per concept, no forbidden synonym; and French strings follow French
typography.

The strings are every value under a "fr" or "nl" key in templates/ (the
workbook, report, task pane, help, notes and CLI words) and in the catalogue
(KPI and business type titles, definitions, notes, source titles), and the
narrative templates of each language, and the docs' getting-started pages in
French and Dutch (their prose: code, link addresses and picture paths left out).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
CATALOGUE = ROOT / "kpi_engine" / "catalogue"
GLOSSARY = tomllib.loads((TEMPLATES / "glossary.toml").read_text(encoding="utf-8"))
TRANSLATED = ("fr", "nl")


def _walk(node: Any, language: str | None, where: str) -> Iterator[tuple[str, str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(
                value, key if key in ("en", *TRANSLATED) else language, f"{where}/{key}"
            )
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, language, f"{where}/{index}")
    elif isinstance(node, str) and language in TRANSLATED:
        yield language, where, node


def visible_strings() -> list[tuple[str, str, str]]:
    """(language, where, text) of every French and Dutch string."""
    found: list[tuple[str, str, str]] = []
    for folder in (TEMPLATES, CATALOGUE):
        for path in sorted(folder.rglob("*.toml")):
            if path.name == "glossary.toml":
                continue
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            found += _walk(data, None, str(path.relative_to(ROOT)))
    for language in TRANSLATED:
        path = TEMPLATES / "report" / f"narrative.{language}.j2"
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text(encoding="utf-8"), flags=re.S)
        found.append((language, str(path.relative_to(ROOT)), text))
        page = ROOT / "docs" / language / "index.md"
        prose = re.sub(
            r"```.*?```|`[^`]*`|\]\([^)]*\)|<!--.*?-->", " ", page.read_text("utf-8"), flags=re.S
        )
        found.append((language, str(page.relative_to(ROOT)), prose))
    return found


STRINGS = visible_strings()


def _without_allowed(text: str, language: str) -> str:
    for concept in GLOSSARY.values():
        for phrase in concept.get("allowed", {}).get(language, []):
            text = text.replace(phrase, " ")
    # Placeholders, Excel names and column ids are not words of the language.
    text = re.sub(r"\{[a-z_]+\}", " ", text)
    return re.sub(r"\b[A-Za-z]+(?:_[A-Za-z]+)+\b|\b[A-Z][a-z]+\[[a-z_]+\]", " ", text)


def test_the_glossary_gives_every_concept_in_every_language() -> None:
    assert len(GLOSSARY) >= 10
    for name, concept in GLOSSARY.items():
        for language in ("en", *TRANSLATED):
            assert concept.get(language), (name, language)


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_string_uses_a_forbidden_synonym(language: str) -> None:
    problems = []
    for concept_name, concept in GLOSSARY.items():
        for pattern in concept.get("forbidden", {}).get(language, []):
            regex = re.compile(rf"(?<![\w-]){pattern}(?![\w-])", re.IGNORECASE)
            for lang, where, text in STRINGS:
                if lang == language and regex.search(_without_allowed(text, language)):
                    problems.append(f"{where}: {pattern!r} ({concept_name}: {concept[language]!r})")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_each_term_is_used(language: str) -> None:
    """The glossary's terms are the ones the strings use (not a list beside them)."""
    everything = " ".join(text.casefold() for lang, _, text in STRINGS if lang == language)
    for name, concept in GLOSSARY.items():
        for term in concept[language].split(" / "):
            assert term.casefold() in everything, (name, term)


#: French typography: a no-break space (U+00A0, or the narrow U+202F) before
#: : ; ! ? % and », and after «; quotation marks are « ».
FRENCH_SPACE_BEFORE = re.compile(r"(?<=\S)( ?)([:;!?%»])(?=\s|$|[.,)])")


def test_french_strings_follow_french_typography() -> None:
    problems = []
    for language, where, text in STRINGS:
        if language != "fr":
            continue
        # Addresses, formulas and Excel's error values (#NOM?) are not prose.
        plain = re.sub(r"https?://\S+|=[A-Z_]+\([^)]*\)|#[A-Z/0]+[?!]", " ", text)
        for match in FRENCH_SPACE_BEFORE.finditer(plain):
            if match.group(2) == "%" and match.start(2) > 0 and plain[match.start(2) - 1] in "(-":
                continue
            problems.append(f"{where}: no no-break space before {match.group(2)!r}: {text[:80]!r}")
        if re.search(r"«(?![\u00a0\u202f])|(?<![\u00a0\u202f])»", text):
            problems.append(f"{where}: « » without their no-break spaces: {text[:80]!r}")
        if re.search(r"[“”]|\"", text) or re.search(r"(?<![\w])'[^']+'(?!\w)", text):
            problems.append(f"{where}: quotation marks other than « »: {text[:80]!r}")
    assert problems == [], "\n".join(problems)


def test_the_checks_find_what_they_look_for() -> None:
    """The checks can fail: a forbidden word and a bad French colon are found."""
    regex = re.compile(r"(?<![\w-])fourchettes? de référence(?![\w-])", re.IGNORECASE)
    assert regex.search("les Fourchettes de référence du mois")
    assert FRENCH_SPACE_BEFORE.search("Objectif atteint : oui")
    assert not FRENCH_SPACE_BEFORE.search("Objectif atteint\u00a0: oui")
