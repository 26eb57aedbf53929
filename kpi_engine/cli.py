"""The engine's commands of ``kpi`` (list, types, calc): the catalogue and
the KPI functions from a terminal.

A thin layer over the library: every command reads the catalogue or calls a
KPI function and formats the answer. Exit status 2 means bad input (the
message says what and where), 3 a KPI that is undefined for the data. The
``kpi`` group itself (``addin.cli``) loads these commands when they run.

``LANGUAGE`` and ``BUSINESS_TYPE`` are the option types every command uses
for ``--lang`` and ``--type``: click choices of the catalogue's values that
refuse a wrong one in the catalogue's words.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import click

from . import _catalogue as catalogue
from ._errors import KPIInputError, KPIUndefinedError
from ._labels import labels
from .display import format_bands

EXIT_BAD_INPUT = 2
EXIT_UNDEFINED = 3


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class CatalogueChoice(click.Choice[str]):
    """A choice among the catalogue's values (languages, business types):
    the help and the shell's completion list them; a wrong one is refused
    with the catalogue's message, which names the command, the option, the
    value and what was expected (exit status 2)."""

    def __init__(
        self, check: Callable[[Any, str, str], Any], choices: list[str], where: str = ""
    ) -> None:
        super().__init__(choices)
        self.check = check
        self.where = where

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        where = self.where or (f"kpi {ctx.info_name}" if ctx is not None else "kpi")
        option = param.opts[0] if param is not None and param.opts else "value"
        try:
            checked = self.check(value, where, option)
        except KPIInputError as error:
            click.echo(f"error: {error}", err=True)
            raise click.exceptions.Exit(EXIT_BAD_INPUT) from None
        return str(getattr(checked, "id", checked))


#: ``--lang``: en, fr or nl (any letter case).
LANGUAGE = CatalogueChoice(catalogue.check_language, list(catalogue.LANGUAGES))
#: ``--type``: a business type of the catalogue.
BUSINESS_TYPE = CatalogueChoice(catalogue.get_business_type, list(catalogue.BUSINESS_TYPES))


#: The width of the terminal the tables are made for.
TABLE_COLUMNS = 100


def _table(rows: list[list[str]], fit: int | None = None) -> str:
    """Rows as aligned columns under a ruled header; with ``fit``, the last
    column wraps so that no line is wider than ``fit`` characters."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if fit is not None:
        room = fit - sum(widths[:-1]) - 2 * (len(widths) - 1)
        widths[-1] = max(12, min(widths[-1], room))
    lines = []
    for index, row in enumerate(rows):
        *first, last = row
        wrapped = textwrap.wrap(last, widths[-1]) or [""] if fit is not None else [last]
        for number, part in enumerate(wrapped):
            cells = first if number == 0 else ["" for _ in first]
            lines.append(
                "  ".join(
                    cell.ljust(width) for cell, width in zip([*cells, part], widths, strict=True)
                ).rstrip()
            )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_value(value: float) -> str:
    """The shortest text that reads back as the same float; 3.0 prints as 3."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@click.command("list")
@click.option(
    "--type",
    "type_id",
    type=BUSINESS_TYPE,
    help="Only the KPIs of this business type, with its titles and benchmark bands.",
)
@click.option("--lang", type=LANGUAGE, default="en", show_default=True, help="Language of titles.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(type_id: str | None, lang: str, as_json: bool) -> None:
    """List the KPIs of the catalogue, or those of one business type."""
    if type_id is None:
        kpis = list(catalogue.KPIS.values())
        if as_json:
            click.echo(
                json.dumps([_kpi_json(kpi, lang) for kpi in kpis], ensure_ascii=False, indent=2)
            )
            return
        words = labels(lang)
        head = words["headings"]
        rows = [[head["id"], head["kind"], head["unit"], head["direction"], head["title"]]]
        rows += [
            [k.id, k.kind, words["units"][k.unit], words["directions"][k.direction], k.title[lang]]
            for k in kpis
        ]
        click.echo(_table(rows))
        return
    profile = catalogue.get_business_type(type_id)
    if as_json:
        entries = [
            {
                **_kpi_json(entry.kpi, lang),
                "title": entry.title[lang],
                "unit": entry.unit,
                "bands": {name: band.figures() for name, band in entry.bands.items()},
                "bands_text": format_bands(entry, lang, profile.currency),
                "bands_source": entry.source,
                "bands_external": entry.external(profile.source),
                "note": entry.note,
                "measured_by": entry.form,
                "months": entry.months,
                "stage": entry.stage or None,
            }
            for entry in profile.kpis
        ]
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))
        return
    words = labels(lang)
    head = words["headings"]
    source = catalogue.SOURCES[profile.source].cited(lang)
    click.echo(f"{profile.title[lang]} ({profile.id}), {head['source']}: {source}\n")
    rows = [
        [
            head["id"],
            head["title"],
            head["unit"],
            head["direction"],
            head["typical"],
            head["above_average"],
            head["exceptional"],
        ]
    ]
    for entry in profile.kpis:
        bands = format_bands(entry, lang, profile.currency)
        rows.append(
            [
                entry.id,
                entry.title[lang],
                words["units"][entry.unit],
                words["directions"][entry.direction],
                bands.get("typical", "-"),
                bands.get("above_average", "-"),
                bands.get("exceptional", "-"),
            ]
        )
    click.echo(_table(rows))


def _kpi_json(kpi: catalogue.KPI, lang: str) -> dict[str, Any]:
    return {
        "id": kpi.id,
        "kind": kpi.kind,
        "measures": kpi.measures,
        "formula": kpi.formula,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "title": kpi.title[lang],
        "definition": kpi.definition[lang],
        "arguments": [arg.name for arg in kpi.arguments],
        "sources": list(kpi.sources),
    }


@click.command("types")
@click.option("--lang", type=LANGUAGE, default="en", show_default=True, help="Language of titles.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def types_command(lang: str, as_json: bool) -> None:
    """List the business types and the KPIs each one tracks."""
    types = list(catalogue.BUSINESS_TYPES.values())
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": t.id,
                        "title": t.title[lang],
                        "description": t.description[lang],
                        "source": t.source,
                        "source_title": catalogue.SOURCES[t.source].cited(lang),
                        "currency": t.currency,
                        "kpis": [entry.id for entry in t.kpis],
                    }
                    for t in types
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    # The KPIs themselves: kpi list --type ID, or --json.
    head = labels(lang)["headings"]
    rows = [[head["id"], head["title"], head["kpis"], head["source"]]]
    rows += [
        [t.id, t.title[lang], str(len(t.kpis)), catalogue.SOURCES[t.source].cited(lang)]
        for t in types
    ]
    click.echo(_table(rows, fit=TABLE_COLUMNS))


def _parse_number(text: str) -> Any:
    """A number typed on the command line; anything else goes to the KPI as
    text, so that its own message says what it expected."""
    try:
        return float(text)
    except ValueError:
        return text


@click.command("calc", context_settings={"ignore_unknown_options": True})
@click.argument("kpi_id")
@click.argument("args", nargs=-1)
def calc_command(kpi_id: str, args: tuple[str, ...]) -> None:
    """Print the value of an aggregate KPI: kpi calc churn_rate 50 1000.

    ARGS are the KPI's inputs in order (see kpi list --json). Rates print as
    fractions (0.05 is 5 %). Exit status 2: bad input; 3: undefined KPI.
    """
    try:
        kpi = catalogue.get_kpi(kpi_id, "kpi calc", "KPI_ID")
    except KPIInputError as error:
        _fail(str(error))
        return
    if kpi.kind != "aggregate":
        _fail(
            f"kpi calc: {kpi.id} works on ranges of records; call it from Excel or Python. "
            "kpi calc takes aggregate KPIs such as churn_rate"
        )
        return
    required = [arg for arg in kpi.arguments if not arg.optional]
    if not len(required) <= len(args) <= len(kpi.arguments):
        names = " ".join(arg.name for arg in kpi.arguments)
        _fail(f"kpi calc: {kpi.id} takes {len(kpi.arguments)} inputs ({names}), got {len(args)}")
        return
    try:
        value = kpi(*[_parse_number(arg) for arg in args])
    except KPIInputError as error:
        _fail(str(error))
        return
    except KPIUndefinedError as error:
        _fail(str(error), EXIT_UNDEFINED)
        return
    click.echo(format_value(value))
