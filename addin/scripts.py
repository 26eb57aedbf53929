"""Custom scripts of the Office.js add-in: what the task pane's buttons run.

``kpi serve`` discovers every function of this module decorated with
``@xlwings.script`` (``xlwings.server.script`` on the server): it lists them at
``/xlwings/custom-scripts-meta`` and runs them at
``/xlwings/custom-scripts-call/<name>``. The task pane's "Refresh report"
button calls ``refresh_report``; classic xlwings calls it through
``run_refresh_report`` (RunPython), and ``kpi lite`` gives xlwings Lite its own
copy. The report code itself is in ``addin.report``.
"""

from __future__ import annotations

import xlwings as xw


@xw.script
def refresh_report(book: xw.Book) -> None:
    """Recompute every KPI from the workbook's tables and write the report sheet."""
    from addin.report.excel import refresh_book  # noqa: PLC0415
    from addin.report.package import ReportError  # noqa: PLC0415

    try:
        refresh_book(book)
    except ReportError as error:
        raise xw.XlwingsError(str(error)) from None


def run_refresh_report() -> None:
    """Classic xlwings: ``RunPython "import addin.scripts; addin.scripts.run_refresh_report()"``."""
    refresh_report(xw.Book.caller())
