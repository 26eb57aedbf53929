"""The help pages of `kpi serve` (/help/ and /help/<function>), the helpUrl
and plain-text descriptions of every custom function, and the manifest's
URLs, icons and version: a real server on 127.0.0.1, real HTTP requests,
and the pages rendered in Debian's headless chromium."""

from __future__ import annotations

import doctest
import html
import importlib.metadata
import io
import json
import re
import ssl
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
import pytest
from PIL import Image

import kpi_engine
from addin import functions
from addin.server import help as help_pages
from addin.server import manifest
from kpi_engine import display
from kpi_engine._catalogue import SOURCES
from kpi_engine._labels import labels
from tests.addin_support import Server, running_server
from tests.browser import chromium
from tests.conftest import ALL_KPIS, kpi_id
from tests.scaleout import self_signed_certificate

pytestmark = pytest.mark.server

LANGUAGES = kpi_engine.LANGUAGES
EVERY_FUNCTION = sorted(functions.EXCEL_FUNCTIONS)


def get(server: Server, path: str, **headers: str) -> tuple[int, dict[str, str], str]:
    status, response_headers, body = server.exchange("GET", path, headers=headers)
    return status, response_headers, body.decode("utf-8")


class _Text(HTMLParser):
    """The text a reader sees, entities decoded, without the stylesheet."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self.hidden += 1
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href" and value]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.parts.append(" ".join(data.split()))


def page_text(page: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(page)
    return "\n".join(parser.parts), parser.links


def band_rows(page: str) -> list[tuple[str, str, str]]:
    """(band name, its word, its range) of each row of the page's band tables."""
    rows = re.findall(r'<td class="band-(\w+)">(.*?)</td><td class="band-range">(.*?)</td>', page)
    return [(name, html.unescape(word), html.unescape(shown)) for name, word, shown in rows]


def expected_band_rows(kpi: kpi_engine.KPI, language: str) -> list[tuple[str, str, str]]:
    ratings = labels(language)["ratings"]
    rows = []
    for profile in kpi_engine.BUSINESS_TYPES.values():
        for entry in profile.kpis:
            if entry.id == kpi.measures:
                shown = display.format_bands(entry, language, profile.currency)
                rows += [
                    (name, ratings[name], shown[name])
                    for name in kpi_engine.BAND_NAMES
                    if name in shown
                ]
    return rows


# --- a page per KPI, in every language ---------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kpi", ALL_KPIS, ids=kpi_id)
def test_every_kpi_has_a_help_page_in_every_language(
    server: Server, kpi: kpi_engine.KPI, language: str
) -> None:
    status, headers, page = get(server, f"/help/{kpi.id}?lang={language}")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-language"] == language
    assert f'<html lang="{language}">' in page
    text, _ = page_text(page)
    # The page's text has its whitespace collapsed, no-break spaces included.
    flat = " ".join(text.split())
    assert " ".join(kpi.title[language].split()) in flat
    assert " ".join(kpi.definition[language].split()) in flat
    assert kpi.formula in text
    for argument in kpi.arguments:
        assert argument.name in text
        assert " ".join(argument.description.split()) in flat
    assert labels(language)["units"][kpi.unit] in text
    assert labels(language)["directions"][kpi.direction] in text
    # Every band of every business type that tracks the KPI (a form such as
    # nps_from_counts shows the bands of nps), formatted by the one layer.
    assert band_rows(page) == expected_band_rows(kpi, language)
    for source in kpi.sources:
        assert " ".join(SOURCES[source].cited(language).split()) in flat
    # The worked examples, with the result the catalogue states.
    for example in kpi.examples:
        assert display.format_value(example.result, kpi.unit, language) in re.findall(
            r'<strong class="result">(.*?)</strong>', page
        )


def test_the_band_tables_are_not_empty_where_the_catalogue_has_bands() -> None:
    # The band test above compares against the catalogue; it means something
    # only if most KPIs do have bands to show.
    with_bands = [kpi for kpi in ALL_KPIS if expected_band_rows(kpi, "en")]
    assert len(with_bands) >= len(ALL_KPIS) // 2


def test_a_form_of_a_kpi_links_to_the_kpi_it_measures(server: Server) -> None:
    _, _, page = get(server, "/help/nps_from_counts?lang=nl")
    text, links = page_text(page)
    assert "/help/nps?lang=nl" in links
    assert kpi_engine.KPIS["nps"].title["nl"] in text
    _, _, page = get(server, "/help/nps")
    assert {"/help/nps_from_counts?lang=en", "/help/nps_from_shares?lang=en"} <= set(
        page_text(page)[1]
    )


