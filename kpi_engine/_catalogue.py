"""The catalogue: every KPI and every business type, loaded from TOML data.

``catalogue/kpis.toml`` holds one entry per KPI function (what it measures,
its unit, which direction is better, titles and definitions in every
language, argument descriptions, worked examples and sources).
``catalogue/business_types/*.toml`` holds one profile per business type: the
KPIs it tracks, the titles its article gives them, and that article's
benchmark bands. Loading turns both into frozen dataclasses and checks them;
a bad entry fails at import with a message that says how to fix it.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

from . import _aggregate, _records  # noqa: F401  (registers the KPI functions)
from ._errors import KPIInputError
from ._inputs import is_number, single
from ._registry import FUNCTIONS

LANGUAGES: tuple[str, ...] = ("en", "fr", "nl")
Direction = Literal["higher", "lower"]
Kind = Literal["aggregate", "records", "statistic"]
BandName = Literal["exceptional", "above_average", "typical"]
Stage = Literal["awareness", "consideration", "conversion"]
#: The funnel stages of article 004, top to bottom.
STAGES: tuple[Stage, ...] = ("awareness", "consideration", "conversion")
Rating = Literal["exceptional", "above_average", "typical", "below_typical", "unrated"]

#: Best band first: a value on the boundary of two bands gets the better one.
BAND_NAMES: tuple[BandName, ...] = ("exceptional", "above_average", "typical")
RATINGS: tuple[Rating, ...] = (*BAND_NAMES, "below_typical", "unrated")
UNITS: frozenset[str] = frozenset(
    {"fraction", "score", "points", "hours", "minutes", "currency", "count", "per_user"}
)


class CatalogueError(Exception):
    """A catalogue entry that is incomplete or contradicts itself."""


# --- bands ---------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """One benchmark band, worded as the article words it.

    ``min``/``max`` include their figure ("95 % or more"), ``above``/``below``
    exclude it ("more than 50 %", "under 12 hours"), ``about`` is a single
    level ("around 40 %"). Only the bound that faces the worse side matters
    for rating a value: the lower bound when higher is better, the upper
    bound when lower is better.
    """

    min: float | None = None
    max: float | None = None
    above: float | None = None
    below: float | None = None
    about: float | None = None

    def threshold(self, direction: Direction) -> tuple[float, bool]:
        """The figure a value must reach, and whether reaching it exactly counts."""
        if self.about is not None:
            return self.about, True
        if direction == "higher":
            if self.min is not None:
                return self.min, True
            if self.above is not None:
                return self.above, False
        else:
            if self.max is not None:
                return self.max, True
            if self.below is not None:
                return self.below, False
        raise CatalogueError("band has no bound on the side that rates a value")

    def admits(self, value: float, direction: Direction) -> bool:
        figure, inclusive = self.threshold(direction)
        if direction == "higher":
            return value > figure or (inclusive and value == figure)
        return value < figure or (inclusive and value == figure)

    def figures(self) -> dict[str, float]:
        return {
            key: value
            for key, value in (
                ("min", self.min),
                ("max", self.max),
                ("above", self.above),
                ("below", self.below),
                ("about", self.about),
            )
            if value is not None
        }


def _band(where: str, data: Mapping[str, Any]) -> Band:
    unknown = set(data) - {"min", "max", "above", "below", "about"}
    if unknown:
        raise CatalogueError(
            f"{where}: unknown band keys {sorted(unknown)}; use min, max, above, below or about"
        )
    for key, value in data.items():
        if not is_number(value):
            raise CatalogueError(f"{where}.{key} must be a number, not {value!r}")
    band = Band(**{key: float(value) for key, value in data.items()})
    if band.about is not None and len(data) > 1:
        raise CatalogueError(f"{where}: 'about' stands alone; drop the other bounds")
    if band.min is not None and band.above is not None:
        raise CatalogueError(f"{where}: give min or above, not both")
    if band.max is not None and band.below is not None:
        raise CatalogueError(f"{where}: give max or below, not both")
    low = band.min if band.min is not None else band.above
    high = band.max if band.max is not None else band.below
    if low is not None and high is not None and low > high:
        raise CatalogueError(f"{where}: the lower bound {low} is above the upper bound {high}")
    if not data:
        raise CatalogueError(f"{where}: a band needs at least one figure")
    return band


# --- sources --------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A document the catalogue cites: its title (as the document gives it, in
    its language, or a description of ours where it has none), its language,
    and what else is known of it."""

    id: str
    title: str
    language: str
    described: bool = False
    published: str = ""
    publisher: str = ""
    url: str = ""
    #: The title in the other languages, by language.
    titles: Mapping[str, str] = field(default_factory=dict)

    def title_in(self, language: str) -> str:
        """The title a reader of ``language`` reads: the document's own in its
        language, else its translation."""
        return self.title if language == self.language else self.titles[language]

    def cited(self, language: str | None = None) -> str:
        """The source as a reader of ``language`` should see it: the title in
        that language's quotes, followed, where it is a translation, by the
        original in brackets; a description where the document has no title.

        >>> print(SOURCES["004_e1dc3a0fcabfb965.txt"].cited("en"))
        Social media KPIs by stage of the marketing funnel
        >>> print(SOURCES["rocks_2016"].cited("nl"))  # doctest: +NORMALIZE_WHITESPACE
        “Intervalschatting voor de Net Promoter Score”
        (“Interval Estimation for the “Net Promoter Score””)
        """
        language = language or self.language
        if self.described:
            return self.title_in(language)
        quoted = quote(self.title_in(language), language)
        if language == self.language:
            return quoted
        return f"{quoted} ({quote(self.title, self.language)})"


