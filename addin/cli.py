"""The ``kpi`` command: one click group, its subcommands loaded when run.

Each subcommand lives beside its code: the engine's (list, types, calc) in
``kpi_engine.cli``, which needs neither openpyxl nor xlwings, the
Excel-facing ones in ``addin``. The group names them here with the line
``kpi --help`` shows, so that the help and the start of any one command
import only what that command needs (click's lazy-group pattern). A test
holds each line to the command's own docstring.
"""

from __future__ import annotations

import atexit
import gc
import importlib

import click
from click.formatting import HelpFormatter

__all__ = ["SUBCOMMANDS", "end_without_last_collections", "main"]

#: Each subcommand: where it is defined, and its line in ``kpi --help``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "calc": (
        "kpi_engine.cli.calc_command",
        "Print the value of an aggregate KPI: kpi calc churn_rate 50 1000.",
    ),
    "com-setup": (
        "addin.commands.com_setup",
        "Set up classic xlwings on Windows (COM, BSD-licensed) to serve the KPI functions.",
    ),
    "import": (
        "addin.importing.command.import_command",
        "Load a CSV or .xlsx export (FILE) into a table of WORKBOOK, in place.",
    ),
    "list": (
        "kpi_engine.cli.list_command",
        "List the KPIs of the catalogue, or those of one business type.",
    ),
    "lite": (
        "addin.commands.lite",
        "Write the files for xlwings Lite, the free add-in from Excel's add-in store.",
    ),
    "new": (
        "addin.starter.command.new_command",
        "Write a starter workbook for a business type (see kpi types).",
    ),
    "refresh": (
        "addin.report.command.refresh_command",
        "Write the report sheet into FILE (or -o OUT); every other part stays as it was.",
    ),
    "report": (
        "addin.report.command.report_command",
        "Print what a refresh of FILE would write: per KPI its value, the month before, "
        "the change, the target, the benchmark band and whether the target is met, in "
        "the workbook's language; then the data notes (the rows the KPIs leave out, and why).",
    ),
    "serve": (
        "addin.commands.serve",
        "Start the Office.js add-in's server for a team (xlwings PRO licence terms).",
    ),
    "types": (
        "kpi_engine.cli.types_command",
        "List the business types and the KPIs each one tracks.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported when one is run or asked for
    its help (click's documented lazy-loading pattern), and whose own help
    lists them from ``SUBCOMMANDS`` without importing any."""

    def __init__(self, *args: object, subcommands: dict[str, tuple[str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.subcommands = subcommands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.subcommands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.subcommands:
            return super().get_command(ctx, cmd_name)
        module_name, name = self.subcommands[cmd_name][0].rsplit(".", 1)
        command = getattr(importlib.import_module(module_name), name)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{name} is no click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.subcommands)
        rows = [
            (name, click.Command(name, help=line).get_short_help_str(limit))
            for name, (_, line) in sorted(self.subcommands.items())
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    subcommands=SUBCOMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="kpi-addin")
def main() -> None:
    """Business KPIs for Excel: the catalogue, the KPI functions and the workbooks."""
    end_without_last_collections()


_ENDING: list[bool] = []


def end_without_last_collections() -> None:
    """Let the process end without Python's last garbage collections.

    At exit, Python walks every object left in its collections again while
    it unloads the modules: after a ``--source`` report (ibis, DuckDB, Arrow
    loaded) that took 0.2 to 0.3 s, more than most of the report's queries.
    Frozen at exit, they are left to the operating system, which frees the
    whole process anyway; everything a command writes is closed before. The
    freeze runs only at exit (a process that imports ``main``, such as a
    test run, keeps collecting until then); registered once per process."""
    if not _ENDING:
        _ENDING.append(True)
        atexit.register(gc.freeze)