def test_syntax_uses_the_language_s_argument_separator(server: Server) -> None:
    _, _, english = get(server, "/help/csat_from_scores?lang=en")
    _, _, french = get(server, "/help/csat_from_scores?lang=fr")
    assert "=KPI.CSAT_FROM_SCORES(scores, [satisfied_min])" in english
    assert "=KPI.CSAT_FROM_SCORES(scores; [satisfied_min])" in french
    # The default of an optional argument, as the reader writes numbers.
    assert "optional, 4 by default" in english


def test_the_language_follows_lang_then_accept_language_then_english(server: Server) -> None:
    cases = [
        ("/help/churn_rate", {}, "en"),
        ("/help/churn_rate", {"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.8"}, "fr"),
        ("/help/churn_rate", {"Accept-Language": "de-DE,de;q=0.9,nl;q=0.4"}, "nl"),
        ("/help/churn_rate", {"Accept-Language": "en;q=0.2, nl;q=0.7"}, "nl"),
        ("/help/churn_rate", {"Accept-Language": "de, ja"}, "en"),
        ("/help/churn_rate?lang=fr", {"Accept-Language": "nl"}, "fr"),
        ("/help/churn_rate?lang=NL", {}, "nl"),
        ("/help/churn_rate?lang=de", {"Accept-Language": "fr"}, "fr"),
        ("/help/?lang=nl", {}, "nl"),
    ]
    for path, headers, language in cases:
        status, answer, page = get(server, path, **headers)
        assert status == 200, path
        assert answer["content-language"] == language, (path, headers)
        assert answer["vary"] == "Accept-Language"
        assert f'<html lang="{language}">' in page


def test_every_page_links_to_itself_in_every_language(server: Server) -> None:
    _, _, page = get(server, "/help/mau?lang=fr")
    links = page_text(page)[1]
    assert {f"/help/mau?lang={language}" for language in LANGUAGES} <= set(links)


def test_the_language_helpers_doctests() -> None:
    for module in (help_pages, manifest):
        result = doctest.testmod(module)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__


# --- the index, the two other functions, and what is not there ---------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_index_links_every_function(server: Server, language: str) -> None:
    status, _, page = get(server, f"/help/?lang={language}")
    assert status == 200
    text, links = page_text(page)
    assert set(links) >= {f"/help/{name}?lang={language}" for name in EVERY_FUNCTION}
    for kpi in ALL_KPIS:
        assert kpi.title[language] in text
    for link in set(links):
        assert get(server, link)[0] == 200, link
    # /help without its slash is the same page.
    assert get(server, f"/help?lang={language}")[2] == page


@pytest.mark.parametrize("language", LANGUAGES)
def test_benchmark_band_and_kpi_list_have_pages(server: Server, language: str) -> None:
    said = help_pages.words(language)["functions"]
    status, _, page = get(server, f"/help/benchmark_band?lang={language}")
    assert status == 200
    text, _ = page_text(page)
    assert said["benchmark_band"]["title"] in text
    for rating in kpi_engine.RATINGS:
        assert labels(language)["ratings"][rating] in text
    assert "[language]" in text
    status, _, page = get(server, f"/help/kpi_list?lang={language}")
    assert status == 200
    text, _ = page_text(page)
    for description in said["kpi_list"]["arguments"].values():
        assert " ".join(description.split()) in " ".join(text.split())


def test_the_words_of_the_helpers_match_their_functions(server: Server) -> None:
    """The English argument descriptions of the help are those Excel shows,
    and every language describes exactly the functions' arguments."""
    meta = json.loads(server.request("GET", "/xlwings/custom-functions-meta.json")[2])
    by_id = {function["id"]: function for function in meta["functions"]}
    for name in help_pages.HELPER_FUNCTIONS:
        shown = {p["name"]: p["description"] for p in by_id[name.upper()]["parameters"]}
        assert dict(help_pages.words("en")["functions"][name]["arguments"]) == shown
        for language in LANGUAGES:
            assert set(help_pages.words(language)["functions"][name]["arguments"]) == set(shown)


def test_every_language_has_every_word() -> None:
    def keys(table: Any, prefix: str = "") -> set[str]:
        found = set()
        for key, value in table.items():
            found.add(prefix + key)
            if isinstance(value, dict):
                found |= keys(value, f"{prefix}{key}.")
        return found

    english = keys(help_pages.words("en"))
    for language in LANGUAGES:
        assert keys(help_pages.words(language)) == english, language


