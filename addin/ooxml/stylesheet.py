"""Cell formats added to a workbook's styles part, leaving the rest as it is.

A report sheet needs number formats, fonts, fills and the cell formats that
combine them. This module finds those already in ``xl/styles.xml`` and
appends the missing ones at the end of their lists, so that every existing
index keeps its meaning (cells elsewhere refer to formats by index) and the
text of the part changes only where an entry is added. A second refresh
finds everything it needs and changes nothing.

Fonts are made from the workbook's own default font (font 0: its name,
family and scheme), so the report reads in the workbook's typeface.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from addin.ooxml import xmltext
from addin.styles import STYLES, Style

#: The built-in number formats the report's codes may equal (ECMA-376, 18.8.30).
BUILTIN_NUMBER_FORMATS: Mapping[str, int] = {
    "General": 0,
    "0": 1,
    "0.00": 2,
    "#,##0": 3,
    "#,##0.00": 4,
    "0%": 9,
    "0.00%": 10,
}
#: The first id a workbook's own number formats may take.
FIRST_CUSTOM_FORMAT = 164


class StylesheetError(ValueError):
    """A styles part whose lists cannot be found."""


@dataclass(frozen=True)
class _Entry:
    """One element as a comparable value: its name, attributes and children."""

    tag: str
    attributes: tuple[tuple[str, str], ...]
    children: tuple[_Entry, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _entry(element: Any, ordered: bool = True) -> _Entry:
    children = tuple(_entry(child) for child in element if isinstance(child.tag, str))
    if not ordered:
        children = tuple(sorted(children, key=repr))
    attributes = tuple(sorted((_local(k), v) for k, v in element.attrib.items()))
    return _Entry(_local(element.tag), attributes, children)


def _parse_fragment(xml: str) -> Any:
    from lxml import etree  # noqa: PLC0415  (the package writer's own dependency)

    # The styles part was checked (no DTD, no entities) before it gets here.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(xml.encode("utf-8"), parser)


def _font_xml(base: Any, style: Style) -> str:
    """A font like the workbook's default one, with the style's weight, size and colour."""
    kept = {}
    for child in base if base is not None else ():
        if isinstance(child.tag, str) and _local(child.tag) in (
            "name",
            "family",
            "charset",
            "scheme",
        ):
            kept[_local(child.tag)] = child.get("val")
    color = None
    if base is not None and style.color is None:
        for child in base:
            if isinstance(child.tag, str) and _local(child.tag) == "color":
                color = "".join(
                    f' {_local(k)}="{xmltext.attribute(v)}"'
                    for k, v in sorted(child.attrib.items())
                )
    parts = ["<font>"]
    if style.bold:
        parts.append("<b/>")
    if style.italic:
        parts.append("<i/>")
    size = style.size if style.size != 11 or base is None else _base_size(base)
    parts.append(f'<sz val="{size:g}"/>')
    if style.color is not None:
        parts.append(f'<color rgb="FF{style.color}"/>')
    elif color:
        parts.append(f"<color{color}/>")
    for key in ("name", "family", "charset", "scheme"):
        if kept.get(key) is not None:
            parts.append(f'<{key} val="{xmltext.attribute(str(kept[key]))}"/>')
    if "name" not in kept:
        parts.append('<name val="Calibri"/>')
    parts.append("</font>")
    return "".join(parts)


def _base_size(base: Any) -> float:
    for child in base:
        if isinstance(child.tag, str) and _local(child.tag) == "sz":
            try:
                return float(child.get("val"))
            except (TypeError, ValueError):
                break
    return 11.0


def _fill_xml(color: str) -> str:
    return (
        '<fill><patternFill patternType="solid">'
        f'<fgColor rgb="FF{color}"/><bgColor indexed="64"/></patternFill></fill>'
    )


def _xf_xml(number_format: int, font: int, fill: int, style: Style) -> str:
    alignment = "".join(
        f' {key}="{value}"'
        for key, value in (
            ("horizontal", style.horizontal),
            ("vertical", style.vertical),
            ("wrapText", "1" if style.wrap else None),
        )
        if value
    )
    applies = ' applyNumberFormat="1"' if number_format else ""
    applies += ' applyFont="1"' if font else ""
    applies += ' applyFill="1"' if fill else ""
    applies += ' applyAlignment="1"' if alignment else ""
    body = f"<alignment{alignment}/>" if alignment else ""
    start = (
        f'<xf numFmtId="{number_format}" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"'
        f"{applies}"
    )
    return f"{start}>{body}</xf>" if body else f"{start}/>"


class _List:
    """One list of the styles part (fonts, fills, cellXfs...): what it holds, and what to append."""

    def __init__(self, root: Any, tag: str, ordered: bool = True) -> None:
        self.tag = tag
        self.ordered = ordered
        self.element = next(
            (c for c in root if isinstance(c.tag, str) and _local(c.tag) == tag), None
        )
        items = [] if self.element is None else [c for c in self.element if isinstance(c.tag, str)]
        self.items = items
        self.known = {_entry(item, ordered): index for index, item in enumerate(items)}
        self.added: list[str] = []

    def index_of(self, xml: str) -> int:
        entry = _entry(_parse_fragment(xml), self.ordered)
        if entry not in self.known:
            self.known[entry] = len(self.items) + len(self.added)
            self.added.append(xml)
        return self.known[entry]


def _with_prefix(xml: str, prefix: str) -> str:
    return re.sub(r"<(/?)([A-Za-z])", rf"<\1{prefix}\2", xml) if prefix else xml


def _append(text: str, tag: str, entries: Sequence[str], total: int, before: Iterable[str]) -> str:
    """``text`` with ``entries`` at the end of the list ``tag``, its count set to ``total``.

    A list that is missing is inserted before the first of ``before`` that is present.
    """
    if not entries:
        return text
    match = re.search(rf"<((?:[A-Za-z_][\w.-]*:)?){tag}\b([^>]*?)(/?)>", text)
    if match is None:
        root = re.search(r"<((?:[A-Za-z_][\w.-]*:)?)styleSheet\b[^>]*>", text)
        if root is None:
            raise StylesheetError("xl/styles.xml has no styleSheet element")
        prefix = root.group(1)
        body = "".join(_with_prefix(e, prefix) for e in entries)
        element = f'<{prefix}{tag} count="{total}">{body}</{prefix}{tag}>'
        for following in before:
            later = re.search(rf"<{re.escape(prefix)}{following}\b", text)
            if later is not None:
                return text[: later.start()] + element + text[later.start() :]
        return text[: root.end()] + element + text[root.end() :]
    prefix, attributes, empty = match.group(1), match.group(2), match.group(3)
    if re.search(r'\bcount="\d*"', attributes):
        attributes = re.sub(r'\bcount="\d*"', f'count="{total}"', attributes)
    else:
        attributes += f' count="{total}"'
    body = "".join(_with_prefix(e, prefix) for e in entries)
    if empty:
        replacement = f"<{prefix}{tag}{attributes}>{body}</{prefix}{tag}>"
        return text[: match.start()] + replacement + text[match.end() :]
    close = text.index(f"</{prefix}{tag}>", match.end())
    return (
        text[: match.start()]
        + f"<{prefix}{tag}{attributes}>"
        + text[match.end() : close]
        + body
        + text[close:]
    )


#: The lists of a styles part, in the order the schema gives them.
_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs")


def add_cell_formats(
    text: str, wanted: Iterable[tuple[str, str]]
) -> tuple[str | None, dict[tuple[str, str], int]]:
    """Cell formats for each (number format code, style name) of ``wanted``.

    Returns the new styles part (None when nothing had to be added) and the
    index of each pair's cell format in ``cellXfs``.
    """
    root = _parse_fragment(text)
    lists = {
        "numFmts": _List(root, "numFmts"),
        "fonts": _List(root, "fonts", ordered=False),
        "fills": _List(root, "fills"),
        "cellXfs": _List(root, "cellXfs"),
    }
    for required in ("fonts", "fills", "cellXfs"):
        if lists[required].element is None:
            raise StylesheetError(f"xl/styles.xml has no {required} list")
    base_font = lists["fonts"].items[0] if lists["fonts"].items else None
    custom = {
        item.get("formatCode"): int(item.get("numFmtId"))
        for item in lists["numFmts"].items
        if (item.get("numFmtId") or "").isdigit()
    }
    next_custom = max([FIRST_CUSTOM_FORMAT - 1, *custom.values()]) + 1
    found: dict[tuple[str, str], int] = {}
    for code, style_name in dict.fromkeys(wanted):
        style = STYLES[style_name]
        if code in BUILTIN_NUMBER_FORMATS:
            number_format = BUILTIN_NUMBER_FORMATS[code]
        elif code in custom:
            number_format = custom[code]
        else:
            number_format = custom[code] = next_custom
            next_custom += 1
            lists["numFmts"].added.append(
                f'<numFmt numFmtId="{number_format}" formatCode="{xmltext.attribute(code)}"/>'
            )
        font = 0
        if style.bold or style.italic or style.color or style.size != Style().size:
            font = lists["fonts"].index_of(_font_xml(base_font, style))
        fill = 0 if style.fill is None else lists["fills"].index_of(_fill_xml(style.fill))
        found[code, style_name] = lists["cellXfs"].index_of(
            _xf_xml(number_format, font, fill, style)
        )
    if not any(entry.added for entry in lists.values()):
        return None, found
    for tag in ("numFmts", "fonts", "fills", "cellXfs"):
        entry = lists[tag]
        later = _ORDER[_ORDER.index(tag) + 1 :]
        text = _append(text, tag, entry.added, len(entry.items) + len(entry.added), later)
    return text, found
