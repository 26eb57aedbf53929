"""One call from Excel, from the bytes of its body to the bytes of its answer.

Synchronous and free of the web framework: the app answers small calls on
the event loop and hands large ones, and the task pane's scripts, to the
compute lane's process (``lane.py``), which runs this same code.

* Arguments are read once, as a whole. xlwings' generic path converts every
  cell of every argument in Python; the engine already takes ranges as
  Office.js sends them, so here only the few cells that need it (empty text,
  rich values such as formatted dates) are touched.
* A large body is parsed with the garbage collector paused: parsing a
  million-cell column creates a million small lists, which would otherwise
  set off collections that find nothing to collect.
* Whatever the body holds, the answer is 200 with Excel values, or 400 with
  a message that Excel shows on ``#VALUE!``: the Office.js client retries a
  5xx three times, and a retried bad call only triples the wait.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import math
import re
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import orjson
import xlwings as xw
import xlwings.server

from addin import functions
from kpi_engine.inputs import numbers_checked, short_repr

log = logging.getLogger("kpi.serve")

#: Bodies larger than this are parsed with the garbage collector paused.
LARGE_BODY = 64 * 1024
_VERSION = re.compile(r"(\d{1,4})\.(\d{1,4})")
#: The function's name near the start of a body, as xlwings' client writes it.
_FUNCTION_NAME = re.compile(rb'"func_name"\s*:\s*"([a-z_]{1,64})"')
#: A JSON string, escapes included.
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
#: What Office.js sends in a cell, besides rich values (dicts).
_PLAIN = frozenset({float, int, str, bool, type(None)})
#: A range with only these in its cells is counted by NumPy (``numbers_checked``).
_NUMBERS = frozenset({float, int, type(None)})
#: Ranges with fewer cells than this are not worth telling the engine about.
_CHECKED_MIN_CELLS = 4096
_ROWS = {list}
_FIRST = itemgetter(0)
_ERROR_TYPES = {
    "#DIV/0!": "Div0",
    "#N/A": "NotAvailable",
    "#NAME?": "Name",
    "#NULL!": "Null",
    "#NUM!": "Num",
    "#REF!": "Ref",
    "#VALUE!": "Value",
}


class Answer(NamedTuple):
    """What goes back to Excel, and what the access log and metrics record.
    (A named tuple: made on every call, and a frozen dataclass costs several
    times as much to make.)"""

    status: int
    body: bytes
    function: str = ""
    cells: int = 0


_new_answer = tuple.__new__
#: The Excel functions, by name (``functions.EXCEL_FUNCTIONS`` itself).
_FUNCTIONS = functions.EXCEL_FUNCTIONS
_isfinite = math.isfinite


class BadCallError(Exception):
    """A call that cannot be made: Excel shows #VALUE! with this message."""

    def __init__(self, message: str, cells: int = 0) -> None:
        super().__init__(message)
        #: The cells the call sent, once they are counted (for the access log).
        self.cells = cells


def take_body(body: bytes | Path) -> bytes:
    """The body's bytes; a body spooled to a file is read and the file removed."""
    if isinstance(body, Path):
        try:
            return body.read_bytes()
        finally:
            body.unlink(missing_ok=True)
    return body


#: A value as a message shows it: at most a short prefix of it.
quote = short_repr


def error_answer(message: str, status: int = 400, function: str = "", cells: int = 0) -> Answer:
    return Answer(status, orjson.dumps({"detail": message}), function, cells)