#: Each language's quotation marks (French ones with the no-break spaces inside).
QUOTES: Mapping[str, tuple[str, str]] = {
    "en": ("“", "”"),
    "fr": ("«\u00a0", "\u00a0»"),
    "nl": ("“", "”"),
}


def quote(text: str, language: str) -> str:
    """``text`` between the quotation marks of ``language``."""
    opening, closing = QUOTES[language]
    return f"{opening}{text}{closing}"


def _sources(data: Mapping[str, Any]) -> Mapping[str, Source]:
    sources = {}
    known = {"title", "titles", "language", "described", "published", "publisher", "url"}
    for source_id, raw in data.items():
        where = f"sources.toml [{source_id!r}]"
        unknown = set(raw) - known
        if unknown:
            raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}; use {sorted(known)}")
        if not str(raw.get("title", "")).strip() or not str(raw.get("language", "")).strip():
            raise CatalogueError(f"{where}: give a title and the document's language")
        others = set(LANGUAGES) - {raw["language"]}
        if set(raw.get("titles", {})) != others:
            raise CatalogueError(
                f"{where}: titles must give the title in {sorted(others)}; "
                f"it gives {sorted(raw.get('titles', {}))}"
            )
        sources[source_id] = Source(id=source_id, **raw)
    return MappingProxyType(sources)


# --- KPIs -----------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    name: str
    description: str
    default: Any = inspect.Parameter.empty

    @property
    def optional(self) -> bool:
        return self.default is not inspect.Parameter.empty


@dataclass(frozen=True)
class Example:
    """A worked example: the inputs, the result, and where it comes from.

    ``rounded_to`` is the number of decimals of a result that the source
    states rounded (66.67 % is 0.6667, so 4). ``source`` is the seed file,
    or empty for an example of our own where the article gives none.
    """

    args: tuple[Any, ...]
    result: float
    source: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    rounded_to: int | None = None

    def matches(self, value: float) -> bool:
        if self.rounded_to is not None:
            tolerance = 0.5 * 10.0**-self.rounded_to + 1e-12
            return abs(value - self.result) <= tolerance
        return math.isclose(value, self.result, rel_tol=1e-12, abs_tol=1e-12)


