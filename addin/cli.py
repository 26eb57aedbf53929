"""The full ``kpi`` command: the engine's commands plus the Excel-facing ones.

``kpi_engine.cli`` holds the commands that need only the engine (list,
types, calc). The commands that write workbooks or serve Excel live beside
their code in ``addin`` and are added here, so the engine never imports
openpyxl or xlwings.
"""

from __future__ import annotations

from addin.commands import com_setup, lite, serve
from addin.importing.command import import_command
from addin.report.command import refresh_command, report_command
from addin.starter.command import new_command
from kpi_engine.cli import main

__all__ = ["main"]

for command in (
    new_command,
    serve,
    lite,
    com_setup,
    report_command,
    refresh_command,
    import_command,
):
    main.add_command(command)