def parse(body: bytes) -> Any:
    """The body's JSON, or ``BadCallError``."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise not_json(error) from None


def not_json(error: orjson.JSONDecodeError) -> BadCallError:
    return BadCallError(f"the request body is not valid JSON: {error}")


# --- custom functions ----------------------------------------------------------


def _cell(value: Any, where: str) -> Any:
    """One cell as the engine takes it: a rich value (a date, a number with a
    format, an error) becomes its plain value; empty text becomes blank."""
    if type(value) is dict:
        if "basicValue" not in value:
            raise BadCallError(
                f"{where}: a rich value without a plain value ({quote(value)}); expected a "
                "number, text, a logical value, a blank or an error"
            )
        basic = value["basicValue"]
        if type(basic) not in _PLAIN:
            raise BadCallError(
                f"{where}: a rich value whose basicValue is {quote(basic)}; "
                "expected a number, text, a logical value or an error"
            )
        # An error cell keeps its text (#N/A), so the engine names it.
        return None if basic == "" else basic
    if value == "":
        return None
    return value


def _check_cells(kinds: set[type], cells: Any, where: str) -> None:
    """Refuse a cell that no Excel range holds (a list, nested deeper)."""
    if kinds <= _PLAIN | {dict}:
        return
    for position, cell in enumerate(cells, 1):
        if type(cell) not in _PLAIN and type(cell) is not dict:
            raise BadCallError(
                f"{where}, cell {position}: {quote(cell)} is not a cell value; "
                "expected a number, text, a logical value, a blank or a rich value"
            )


def _argument(
    raw: Any,
    where: str,
    row_kinds: set[type] | None = None,
    cells: int = 0,
    numbers: list[tuple[Any, int]] | None = None,
) -> Any:
    """One argument as Office.js sends it (a matrix: a list of rows, or null
    when omitted) in the shape Excel's other runtimes give: a lone value for
    one cell, a flat list for a one-row range, the list of rows otherwise.

    Rich values are replaced in place: the lists are the parsed body's own,
    and a copy of a million-cell range would cost some 200 MB. ``row_kinds``
    is the set of the types of ``raw``'s items, when the caller has it.
    A large range found to hold only numbers and blanks is added, with its
    ``cells``, to ``numbers``, for ``numbers_checked``."""
    if type(raw) is not list:
        if type(raw) not in _PLAIN and type(raw) is not dict:
            raise BadCallError(f"{where}: {quote(raw)} is not a range or a value")
        return _cell(raw, where)
    value = raw
    if (set(map(type, value)) if row_kinds is None else row_kinds) - _ROWS:
        # Not a matrix: taken as one row of cells.
        value = [value]
    if len(value) == 1:
        row = value[0]
        kinds = set(map(type, row))
        _check_cells(kinds, row, where)
        if len(row) == 1:
            return _cell(row[0], where)
        if dict in kinds:
            _plain_in_place(row, where)
        elif numbers is not None and cells >= _CHECKED_MIN_CELLS and kinds <= _NUMBERS:
            numbers.append((row, cells))
        return row
    # A block: look at each cell's type once (a fast C loop); only rich
    # values need replacing, and empty text is already blank to the engine.
    kinds = _cell_kinds(value, cells)
    _check_cells(kinds, chain.from_iterable(value), where)
    if dict in kinds:
        for row in value:
            _plain_in_place(row, where)
    elif numbers is not None and cells >= _CHECKED_MIN_CELLS and kinds <= _NUMBERS:
        numbers.append((value, cells))
    return value


def _cell_kinds(rows: list[list[Any]], cells: int) -> set[type]:
    """The types of the cells of a list of rows that holds ``cells`` cells."""
    if cells == len(rows):
        # As many cells as rows: a column, unless a row is empty (another then
        # holds two). Each row's one cell is taken without an iterator per row.
        try:
            return set(map(type, map(_FIRST, rows)))
        except IndexError:
            pass
    return set(map(type, chain.from_iterable(rows)))


def _plain_in_place(row: list[Any], where: str) -> None:
    for position, cell in enumerate(row):
        if type(cell) is dict:
            row[position] = _cell(cell, where)


def row_kinds(args: list[Any]) -> list[set[type] | None]:
    """For each argument that is a list, the set of its items' types (one C
    loop per argument, shared by ``count_cells`` and ``_argument``)."""
    return [set(map(type, arg)) if type(arg) is list else None for arg in args]


def count_cells(args: list[Any], kinds: list[set[type] | None] | None = None) -> int:
    """Cells in the arguments, as Office.js sends them (lists of rows)."""
    return sum(cells_by_argument(args, kinds))


def cells_by_argument(args: list[Any], kinds: list[set[type] | None] | None = None) -> list[int]:
    """The cells of each argument, as ``count_cells`` counts them."""
    counts = []
    for arg, arg_kinds in zip(args, kinds or row_kinds(args), strict=True):
        if type(arg) is not list:
            counts.append(1)
        elif arg_kinds == _ROWS:
            # The usual matrix, counted in C.
            counts.append(sum(map(len, arg)))
        else:
            counts.append(sum(len(row) if type(row) is list else 1 for row in arg))
    return counts


def _errors_as_types(runtime: Any) -> bool:
    """Whether the Excel API version at hand takes errors as types (1.4 on)."""
    return type(runtime) is str and _errors_as_types_in(runtime)


@lru_cache(maxsize=64)
def _errors_as_types_in(runtime: str) -> bool:
    # Every call names its runtime, and a server sees a handful of them.
    match = _VERSION.fullmatch(runtime)
    return match is not None and (int(match[1]), int(match[2])) >= (1, 4)


def _excel_scalar(value: Any, error_types: bool) -> Any:
    if value is None:
        return ""
    kind = type(value)
    if kind is float:
        # The engine gives finite numbers only; if one ever slips through,
        # Excel shows #NUM! rather than a blank cell.
        return value if math.isfinite(value) else _excel_error("#NUM!", error_types)
    if kind is str and value.startswith("#"):
        return _excel_error(value, error_types)
    if kind is int and not -(2**53) <= value <= 2**53:
        try:
            return _excel_scalar(float(value), error_types)
        except OverflowError:
            return _excel_error("#NUM!", error_types)
    return value


def _excel_error(text: str, error_types: bool) -> Any:
    error_type = _ERROR_TYPES.get(text)
    if error_types and error_type:
        return {"type": "Error", "errorType": error_type}
    return text


def _excel_value(result: Any, runtime: Any) -> Any:
    """A function's result as Office.js takes it: always a matrix."""
    if type(result) is float and math.isfinite(result):
        # The usual result, a KPI's value: the runtime matters for errors only.
        return [[result]]
    error_types = _errors_as_types(runtime)
    if type(result) is list:
        return [[_excel_scalar(cell, error_types) for cell in row] for row in result]
    return [[_excel_scalar(result, error_types)]]


