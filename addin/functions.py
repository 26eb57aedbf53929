"""Every catalogue KPI as an Excel function, for every xlwings runtime.

This one module serves, unchanged:

* xlwings Lite, where the ``main.py`` that ``kpi lite`` writes imports these
  functions (through ``addin.xlwings_lite``) and formulas read
  ``=NPS(Survey[recommend_score])``;
* xlwings Server / Office.js (``kpi serve``), where formulas read
  ``=KPI.NPS(Survey[recommend_score])``: the manifest adds the ``KPI`` namespace;
* classic xlwings on Windows desktop (COM), via ``UDF_MODULES`` or a custom
  add-in (see docs/addin-lite.md, docs/addin-serve.md and docs/addin-com.md).

The functions are made from the catalogue (``kpi_engine.KPIS``): a KPI added
there gets its Excel function, its description (the first line of its
docstring) and its argument descriptions here, with nothing to write by hand.
``BENCHMARK_BAND`` rates a value against a business type's benchmark bands;
``KPI_LIST`` spills the catalogue of a business type.

How errors reach Excel: bad input raises ``xlwings.XlwingsError`` carrying
the engine's message, which Excel shows as ``#VALUE!`` with the message on
hover; a KPI without a value (a rate over zero customers) returns a real
``#DIV/0!`` error. Nothing returns a stack trace into a cell.

No type annotations on the Excel-facing functions, on purpose: xlwings reads
annotations as converters, and every argument must arrive exactly as Excel
sends it (scalars, ``None`` for blanks, flat lists, lists of rows, dates as
``datetime`` from COM or as serial numbers from Office.js), which the engine
accepts as they are.
"""

import functools
import inspect
import operator
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import xlwings as xw

import kpi_engine
from kpi_engine.inputs import single, single_cell
from kpi_engine.texts import labels


def _division_by_zero_error() -> Any:
    """The value that shows as a real ``#DIV/0!`` in the runtime at hand.

    Office.js and xlwings Lite turn the text ``#DIV/0!`` into Excel's error
    type; COM needs the error variant that VBA's ``CVErr(xlErrDiv0)`` makes.
    """
    if sys.platform.startswith("win") and os.environ.get("XLWINGS_ON_SERVER") != "true":
        try:
            import pythoncom  # type: ignore[import-not-found]  # noqa: PLC0415  (Windows only)
            from win32com.client import VARIANT  # type: ignore[import-not-found]  # noqa: PLC0415
        except ImportError:
            pass
        else:
            return VARIANT(pythoncom.VT_ERROR, -2146826281)  # the SCODE of xlErrDiv0
    return "#DIV/0!"


DIV0 = _division_by_zero_error()

_NOT_BLANK = functools.partial(operator.is_not, None)

#: Every Excel function of this module, by its Python name; Excel shows the
#: name upper-cased, after the manifest's namespace (``KPI.NPS``).
EXCEL_FUNCTIONS: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class ExcelSignature:
    """What Excel shows of a function: its description and its arguments.

    ``arguments`` holds (name, description, default) per argument, with
    ``inspect.Parameter.empty`` as the default of a required one. The tests
    hold what xlwings tells Excel to these (tests/lite_support.py).
    """

    summary: str
    arguments: tuple[tuple[str, str, Any], ...]


#: The signature of every function of ``EXCEL_FUNCTIONS``, by the same name.
EXCEL_SIGNATURES: dict[str, ExcelSignature] = {}


