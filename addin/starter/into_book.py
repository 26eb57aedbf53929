"""Write a starter workbook's plan (``plan.py``) into an open workbook
through xlwings' Book API: every change becomes an action that xlwings'
Office.js client carries out in Excel (sheets, values, formulas, number
formats, names, tables, data validation, conditional formats, charts).

``book`` is an ``xlwings.Book`` (duck-typed: this module imports no xlwings);
one call writes one step of ``plan.step_labels``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from addin.ooxml.widths import column_pixels

from .plan import Cell, StarterPlan, step_labels

_VALIDATION_OPERATORS = {
    "between": "between",
    "notBetween": "not_between",
    "equal": "equal_to",
    "notEqual": "not_equal_to",
    "greaterThan": "greater_than",
    "lessThan": "less_than",
    "greaterThanOrEqual": "greater_than_or_equal",
    "lessThanOrEqual": "less_than_or_equal",
}


class StepError(ValueError):
    """A step that cannot be written into this workbook."""


def _text(value: Any) -> Any:
    # A text that starts with "=" stays text in Excel when written with a quote.
    if isinstance(value, str) and value.startswith(("=", "'")):
        return "'" + value
    return value


def write_step(book: Any, plan: StarterPlan, step: int) -> None:
    """Write step ``step`` (0-based) of ``plan`` into ``book``."""
    steps = step_labels(plan)
    if not 0 <= step < len(steps):
        raise StepError(f"start_workbook: step is {step}; expected 0 to {len(steps) - 1}")
    kind = steps[step]["kind"]
    if kind == "sheets":
        _sheets(book, plan)
    elif kind == "rows":
        _rows(book, plan, plan.chunks[step - 1])
    else:
        _finish(book, plan)


def _sheet(book: Any, name: str) -> Any:
    present = [sheet.name for sheet in book.sheets]
    if name not in present:
        raise StepError(
            f"start_workbook: the sheet {name!r} is missing; start again from the first step"
        )
    return book.sheets[name]


def _sheets(book: Any, plan: StarterPlan) -> None:
    present = {sheet.name.casefold() for sheet in book.sheets}
    taken = [name for name in plan.sheet_names if name.casefold() in present]
    if taken:
        raise StepError(
            "start_workbook: this workbook already has a sheet named "
            + ", ".join(repr(name) for name in taken)
            + "; open a new workbook, or rename or delete those sheets first"
        )
    tables = {table.name.casefold() for sheet in book.sheets for table in sheet.tables}
    clashing = [table.name for table in plan.tables if table.name.casefold() in tables]
    names = {name.name.casefold() for name in book.names}
    clashing += [name for name, _ in plan.names if name.casefold() in names]
    if clashing:
        raise StepError(
            "start_workbook: this workbook already has a table or name called "
            + ", ".join(repr(name) for name in clashing)
            + "; open a new workbook, or remove or rename those first"
        )
    for name in plan.sheet_names:
        book.sheets.add(name, after=book.sheets[-1])
    for sheet in plan.sheets:
        if sheet.name in plan.data:
            # A data sheet's header now, so that its table can be made over it.
            target = book.sheets[sheet.name]
            _cells(target, sheet.cells)
            _layout(target, sheet)


def _rows(book: Any, plan: StarterPlan, chunk: Any) -> None:
    data = plan.data[chunk.sheet]
    target = _sheet(book, chunk.sheet)
    rows = [[_text(value) for value in row] for row in data.rows[chunk.first : chunk.stop]]
    first_row = chunk.first + 2  # below the header
    target.range((first_row, 1)).value = rows
    last_row = first_row + len(rows) - 1
    for column, number_format in enumerate(data.number_formats, start=1):
        if number_format:
            target.range((first_row, column), (last_row, column)).number_format = number_format


def _finish(book: Any, plan: StarterPlan) -> None:
    for table in plan.tables:
        target = _sheet(book, table.sheet)
        target.tables.add(source=target[table.ref], name=table.name, table_style_name=table.style)
    # The names before the formulas that use them (PERIOD_START, TARGET_NPS...).
    for name, refers_to in plan.names:
        book.names.add(name, "=" + refers_to)
    for sheet in plan.sheets:
        if sheet.name not in plan.data:
            target = _sheet(book, sheet.name)
            _cells(target, sheet.cells)
            _layout(target, sheet)
    for validation in plan.validations:
        _validation(_sheet(book, validation.sheet)[validation.ref].data_validation, validation)
    for rule in plan.conditional_formats:
        formats = _sheet(book, rule.sheet)[rule.ref].conditional_formats
        looks = {"fill_color": rule.fill, "font_color": rule.font_color, "font_bold": rule.bold}
        style = {key: value for key, value in looks.items() if value is not None}
        if rule.kind == "cell_value":
            operator = _VALIDATION_OPERATORS[rule.operator or "equal"]
            formats.add_cell_value(operator, rule.formula, **style)
        else:
            formats.add_custom(rule.formula, **style)
    for chart in plan.charts:
        target = _sheet(book, chart.sheet)
        made = target.charts.add(
            width=chart.width,
            height=chart.height,
            chart_type="line",
            source=target[chart.series],
            anchor=target[chart.anchor],
        )
        made.set_x_axis_values(target[chart.categories])
        made.title = chart.title
        if not chart.legend:
            made.legend.visible = False
        if chart.category_format:
            made.category_axis.number_format = chart.category_format
        if chart.value_format:
            made.value_axis.number_format = chart.value_format
    book.sheets[plan.sheet_names[0]].activate()


def _validation(rule: Any, validation: Any) -> None:
    operator = _VALIDATION_OPERATORS.get(validation.operator or "between", "between")
    if validation.type == "list":
        choices = (validation.formula1 or '""').strip('"').split(",")
        rule.set_list(choices)
        return
    setter = {"whole": rule.set_whole_number, "decimal": rule.set_decimal, "date": rule.set_date}
    arguments = [validation.formula1]
    if validation.formula2 is not None:
        arguments.append(validation.formula2)
    setter[validation.type](operator, *arguments)


def _rectangles(points: Iterable[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """(first row, first column, last row, last column) of rectangles that
    cover ``points`` exactly: runs along each row, stacked where the rows
    below repeat them. One action per rectangle, not per cell, keeps a
    step's round trips to Excel few."""
    runs: dict[tuple[int, int], list[int]] = {}  # (first, last column) -> rows
    ordered = sorted(points)
    index = 0
    while index < len(ordered):
        row, first = ordered[index]
        last = first
        while index + 1 < len(ordered) and ordered[index + 1] == (row, last + 1):
            index += 1
            last += 1
        runs.setdefault((first, last), []).append(row)
        index += 1
    rectangles = []
    for (first, last), rows in runs.items():
        top = previous = rows[0]
        for row in rows[1:]:
            if row != previous + 1:
                rectangles.append((top, first, previous, last))
                top = row
            previous = row
        rectangles.append((top, first, previous, last))
    return sorted(rectangles)


