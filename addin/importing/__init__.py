"""``kpi import``: a CSV or .xlsx export loaded into a starter workbook's table.

The file is read (``source``), each cell of the export turned into the cell a
user would have typed (``values``: ISO dates become dates, numbers numbers),
every row judged by the data notes' checks (``addin.recipes.notes.row_checks``,
the rules the formulas and the engine follow) to name the cells they leave
out, and every row written into the table, as a paste would write it, through
the report's lossless package writer (``workbook``).
"""

from __future__ import annotations

from .source import ImportInputError, read_export
from .workbook import ImportResult, import_file

__all__ = ["ImportInputError", "ImportResult", "import_file", "read_export"]