@pytest.mark.parametrize(
    "asked",
    ["no_such_kpi", "NPS_", "<script>alert(1)</script>", "%22onmouseover%3D%22x", "%C3%A9" * 100],
)
def test_an_unknown_function_is_a_clear_404_page(server: Server, asked: str) -> None:
    status, headers, page = get(server, f"/help/{asked}?lang=fr", **{"Accept-Language": "nl"})
    assert status == 404
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-language"] == "fr"
    text, links = page_text(page)
    assert help_pages.words("fr")["not_found_title"] in text
    assert "Le complément n'a pas de fonction nommée" in text
    assert "/help/?lang=fr" in links
    assert "<script>" not in page
    assert 'onmouseover="' not in page
    assert len(page) < 10_000


def test_a_function_name_in_any_letter_case_finds_its_page(server: Server) -> None:
    assert get(server, "/help/NPS")[0] == 200
    assert get(server, "/help/Benchmark_Band")[0] == 200


def test_help_pages_carry_the_security_headers_and_load_nothing_else(server: Server) -> None:
    for path in ("/help/", "/help/nps", "/help/no_such_kpi"):
        _, headers, page = get(server, path)
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store, max-age=0"
        policy = headers["content-security-policy"]
        assert policy.startswith("default-src 'none';")
        assert "script-src" not in policy
        # No script, and no address of anywhere else, in the page itself.
        assert "<script" not in page
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page)


# --- what Excel reads: helpUrl and plain descriptions ---------------------------------

#: Marks of reStructuredText or Markdown that Excel would show as they are.
MARKUP = {
    "a backtick": re.compile(r"`"),
    "a role such as :func:": re.compile(r":[a-z]+:"),
    "bold": re.compile(r"\*\*"),
    "emphasis such as *x*": re.compile(r"(?<![\w*])\*[^\s*][^*]*\*(?![\w*])"),
    "a table bar or substitution": re.compile(r"\|"),
    "a literal block marker": re.compile(r"::"),
    "a backslash escape": re.compile(r"\\"),
    "a link target": re.compile(r"<https?://|\b_\s|_$"),
    "two spaces in a row": re.compile(r" {2}"),
    "a line break or tab": re.compile(r"[\n\r\t]"),
    "space at either end": re.compile(r"^\s|\s$"),
}


def markup_in(text: str) -> list[str]:
    return [name for name, pattern in MARKUP.items() if pattern.search(text)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Monthly active users in the month of ``month``.", "a backtick"),
        ("See :func:`nps` for the score.", "a role such as :func:"),
        ("The **whole** period.", "bold"),
        ("Share of *completed* rows.", "emphasis such as *x*"),
        ("Promoters | detractors", "a table bar or substitution"),
        ("The rate  of churn.", "two spaces in a row"),
        ("Average time, in minutes :math:", "a role such as :func:"),
        ("Shares::", "a literal block marker"),
        ("First line.\nSecond line.", "a line break or tab"),
        ("Returns the rate ", "space at either end"),
    ],
)
def test_the_markup_check_finds_markup(text: str, found: str) -> None:
    assert found in markup_in(text)


def test_the_markup_check_lets_plain_text_through() -> None:
    assert markup_in("Margin over time: revenue x margin / churn (E - N) / S, 1-5 scale.") == []


@pytest.fixture(scope="module")
def metadata(server: Server) -> dict[str, Any]:
    status, _, body = server.request("GET", "/xlwings/custom-functions-meta.json")
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", EVERY_FUNCTION)
def test_every_description_is_plain_text(metadata: dict[str, Any], name: str) -> None:
    (function,) = [f for f in metadata["functions"] if f["id"] == name.upper()]
    assert markup_in(function["description"]) == [], function["description"]
    for parameter in function["parameters"]:
        where = f"{name}({parameter['name']})"
        assert markup_in(parameter["description"]) == [], (where, parameter["description"])


@pytest.mark.parametrize("name", EVERY_FUNCTION)
def test_every_function_links_to_its_help_page(
    server: Server, metadata: dict[str, Any], name: str
) -> None:
    (function,) = [f for f in metadata["functions"] if f["id"] == name.upper()]
    assert function["helpUrl"] == f"{server.url}/help/{name}"
    path = urlsplit(function["helpUrl"]).path
    status, _, page = get(server, path)
    assert status == 200
    assert f"KPI.{name.upper()}" in page_text(page)[0]


