"""What xlwings Lite's ``main.py`` brings in: every Excel function and the report script.

The ``main.py`` that ``kpi lite`` writes is a few lines that a person can
read: ``from addin.xlwings_lite import *`` puts this module's names into it.
That is enough for xlwings Lite, because xlwings registers a module's custom
functions and scripts by looking at what the module holds, not at its
source: ``custom_functions_meta`` and ``custom_scripts_meta`` (in
``xlwings.server``) take every member that carries ``__xlfunc__`` or
``__xlscript__``, and ``custom_functions_call`` and ``custom_scripts_call``
find the function again with ``getattr(module, name)``. A function imported
into ``main.py`` is such a member just as one defined there is. So the
functions are written once, in ``addin.functions`` (the same ones ``kpi
serve`` registers), and show in Excel as the one-line wrappers that
``main.py`` used to define did: tests/test_lite_pyodide.py runs xlwings' own
discovery on ``main.py`` in Pyodide and compares.

The decorators record their metadata when this module is imported, that is
when xlwings Lite imports ``main.py``: there ``xw.func`` and ``xw.script`` are
xlwings.server's (``XLWINGS_ON_SERVER=true``). Elsewhere (plain CPython) they
leave the functions as they are, and ``main.py`` still runs.
"""

import xlwings as xw

from addin.functions import EXCEL_FUNCTIONS

globals().update(EXCEL_FUNCTIONS)


# xw.BookAsync: xlwings Lite does not read the whole workbook before the script
# runs; the script reads only the columns the KPIs need, a chunk of rows at a
# time, under Excel's limits (5 MB per read on Excel on the web).
@xw.script
async def refresh_report(book: xw.BookAsync) -> None:
    """Recompute every KPI from the workbook's tables and write the report sheet."""
    # Imported here, not at the top: main.py starts without the report code,
    # which only this script needs.
    from addin.ooxml.package import ReportError  # noqa: PLC0415
    from addin.report.pane import refresh_book_async  # noqa: PLC0415

    try:
        await refresh_book_async(book)
    except ReportError as error:
        raise xw.XlwingsError(str(error)) from None


#: What ``from addin.xlwings_lite import *`` puts into main.py: each Excel
#: function under its Python name (Excel shows it upper-cased), and the script.
__all__ = list(EXCEL_FUNCTIONS)
__all__.append("refresh_report")
