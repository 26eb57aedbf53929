"""The docs site in French and Dutch: the pages under fr/ and nl/ show the
theme's interface in their language, not only their text.

The site is built as ``make docs`` builds it (``mkdocs build --strict``) and
its pages are read as a browser reads them (html5lib): the ``<html lang>``,
the search box, the table of contents, the navigation, the header, the
footer, the labels a screen reader speaks, and the words the theme's scripts
write (search results, the copy button). None may be a string of the English
page's interface. A headless Chromium then goes from an English page to the
French one through the language switcher in the header.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shlex
import subprocess
import sys
import threading
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import html5lib
import pytest
import yaml
from packaging.requirements import Requirement

from tests.browser import chromium
from tests.docs_blocks import DOCS, ROOT
from tests.test_glossary import FRENCH_SPACE_BEFORE, GLOSSARY, _without_allowed, visible_strings

CONFIG = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
SITE_URL = CONFIG["site_url"]
BASE = urlsplit(SITE_URL).path  # /kpi-addin/: the switcher's links start with it
I18N = next(p["i18n"] for p in CONFIG["plugins"] if isinstance(p, dict) and "i18n" in p)
LANGUAGES = {language["locale"]: language for language in I18N["languages"]}
TRANSLATED = ("fr", "nl")

#: The theme's words for the search box and the table of contents: the
#: French and Dutch a reader expects there.
SEARCH_PLACEHOLDER = {"en": "Search", "fr": "Rechercher", "nl": "Zoeken"}
TABLE_OF_CONTENTS = {"en": "Table of contents", "fr": "Table des matières", "nl": "Inhoudsopgave"}

#: Names, the same in every language: the repository, the theme, the licence
#: and each language's own name in the switcher.
NAMES = {
    CONFIG["repo_name"],
    CONFIG["copyright"],
    "Material for MkDocs",
    *(language["name"] for language in LANGUAGES.values()),
}
#: Words the English interface shares with a language, spelled the same.
SAME_WORD = {"fr": {"Navigation"}, "nl": set()}

#: The attributes whose text a person sees (a tooltip, a placeholder) or hears
#: (a screen reader's label).
SPOKEN = ("aria-label", "title", "placeholder", "alt")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return folder


def _page(site: Path, address: str) -> ET.Element:
    """The built page at ``address`` (relative to the site), parsed as a browser would."""
    text = (site / address / "index.html").read_text(encoding="utf-8")
    return html5lib.parse(text, namespaceHTMLElements=False)


def _text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _classed(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter(tag) if css_class in e.get("class", "").split()]


def _interface(root: ET.Element) -> set[str]:
    """Every string of the page that the theme writes around its text: text and
    spoken attributes outside the article, and the words of its scripts."""
    found: set[str] = set()

    def walk(element: ET.Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else "comment"
        if tag.rpartition("}")[2] in ("article", "script", "style", "svg", "comment"):
            if tag == "script" and element.get("id") == "__config":
                found.update(json.loads(element.text or "{}")["translations"].values())
        else:
            if element.text and element.text.strip():
                found.add(" ".join(element.text.split()))
            found.update(element.get(name, "") for name in SPOKEN)
            for child in element:
                walk(child)
        if element.tail and element.tail.strip():
            found.add(" ".join(element.tail.split()))

    walk(root)
    return {s for s in found if re.search(r"[^\W\d_]", s)}


def _article(root: ET.Element) -> ET.Element:
    (article,) = root.iter("article")
    return article


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_interface_is_in_the_pages_language(site: Path, language: str) -> None:
    page = _page(site, language)
    english = _page(site, ".")

    assert page.get("lang") == language
    assert english.get("lang") == "en"
    (search,) = [e for e in page.iter("input") if e.get("data-md-component") == "search-query"]
    assert search.get("placeholder") == SEARCH_PLACEHOLDER[language]
    (toc,) = _classed(
        next(iter(_classed(page, "nav", "md-nav--secondary"))), "label", "md-nav__title"
    )
    assert _text(toc) == TABLE_OF_CONTENTS[language]

    # The navigation holds this language's pages, under their titles in mkdocs.yml.
    (primary,) = _classed(page, "nav", "md-nav--primary")
    titles = {_text(a) for a in _classed(primary, "a", "md-nav__link")}
    expected = {title for entry in LANGUAGES[language]["nav"] for title in entry}
    assert expected <= titles, titles
    site_name = LANGUAGES[language]["site_name"]
    assert site_name in {_text(e) for e in _classed(page, "span", "md-ellipsis")}
    assert (page.find("head/title").text or "").endswith(site_name)

    # Nothing of the English interface is left, be it seen or heard.
    left = (_interface(page) & _interface(english)) - NAMES - SAME_WORD[language]
    assert not left, f"English left on {language}/: {sorted(left)}"
    permalinks = {a.get("title") for a in _classed(_article(page), "a", "headerlink")}
    english_permalinks = {a.get("title") for a in _classed(_article(english), "a", "headerlink")}
    assert permalinks
    assert english_permalinks
    assert not permalinks & english_permalinks, permalinks


def test_the_english_site_keeps_its_interface_and_addresses(site: Path) -> None:
    for page in sorted(DOCS.glob("*.md")):
        address = "." if page.stem == "index" else page.stem
        root = _page(site, address)
        assert root.get("lang") == "en", page
        (search,) = [e for e in root.iter("input") if e.get("data-md-component") == "search-query"]
        assert search.get("placeholder") == SEARCH_PLACEHOLDER["en"], page
    # The page for a missing address, which the server sends for any of them, is English.
    missing = (site / "404.html").read_text(encoding="utf-8")
    assert html5lib.parse(missing, namespaceHTMLElements=False).get("lang") == "en"
    # The English pages are not copied under fr/ and nl/ with a French or Dutch interface.
    for language in TRANSLATED:
        built = {p.parent.relative_to(site / language) for p in (site / language).rglob("*.html")}
        assert built == {Path(".")}, built


def test_the_published_site_is_built_with_the_same_plugins() -> None:
    """The release workflow builds the site GitHub Pages publishes: it installs
    every MkDocs package the tests build it with."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {
        Requirement(spec).name
        for spec in pyproject["project"]["optional-dependencies"]["dev"]
        if spec.startswith("mkdocs")
    }
    assert "mkdocs-static-i18n" in needed
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    (install,) = [
        line for line in workflow.splitlines() if "pip install" in line and "mkdocs" in line
    ]
    args = shlex.split(install)
    packages = args[args.index("install") + 1 :]
    installed = {Requirement(spec).name for spec in packages if spec != "."}
    assert needed <= installed, needed - installed