def test_help_urls_are_built_from_the_public_url() -> None:
    with running_server("--public-url", "https://kpi.example.com/team") as public:
        _, _, body = public.request("GET", "/xlwings/custom-functions-meta.json")
    urls = {f["id"]: f["helpUrl"] for f in json.loads(body)["functions"]}
    assert urls["NPS"] == "https://kpi.example.com/team/help/nps"
    assert all(url.startswith("https://kpi.example.com/team/help/") for url in urls.values())


# --- the language of BENCHMARK_BAND and KPI_LIST ----------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_benchmark_band_answers_in_the_language_asked_for(server: Server, language: str) -> None:
    ratings = labels(language)["ratings"]
    for value, rating in ((75.0, "exceptional"), (35.0, "typical"), (10.0, "below_typical")):
        status, body = server.call(
            "benchmark_band", [[["nps"]], [[value]], [["celebrity_video"]], [[language]]]
        )
        assert (status, body) == (200, {"result": [[ratings[rating]]]})
    # A KPI whose article gives no bands in this business type.
    status, body = server.call(
        "benchmark_band", [[["nps"]], [[50.0]], [["video_marketing"]], [[language.upper()]]]
    )
    assert (status, body) == (200, {"result": [[ratings["unrated"]]]})


def test_benchmark_band_answers_in_english_by_default(server: Server) -> None:
    # Left out, a blank cell, or empty text (which Excel's blank cells can be).
    for language in (None, [[None]], [[""]]):
        args = [[["nps"]], [[35.0]], [["celebrity_video"]]]
        status, body = server.call("benchmark_band", [*args, language] if language else args)
        assert (status, body) == (200, {"result": [["typical"]]})


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("benchmark_band", [[["nps"]], [[35.0]], [["celebrity_video"]]]),
        ("kpi_list", [[["social_media"]]]),
    ],
)
@pytest.mark.parametrize(
    ("language", "shown"), [("de", "'de'"), ("english", "'english'"), (7.0, "7"), (True, "TRUE")]
)
def test_a_language_that_is_not_ours_is_a_message(
    server: Server, name: str, args: list[Any], language: Any, shown: str
) -> None:
    status, body = server.call(name, [*args, [[language]]])
    assert status == 400
    assert body["detail"] == f"{name}: language is {shown}; expected one of en, fr, nl"


@pytest.mark.parametrize("name", ["benchmark_band", "kpi_list"])
def test_a_language_in_a_one_cell_range_is_named_by_its_cell(name: str) -> None:
    """Called in-process with a range (xlwings Lite, COM with a range
    converter), the message points into the range, as the KPIs' do."""
    args = ["nps", 35, "celebrity_video"] if name == "benchmark_band" else ["social_media"]
    with pytest.raises(
        Exception, match=r"language\[1\] is 'de'; expected one of en, fr, nl$"
    ) as raised:
        functions.EXCEL_FUNCTIONS[name](*args, [["de"]])
    assert type(raised.value).__name__ == "XlwingsError"
    assert str(raised.value).startswith(f"{name}: ")