@dataclass(frozen=True)
class KPI:
    """One KPI function of the catalogue and everything known about it."""

    id: str
    kind: Kind
    measures: str
    formula: str
    unit: str
    direction: Direction
    title: Mapping[str, str]
    definition: Mapping[str, str]
    arguments: tuple[Argument, ...]
    examples: tuple[Example, ...]
    sources: tuple[str, ...]
    function: Callable[..., float] = field(repr=False, compare=False)
    #: A month's value is the sum of its rows' values (reach, likes, revenue):
    #: the KPI adds up over rows, days and tables. Said by the catalogue
    #: (``additive = true``), never read from the formula's text.
    additive: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        return self.function(*args, **kwargs)

    @property
    def summary(self) -> str:
        """The first line of the function's docstring: what it returns."""
        return (self.function.__doc__ or "").strip().splitlines()[0]


@dataclass(frozen=True)
class ProfileKPI:
    """A KPI as one business type tracks it: its title there and its bands."""

    kpi: KPI
    title: Mapping[str, str]
    unit: str
    bands: Mapping[BandName, Band]
    source: str
    note: str = ""
    #: The function that measures the KPI for this type from its records: the
    #: KPI itself, or one of its forms (completion within the agreed deadline).
    form: str = ""
    #: The months that one value covers (3: quarter on quarter, as an article's
    #: example and bands assume).
    months: int = 1
    #: The funnel stage the KPI belongs to, where the type's article sorts
    #: its KPIs by stage (awareness, consideration, conversion), else "".
    stage: str = ""
    #: The first target a workbook proposes, where the catalogue names one
    #: rather than taking the figure of a band: where the article's figures
    #: are for platforms far larger than a small business (its note says
    #: why). None: the band's figure (see ``display.default_target``).
    target: float | None = None

    @property
    def id(self) -> str:
        return self.kpi.id

    def external(self, article: str) -> bool:
        """Whether the bands are an external benchmark, not the figures of
        ``article`` (the business type's own)."""
        return bool(self.bands) and self.source != article

    @property
    def direction(self) -> Direction:
        return self.kpi.direction

    def rate(self, value: float) -> Rating:
        """The band a value falls in (see :func:`benchmark_band`)."""
        if not self.bands:
            return "unrated"
        for name in BAND_NAMES:
            band = self.bands.get(name)
            if band is not None and band.admits(value, self.direction):
                return name
        # Where an article gives no typical range, all it tells us is that the
        # value is not among the better bands: that is what "typical" means.
        return "below_typical" if "typical" in self.bands else "typical"


@dataclass(frozen=True)
class BusinessType:
    id: str
    title: Mapping[str, str]
    description: Mapping[str, str]
    source: str
    currency: str
    kpis: tuple[ProfileKPI, ...]
    #: What the KPIs without bands say about it, per language ("" where all are rated).
    unrated: Mapping[str, str] = field(default_factory=dict)
    #: Where the type's data holds a quantity its recipes read, by quantity
    #: ("revenue", "members"): the table, and for revenue its column and the
    #: date column that dates it ("month" in a monthly table).
    holds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def kpi(self, kpi_id: str) -> ProfileKPI:
        for entry in self.kpis:
            if entry.id == kpi_id or entry.kpi.id == get_kpi(kpi_id).measures:
                return entry
        raise KeyError(kpi_id)


# --- loading ---------------------------------------------------------------


def _read_toml(*parts: str) -> dict[str, Any]:
    path = resources.files("kpi_engine").joinpath("catalogue", *parts)
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _texts(where: str, data: Any) -> Mapping[str, str]:
    if not isinstance(data, dict):
        raise CatalogueError(f"{where} must be a table with keys {', '.join(LANGUAGES)}")
    missing = [lang for lang in LANGUAGES if not str(data.get(lang, "")).strip()]
    if missing:
        raise CatalogueError(f"{where} lacks text for {', '.join(missing)}")
    extra = set(data) - set(LANGUAGES)
    if extra:
        raise CatalogueError(f"{where} has texts for unknown languages {sorted(extra)}")
    return MappingProxyType({lang: str(data[lang]).strip() for lang in LANGUAGES})


