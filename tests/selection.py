"""Which parametrised cases of a test module this run selected (``-k``), so
that a module-scoped fixture prepares only those (LibreOffice conversions,
hostile files run up front)."""

from __future__ import annotations

from typing import Any

import pytest


def selected_params(request: pytest.FixtureRequest, *names: str) -> list[tuple[Any, ...]]:
    """The values of ``names`` in each selected case of the requesting
    module that uses the requesting fixture, in collection order, each once.

    A case that does not ask for the fixture (directly or through another
    fixture) needs nothing from it, whatever its parameters."""
    found: dict[tuple[Any, ...], None] = {}
    for item in request.session.items:
        # Doctest items (a whole run collects the docs' examples) have no module.
        if getattr(item, "module", None) is not request.module:
            continue
        if request.fixturename not in getattr(item, "fixturenames", ()):
            continue
        params = getattr(item, "callspec", None)
        if params is not None and all(name in params.params for name in names):
            found[tuple(params.params[name] for name in names)] = None
    return list(found)
