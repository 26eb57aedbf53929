"""Text in a package's XML: the one escaping writer, and its decoder.

A cell can hold any text a user types or pastes, and XML 1.0 cannot hold all
of it: the control characters U+0000-U+0008, U+000B, U+000C, U+000E-U+001F,
the non-characters U+FFFE and U+FFFF and lone surrogates have no place in an
XML file, not even as character references. Office Open XML has its own
escape for them (ECMA-376 Part 1, 22.9.2.19 ST_Xstring): such a character is
written ``_xHHHH_`` (its UTF-16 code unit in hex), and an underscore that a
reader would take for the start of such an escape is written ``_x005F_``, so
text that happens to read ``_x0001_`` comes back as those seven characters.
Excel writes and reads text this way, and so does LibreOffice. Dropping the
characters instead, as the writers here used to, changed the user's text.

The encoding follows XlsxWriter's XML writer (``xlsxwriter/xmlwriter.py``:
``_escape_data``, ``_escape_attributes``, ``_escape_control_characters``):
the same escapes, and element text keeps its double quotes as Excel does.
It differs where XlsxWriter loses text: a reader decodes from left to right,
so an underscore is escaped also where escapes overlap (``_x005F_x0001_``,
which XlsxWriter's whole-match rule writes so that it reads back as
``_x005F`` and U+0001) and where the character after ``_xHHHH`` is about to
become an escape itself; a lone surrogate is encoded too (Python text can
hold one, UTF-8 cannot). A carriage return is written as the character
reference ``&#13;`` rather than ``_x000D_``: CR is legal XML, but every XML
parser turns a literal one into a line feed, while the reference survives
any parser, also those that ignore ``_xHHHH_`` (openpyxl's cell reader).
Tab and line feed stay as they are in element text (the writers mark it
``xml:space="preserve"``); in an attribute they become references too, since
attribute-value normalisation would turn them into spaces.

lxml and et_xmlfile are not used for this: both refuse the control
characters outright, and the starter streams millions of cells, which plain
string building does fastest.
"""

from __future__ import annotations

import re

_ILLEGAL = "\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff"
#: An underscore that a reader would take for the start of an escape, or a
#: character XML 1.0 cannot hold. The underscore is followed by ``xHHHH`` and
#: then by an underscore or by a character that is about to become an escape
#: (which starts with one); escapes may overlap (``_x005F_x0001_``), hence
#: the lookahead rather than matching whole escapes.
_TO_ENCODE = re.compile(f"(_)(?=x[0-9A-Fa-f]{{4}}[_{_ILLEGAL}])|([{_ILLEGAL}])")
#: The characters that need any work in element text and in attribute values.
_TEXT_SPECIAL = re.compile(f"[&<>\r_{_ILLEGAL}]")
_ATTRIBUTE_SPECIAL = re.compile(f'[&<>"\t\n\r_{_ILLEGAL}]')
_ENCODED = re.compile("_x([0-9A-Fa-f]{4})_")
_SURROGATE = re.compile("[\ud800-\udfff]")

_TEXT_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ENTITIES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def _encode_one(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return "_x005F_"
    return f"_x{ord(match.group(2)):04X}_"


def encode(text: str) -> str:
    """The ``_xHHHH_`` layer alone: characters XML cannot hold encoded and a
    literal escape protected; the XML entities are not applied yet."""
    return _TO_ENCODE.sub(_encode_one, text)


def text(value: str) -> str:
    """``value`` as the content of an element such as ``<t>`` or ``<v>``."""
    if _TEXT_SPECIAL.search(value) is None:
        return value
    return encode(value).translate(_TEXT_ENTITIES)


def attribute(value: str) -> str:
    """``value`` as an attribute value between double quotes."""
    if _ATTRIBUTE_SPECIAL.search(value) is None:
        return value
    return encode(value).translate(_ATTRIBUTE_ENTITIES)


def decode(value: str) -> str:
    """Text as a reader finds it after XML parsing, with the ``_xHHHH_``
    escapes turned back into characters: the inverse of ``encode``.

    Escaped surrogate halves that form a pair become the one character they
    encode (Excel may write a character outside the BMP so); a lone one stays.
    """
    if "_x" not in value:
        return value
    decoded = _ENCODED.sub(lambda match: chr(int(match.group(1), 16)), value)
    if _SURROGATE.search(decoded) is None:
        return decoded
    return decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
