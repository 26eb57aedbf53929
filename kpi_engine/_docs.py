"""Render the docs site's catalogue page from the live catalogue.

``python -m kpi_engine._docs --write`` rewrites the part of docs/catalogue.md
between ``<!-- catalogue:start -->`` and ``<!-- catalogue:end -->``; a test
fails when the page and the catalogue disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ._catalogue import BUSINESS_TYPES, KPIS, SOURCES
from .display import external_benchmarks, format_bands

CATALOGUE_PAGE = Path(__file__).resolve().parent.parent / "docs" / "catalogue.md"
_MARKERS = re.compile(r"(<!-- catalogue:start -->\n)(.*?)(<!-- catalogue:end -->)", re.S)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_catalogue_section() -> str:
    lines = [
        "## Functions",
        "",
        "| function | arguments | unit | better | what it returns |",
        "|---|---|---|---|---|",
    ]
    for kpi in KPIS.values():
        args = ", ".join(
            f"{arg.name}={arg.default!r}" if arg.optional else arg.name for arg in kpi.arguments
        )
        lines.append(
            f"| `{kpi.id}` | {args} | {kpi.unit} | {kpi.direction} | {_cell(kpi.summary)} |"
        )
    for business_type in BUSINESS_TYPES.values():
        lines += [
            "",
            f"## {business_type.title['en']} (`{business_type.id}`)",
            "",
            f"Source: {SOURCES[business_type.source].cited('en')}, `{business_type.source}`.",
            "",
            "| KPI | title | unit | typical | above average | exceptional |",
            "|---|---|---|---|---|---|",
        ]
        for entry in business_type.kpis:
            bands = format_bands(entry, "en", business_type.currency)
            lines.append(
                f"| `{entry.id}` | {_cell(entry.title['en'])} | {entry.unit} | "
                f"{bands.get('typical', '-')} | {bands.get('above_average', '-')} | "
                f"{bands.get('exceptional', '-')} |"
            )
        notes = [f"`{e.id}`: {e.note}" for e in business_type.kpis if e.note]
        if notes:
            lines += ["", "Notes: " + " ".join(notes)]
        external = external_benchmarks(business_type, "en")
        if external:
            lines += ["", *(f"- {line}" for line in external)]
        if business_type.unrated:
            lines += ["", business_type.unrated["en"]]
    return "\n".join(lines) + "\n"


def write_catalogue_page() -> None:
    page = CATALOGUE_PAGE.read_text(encoding="utf-8")
    if not _MARKERS.search(page):
        raise SystemExit(
            "docs/catalogue.md lacks <!-- catalogue:start --> and <!-- catalogue:end -->"
        )
    updated = _MARKERS.sub(lambda m: m.group(1) + render_catalogue_section() + m.group(3), page)
    CATALOGUE_PAGE.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_catalogue_page()
    else:
        sys.stdout.write(render_catalogue_section())