def _kpi(kpi_id: str, data: dict[str, Any]) -> KPI:
    where = f"kpis.toml [{kpi_id}]"
    function = FUNCTIONS.get(kpi_id)
    if function is None:
        raise CatalogueError(
            f"{where}: no function named {kpi_id}; write one decorated with @kpi_function "
            "in kpi_engine/_aggregate.py (from totals) or kpi_engine/_records.py (from "
            "records), with its worked example as a doctest, and export it from "
            "kpi_engine/__init__.py"
        )
    required = {
        "kind",
        "formula",
        "unit",
        "direction",
        "title",
        "definition",
        "arguments",
        "sources",
    }
    missing = required - set(data)
    if missing:
        raise CatalogueError(f"{where}: missing {', '.join(sorted(missing))}")
    if data["kind"] not in ("aggregate", "records", "statistic"):
        raise CatalogueError(f"{where}: kind must be aggregate, records or statistic")
    if data["unit"] not in UNITS:
        raise CatalogueError(f"{where}: unit {data['unit']!r} is not one of {sorted(UNITS)}")
    if data["direction"] not in ("higher", "lower"):
        raise CatalogueError(f"{where}: direction must be 'higher' or 'lower' (which is better)")
    parameters = inspect.signature(function).parameters
    described = data["arguments"]
    if list(described) != list(parameters):
        raise CatalogueError(
            f"{where}: arguments {list(described)} must describe the function's "
            f"parameters in order: {list(parameters)}"
        )
    arguments = tuple(
        Argument(name, str(described[name]), parameters[name].default) for name in parameters
    )
    examples = tuple(_example(f"{where} example", kpi_id, raw) for raw in data.get("examples", []))
    sources = tuple(data["sources"])
    if not sources:
        raise CatalogueError(f"{where}: name at least one source article")
    additive = data.get("additive", False)
    if not isinstance(additive, bool) or (additive and len(arguments) != 1):
        raise CatalogueError(
            f"{where}: additive is true or false; true only for a sum of one column of values"
        )
    return KPI(
        id=kpi_id,
        kind=data["kind"],
        measures=data.get("measures", kpi_id),
        formula=data["formula"],
        unit=data["unit"],
        direction=data["direction"],
        title=_texts(f"{where}.title", data["title"]),
        definition=_texts(f"{where}.definition", data["definition"]),
        arguments=arguments,
        examples=examples,
        sources=sources,
        function=function,
        additive=additive,
    )


def _example(where: str, kpi_id: str, raw: dict[str, Any]) -> Example:
    try:
        return Example(
            args=tuple(raw["args"]),
            kwargs=MappingProxyType(dict(raw.get("kwargs", {}))),
            result=float(raw["result"]),
            source=str(raw.get("source", "")),
            rounded_to=raw.get("rounded_to"),
        )
    except KeyError as missing:
        raise CatalogueError(f"{where} for {kpi_id} lacks {missing}") from None


#: The keys a business type's KPI entry may have.
_ENTRY_KEYS = frozenset(
    {"id", "title", "unit", "note", "form", "months", "stage", "source", "target", *BAND_NAMES}
)


def _entry_choices(
    entry_where: str, raw: Mapping[str, Any], kpi: KPI, kpis: Mapping[str, KPI]
) -> tuple[str, int, str]:
    """An entry's form, months and stage, checked."""
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise CatalogueError(f"{entry_where}: unknown keys {sorted(unknown)}")
    form = str(raw.get("form", kpi.id))
    if form not in kpis or kpis[form].measures != kpi.id:
        raise CatalogueError(f"{entry_where}.form: {form!r} is not a form of {kpi.id} in kpis.toml")
    months = raw.get("months", 1)
    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 12:
        raise CatalogueError(f"{entry_where}.months must be a whole number of months, 1 to 12")
    stage = str(raw.get("stage", ""))
    if stage and stage not in STAGES:
        raise CatalogueError(f"{entry_where}.stage must be one of {', '.join(STAGES)}")
    return form, months, stage


