"""Presets: the column names of well-known exports, mapped to a table's columns.

A preset is a TOML file in ``templates/imports/``: the table it loads, the
export's columns by the table column they go to, and the public documentation
those column names come from (``source``). Only exports whose column names are
publicly documented have a preset.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any

from kpi_engine.texts import templates_dir

from .source import ImportInputError


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    table: str
    #: Where the export's column names are documented.
    source: str
    columns: dict[str, str]
    #: Whether the export's other columns are left out (else they are refused).
    ignore_others: bool


@cache
def presets() -> dict[str, Preset]:
    """Every preset, by its id (the file name without .toml)."""
    folder = templates_dir().joinpath("imports")
    found: dict[str, Preset] = {}
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if not item.name.endswith(".toml"):
            continue
        data: dict[str, Any] = tomllib.loads(item.read_text(encoding="utf-8"))
        preset_id = item.name[: -len(".toml")]
        for key in ("title", "table", "source", "columns"):
            if key not in data:
                raise ValueError(f"preset {item.name}: {key} is missing")
        if not str(data["source"]).startswith("https://"):
            raise ValueError(
                f"preset {item.name}: source must be the https URL of its documentation"
            )
        found[preset_id] = Preset(
            preset_id,
            str(data["title"]),
            str(data["table"]),
            str(data["source"]),
            {str(k): str(v) for k, v in data["columns"].items()},
            bool(data.get("ignore_others", False)),
        )
    return found


def load(name: str) -> Preset:
    known = presets()
    if name not in known:
        raise ImportInputError(
            f"--preset {name!r} is not a preset; expected one of {', '.join(known) or 'none'}"
        )
    return known[name]
