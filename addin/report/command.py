"""``kpi report`` and ``kpi refresh``: the report of a workbook file, without Excel."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from addin import progress
from addin.write_failures import exit_on_write_failure
from kpi_engine.cli import BUSINESS_TYPE, LANGUAGE

if TYPE_CHECKING:
    from addin.report.model import Report


def _period(value: str | None) -> dt.date | None:
    if value is None:
        return None
    from addin.ooxml.package import ReportError, period_from  # noqa: PLC0415

    try:
        return period_from(value, "--period")
    except ReportError as error:
        raise click.BadParameter(str(error)) from None


#: Terminal colours of the bands and of a target met or missed.
_BAND_COLOURS = {
    "exceptional": {"fg": "green", "bold": True},
    "above_average": {"fg": "green"},
    "typical": {"fg": "yellow"},
    "below_typical": {"fg": "red"},
    "unrated": {"dim": True},
}
_TARGET_COLOURS = {
    "met": {"fg": "green"},
    "missed": {"fg": "red"},
    "no_target": {"dim": True},
    "no_value": {"dim": True},
}


def _table(rows: list[list[tuple[str, dict[str, object]]]], right: set[int]) -> list[str]:
    """Rows of (text, click.style options) as aligned lines; ``right``: the
    columns aligned to the right (numbers). Colour never changes the widths."""
    widths = [max(len(row[i][0]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = []
        for index, ((text, colour), column_width) in enumerate(zip(row, widths, strict=True)):
            # Nothing follows the last column: no trailing spaces.
            last = index == len(widths) - 1 and index not in right
            width = 0 if last else column_width
            padded = text.rjust(width) if index in right else text.ljust(width)
            cells.append(click.style(padded, **colour) if colour else padded)  # type: ignore[arg-type]
        lines.append("  ".join(cells).rstrip())
    return lines


def print_report(report: Report) -> None:
    """The report as a table in its language, in colour on a terminal
    (``click.echo`` drops the colours when the output is not one)."""
    from addin.recipes.notes import message, notes_words  # noqa: PLC0415
    from addin.report.model import words  # noqa: PLC0415
    from kpi_engine import display  # noqa: PLC0415
    from kpi_engine.texts import labels  # noqa: PLC0415

    said = words(report.language)
    heads = said["headings"]
    ratings = labels(report.language)["ratings"]
    click.echo(
        click.style(said["title"].format(type=report.business_title), bold=True)
        + f", {display.format_month(report.period, report.language)}"
    )
    keys = ("kpi", "value", "previous", "change", "target", "band", "target_met")
    rows: list[list[tuple[str, dict[str, object]]]] = [
        [(heads[key], {"bold": True}) for key in keys]
    ]
    for kpi in report.kpis:
        better = kpi.change_is_better
        change = report.difference_text(kpi, kpi.change)
        rows.append(
            [
                (kpi.title, {}),
                (report.text(kpi, kpi.value) or "-", {}),
                (report.text(kpi, kpi.previous) or "-", {}),
                (
                    "-" if change is None else change,
                    {} if better is None else {"fg": "green" if better else "red"},
                ),
                (report.target_text(kpi) or "-", {}),
                (
                    "-" if kpi.band is None else ratings[kpi.band],
                    {} if kpi.band is None else _BAND_COLOURS[kpi.band],
                ),
                (
                    labels(report.language)["target_met"][kpi.target_status],
                    _TARGET_COLOURS[kpi.target_status],
                ),
            ]
        )
    for line in _table(rows, right={1, 2, 3, 4}):
        click.echo(line)
    undefined = [kpi for kpi in report.kpis if kpi.value is None]
    if undefined:
        click.echo()
    for kpi in undefined:
        click.echo(f"{kpi.title}: {said['no_value']} ({kpi.reason_text})")
    notes = notes_words(report.language)
    click.echo()
    click.echo(f"{notes['title']}:" if report.notes else notes["none"])
    for note in report.notes:
        click.echo(f"- {message(note, report.language)}")


_SOURCE_HELP = (
    "Compute the KPIs from the tables of SOURCE instead of the workbook's: a folder of "
    "CSV or Parquet files named like the tables (Orders.csv...), a .duckdb file (both "
    "through DuckDB, embedded), pyspark:///FOLDER (Spark), or a database URL such as "
    "postgres://user@host/db. See https://kpi-addin.github.io/kpi-addin/sources/."
)


@click.command("report")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option("--period", metavar="YYYY-MM", help="Month to report on (default: the PERIOD cell).")
@click.option("--source", metavar="SOURCE", help=_SOURCE_HELP)
@click.option(
    "--type",
    "business_type",
    type=BUSINESS_TYPE,
    help="With --source and no FILE: the business type.",
)
@click.option(
    "--lang",
    "language",
    type=LANGUAGE,
    default="en",
    show_default=True,
    help="With --source and no FILE: the language of the report.",
)
# The name of earlier versions, kept so that scripts written for them still run.
@click.option("--language", "language_alias", type=LANGUAGE, hidden=True)
@click.option(
    "--gross-margin",
    type=float,
    metavar="SHARE",
    help="With --source and no FILE: the gross margin (0.6 for 60 %) of the types that need it.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="A JSON object: business type, language, currency, period, each KPI by id "
    "(value, previous, change, target, gap, band, target_met, margin, data notes), "
    "and all the data notes.",
)
@click.option(
    "--html",
    "html_path",
    metavar="PATH",
    type=click.Path(path_type=Path),
    help="Write the report as one HTML page (.html or .htm) instead of printing the "
    "table: the KPI table, a chart per KPI, the narrative and the data notes. It "
    "loads nothing from the network, reads on a phone and prints on A4.",
)
@click.option("--force", is_flag=True, help="With --html: write into an existing FIFO or device.")
def report_command(
    file: Path | None,
    period: str | None,
    source: str | None,
    business_type: str | None,
    language: str,
    language_alias: str | None,
    gross_margin: float | None,
    as_json: bool,
    html_path: Path | None,
    force: bool,
) -> None:
    """Print what a refresh of FILE would write: per KPI its value, the month
    before, the change, the target, the benchmark band and whether the target
    is met, in the workbook's language; then the data notes (the rows the
    KPIs leave out, and why). Writes nothing to FILE; --html writes the page.

    With --source, the KPIs come from the tables of SOURCE; FILE then gives
    only the business type, language, period, targets and settings, and may
    be left out for --type (and --period, default: the latest month with data)."""
    from addin.report.offline import SourceSettings, make_report, report_from_source  # noqa: PLC0415

    language = language_alias or language
    from addin.ooxml.package import ReportError  # noqa: PLC0415

    if file is None and source is None:
        raise click.UsageError("give a workbook FILE, or --source SOURCE --type TYPE")
    if file is None and business_type is None:
        raise click.UsageError("--source without a workbook FILE needs --type TYPE")
    try:
        if html_path is not None:
            from addin.report.html import check_target  # noqa: PLC0415

            check_target(html_path, file or Path(html_path.name + ".source"), force=force)
        with progress.shown():
            if file is None:
                assert source is not None
                assert business_type is not None
                settings = SourceSettings(business_type, language, _period(period), gross_margin)
                report = report_from_source(source, settings)
            else:
                report = make_report(file, _period(period), source=source)
    except ReportError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    if html_path is not None:
        from addin.report.html import write_page  # noqa: PLC0415

        with exit_on_write_failure(html_path, "--html: "):
            write_page(report, html_path, into_special=force)
    if as_json:
        click.echo(json.dumps(report.summary(), indent=2, ensure_ascii=False))
        return
    if html_path is not None:
        # The page is the output asked for; the table would only repeat it.
        click.echo(f"{html_path}: {report.period:%Y-%m}, {len(report.kpis)} KPIs")
        return
    print_report(report)


@click.command("refresh")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the refreshed workbook here (default: FILE itself).",
)
@click.option("--period", metavar="YYYY-MM", help="Month to report on (default: the PERIOD cell).")
@click.option(
    "--force",
    is_flag=True,
    help="Write even if Excel's lock file (~$FILE) is present; write into an existing "
    "FIFO or device given as -o.",
)
@click.option("--source", metavar="SOURCE", help=_SOURCE_HELP)
def refresh_command(
    file: Path, output: Path | None, period: str | None, force: bool, source: str | None
) -> None:
    """Write the report sheet into FILE (or -o OUT); every other part stays as it was.
    With --source, the report is computed from the tables of SOURCE."""
    from addin.ooxml.package import ReportError  # noqa: PLC0415
    from addin.report.offline import refresh_file  # noqa: PLC0415

    try:
        with exit_on_write_failure(output or file), progress.shown():
            report = refresh_file(file, output, _period(period), force=force, source=source)
    except ReportError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    target = output or file
    click.echo(
        f"{target}: sheet {report.sheet_name!r}, {report.period:%Y-%m}, {len(report.kpis)} KPIs"
    )
