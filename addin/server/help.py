"""The help pages of ``kpi serve``: one page per Excel function at
``/help/<name>`` (the ``helpUrl`` of its custom-function metadata) and an
index at ``/help/``, in English, French or Dutch.

Everything on a page comes from the catalogue: titles, definitions,
formulas, argument descriptions, worked examples (computed here, so the page
shows what the function really returns), the benchmark bands of every
business type (formatted by ``kpi_engine.display``, the one formatting
layer) and the source articles. The words around them are in
``templates/help/words.toml``; the pages are the Jinja2 templates beside it,
rendered with autoescape, so no text from the catalogue or the request
reaches the page unescaped. A page loads nothing beyond itself: its
stylesheet is inline, and ``CONTENT_SECURITY_POLICY`` says so to the browser.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import inspect
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, get_decimal_symbol
from markupsafe import Markup

from kpi_engine import (
    BAND_NAMES,
    BUSINESS_TYPES,
    KPI,
    KPIS,
    LANGUAGES,
    RATINGS,
    SOURCES,
    ProfileKPI,
    display,
)
from kpi_engine.inputs import describe_value
from kpi_engine.texts import labels, templates_dir

INDEX_PATH = "/help/"
DEFAULT_LANGUAGE = "en"
#: The Excel functions that are no KPI; their words are in words.toml.
HELPER_FUNCTIONS = ("benchmark_band", "kpi_list")
#: The language the catalogue's argument descriptions are written in.
ARGUMENTS_LANGUAGE = "en"


def help_path(name: str) -> str:
    """Where the help page of the Excel function ``name`` is served."""
    return f"{INDEX_PATH}{name}"


# --- words and templates ------------------------------------------------------------


@cache
def _all_words() -> Mapping[str, Any]:
    with templates_dir().joinpath("help", "words.toml").open("rb") as handle:
        return tomllib.load(handle)


def words(language: str) -> Mapping[str, Any]:
    """The help pages' words in ``language``."""
    return _all_words()[language]  # type: ignore[no-any-return]


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: templates_dir().joinpath("help", name).read_text(encoding="utf-8")
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def _stylesheet() -> str:
    return templates_dir().joinpath("help", "help.css").read_text(encoding="utf-8")