def function_name(data: Any) -> str:
    """The function a parsed body asks for, if it names a real one."""
    name = data.get("func_name") if type(data) is dict else None
    return name if type(name) is str and name in functions.EXCEL_FUNCTIONS else ""


def _lone_cells(args: list[Any]) -> list[Any] | None:
    """The arguments' values when each is one cell holding a plain value (a
    number, text, a logical value or a blank: the usual call, one cell per
    argument), as ``_argument`` would give them; None for anything else,
    which takes the general path and its checks."""
    values = []
    for arg in args:
        if type(arg) is not list or len(arg) != 1:
            return None
        row = arg[0]
        if type(row) is not list or len(row) != 1:
            return None
        cell = row[0]
        if type(cell) not in _PLAIN:
            return None
        values.append(None if cell == "" else cell)
    return values


def _too_many_cells(name: str, cells: int, max_cells: int) -> NoReturn:
    raise BadCallError(
        f"{name}: the call has {cells:,} cells; kpi serve takes at most {max_cells:,} "
        "cells per call (setting KPI_MAX_CELLS). Give the function smaller ranges, "
        "or ask whoever runs the server to raise the limit.",
        cells,
    )


def _values(
    name: str,
    args: list[Any],
    parameters: list[dict[str, Any]],
    max_cells: int,
    numbers: list[tuple[Any, int]],
) -> tuple[list[Any], int]:
    """The arguments as the function takes them, and the cells they hold,
    when they are not one plain cell each (``call`` takes those at once)."""
    kinds = row_kinds(args)
    counts = cells_by_argument(args, kinds)
    cells = sum(counts)
    if cells > max_cells:
        _too_many_cells(name, cells, max_cells)
    try:
        values = [
            _argument(arg, f"{name}, argument {parameter['name']}", arg_kinds, arg_cells, numbers)
            for arg, parameter, arg_kinds, arg_cells in zip(
                args, parameters, kinds, counts, strict=False
            )
        ]
    except BadCallError as error:
        raise BadCallError(str(error), cells) from None
    return values, cells


def call(data: Any, max_cells: int) -> tuple[Any, int]:  # noqa: PLR0912  (one path, written out)
    """Run one custom function call; the result for Office.js, and the cells read."""
    if type(data) is not dict:
        raise BadCallError("the request body must be a JSON object")
    name = data.get("func_name")
    function = _FUNCTIONS.get(name) if type(name) is str else None
    if function is None:
        raise BadCallError(f"there is no function named {quote(name)}; see =KPI.KPI_LIST()")
    args = data.get("args")
    if type(args) is not list:
        raise BadCallError(f"{name}: the request has no list of arguments")
    parameters = function.__xlfunc__["args"]
    if len(args) > len(parameters):
        raise BadCallError(f"{name}: takes at most {len(parameters)} arguments, got {len(args)}")
    numbers: list[tuple[Any, int]] | None = None
    values = _lone_cells(args)
    if values is None:
        numbers = []
        values, cells = _values(name, args, parameters, max_cells, numbers)
    else:
        # The usual call, one plain cell per argument (``_values``' first case).
        cells = len(values)
        if cells > max_cells:
            _too_many_cells(name, cells, max_cells)
    # The parsed lists are no longer needed once the arguments are rebuilt
    # (rich values): free them before the engine makes its own copies.
    data["args"] = args = None
    try:
        if numbers:
            # Every cell of these was just looked at: the engine need not again.
            with numbers_checked(numbers):
                result = function(*values)
        else:
            result = function(*values)
    except xw.XlwingsError as error:
        raise BadCallError(str(error), cells) from None
    except TypeError:
        # Too few arguments for a required parameter; any other TypeError is a
        # fault in the add-in and is left to surface as one.
        if len(values) < len(parameters):
            missing = ", ".join(p["name"] for p in parameters[len(values) :])
            raise BadCallError(f"{name}: missing arguments: {missing}", cells) from None
        raise
    if type(result) is float and _isfinite(result):
        # ``_excel_value``'s first case, the usual result, at once.
        return [[result]], cells
    return _excel_value(result, data.get("runtime")), cells


