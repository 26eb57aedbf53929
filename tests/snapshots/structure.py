"""The structure of a starter workbook, as frozen in tests/snapshots/starter.

Regenerate after an intended change, and review the diff:

    python -m tests.snapshots.structure --write
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

import kpi_engine
from addin.starter import StarterOptions, new_workbook
from addin.starter.build import workbook_words

SNAPSHOTS = Path(__file__).resolve().parent / "starter"
AS_OF = dt.date(2024, 7, 15)


def structure(business_type: str, language: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = new_workbook(
            StarterOptions(business_type, language, as_of=AS_OF), Path(folder) / "w.xlsx"
        )
        book = load_workbook(path)
    kpi_sheet = book[workbook_words()[language]["sheets"]["kpis"]]
    return {
        "sheets": book.sheetnames,
        "tables": {
            name: {"sheet": ws.title, "columns": [c.name for c in ws.tables[name].tableColumns]}
            for ws in book.worksheets
            for name in ws.tables
        },
        "names": {name: value.attr_text for name, value in sorted(book.defined_names.items())},
        "kpi_sheet_formulas": {
            cell.coordinate: cell.value
            for row in kpi_sheet.iter_rows()
            for cell in row
            if isinstance(cell.value, str) and cell.value.startswith("=")
        },
    }


def snapshot_path(business_type: str, language: str) -> Path:
    return SNAPSHOTS / f"{business_type}_{language}.json"


def render(business_type: str, language: str) -> str:
    return (
        json.dumps(structure(business_type, language), ensure_ascii=False, indent=1, sort_keys=True)
        + "\n"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python -m tests.snapshots.structure --write")
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for type_id in kpi_engine.BUSINESS_TYPES:
        for lang in kpi_engine.LANGUAGES:
            snapshot_path(type_id, lang).write_text(render(type_id, lang), encoding="utf-8")
