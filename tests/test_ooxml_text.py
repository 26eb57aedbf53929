"""Cell text through ``addin.ooxml.xmltext``: every character comes back.

What each independent reader does with Excel's ``_xHHHH_`` escape, found by
these tests:

- python-calamine (the report's reader) decodes the control characters and
  an escaped underscore, but leaves ``_xFFFE_``, ``_xFFFF_`` and an escaped
  lone surrogate as they are written;
- openpyxl decodes nothing in cell text: it returns the escapes as written,
  which ``xmltext.decode`` turns back into the user's text;
- LibreOffice decodes all of them, except that a lone surrogate cannot be
  exported (the rest of its cell is lost) and its Calc turns a carriage
  return into a line break.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from addin.ooxml import xmltext
from addin.starter import StarterOptions, build, new_workbook
from tests.ooxml_support import SHEET, libreoffice_column, write_workbook

#: Text a user may paste, each a case the writer must keep.
CONTROL = "A\x01B\x1fC"
NUL = "nul\x00end"
LITERAL = "a literal _x0041_ stays"
OVERLAPPING = "_x005F_x0001_"
BEFORE_CONTROL = "_xABCD\x01"
WHITESPACE = "tab\there\nline\rreturn\r\nboth"
MARKUP = "<b>&amp;</b> \"quoted\" 'single'"
NON_CHARACTERS = "\ufffe\uffff"
LONE_SURROGATE = "lone\ud800x"
ASTRAL = "emoji 😀 and 𝄞"
SPACES = "  around  "
TEXTS = [
    CONTROL,
    NUL,
    LITERAL,
    OVERLAPPING,
    BEFORE_CONTROL,
    WHITESPACE,
    MARKUP,
    NON_CHARACTERS,
    LONE_SURROGATE,
    ASTRAL,
    SPACES,
]
#: What python-calamine leaves encoded (see the module's docstring).
CALAMINE_KEEPS_ESCAPED = {NON_CHARACTERS, LONE_SURROGATE}


def parsed_text(value: str) -> str:
    """``value`` written as element text, then parsed by a conformant XML parser."""
    xml = f"<t>{xmltext.text(value)}</t>".encode()
    return etree.fromstring(xml).text or ""


def parsed_attribute(value: str) -> str:
    xml = f'<e a="{xmltext.attribute(value)}"/>'.encode()
    return etree.fromstring(xml).get("a") or ""


@pytest.mark.parametrize("value", TEXTS)
def test_written_text_parses_and_decodes_to_the_original(value: str) -> None:
    assert xmltext.decode(parsed_text(value)) == value
    assert xmltext.decode(parsed_attribute(value)) == value


@given(st.text())
def test_any_text_round_trips(value: str) -> None:
    assert xmltext.decode(parsed_text(value)) == value
    assert xmltext.decode(parsed_attribute(value)) == value


def test_plain_text_is_written_as_is() -> None:
    assert xmltext.text("Orders 2024, €12.50") == "Orders 2024, €12.50"
    assert xmltext.text("a_b_x12_") == "a_b_x12_"  # no escape follows: no change


def test_the_escapes_excel_reads() -> None:
    assert xmltext.text("A\x01") == "A_x0001_"
    assert xmltext.text("_x0041_") == "_x005F_x0041_"
    assert xmltext.text("a<b & c>d") == "a&lt;b &amp; c&gt;d"
    assert xmltext.attribute('say "hi"\n') == "say &quot;hi&quot;&#10;"
    # An escape of a character outside the BMP, as Excel may write it, is one character.
    assert xmltext.decode("_xD83D__xDE00_") == "😀"


def test_independent_readers_read_the_text_back(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "text.xlsx", TEXTS)

    openpyxl_values = [cell.value for cell in load_workbook(path)[SHEET]["A"]]
    # openpyxl leaves the escapes in place; decoding them gives every text back.
    assert [xmltext.decode(value) for value in openpyxl_values] == TEXTS
    assert openpyxl_values[TEXTS.index(CONTROL)] == "A_x0001_B_x001F_C"
    assert openpyxl_values[TEXTS.index(WHITESPACE)] == WHITESPACE

    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SHEET).to_python()
    calamine_values = [row[0] for row in sheet]
    for value, read in zip(TEXTS, calamine_values, strict=True):
        if value in CALAMINE_KEEPS_ESCAPED:
            assert read == xmltext.encode(value)
        else:
            assert read == value


@pytest.mark.libreoffice
def test_libreoffice_reads_the_text_back(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "text.xlsx", TEXTS)
    (shown,) = libreoffice_column([path], tmp_path / "csv")
    expected = {
        # Calc keeps line breaks as LF: a CR, alone or before an LF, becomes one.
        WHITESPACE: "tab\there\nline\nreturn\nboth",
        # A lone surrogate cannot be exported as UTF-8; the cell ends before it.
        LONE_SURROGATE: "lone",
    }
    assert shown == [expected.get(value, value) for value in TEXTS]


def test_starter_data_keeps_control_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = build.sample_tables
    pasted = 'A\x01B <&> "quoted" _x0041_'

    def tampered(*args: object, **kwargs: object) -> dict[str, dict[str, list[object]]]:
        tables = real(*args, **kwargs)  # type: ignore[arg-type]
        tables["Orders"]["order_id"][0] = pasted
        return tables

    monkeypatch.setattr(build, "sample_tables", tampered)
    target = new_workbook(
        StarterOptions("celebrity_video", as_of=dt.date(2024, 7, 15)), tmp_path / "w.xlsx"
    )
    assert xmltext.decode(load_workbook(target)["Orders"]["A2"].value) == pasted
    orders = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("Orders").to_python()
    assert orders[1][0] == pasted