def _target(
    entry_where: str, raw: Mapping[str, Any], bands: Mapping[BandName, Band]
) -> float | None:
    """An entry's own first target, checked: a number, for a KPI the article
    rates, with a note saying why it is not the band's figure."""
    if "target" not in raw:
        return None
    target = raw["target"]
    if not isinstance(target, int | float) or isinstance(target, bool) or not math.isfinite(target):
        raise CatalogueError(f"{entry_where}.target must be a number, not {target!r}")
    if not bands or not raw.get("note"):
        raise CatalogueError(
            f"{entry_where}.target: only a KPI with bands takes its own target, "
            "and its note says why the band's figure does not serve"
        )
    return float(target)


def _profile(type_id: str, data: dict[str, Any], kpis: Mapping[str, KPI]) -> BusinessType:
    where = f"business_types/{type_id}.toml"
    if data.get("id") != type_id:
        raise CatalogueError(f"{where}: id must be {type_id!r}, as the file name says")
    entries = []
    for raw in data.get("kpis", []):
        kpi_id = raw.get("id")
        kpi = kpis.get(kpi_id)
        if kpi is None:
            raise CatalogueError(f"{where}: KPI {kpi_id!r} is not in kpis.toml")
        if kpi.measures != kpi.id:
            raise CatalogueError(
                f"{where}: list the KPI {kpi.measures!r} itself, not its form {kpi.id!r}"
            )
        entry_where = f"{where} [{kpi_id}]"
        # A duration always has its unit (hours, minutes): a KPI's value is in
        # the unit of its entry, and a profile may only repeat it.
        unit = raw.get("unit", kpi.unit)
        if unit != kpi.unit:
            raise CatalogueError(
                f"{entry_where}: unit {unit!r} differs from the KPI's {kpi.unit!r}; "
                "the function returns the KPI's unit, so drop the profile's unit"
            )
        bands = {
            name: _band(f"{entry_where}.{name}", raw[name]) for name in BAND_NAMES if name in raw
        }
        form, months, stage = _entry_choices(entry_where, raw, kpi, kpis)
        entries.append(
            ProfileKPI(
                kpi=kpi,
                form=form,
                months=months,
                stage=stage,
                title=_texts(f"{entry_where}.title", raw["title"]) if "title" in raw else kpi.title,
                unit=unit,
                bands=MappingProxyType(bands),
                source=str(raw.get("source", data["source"])) if bands else "",
                note=str(raw.get("note", "")),
                target=_target(entry_where, raw, bands),
            )
        )
        for name, band in bands.items():
            try:
                band.threshold(kpi.direction)
            except CatalogueError:
                raise CatalogueError(
                    f"{entry_where}.{name}: {kpi.direction} is better, so this band needs "
                    f"{'min, above' if kpi.direction == 'higher' else 'max, below'} or about"
                ) from None
    ids = [entry.id for entry in entries]
    if len(set(ids)) != len(ids):
        raise CatalogueError(f"{where}: a KPI is listed twice")
    staged = [entry.stage for entry in entries]
    if any(staged) and not all(staged):
        raise CatalogueError(f"{where}: give every KPI a stage, or none")
    if any(staged) and staged != sorted(staged, key=STAGES.index):
        raise CatalogueError(f"{where}: list the KPIs stage by stage, top of the funnel first")
    return BusinessType(
        id=type_id,
        title=_texts(f"{where}.title", data.get("title")),
        description=_texts(f"{where}.description", data.get("description")),
        source=data["source"],
        currency=data.get("currency", "USD"),
        kpis=tuple(entries),
        unrated=_texts(f"{where}.unrated", data["unrated"]) if "unrated" in data else {},
        holds=_holds(f"{where}.holds", data.get("holds", {})),
    )