@cache
def content_security_policy() -> str:
    """The pages' policy: nothing from elsewhere, no script, only the inline
    stylesheet (by its hash) and the empty data: icon."""
    digest = base64.b64encode(hashlib.sha256(_stylesheet().encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


# --- the reader's language ----------------------------------------------------------


def page_language(asked: str | None, accept_language: str | None) -> str:
    """The page's language: ``?lang=`` when it names one of ours, else the
    first of ours in the browser's Accept-Language, else English.

    >>> page_language(None, "nl-BE,nl;q=0.9,en;q=0.5")
    'nl'
    >>> page_language("FR", "nl")
    'fr'
    >>> page_language("de", "de-DE, fr;q=0.3")
    'fr'
    """
    if asked and asked.strip().lower() in LANGUAGES:
        return asked.strip().lower()
    ranked: list[tuple[float, int, str]] = []
    for order, item in enumerate((accept_language or "").split(",")[:32]):
        tag, _, parameters = item.strip().partition(";")
        weight = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, order, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


# --- what a page shows --------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A rendered page: its status, language and HTML."""

    status: int
    language: str
    html: str


def _href(path: str, language: str) -> str:
    return f"{path}?{urlencode({'lang': language})}"


def _separator(language: str) -> str:
    # Where the decimal sign is a comma, Excel separates arguments with ";".
    return ", " if get_decimal_symbol(language) == "." else "; "


def _shown(value: Any, language: str) -> str:
    """An input or a default as a reader of ``language`` writes it."""
    if value is None:
        return str(words(language)["blank"])
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(format_decimal(value, format="#,##0.######", locale=language))
    if isinstance(value, dt.datetime):
        return str(format_datetime(value, "medium", locale=language))
    if isinstance(value, dt.date):
        return str(format_date(value, "medium", locale=language))
    if isinstance(value, list | tuple):
        return _separator(language).join(_shown(item, language) for item in value)
    return f'"{value}"'


def _syntax(excel_name: str, arguments: list[tuple[str, bool]], language: str) -> str:
    shown = [f"[{name}]" if optional else name for name, optional in arguments]
    return f"={excel_name}({_separator(language).join(shown)})"


def _need(default: Any, language: str) -> str:
    said = words(language)
    if default is inspect.Parameter.empty:
        return str(said["required"])
    if default is None:
        return str(said["optional_blank"])
    return str(said["optional"]).format(default=_shown(default, language))


def _example_rows(kpi: KPI, language: str) -> list[dict[str, Any]]:
    said = words(language)
    rows = []
    for example in kpi.examples:
        given = dict(zip((a.name for a in kpi.arguments), example.args, strict=False))
        given.update(example.kwargs)
        result = kpi.function(*example.args, **example.kwargs)
        if example.source:
            origin = said["example_source"].format(source=SOURCES[example.source].cited(language))
        else:
            origin = said["example_own"]
        rows.append(
            {
                "inputs": [(name, _shown(value, language)) for name, value in given.items()],
                "result": display.format_value(result, kpi.unit, language),
                "origin": origin,
            }
        )
    return rows


def _bands(kpi: KPI, language: str) -> list[dict[str, Any]]:
    said = words(language)
    ratings = labels(language)["ratings"]
    profiles = []
    for profile in BUSINESS_TYPES.values():
        entry: ProfileKPI | None = next((e for e in profile.kpis if e.id == kpi.measures), None)
        if entry is None:
            continue
        formatted = display.format_bands(entry, language, profile.currency)
        profiles.append(
            {
                "business_type": profile.title[language],
                "title": entry.title[language],
                "rows": [
                    {"name": name, "word": ratings[name], "range": formatted[name]}
                    for name in BAND_NAMES
                    if name in formatted
                ],
                "source": said["band_source"].format(source=SOURCES[entry.source].cited(language))
                if entry.source
                else "",
                "note": entry.note,
            }
        )
    return profiles


def _sources(kpi: KPI, language: str) -> list[dict[str, Any]]:
    said = words(language)
    listed = []
    for source_id in kpi.sources:
        source = SOURCES[source_id]
        details = []
        if source.publisher:
            details.append(source.publisher)
        if source.language in LANGUAGES:
            name = said["language_names"][source.language]
            details.append(said["source_language"].format(language=name))
        if source.published:
            # A full date, or the year alone where that is all the work states.
            published = (
                source.published
                if len(source.published) == 4
                else format_date(dt.date.fromisoformat(source.published), "long", language)
            )
            details.append(said["published"].format(date=published))
        if source.url:
            details.append(source.url)
        listed.append(
            {"cited": source.cited(language), "language": source.language, "details": details}
        )
    return listed


def _kpi_page(kpi: KPI, language: str, namespace: str) -> dict[str, Any]:
    label = labels(language)
    excel_name = f"{namespace}.{kpi.id.upper()}"
    measured = KPIS[kpi.measures]
    return {
        "is_kpi": True,
        "excel_name": excel_name,
        "title": kpi.title[language],
        "definition": kpi.definition[language],
        "syntax": _syntax(excel_name, [(a.name, a.optional) for a in kpi.arguments], language),
        "formula": kpi.formula,
        "unit": label["units"][kpi.unit],
        "direction": label["directions"][kpi.direction],
        "measures": None
        if measured is kpi
        else {
            "name": measured.id,
            "title": measured.title[language],
            "href": _href(help_path(measured.id), language),
        },
        "other_forms": [
            {
                "excel_name": f"{namespace}.{form.id.upper()}",
                "title": form.title[language],
                "href": _href(help_path(form.id), language),
            }
            for form in KPIS.values()
            if form.measures == kpi.measures and form is not kpi
        ],
        "arguments": [
            {
                "name": argument.name,
                "description": argument.description,
                "description_lang": ARGUMENTS_LANGUAGE,
                "need": _need(argument.default, language),
            }
            for argument in kpi.arguments
        ],
        "descriptions_in_english": language != ARGUMENTS_LANGUAGE,
        "examples": _example_rows(kpi, language),
        "answers": [],
        "bands": _bands(kpi, language),
        "sources": _sources(kpi, language),
    }


def kpi_summary(kpi: KPI, language: str, namespace: str) -> dict[str, Any]:
    """What the task pane's KPI browser shows of ``kpi``: the help page's
    title, definition, syntax, formula, worked examples and bands."""
    page = _kpi_page(kpi, language, namespace)
    keys = ("excel_name", "title", "definition", "syntax", "formula", "unit", "direction")
    summary = {key: page[key] for key in keys}
    summary["id"] = kpi.id
    summary["examples"] = page["examples"]
    summary["bands"] = [
        {"business_type": band["business_type"], "rows": band["rows"]} for band in page["bands"]
    ]
    return summary


def _helper_page(
    name: str, function: Callable[..., Any], language: str, namespace: str
) -> dict[str, Any]:
    said = words(language)["functions"][name]
    excel_name = f"{namespace}.{name.upper()}"
    parameters = list(inspect.signature(function).parameters.values())
    ratings = labels(language)["ratings"]
    return {
        "is_kpi": False,
        "excel_name": excel_name,
        "title": said["title"],
        "definition": said["definition"],
        "syntax": _syntax(
            excel_name,
            [(p.name, p.default is not inspect.Parameter.empty) for p in parameters],
            language,
        ),
        "measures": None,
        "other_forms": [],
        "arguments": [
            {
                "name": p.name,
                "description": said["arguments"][p.name],
                "description_lang": language,
                "need": _need(p.default, language),
            }
            for p in parameters
        ],
        "descriptions_in_english": False,
        "examples": [],
        "answers": [ratings[rating] for rating in RATINGS] if name == "benchmark_band" else [],
    }


class HelpPages:
    """The pages for one server: its namespace (``KPI``, ``KPI_DEV``) and
    its Excel functions, by name."""

    def __init__(self, namespace: str, excel_functions: Mapping[str, Callable[..., Any]]) -> None:
        self.namespace = namespace
        self.helpers = {name: excel_functions[name] for name in HELPER_FUNCTIONS}

    def _render(self, template: str, language: str, path: str, **context: Any) -> str:
        return (
            _environment()
            .get_template(template)
            .render(
                lang=language,
                words=words(language),
                # Our own stylesheet, not input: it goes in as it is, and its hash is in the policy.
                css=Markup(_stylesheet()),
                index_href=_href(INDEX_PATH, language),
                languages=[
                    {"code": code, "name": words(code)["language_name"], "href": _href(path, code)}
                    for code in LANGUAGES
                ],
                **context,
            )
        )

    def index(self, language: str) -> Page:
        def row(name: str, title: str, definition: str) -> dict[str, str]:
            return {
                "name": name,
                "excel_name": f"{self.namespace}.{name.upper()}",
                "href": _href(help_path(name), language),
                "title": title,
                "definition": definition,
            }

        kpis = [row(k.id, k.title[language], k.definition[language]) for k in KPIS.values()]
        said = words(language)["functions"]
        helpers = [row(n, said[n]["title"], said[n]["definition"]) for n in self.helpers]
        html = self._render("index.html", language, INDEX_PATH, kpis=kpis, helpers=helpers)
        return Page(200, language, html)

    def function(self, name: str, language: str) -> Page:
        """The page of the Excel function ``name`` (any letter case), or a
        404 page that says there is none."""
        key = name.strip().lower()
        if key in KPIS:
            page = _kpi_page(KPIS[key], language, self.namespace)
        elif key in self.helpers:
            page = _helper_page(key, self.helpers[key], language, self.namespace)
        else:
            message = words(language)["not_found"].format(name=describe_value(name))
            path = help_path(quote(name, safe=""))
            html = self._render("not_found.html", language, path, message=message)
            return Page(404, language, html)
        return Page(
            200, language, self._render("function.html", language, help_path(key), page=page)
        )