def _too_many_containers(body: bytes, max_cells: int) -> bool:
    """Whether the body opens more lists and objects, outside strings, than
    ``max_cells`` cells need: a range is a list per row and at most one
    object (a rich value) per cell. Empty lists and objects are what costs
    most memory per byte once parsed (some 20 times their size)."""
    bound = 2 * max_cells + 1024
    if body.count(b"[") + body.count(b"{") <= bound:
        return False
    # Brackets inside text do not count (the slower look).
    outside = _STRINGS.sub(b'""', body) if b'"' in body else body
    return outside.count(b"[") + outside.count(b"{") > bound


def answer_call(max_cells: int, spooled: bytes | Path) -> Answer:
    """The answer to a custom function call's body."""
    body = spooled if type(spooled) is bytes else take_body(spooled)
    del spooled
    large = len(body) > LARGE_BODY
    # Before parsing: one with more lists and objects than the cell limit
    # allows is refused unread.
    if large and _too_many_containers(body, max_cells):
        named = _FUNCTION_NAME.search(body, 0, 4096)
        name = named[1].decode() if named else ""
        prefix = f"{name}: " if name in functions.EXCEL_FUNCTIONS else ""
        return error_answer(
            f"{prefix}the call has more than {max_cells:,} cells; kpi serve takes at most "
            f"{max_cells:,} cells per call (setting KPI_MAX_CELLS). Give the function smaller "
            "ranges, or ask whoever runs the server to raise the limit."
        )
    pause = large and gc.isenabled()
    if pause:
        gc.disable()
    data: Any = None
    try:
        try:
            # ``parse``, written out: a one-cell call is mostly such small steps.
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                raise not_json(error) from None
            # Only this frame holds the bytes: they go before the work starts.
            del body
            result, cells = call(data, max_cells)
        except BadCallError as error:
            return error_answer(str(error), function=function_name(data), cells=error.cells)
        name = data["func_name"]
        # The argument lists go away here, by reference counting, while the
        # collector still sleeps.
        del data
        # ``Answer(...)``, without the Python frame of its ``__new__``.
        return _new_answer(Answer, (200, orjson.dumps({"result": result}), name, cells))
    finally:
        if pause:
            gc.enable()


# --- custom scripts (the task pane's buttons) ----------------------------------


def script(module_name: str, name: str) -> Any:
    """The ``@script`` function ``name`` of the scripts module, or None."""
    module = importlib.import_module(module_name)
    function = getattr(module, name, None)
    if getattr(function, "__xlscript__", None) is None:
        return None
    return function


def _check_book(data: Any) -> None:
    """The parts of a book that xlwings reads before a script runs."""
    if type(data) is not dict:
        raise BadCallError("the request body must be a JSON object (the workbook)")
    book = data.get("book")
    if type(book) is not dict:
        raise BadCallError("the workbook the task pane sent has no 'book' part")
    for key, kind in (("name", str), ("active_sheet_index", int), ("selection", str)):
        if type(book.get(key)) is not kind:
            raise BadCallError(
                f"the workbook the task pane sent: book.{key} is {quote(book.get(key))}; "
                f"expected {'text' if kind is str else 'a whole number'}"
            )
    sheets = data.get("sheets")
    if type(sheets) is not list or not sheets:
        raise BadCallError("the workbook the task pane sent has no list of sheets")
    if not 0 <= book["active_sheet_index"] < len(sheets):
        raise BadCallError(
            f"the workbook the task pane sent: book.active_sheet_index is "
            f"{book['active_sheet_index']}; it has {len(sheets)} sheets"
        )
    for position, sheet in enumerate(sheets, 1):
        if type(sheet) is not dict or type(sheet.get("name")) is not str:
            raise BadCallError(f"the workbook the task pane sent: sheet {position} has no name")
        values = sheet.get("values")
        if type(values) is not list or any(type(row) is not list for row in values):
            raise BadCallError(
                f"the workbook the task pane sent: sheet {quote(sheet['name'])} has no "
                "values as a list of rows"
            )
    names = data.get("names", [])
    if type(names) is not list or any(
        type(entry) is not dict or type(entry.get("name")) is not str for entry in names
    ):
        raise BadCallError("the workbook the task pane sent: names is not a list of names")
    if type(data.get("client")) is not str or type(data.get("version")) is not str:
        raise BadCallError("the workbook the task pane sent has no client or version")


