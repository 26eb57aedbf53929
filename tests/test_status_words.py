"""Status words (completed, accepted, success...) stay English in every
language, because the formulas and the add-in read them: a French or Dutch
user is shown exactly what to type, and nothing else is accepted.

The starter workbook's status cells offer the list, say in the workbook's
language what to type, and refuse anything else; the column descriptions
of the Read me sheet say the same. LibreOffice, which opens and saves the
workbook again, keeps all of it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook

import kpi_engine
from addin.recipes import tables_for
from addin.starter import StarterOptions, new_workbook
from addin.starter.build import workbook_words
from tests.libreoffice import convert
from tests.selection import selected_params

AS_OF = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def resaved(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The empty celebrity_video workbook in each language this run selected,
    saved again by LibreOffice (``-k`` picks a few: LibreOffice opens only those)."""
    folder = tmp_path_factory.mktemp("status")
    books = []
    for (language,) in selected_params(request, "language"):
        book = folder / f"status_{language}.xlsx"
        new_workbook(StarterOptions("celebrity_video", language, empty=True, as_of=AS_OF), book)
        books.append(book)
    saved = convert(books, folder / "out")
    return {path.stem.split("_")[-1]: path for path in saved}


@pytest.mark.parametrize("language", kpi_engine.LANGUAGES)
def test_status_cells_say_what_to_type_and_refuse_the_rest(
    resaved: dict[str, Path], language: str
) -> None:
    words = workbook_words()[language]
    sheet_name = workbook_words()["tables"][language]["Orders"]
    book = load_workbook(resaved[language])
    sheet = book[sheet_name]
    columns = [cell.value for cell in sheet[1]]
    letter = chr(ord("A") + columns.index("status"))
    (rule,) = [
        v
        for v in sheet.data_validations.dataValidation
        if f"{letter}2" in str(v.sqref).split(":")[0]
    ]
    choices = next(c for c in tables_for("celebrity_video")["Orders"] if c.id == "status").choices
    assert rule.type == "list"
    assert rule.formula1 == '"' + ",".join(choices) + '"'
    assert rule.showErrorMessage
    assert rule.errorStyle in (None, "stop")  # a wrong word is refused, not warned about
    listed = ", ".join(choices)
    assert rule.prompt == words["choices"]["prompt"].format(choices=listed)
    assert rule.error == words["choices"]["error"].format(choices=listed)
    assert len(rule.prompt) <= 255
    assert len(rule.error) <= 255
    # The Read me sheet's description of the column names the same words.
    about = book[words["sheets"]["about"]]
    described = [
        row[2] for row in about.iter_rows(values_only=True) if row[:2] == ("Orders", "status")
    ]
    assert described
    assert all(choice in described[0] for choice in choices)