#: The quantities a type's ``[holds]`` may place, with the keys each needs.
_HOLDS_KEYS = {"revenue": {"table", "column", "dated_by"}, "members": {"table"}}


def _holds(where: str, data: Any) -> Mapping[str, Mapping[str, str]]:
    """A type's ``[holds]`` table, checked: revenue = { table, column, dated_by },
    members = { table }."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{where} must be a table, such as revenue = {{ table = ... }}")
    unknown = set(data) - set(_HOLDS_KEYS)
    if unknown:
        raise CatalogueError(
            f"{where}: unknown quantities {sorted(unknown)}; use {sorted(_HOLDS_KEYS)}"
        )
    checked: dict[str, Mapping[str, str]] = {}
    for quantity, place in data.items():
        needed = _HOLDS_KEYS[quantity]
        if not isinstance(place, dict) or set(place) != needed:
            raise CatalogueError(f"{where}.{quantity}: give exactly {', '.join(sorted(needed))}")
        checked[quantity] = MappingProxyType({key: str(value) for key, value in place.items()})
    return MappingProxyType(checked)


def _check_cited(
    sources: Mapping[str, Source], kpis: Mapping[str, KPI], types: Mapping[str, BusinessType]
) -> None:
    cited = [(f"kpis.toml [{kpi.id}]", source) for kpi in kpis.values() for source in kpi.sources]
    cited += [
        (f"kpis.toml [{kpi.id}] example", example.source)
        for kpi in kpis.values()
        for example in kpi.examples
        if example.source
    ]
    for profile in types.values():
        cited.append((f"business_types/{profile.id}.toml", profile.source))
        cited += [
            (f"business_types/{profile.id}.toml [{entry.id}]", entry.source)
            for entry in profile.kpis
            if entry.source
        ]
    for where, source in cited:
        if source not in sources:
            raise CatalogueError(f"{where}: the source {source!r} is not listed in sources.toml")
    for profile in types.values():
        for entry in profile.kpis:
            cited_by = sources.get(entry.source)
            if (
                entry.external(profile.source)
                and cited_by is not None
                and not (cited_by.publisher and cited_by.published and cited_by.url)
            ):
                raise CatalogueError(
                    f"business_types/{profile.id}.toml [{entry.id}]: an external benchmark "
                    f"needs a source with publisher, published and url; {entry.source!r} lacks one"
                )
    for profile in types.values():
        unrated = [entry.id for entry in profile.kpis if not entry.bands]
        if unrated and not profile.unrated:
            raise CatalogueError(
                f"business_types/{profile.id}.toml: {', '.join(unrated)} have no bands; "
                "say why in [unrated] (en, fr, nl)"
            )


def _load() -> tuple[Mapping[str, KPI], Mapping[str, BusinessType]]:
    raw_kpis = _read_toml("kpis.toml")
    kpis = {kpi_id: _kpi(kpi_id, data) for kpi_id, data in raw_kpis.items()}
    unlisted = set(FUNCTIONS) - set(kpis)
    if unlisted:
        raise CatalogueError(f"functions without a kpis.toml entry: {sorted(unlisted)}")
    for kpi in kpis.values():
        if kpi.measures not in kpis:
            raise CatalogueError(f"kpis.toml [{kpi.id}]: measures unknown KPI {kpi.measures!r}")
    folder = resources.files("kpi_engine").joinpath("catalogue", "business_types")
    type_files = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".toml"))
    types = {}
    for name in type_files:
        type_id = name.removesuffix(".toml")
        types[type_id] = _profile(type_id, _read_toml("business_types", name), kpis)
    _check_cited(SOURCES, kpis, types)
    return MappingProxyType(kpis), MappingProxyType(types)


SOURCES: Mapping[str, Source] = _sources(_read_toml("sources.toml"))
KPIS, BUSINESS_TYPES = _load()


def get_kpi(kpi_id: Any, function: str = "get_kpi", argument: str = "kpi_id") -> KPI:
    """Return the catalogue entry of a KPI id (any letter case)."""
    key = kpi_id.strip().lower() if isinstance(kpi_id, str) else None
    if key is None or key not in KPIS:
        raise KPIInputError(function, argument, kpi_id, "a KPI id such as 'nps' (see kpi list)")
    return KPIS[key]


def get_business_type(
    type_id: Any, function: str = "get_business_type", argument: str = "business_type"
) -> BusinessType:
    """Return the profile of a business type id (any letter case)."""
    key = type_id.strip().lower() if isinstance(type_id, str) else None
    if key is None or key not in BUSINESS_TYPES:
        raise KPIInputError(
            function, argument, type_id, f"one of {', '.join(sorted(BUSINESS_TYPES))}"
        )
    return BUSINESS_TYPES[key]


def check_language(
    language: Any, function: str = "kpi", argument: str = "language", position: int | None = None
) -> str:
    """Return a language code of the catalogue (any letter case); ``position``
    is the value's place in the range it came in, for the message."""
    key = language.strip().lower() if isinstance(language, str) else None
    if key not in LANGUAGES:
        raise KPIInputError(
            function, argument, language, f"one of {', '.join(LANGUAGES)}", position
        )
    return str(key)