def _links(site: Path) -> Iterator[tuple[str, str]]:
    """(page, address it links to) for every link of every built page."""
    for html in sorted(site.rglob("index.html")):
        address = html.parent.relative_to(site).as_posix().removeprefix(".")
        page_url = urljoin(SITE_URL, f"{address}/" if address else "")
        root = html5lib.parse(html.read_text(encoding="utf-8"), namespaceHTMLElements=False)
        for element in root.iter():
            if element.tag in ("a", "link") and element.get("href"):
                yield page_url, urljoin(page_url, element.get("href"))


def _built(site: Path, url: str) -> bool:
    path = urlsplit(url).path.removeprefix(BASE)
    target = site / path
    return (target / "index.html").is_file() if not target.suffix else target.is_file()


def test_links_between_languages_lead_to_built_pages(site: Path) -> None:
    """The language switcher, the pages' links to another language's pages and
    the sitemap's alternates all lead to a page of the site."""
    checked = 0
    switchers = 0
    for page_url, url in _links(site):
        if not url.startswith(SITE_URL):
            continue
        assert _built(site, url), f"{page_url} links to {url}, which the site does not have"
        checked += 1
    for html in sorted(site.rglob("index.html")):
        root = html5lib.parse(html.read_text(encoding="utf-8"), namespaceHTMLElements=False)
        switcher = {
            a.get("hreflang"): a.get("href") for a in _classed(root, "a", "md-select__link")
        }
        assert set(switcher) == set(LANGUAGES), html
        switchers += 1
    sitemap = ET.parse(site / "sitemap.xml").getroot()
    alternates = [e.get("href") for e in sitemap.iter("{http://www.w3.org/1999/xhtml}link")]
    assert alternates
    for url in alternates:
        assert _built(site, url), f"sitemap.xml names {url}, which the site does not have"
    # The French page's links to the English pages and the pictures resolve.
    french = {url for page_url, url in _links(site) if page_url.endswith("/fr/")}
    assert urljoin(SITE_URL, "data-rules/") in french
    assert checked > 100
    assert switchers == len(list(site.rglob("index.html")))


