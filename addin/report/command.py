"""``kpi report`` and ``kpi refresh``: the report of a workbook file, without Excel."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click


def _period(value: str | None) -> dt.date | None:
    if value is None:
        return None
    from addin.report.package import ReportError, period_from  # noqa: PLC0415

    try:
        return period_from(value, "--period")
    except ReportError as error:
        raise click.BadParameter(str(error)) from None


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


@click.command("report")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--period", metavar="YYYY-MM", help="Month to report on (default: the PERIOD cell).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="A JSON object: business type, language, period, the KPIs by id, the data notes.",
)
def report_command(file: Path, period: str | None, as_json: bool) -> None:
    """Print what a refresh of FILE would write, per KPI, and the data notes:
    the rows the KPIs leave out and why. Writes nothing."""
    from addin.recipes.notes import message, notes_words  # noqa: PLC0415
    from addin.report.offline import make_report  # noqa: PLC0415
    from addin.report.package import ReportError  # noqa: PLC0415

    try:
        report = make_report(file, _period(period))
    except ReportError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.summary(), indent=2, ensure_ascii=False))
        return
    click.echo(f"{report.business_type}, {report.period:%Y-%m} ({report.language})")
    click.echo(f"{'kpi':<28} {'value':>12} {'previous':>12}  {'band':<14} status")
    for kpi in report.kpis:
        click.echo(
            f"{kpi.id:<28} {_shown(kpi.value):>12} {_shown(kpi.previous):>12}  "
            f"{kpi.band or '-':<14} {kpi.status}" + (f"  ({kpi.reason})" if kpi.reason else "")
        )
    words = notes_words(report.language)
    click.echo()
    click.echo(f"{words['title']}:" if report.notes else words["none"])
    for note in report.notes:
        click.echo(f"- {message(note, report.language)}")


@click.command("refresh")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Write the refreshed workbook here (default: FILE itself).",
)
@click.option("--period", metavar="YYYY-MM", help="Month to report on (default: the PERIOD cell).")
@click.option("--force", is_flag=True, help="Write even if Excel's lock file (~$FILE) is present.")
def refresh_command(file: Path, output: Path | None, period: str | None, force: bool) -> None:
    """Write the report sheet into FILE (or -o OUT); every other part stays as it was."""
    from addin.ooxml.atomic import WriteInterrupted  # noqa: PLC0415
    from addin.report.offline import refresh_file  # noqa: PLC0415
    from addin.report.package import ReportError  # noqa: PLC0415

    try:
        report = refresh_file(file, output, _period(period), force=force)
    except ReportError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except WriteInterrupted as stop:
        # SIGINT or SIGTERM during the write: one line, and the signal's exit status.
        click.echo(f"error: {stop}", err=True)
        sys.exit(stop.code)
    except OSError as error:
        click.echo(f"error: cannot write {output or file}: {error}", err=True)
        sys.exit(1)
    target = output or file
    click.echo(
        f"{target}: sheet {report.sheet_name!r}, {report.period:%Y-%m}, {len(report.kpis)} KPIs"
    )