def benchmark_band(kpi_id: Any, value: Any, business_type: Any) -> Rating:
    """The article's band for a KPI value in a business type.

    One of ``exceptional``, ``above_average``, ``typical``, ``below_typical``,
    or ``unrated`` where the article gives no bands for that KPI. A value on
    the boundary of two bands gets the better one; a KPI's other forms
    (``nps_from_counts`` for ``nps``) are rated as the KPI they measure.
    """
    name = "benchmark_band"
    kpi = get_kpi(single(name, "kpi_id", kpi_id), name, "kpi_id")
    profile = get_business_type(single(name, "business_type", business_type), name, "business_type")
    value = single(name, "value", value)
    if not is_number(value):
        raise KPIInputError(name, "value", value, f"a value of {kpi.measures} (a number)")
    for entry in profile.kpis:
        if entry.id == kpi.measures:
            return entry.rate(float(value))
    tracked = ", ".join(entry.id for entry in profile.kpis)
    raise KPIInputError(name, "kpi_id", kpi_id, f"a KPI that {profile.id} tracks: {tracked}")


# --- docstrings from the catalogue -------------------------------------------


def _doctest(kpi: KPI) -> str:
    lines = []
    for example in kpi.examples:
        origin = example.source or "an illustrative example; the article gives none"
        call_args = [repr(a) for a in example.args]
        call_args += [f"{key}={value!r}" for key, value in example.kwargs.items()]
        call = f"{kpi.id}({', '.join(call_args)})"
        needs_datetime = any(
            isinstance(cell, dt.date)
            for arg in example.args
            for cell in (arg if isinstance(arg, list) else [arg])
        )
        lines.append(f"    Example ({origin}):")
        lines.append("")
        if needs_datetime:
            lines.append("    >>> import datetime")
        if example.rounded_to is not None:
            lines.append(f"    >>> round({call}, {example.rounded_to})")
        else:
            lines.append(f"    >>> {call}")
        lines.append(f"    {example.result!r}")
        lines.append("")
    return "\n".join(lines)


def _attach_examples() -> None:
    for kpi in KPIS.values():
        if kpi.examples:
            doc = inspect.cleandoc(kpi.function.__doc__ or "")
            indented = "\n".join(f"    {line}" if line else "" for line in doc.splitlines())
            kpi.function.__doc__ = f"{indented.strip()}\n\n{_doctest(kpi)}"


_attach_examples()