def no_such_script(module_name: str, name: str) -> Answer | None:
    """The answer for a button whose script does not exist; None when it does."""
    if script(module_name, name) is not None:
        return None
    return error_answer(
        f"Custom script {quote(name)} doesn't exist yet: define it with @script in {module_name}"
    )


def answer_script(module_name: str, name: str, spooled: bytes | Path) -> Answer:
    """The answer to a task pane button: the actions that change the workbook."""
    body = take_body(spooled)
    missing = no_such_script(module_name, name)
    if missing is not None:
        return missing
    try:
        data = parse(body)
        _check_book(data)
    except BadCallError as error:
        return error_answer(f"{name}: {error}", function=name)
    args = data.pop("args", None) or []
    try:
        book = xw.Book(json=data)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        return error_answer(
            f"{name}: the workbook the task pane sent cannot be read ({quote(error)})",
            function=name,
        )
    try:
        book = asyncio.run(
            xlwings.server.custom_scripts_call(
                importlib.import_module(module_name),
                name,
                None,
                typehint_to_value={xw.Book: book},
                args=args,
            )
        )
        return Answer(200, orjson.dumps(book.json()), name)
    except xw.XlwingsError as error:
        return error_answer(str(error), function=name)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        # xlwings reads the book's parts lazily, so a part that Excel always
        # sends but this body lacks fails here. Logged in full, since a book
        # that really came from Excel would make this a fault of the add-in.
        log.warning("%s: a workbook that cannot be read", name, exc_info=True)
        return error_answer(
            f"{name}: the workbook the task pane sent cannot be read "
            f"({type(error).__name__}: {quote(str(error))}); if it came from Excel, please "
            "report it with the server's log",
            function=name,
        )
    except ArithmeticError as error:
        # A fault of the add-in (decimal.InvalidOperation once stopped the
        # report on 1e30): a message in the pane, not an HTTP 500.
        log.error("%s: failed", name, exc_info=True)
        return error_answer(
            f"{name} could not finish ({type(error).__name__}: {quote(str(error))}); "
            "please report it with the server's log",
            function=name,
        )
    finally:
        book.close()


# --- the task pane's refresh, read in chunks (``addin.report.pane``) --------------


def answer_refresh_plan(spooled: bytes | Path) -> Answer:
    """What the pane reads for a refresh, from the workbook's structure."""
    from addin.ooxml.package import ReportError  # noqa: PLC0415
    from addin.report.pane import refresh_plan  # noqa: PLC0415

    try:
        data = parse(take_body(spooled))
        return Answer(200, orjson.dumps(refresh_plan(data)), "refresh_plan")
    except BadCallError as error:
        return error_answer(f"refresh_report: {error}", function="refresh_plan")
    except ReportError as error:
        return error_answer(str(error), function="refresh_plan")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        log.warning("refresh_plan: a structure that cannot be read", exc_info=True)
        return error_answer(
            f"refresh_report: the workbook's structure cannot be read "
            f"({type(error).__name__}: {quote(str(error))})",
            function="refresh_plan",
        )


def answer_refresh(spooled: bytes | Path) -> Answer:
    """The report sheet's actions, from the columns the pane read."""
    from addin.ooxml.package import ReportError  # noqa: PLC0415
    from addin.report.pane import refresh_answer  # noqa: PLC0415

    body = take_body(spooled)
    pause = len(body) > LARGE_BODY and gc.isenabled()
    if pause:
        gc.disable()
    try:
        data = parse(body)
        del body
        answer = refresh_answer(data)
        return Answer(200, orjson.dumps(answer), "refresh_report", answer["rows"])
    except BadCallError as error:
        return error_answer(f"refresh_report: {error}", function="refresh_report")
    except ReportError as error:
        return error_answer(str(error), function="refresh_report")
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        # What the checks of addin.report.pane let through would be a fault of
        # the add-in: logged in full, answered with a sentence.
        log.warning("refresh_report: a request that cannot be read", exc_info=True)
        return error_answer(
            f"refresh_report: the workbook the task pane sent cannot be read "
            f"({type(error).__name__}: {quote(str(error))}); please report it with the "
            "server's log",
            function="refresh_report",
        )
    finally:
        if pause:
            gc.enable()
