"""``kpi new``: write starter workbooks."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

import kpi_engine
from kpi_engine.cli import LANGUAGE


def _as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value[:40]!r} is not a date; expected YYYY-MM-DD") from None


def _check_target(target: Path) -> None:
    """A workbook can be written at ``target``: it is not a folder, and its folder is not a file."""
    from addin.ooxml.atomic import ReadOnlyTargetError, refuse_read_only  # noqa: PLC0415

    from .build import StarterError  # noqa: PLC0415

    if target.is_dir():
        raise StarterError(
            f"kpi new: -o {target} is a folder; expected the path of the workbook "
            f"to write, such as {target / 'shop.xlsx'}"
        )
    if target.parent.exists() and not target.parent.is_dir():
        raise StarterError(f"kpi new: {target.parent} is a file, so {target} cannot be written")
    try:
        refuse_read_only(target)
    except ReadOnlyTargetError as error:
        raise StarterError(f"kpi new: {error}") from None


@click.command("new")
@click.argument("business_type", required=False, metavar="TYPE")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File to write (.xlsx); with --all, a folder.",
)
@click.option(
    "--lang", type=LANGUAGE, default="en", show_default=True, help="Language of the workbook."
)
@click.option(
    "--rows",
    type=int,
    help="Rows of sample data in the main table, at most 500,000 "
    "(default: about two years of activity).",
)
@click.option("--empty", is_flag=True, help="Tables with one blank row instead of sample data.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample data.")
@click.option(
    "--as-of",
    "as_of",
    metavar="YYYY-MM-DD",
    help="Date the sample data runs up to (default: today).",
)
@click.option(
    "--currency",
    type=click.Choice(["EUR", "USD", "GBP"], case_sensitive=False),
    help="Currency of money cells (default: the business type's).",
)
@click.option(
    "--all",
    "all_types",
    is_flag=True,
    help="Every business type in every language, into the -o folder.",
)
@click.option("--force", is_flag=True, help="Replace files that already exist.")
def new_command(
    business_type: str | None,
    output: Path | None,
    lang: str,
    rows: int | None,
    empty: bool,
    seed: int,
    as_of: str | None,
    currency: str | None,
    all_types: bool,
    force: bool,
) -> None:
    """Write a starter workbook for a business type (see kpi types).

    Same arguments, same content: the sample data depends only on TYPE,
    --seed, --rows and --as-of. Nothing is written when a check fails.
    """
    # openpyxl loads only when a workbook is written, so `kpi --help` stays quick.
    from addin import progress  # noqa: PLC0415
    from addin.ooxml.atomic import WriteInterrupted  # noqa: PLC0415

    from .build import StarterError, StarterOptions, new_workbook  # noqa: PLC0415

    as_of_date = _as_of(as_of)
    try:
        if all_types:
            if business_type is not None:
                raise StarterError("kpi new: give either TYPE or --all, not both")
            if output is None:
                raise StarterError("kpi new: --all needs -o FOLDER")
            if output.exists() and not output.is_dir():
                raise StarterError(
                    f"kpi new: -o {output} is a file; --all writes one workbook per type and "
                    "language, so -o must name a folder"
                )
            jobs = [
                (
                    StarterOptions(t, language, rows, empty, seed, as_of_date, currency),
                    output / f"{t}_{language}.xlsx",
                )
                for t in kpi_engine.BUSINESS_TYPES
                for language in kpi_engine.LANGUAGES
            ]
        else:
            if business_type is None:
                raise StarterError(
                    "kpi new: TYPE is missing; expected one of "
                    + ", ".join(kpi_engine.BUSINESS_TYPES)
                )
            options = StarterOptions(
                business_type, lang, rows, empty, seed, as_of_date, currency
            ).checked()
            jobs = [(options, output or Path(f"{options.business_type}_{options.language}.xlsx"))]
        # Check every job before writing anything.
        checked = [(options.checked(), target) for options, target in jobs]
        for _, target in checked:
            _check_target(target)
        existing = [str(target) for _, target in checked if target.exists()]
        if existing and not force:
            raise StarterError(
                f"kpi new: {', '.join(existing)} already exists; pass --force to replace it"
            )
        with progress.shown():
            for number, (options, target) in enumerate(checked, start=1):
                counted = f"[{number}/{len(checked)}] " if len(checked) > 1 else ""
                with progress.part(f"{counted}{target.name}: "):
                    new_workbook(options, target, force=force)
                progress.erase()  # the path below goes on a clean line
                click.echo(str(target.resolve()))
    except (StarterError, kpi_engine.KPIInputError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except WriteInterrupted as stop:
        # SIGINT or SIGTERM during a write: one line, and the signal's exit status.
        click.echo(f"error: {stop}", err=True)
        sys.exit(stop.code)
    except OSError as error:  # a full disk, a folder without write permission...
        click.echo(f"error: kpi new: cannot write the workbook: {error}", err=True)
        sys.exit(1)