def _flat(text: str) -> str:
    """The text on one line, as a reader reads it: a line break is a space."""
    return " ".join(text.split())


def _forbidden(text: str, language: str) -> list[str]:
    return [
        f"{pattern!r} ({name}: {concept[language]!r})"
        for name, concept in GLOSSARY.items()
        for pattern in concept.get("forbidden", {}).get(language, [])
        if re.search(
            rf"(?<![\w-]){pattern}(?![\w-])", _without_allowed(text, language), re.IGNORECASE
        )
    ]


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_site_words_hold_to_the_glossary(language: str) -> None:
    """The navigation titles, the site's name and description, and the theme's
    words this site corrects use the glossary's terms and French typography."""
    config = LANGUAGES[language]
    words = re.findall(
        r':\s*"([^"]+)"',
        (DOCS / "overrides" / "partials" / "languages" / f"kpi-{language}.html").read_text("utf-8"),
    )
    strings = [
        *(title for entry in config["nav"] for title in entry),
        config["site_name"],
        config["site_description"],
        *words,
    ]
    assert len(words) >= 2
    problems = [f"{text!r}: {p}" for text in strings for p in _forbidden(text, language)]
    if language == "fr":
        problems += [
            f"{text!r}: no no-break space" for text in strings if FRENCH_SPACE_BEFORE.search(text)
        ]
    assert not problems, problems
    assert _forbidden("les métriques du mois", "fr")  # the check finds what it looks for


def test_the_pages_hold_to_the_glossary_across_line_breaks() -> None:
    """A forbidden phrase the page wraps over two lines is still found."""
    pages = [(lang, where, text) for lang, where, text in visible_strings() if "docs/" in where]
    assert {lang for lang, _, _ in pages} == set(TRANSLATED)
    problems = [
        f"{where}: {problem}"
        for lang, where, text in pages
        for problem in _forbidden(_flat(text), lang)
    ]
    assert not problems, problems
    assert _forbidden(_flat("la période de\nréférence"), "fr")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(site: Path, tmp_path: Path) -> Iterator[str]:
    """The site over HTTP at its own path (/kpi-addin/), as it is published."""
    (tmp_path / BASE.strip("/")).symlink_to(site, target_is_directory=True)
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{BASE}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_reader_switches_to_french_in_the_header(served: str) -> None:
    """From an English page that has no French version, the switcher leads to
    the French getting-started page, whose search box and results speak French."""
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.set_default_timeout(60_000)
        tab.goto(served + "workbooks/", wait_until="domcontentloaded")
        assert tab.evaluate("document.documentElement.lang") == "en"
        tab.get_by_role("button", name="Select language").hover()
        tab.get_by_role("link", name=LANGUAGES["fr"]["name"], exact=True).click()
        tab.wait_for_url(served + "fr/")
        assert tab.evaluate("document.documentElement.lang") == "fr"
        tab.get_by_placeholder(SEARCH_PLACEHOLDER["fr"]).click()
        # The search's own messages, from its script: once its index is loaded it
        # asks for a query, then counts what it found.
        meta = tab.locator(".md-search-result__meta")
        meta.filter(has_text="Taper pour démarrer la recherche").wait_for()
        tab.keyboard.type("classeur")
        meta.filter(has_text=re.compile(r"^\s*\d+ documents? trouvés?\s*$")).wait_for()