def test_a_language_given_as_several_cells_is_a_message(server: Server) -> None:
    status, body = server.call(
        "benchmark_band", [[["nps"]], [[35.0]], [["networking"]], [["en"], ["fr"]]]
    )
    assert status == 400
    assert body["detail"] == (
        "benchmark_band: language is a range of 2 cells; "
        "expected a single cell, not a range of several cells"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_kpi_list_answers_in_the_language_asked_for(server: Server, language: str) -> None:
    words = labels(language)
    status, body = server.call("kpi_list", [None, [[language]]])
    assert status == 200
    rows = body["result"]
    assert rows[0] == [words["headings"][key] for key in ("id", "title", "unit", "direction")]
    assert rows[1:] == [
        [k.id, k.title[language], words["units"][k.unit], words["directions"][k.direction]]
        for k in ALL_KPIS
    ]


# --- in a browser -------------------------------------------------------------------


def test_the_pages_render_in_chromium_without_console_errors(server: Server) -> None:
    paths = [f"/help/?lang={language}" for language in LANGUAGES]
    paths += [f"/help/{name}?lang={language}" for name in EVERY_FUNCTION for language in LANGUAGES]
    problems: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        requested: list[str] = []
        page.on(
            "console",
            lambda message: (
                problems.append(f"{page.url}: console {message.type}: {message.text}")
                if message.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
        page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
        page.on("request", lambda request: requested.append(request.url))
        for path in paths:
            requested.clear()
            response = page.goto(server.url + path, wait_until="load")
            assert response is not None
            assert response.status == 200, path
            # The page asked for nothing but itself: the stylesheet is inline.
            assert requested == [server.url + path], requested
            # The inline stylesheet applies (the policy lets exactly it through).
            header_colour = page.eval_on_selector(
                "header", "element => getComputedStyle(element).backgroundColor"
            )
            assert header_colour == "rgb(16, 124, 65)", path
            assert page.inner_text("h1").strip(), path
        page.close()
    assert problems == []


def test_chromium_shows_the_not_found_page(server: Server) -> None:
    with chromium() as browser:
        page = browser.new_page()
        response = page.goto(f"{server.url}/help/bakery_sales?lang=nl")
        assert response is not None
        assert response.status == 404
        assert page.inner_text("h1") == help_pages.words("nl")["not_found_title"]
        assert "'bakery_sales'" in page.inner_text("main")


# --- the manifest -------------------------------------------------------------------


def manifest_urls(xml: bytes) -> list[str]:
    """Every URL the manifest names, in an attribute or as an element's text,
    read with a parser of its own (not the template that wrote it)."""
    root = SafeET.fromstring(xml)
    urls = []
    for element in root.iter():
        candidates = [*element.attrib.values(), (element.text or "").strip()]
        urls += [value for value in candidates if re.match(r"https?://", value)]
    return urls


def fetch(server: Server, url: str) -> tuple[int, str, bytes]:
    """GET a URL of this server, following its redirects."""
    for _ in range(5):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == server.url, url
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        status, headers, body = server.exchange("GET", path)
        if status not in (301, 302, 303, 307, 308):
            return status, headers.get("content-type", ""), body
        url = (
            server.url + headers["location"]
            if headers["location"].startswith("/")
            else headers["location"]
        )
    raise AssertionError(f"{url} redirects too often")


def check_manifest(server: Server) -> list[str]:
    status, _, xml = server.request("GET", "/manifest.xml")
    assert status == 200
    urls = manifest_urls(xml)
    root = SafeET.fromstring(xml)
    ns = {"o": "http://schemas.microsoft.com/office/appforoffice/1.1"}
    # The support address is the help index; the icons are the add-in's own.
    support = root.find("o:SupportUrl", ns)
    assert support is not None
    assert support.attrib["DefaultValue"] == f"{server.url}/help/"
    icon_urls = [url for url in urls if url.endswith(".png")]
    assert icon_urls
    assert not [url for url in urls if "xlwings" in url.lower() and url.endswith(".png")]
    for url in urls:
        status, content_type, body = fetch(server, url)
        assert status == 200, url
        if url.endswith(".png"):
            assert content_type == "image/png"
            size = int(re.search(r"kpi-(\d+)\.png$", url)[1])  # type: ignore[index]
            assert Image.open(io.BytesIO(body)).size == (size, size)
    return urls


def test_every_url_the_manifest_names_answers_200(server: Server) -> None:
    urls = check_manifest(server)
    assert all(url.startswith(f"{server.url}/") or url == server.url for url in urls)
    assert {f"{server.url}/web/icons/kpi-{size}.png" for size in (16, 32, 64, 80)} <= set(urls)
    assert f"{server.url}/xlwings/custom-functions-meta.json" in urls


def test_the_manifest_version_is_the_package_version(server: Server) -> None:
    _, _, xml = server.request("GET", "/manifest.xml")
    version = SafeET.fromstring(xml).find(
        "{http://schemas.microsoft.com/office/appforoffice/1.1}Version"
    )
    assert version is not None
    package = importlib.metadata.version("kpi-addin")
    assert version.text == manifest.manifest_version(package)
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", version.text or "")
    assert (version.text or "").startswith(package.split("+")[0].split("rc")[0].rstrip("."))


def test_served_with_tls_every_url_is_https_and_answers() -> None:
    with tempfile.TemporaryDirectory() as folder:
        tls = self_signed_certificate(Path(folder))
        cert, key = tls.certificate, tls.key
        trusted = ssl.create_default_context(cafile=str(cert))
        with running_server(
            "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), tls=trusted
        ) as secure:
            assert secure.url.startswith("https://127.0.0.1:")
            urls = check_manifest(secure)
            assert all(url.startswith("https://") for url in urls)
            _, _, body = secure.request("GET", "/xlwings/custom-functions-meta.json")
            help_urls = [f["helpUrl"] for f in json.loads(body)["functions"]]
            assert all(url.startswith(f"{secure.url}/help/") for url in help_urls)
            assert fetch(secure, help_urls[0])[0] == 200