def _styled(target: Any, cells: Iterable[Cell], look: Any, apply: Any) -> None:
    """``apply(range, value)`` over the rectangles of cells that share ``look(cell)``."""
    groups: dict[Any, list[tuple[int, int]]] = {}
    for cell in cells:
        value = look(cell)
        if value:
            groups.setdefault(value, []).append((cell.row, cell.column))
    for value, points in groups.items():
        for top, left, bottom, right in _rectangles(points):
            apply(target.range((top, left), (bottom, right)), value)


def _cells(target: Any, cells: tuple[Cell, ...]) -> None:
    filled = [cell for cell in cells if cell.value is not None or cell.formula is not None]
    if filled:
        # Values and formulas in one block (Office.js' formulas take both).
        rows = max(cell.row for cell in filled)
        columns = max(cell.column for cell in filled)
        block: list[list[Any]] = [[""] * columns for _ in range(rows)]
        for cell in filled:
            block[cell.row - 1][cell.column - 1] = (
                cell.formula if cell.formula is not None else _text(cell.value)
            )
        target.range((1, 1), (rows, columns)).formula = block
    _styled(
        target,
        cells,
        lambda c: c.number_format if c.number_format != "General" else None,
        lambda r, v: setattr(r, "number_format", v),
    )
    _styled(target, cells, lambda c: c.bold, lambda r, v: setattr(r.font, "bold", True))
    _styled(target, cells, lambda c: c.italic, lambda r, v: setattr(r.font, "italic", True))
    _styled(target, cells, lambda c: c.font_color, lambda r, v: setattr(r.font, "color", v))
    _styled(target, cells, lambda c: c.size, lambda r, v: setattr(r.font, "size", v))
    _styled(target, cells, lambda c: c.fill, lambda r, v: setattr(r, "color", v))
    _styled(target, cells, lambda c: c.wrap, lambda r, v: setattr(r, "wrap_text", True))
    _styled(
        target, cells, lambda c: c.horizontal, lambda r, v: setattr(r, "horizontal_alignment", v)
    )
    _styled(target, cells, lambda c: c.vertical, lambda r, v: setattr(r, "vertical_alignment", v))


def _spans(columns: Iterable[tuple[int, Any]]) -> list[tuple[int, int, Any]]:
    """(first, last column, value) of runs of neighbouring columns alike."""
    spans: list[tuple[int, int, Any]] = []
    for column, value in sorted(columns):
        if spans and spans[-1][1] == column - 1 and spans[-1][2] == value:
            spans[-1] = (spans[-1][0], column, value)
        else:
            spans.append((column, column, value))
    return spans


def _layout(target: Any, sheet: Any) -> None:
    for first, last, width in _spans(sheet.column_widths):
        # Office.js takes a column's width in points; openpyxl's is in characters.
        target.range((1, first), (1, last)).column_width = round(column_pixels(width) * 0.75, 2)
    for first, last, _ in _spans((column, True) for column in sheet.hidden_columns):
        target.range((1, first), (1, last)).columns.hidden = True
    for row, height in sheet.row_heights:
        target.range((row, 1)).row_height = height
    for area in sheet.merged:
        target[area].merge()
    if sheet.freeze:
        target.freeze_panes.freeze_at(sheet.freeze)
