"""Interface words in every language, read from ``templates/labels.toml``.

``templates/`` sits at the top of the source tree and travels inside the
``kpi_engine`` package in a wheel (see pyproject.toml), so it is looked up in
both places.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from ._catalogue import LANGUAGES, RATINGS, UNITS, CatalogueError


def templates_dir() -> Traversable:
    """The project's templates folder, installed or in the source tree."""
    installed = resources.files("kpi_engine").joinpath("templates")
    if installed.is_dir():
        return installed
    source = Path(__file__).resolve().parent.parent / "templates"
    if source.is_dir():
        return source
    raise FileNotFoundError("the templates folder is missing from this installation")


@cache
def labels(language: str) -> Mapping[str, Mapping[str, str]]:
    """The interface words of one language: ratings, directions, units, headings."""
    with templates_dir().joinpath("labels.toml").open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    missing_languages = set(LANGUAGES) - set(data)
    if missing_languages:
        raise CatalogueError(f"labels.toml lacks languages {sorted(missing_languages)}")
    words = data[language]
    for section, required in (
        ("ratings", RATINGS),
        ("directions", ("higher", "lower")),
        ("units", tuple(UNITS)),
    ):
        absent = set(required) - set(words.get(section, {}))
        if absent:
            raise CatalogueError(f"labels.toml [{language}].{section} lacks {sorted(absent)}")
    return words  # type: ignore[no-any-return]