def _excel_function(
    name: str,
    summary: str,
    compute: Callable[..., Any],
    arguments: list[tuple[str, str, Any]],
) -> Callable[..., Any]:
    """Wrap ``compute`` as an Excel function named ``name``.

    ``arguments`` holds (name, description, default) per argument, with
    ``inspect.Parameter.empty`` as the default of a required one. A blank
    cell given for an optional argument means its default, as in Excel's own
    functions.
    """
    if name in EXCEL_FUNCTIONS:
        raise RuntimeError(f"two Excel functions are named {name!r}")
    defaults = [default for _, _, default in arguments]
    parameters = len(defaults)

    def excel_function(*args):  # type: ignore[no-untyped-def]  # see the module docstring
        if len(args) <= parameters and all(map(_NOT_BLANK, args)):
            # No blank to replace (the usual call): the arguments as they are.
            # (By identity, in C: ``None in args`` would compare arrays.)
            values = args
        else:
            values = [
                default if value is None and default is not inspect.Parameter.empty else value
                for value, default in zip(args, defaults, strict=False)
            ]
        try:
            return compute(*values)
        except kpi_engine.KPIInputError as error:
            raise xw.XlwingsError(str(error)) from None
        except kpi_engine.KPIUndefinedError:
            return DIV0

    excel_function.__name__ = excel_function.__qualname__ = name
    excel_function.__module__ = __name__
    # Excel shows the whole docstring as the description: keep it to one line.
    excel_function.__doc__ = summary
    excel_function.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(arg_name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
            for arg_name, _, default in arguments
        ]
    )
    for arg_name, description, _ in arguments:
        excel_function = xw.arg(arg_name, doc=description)(excel_function)
    excel_function = xw.func(excel_function)
    EXCEL_FUNCTIONS[name] = excel_function
    EXCEL_SIGNATURES[name] = ExcelSignature(summary, tuple(arguments))
    globals()[name] = excel_function
    return excel_function


for _kpi in kpi_engine.KPIS.values():
    _excel_function(
        _kpi.id,
        _kpi.summary,
        _kpi.function,
        [(arg.name, arg.description, arg.default) for arg in _kpi.arguments],
    )


def _language(function: str, language: Any) -> str:
    """The language asked for, checked; a one-cell range is named by its cell."""
    value, position = single_cell(function, "language", language)
    return kpi_engine.check_language(value, function, "language", position)


def _rating_words(kpi_id: Any, value: Any, business_type: Any, language: Any = "en") -> str:
    """The benchmark band of a KPI value, in the words of ``language``."""
    words = labels(_language("benchmark_band", language))
    return words["ratings"][kpi_engine.benchmark_band(kpi_id, value, business_type)]


_excel_function(
    "benchmark_band",
    "The benchmark band of a KPI value in a business type, in the language asked for: "
    "exceptional, above average, typical, below typical or no benchmark.",
    _rating_words,
    [
        (
            "kpi_id",
            "The KPI's id, such as nps or churn_rate (see KPI_LIST).",
            inspect.Parameter.empty,
        ),
        ("value", "The KPI's value, as its function returns it.", inspect.Parameter.empty),
        (
            "business_type",
            "The business type whose article gives the bands, such as social_media.",
            inspect.Parameter.empty,
        ),
        ("language", "The language of the band's words: en, fr or nl (default en).", "en"),
    ],
)


def _kpi_table(business_type: Any = None, language: Any = "en") -> list[list[Any]]:
    """The KPIs of a business type (all KPIs when blank), headings first."""
    name = "kpi_list"
    lang = _language(name, language)
    words = labels(lang)
    wanted = single(name, "business_type", business_type)
    rows: list[list[Any]] = [
        [words["headings"][key] for key in ("id", "title", "unit", "direction")]
    ]
    if wanted is None:
        entries = [(kpi.id, kpi.title, kpi.unit, kpi.direction) for kpi in kpi_engine.KPIS.values()]
    else:
        profile = kpi_engine.get_business_type(wanted, name, "business_type")
        entries = [(e.id, e.title, e.unit, e.direction) for e in profile.kpis]
    for kpi_id, title, unit, direction in entries:
        rows.append([kpi_id, title[lang], words["units"][unit], words["directions"][direction]])
    return rows


_excel_function(
    "kpi_list",
    "The catalogue as a table that spills: id, title, unit and better direction of each KPI.",
    _kpi_table,
    [
        (
            "business_type",
            "A business type such as social_media; leave blank for every KPI.",
            None,
        ),
        ("language", "The language of titles and words: en, fr or nl (default en).", "en"),
    ],
)
