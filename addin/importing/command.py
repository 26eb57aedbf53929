"""``kpi import``: a CSV or .xlsx export into a table of a workbook."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from addin.write_failures import exit_on_write_failure


@click.command("import")
@click.argument("workbook", type=click.Path(path_type=Path))
@click.argument("export", type=click.Path(path_type=Path), metavar="FILE")
@click.option(
    "--table", help="The table to load: Orders, Customers, Survey... (see the Read me sheet)."
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="THEIRS=OURS",
    help="Load the export's column THEIRS into the table's column OURS; THEIRS= leaves it out. "
    "Repeat for each column.",
)
@click.option("--replace", "mode", flag_value="replace", help="Replace the table's rows.")
@click.option("--append", "mode", flag_value="append", help="Add the rows after the table's rows.")
@click.option("--sheet", help="The sheet of an .xlsx export (default: its first sheet).")
@click.option("--preset", help="The column names of a known export (stripe_payments).")
@click.option(
    "--delimiter",
    type=click.Choice([",", ";", "tab"]),
    help="The CSV delimiter (default: found from the header row).",
)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "utf-8-sig", "cp1252"]),
    help="The CSV encoding (default: UTF-8, else Windows-1252).",
)
@click.option(
    "--decimal",
    type=click.Choice(["auto", "point", "comma"]),
    default="auto",
    show_default=True,
    help="The decimal separator of a CSV file's numbers; auto: comma for a ;-separated file "
    "into a French or Dutch workbook, else point.",
)
@click.option(
    "--date-format",
    metavar="FORMAT",
    help="Dates that are not ISO 8601, as a strptime format, e.g. %d/%m/%Y.",
)
@click.option("--dry-run", is_flag=True, help="Check and report, write nothing.")
@click.option(
    "--force", is_flag=True, help="Write even if Excel's lock file is next to the workbook."
)
def import_command(
    workbook: Path,
    export: Path,
    table: str | None,
    mapping: tuple[str, ...],
    mode: str | None,
    sheet: str | None,
    preset: str | None,
    delimiter: str | None,
    encoding: str | None,
    decimal: str,
    date_format: str | None,
    dry_run: bool,
    force: bool,
) -> None:
    """Load a CSV or .xlsx export (FILE) into a table of WORKBOOK, in place.

    The export's columns go to the table's columns of the same name (spaces
    and case aside), or as --map says. Every value is checked by the rule of
    its column, as the KPIs read it: ISO dates (2024-03-31, 2024-03-31
    14:05) or --date-format, plain numbers, one of the listed choices. Every
    row is written into the table, which grows or shrinks to hold them, as
    pasting it would: a cell its rule does not read keeps the text it had (an
    Excel error's text, such as #N/A, becomes that error), and the KPIs leave
    it out as they leave out a typed one. Each such cell is named with its
    row and the reason. Nothing else in the workbook changes. A table that
    holds rows needs --replace or --append.
    """
    from addin.ooxml.package import ReportError  # noqa: PLC0415

    from .workbook import import_file, parse_map  # noqa: PLC0415

    try:
        with exit_on_write_failure(workbook, "kpi import: "):
            result = import_file(
                workbook,
                export,
                table,
                mapping=parse_map(mapping),
                mode=mode,
                sheet=sheet,
                delimiter="\t" if delimiter == "tab" else delimiter,
                encoding=encoding,
                decimal=decimal,
                date_format=date_format,
                preset=preset,
                dry_run=dry_run,
                force=force,
            )
    except ReportError as error:
        click.echo(f"error: kpi import: {error}", err=True)
        sys.exit(2)
    for line in result.lines:
        click.echo(line)
    if result.more_lines:
        from addin.recipes.notes import notes_words  # noqa: PLC0415

        click.echo(notes_words(result.language)["import"]["more"].format(count=result.more_lines))
    for note in result.notes:
        click.echo(f"- {note}")
    for line in result.column_lines():
        click.echo(line)
    click.echo(result.summary() + (" (dry run: nothing written)" if dry_run else ""))
    if result.report_sheet and not dry_run:
        # The formulas recalculate; the report sheet holds values, written by refresh.
        click.echo(
            f"the sheet {result.report_sheet!r} shows the report before the import: "
            f"kpi refresh {workbook} brings it up to date"
        )
