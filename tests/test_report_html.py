"""`kpi report FILE --html OUT`: one self-contained page per report, read back
with an independent HTML parser (html5lib) and loaded in Debian's headless
Chromium: the model's texts in the workbook's language, one chart per KPI
with gaps where a month has no value, nothing loaded from anywhere, a phone
width without sideways scrolling, and an A4 print."""

from __future__ import annotations

import dataclasses
import datetime as dt
import doctest
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import html5lib
import pytest
from click.testing import CliRunner
from playwright.sync_api import sync_playwright

import kpi_engine
from addin.cli import main
from addin.recipes.notes import message, notes_words
from addin.report.html import chart_svg, render_page, runs, trend_chart, value_steps
from addin.report.model import Report, words
from addin.report.offline import make_report
from addin.starter import StarterOptions, new_workbook
from addin.styles import BAD_FILL, BAND_FILLS, GOOD_FILL, HEADER_FILL
from kpi_engine import display
from kpi_engine._labels import labels
from tests.browser import launch
from tests.report_support import FIXED_CLOCK, starter_rows, without_answers_in

AS_OF = dt.date(2024, 7, 15)
HTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"
#: The month left without survey answers in the gap test: inside the trend.
EMPTY_MONTH = dt.date(2024, 2, 1)
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


def run_report(*args: str) -> Any:
    return CliRunner().invoke(main, ["report", *args], catch_exceptions=False)


def parse(page: Path) -> ElementTree.Element:
    """The page as html5lib's tree (a browser's parsing rules, not ours)."""
    with page.open("rb") as handle:
        tree: ElementTree.Element = html5lib.parse(handle, treebuilder="etree")
    return tree


def text(element: ElementTree.Element) -> str:
    """An element's text with the markup's line breaks and indents collapsed;
    the no-break spaces of the figures ("34,3\u202fh") stay."""
    return re.sub(r"[ \t\r\n]+", " ", "".join(element.itertext())).strip()


def rows_of(tree: ElementTree.Element) -> list[ElementTree.Element]:
    """The KPI rows of the table (not the heading rows of the funnel stages)."""
    return [r for r in tree.findall(f".//{HTML}table/{HTML}tbody/{HTML}tr") if r.get("data-kpi")]


def stage_headings(tree: ElementTree.Element) -> list[str]:
    return [
        text(r)
        for r in tree.findall(f".//{HTML}table/{HTML}tbody/{HTML}tr")
        if r.get("class") == "stage"
    ]


def chart_of(tree: ElementTree.Element, kpi_id: str) -> ElementTree.Element:
    (figure,) = [f for f in tree.iter(f"{HTML}figure") if f.get("data-kpi") == kpi_id]
    return figure


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Report]]:
    """Per business type and language: the page `kpi report --html` wrote from
    a starter workbook, and the report model of the same workbook."""
    folder = tmp_path_factory.mktemp("html")
    written = {}
    for business_type in kpi_engine.BUSINESS_TYPES:
        for language in kpi_engine.LANGUAGES:
            book = folder / f"{business_type}_{language}.xlsx"
            new_workbook(StarterOptions(business_type, language, as_of=AS_OF), book)
            page = folder / f"{business_type}_{language}.html"
            result = run_report(str(book), "--html", str(page))
            assert result.exit_code == 0, result.output
            assert (
                result.stdout
                == f"{page}: 2024-06, {len(kpi_engine.BUSINESS_TYPES[business_type].kpis)} KPIs\n"
            )
            written[business_type, language] = (page, make_report(book))
    return written


def test_the_page_is_in_the_workbook_language_with_the_model_texts(
    pages: dict[tuple[str, str], tuple[Path, Report]],
) -> None:
    for (business_type, language), (page, report) in pages.items():
        tree = parse(page)
        assert tree.get("lang") == language
        period = display.format_month(report.period, language)
        said = words(language)
        assert text(tree.find(f".//{HTML}title")) == said["html_title"].format(
            type=report.business_title, period=period
        )
        assert text(tree.find(f".//{HTML}h1")) == said["title"].format(type=report.business_title)
        assert period in text(tree.find(f".//{HTML}header"))
        rows = rows_of(tree)
        assert [row.get("data-kpi") for row in rows] == [kpi.id for kpi in report.kpis]
        stages = list(dict.fromkeys(kpi.stage for kpi in report.kpis if kpi.stage))
        assert stage_headings(tree) == [labels(language)["stages"][s] for s in stages]
        ratings = labels(language)["ratings"]
        for row, kpi in zip(rows, report.kpis, strict=True):
            title, *cells = list(row)
            assert text(title) == kpi.title
            value, previous, change, year_ago, year_change, target, band, met = cells
            assert text(value) == (report.text(kpi, kpi.value) or "-"), (business_type, kpi.id)
            assert text(previous) == (report.text(kpi, kpi.previous) or "-")
            assert text(year_ago) == (report.text(kpi, kpi.year_ago) or "-")
            if kpi.year_change is None:
                assert text(year_change) == "-"
            else:
                figure = year_change.find(f"{HTML}span[@class='figure']")
                assert text(figure) == report.difference_text(kpi, kpi.year_change)
            assert text(target) == (report.target_text(kpi) or "-")
            assert text(band) == ("-" if kpi.band is None else ratings[kpi.band])
            assert text(met) == labels(language)["target_met"][kpi.target_status]
            if kpi.change is None:
                assert text(change) == "-"
                continue
            figure = change.find(f"{HTML}span[@class='figure']")
            assert text(figure) == report.difference_text(kpi, kpi.change)
            arrow = text(change.find(f"{HTML}span[@class='arrow']"))
            # The arrow of the change as shown: "=" for one that rounds to zero.
            assert arrow == {1: "▲", -1: "▼", 0: "="}[display.shown_sign(kpi.change, kpi.unit)]
            if arrow == "=":
                assert text(figure)[0] not in "+-\u2212", text(figure)
            better = kpi.change_is_better
            assert ("better" in change.get("class", "").split()) == (better is True)
            assert ("worse" in change.get("class", "").split()) == (better is False)
        sentences = [p for p in tree.iter(f"{HTML}p") if "sentence" in p.get("class", "")]
        assert [text(p) for p in sentences] == [k.narrative for k in report.kpis]
        notes = text(tree.find(f".//{HTML}section[@aria-labelledby='notes']"))
        assert notes_words(language)["none" if not report.notes else "title"] in notes
        for note in report.notes:
            assert message(note, language) in notes


def test_every_kpi_with_a_value_has_a_chart_of_its_twelve_months(
    pages: dict[tuple[str, str], tuple[Path, Report]],
) -> None:
    for (business_type, language), (page, report) in pages.items():
        tree = parse(page)
        svgs = list(tree.iter(f"{SVG}svg"))
        with_values = [kpi for kpi in report.kpis if any(v is not None for v in kpi.trend)]
        assert len(svgs) == len(with_values), (business_type, language)
        short_months = [display.format_month(m, language, short=True) for m in report.months]
        for kpi in report.kpis:
            figure = chart_of(tree, kpi.id)
            if kpi not in with_values:
                assert text(figure.find(f"{HTML}p")) == words(language)["no_trend"]
                continue
            (svg,) = figure.iter(f"{SVG}svg")
            assert svg.get("viewBox", "").startswith("0 0 ")
            assert svg.get("role") == "img"
            title_id, desc_id = svg.get("aria-labelledby", "").split()
            assert svg.find(f"{SVG}title").get("id") == title_id
            assert kpi.title in text(svg.find(f"{SVG}title"))
            description = text(svg.find(f"{SVG}desc"))
            assert svg.find(f"{SVG}desc").get("id") == desc_id
            for month, value in zip(report.months, kpi.trend, strict=True):
                shown = words(language)["no_value"] if value is None else report.text(kpi, value)
                assert f"{display.format_month(month, language)}: {shown}" in description
            paths = list(svg.iter(f"{SVG}path"))
            assert len(paths) == len(runs(kpi.trend))
            assert len(list(svg.iter(f"{SVG}circle"))) == sum(v is not None for v in kpi.trend)
            labels_shown = [
                text(t) for t in svg.find(f"{SVG}g[@class='month-axis']").iter(f"{SVG}text")
            ]
            assert labels_shown == short_months[2::3]  # every third month, ending on the period
            value_labels = [
                text(t) for t in svg.find(f"{SVG}g[@class='value-axis']").iter(f"{SVG}text")
            ]
            # Each gridline has its own label, written as the KPI's values are.
            assert len(set(value_labels)) == len(value_labels) >= 2, (kpi.id, value_labels)


def test_the_page_refers_to_nothing_outside_itself(
    pages: dict[tuple[str, str], tuple[Path, Report]],
) -> None:
    external = re.compile(r"^\s*(https?:|//|ftp:)", re.IGNORECASE)
    for page, _ in pages.values():
        tree = parse(page)
        assert not list(tree.iter(f"{HTML}script"))
        assert not list(tree.iter(f"{HTML}link")), "styles are inline"
        for element in tree.iter():
            for name, value in element.attrib.items():
                local = name.rpartition("}")[2]
                if local in ("src", "href", "srcset", "action", "poster", "data"):
                    assert not external.match(value), (page.name, element.tag, name, value)
        source = page.read_text(encoding="utf-8")
        assert "@import" not in source
        assert not re.search(r"url\(", source, re.IGNORECASE)
        assert not re.search(r"<script", source, re.IGNORECASE)
        assert "@font-face" not in source


def test_a_month_without_a_value_is_a_gap_in_the_line(tmp_path: Path) -> None:
    rows = without_answers_in(starter_rows("celebrity_video", AS_OF, tmp_path), EMPTY_MONTH)
    book = new_workbook(
        StarterOptions("celebrity_video", "fr", as_of=AS_OF), tmp_path / "gap.xlsx", data=rows
    )
    page = tmp_path / "gap.html"
    result = run_report(str(book), "--html", str(page))
    assert result.exit_code == 0, result.output
    report = make_report(book)
    nps = next(kpi for kpi in report.kpis if kpi.id == "nps")
    empty = report.months.index(EMPTY_MONTH)
    assert nps.trend[empty] is None
    assert nps.trend[empty - 1] is not None
    assert nps.trend[empty + 1] is not None
    svg = next(chart_of(parse(page), "nps").iter(f"{SVG}svg"))
    paths = [path.get("d", "") for path in svg.iter(f"{SVG}path")]
    assert len(paths) == 2  # the line stops before the empty month and starts after it
    axis = svg.find(f"{SVG}g[@class='month-axis']").findall(f"{SVG}line")
    month_x = [float(t.get("x1", "")) for t in axis[1:]]  # after the axis line, a tick a month
    drawn_x = [[float(x) for x in re.findall(r"[ML]([-\d.]+),", d)] for d in paths]
    assert drawn_x == [month_x[:empty], month_x[empty + 1 :]]
    assert all(d.count("M") == 1 for d in paths)
    desc = text(svg.find(f"{SVG}desc"))
    assert f"{display.format_month(EMPTY_MONTH, 'fr')}: {words('fr')['no_value']}" in desc


def test_the_chart_of_a_trend_with_empty_months_has_one_path_per_run(tmp_path: Path) -> None:
    book = new_workbook(StarterOptions("songwriting", "nl", as_of=AS_OF), tmp_path / "s.xlsx")
    report = make_report(book)
    trend = (0.2, 0.25, None, 0.3, None, None, 0.1, 0.15, 0.2, 0.22, None, 0.4)
    kpi = dataclasses.replace(next(k for k in report.kpis if k.unit == "fraction"), trend=trend)
    chart = trend_chart(report, kpi)
    assert chart is not None
    assert len(chart.segments) == 4
    assert [len(re.findall("[ML]", d)) for d in chart.segments] == [2, 1, 4, 1]
    assert len(chart.points) == 8
    # A lone month is a dot: its path has no line to draw, the circle shows it.
    svg = ElementTree.fromstring(str(chart_svg(chart)))  # well-formed XML too
    assert len(svg.findall(f".//{SVG}path")) == 4
    assert len(svg.findall(f".//{SVG}circle")) == 8
    # The empty months are drawn nowhere: not at zero, not between their neighbours.
    month_x = [tick.position for tick in chart.months]
    drawn = [[float(x) for x in re.findall(r"[ML]([-\d.]+),", d)] for d in chart.segments]
    assert drawn == [[month_x[i] for i in run] for run in runs(trend)]
    assert [x for x, _ in chart.points] == [
        month_x[i] for i, v in enumerate(trend) if v is not None
    ]
    assert [tick.text for tick in chart.values] == [
        report.text(kpi, v) for v in value_steps(0.1, 0.4, 0.001)
    ]


def test_a_kpi_without_any_value_says_so_instead_of_an_empty_chart(tmp_path: Path) -> None:
    book = new_workbook(StarterOptions("networking", "fr", as_of=AS_OF), tmp_path / "n.xlsx")
    report = make_report(book)
    empty = dataclasses.replace(report.kpis[0], trend=(None,) * len(report.months), value=None)
    report = dataclasses.replace(report, kpis=(empty, *report.kpis[1:]))
    assert trend_chart(report, empty) is None
    page = tmp_path / "n.html"
    page.write_text(render_page(report), encoding="utf-8")
    figure = chart_of(parse(page), empty.id)
    assert not list(figure.iter(f"{SVG}svg"))
    assert text(figure.find(f"{HTML}p")) == words("fr")["no_trend"]


def test_workbook_text_is_escaped(tmp_path: Path) -> None:
    book = new_workbook(StarterOptions("networking", "en", as_of=AS_OF), tmp_path / "n.xlsx")
    report = make_report(book)
    hostile = "<script>alert(1)</script> & <b>"
    kpi = dataclasses.replace(report.kpis[0], title=hostile, narrative=hostile)
    page = tmp_path / "n.html"
    page.write_text(render_page(dataclasses.replace(report, kpis=(kpi, *report.kpis[1:]))))
    tree = parse(page)
    assert not list(tree.iter(f"{HTML}script"))
    assert text(rows_of(tree)[0][0]) == hostile


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.xlsx", "expected .html or .htm"),
        ("missing/report.html", "does not exist"),
        ("folder.html", "is a folder"),
    ],
)
def test_a_bad_page_path_is_refused_with_exit_status_2(
    tmp_path: Path, name: str, expected: str
) -> None:
    book = new_workbook(StarterOptions("networking", "en", as_of=AS_OF), tmp_path / "n.xlsx")
    (tmp_path / "folder.html").mkdir()
    before = book.read_bytes()
    result = run_report(str(book), "--html", str(tmp_path / name))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --html ")
    assert expected in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert book.read_bytes() == before


def test_a_bad_workbook_writes_no_page(tmp_path: Path) -> None:
    book = tmp_path / "broken.xlsx"
    book.write_bytes(b"not a zip")
    page = tmp_path / "report.html"
    result = run_report(str(book), "--html", str(page))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert not page.exists()
    assert list(tmp_path.iterdir()) == [book]  # no temporary file left either


def test_json_and_html_together_print_the_json(tmp_path: Path) -> None:
    book = new_workbook(StarterOptions("networking", "en", as_of=AS_OF), tmp_path / "n.xlsx")
    page = tmp_path / "n.html"
    result = run_report(str(book), "--json", "--html", str(page))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("{")
    assert parse(page).get("lang") == "en"


def rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (0, 2, 4)))


def test_chromium_loads_nothing_fits_a_phone_and_prints_on_a4(tmp_path: Path) -> None:
    pages = {}
    for language in kpi_engine.LANGUAGES:
        book = new_workbook(
            StarterOptions("celebrity_video", language, as_of=AS_OF), tmp_path / f"{language}.xlsx"
        )
        page = tmp_path / f"{language}.html"
        page.write_text(render_page(make_report(book, clock=lambda: FIXED_CLOCK)), encoding="utf-8")
        pages[language] = page
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for language, page in pages.items():
                context = browser.new_context(viewport=PHONE)
                tab = context.new_page()
                console: list[str] = []
                requests: list[str] = []
                failed: list[str] = []
                tab.on("console", lambda m, seen=console: seen.append(f"{m.type}: {m.text}"))
                tab.on("pageerror", lambda e, seen=console: seen.append(f"error: {e}"))
                tab.on("request", lambda r, seen=requests: seen.append(r.url))
                tab.on("requestfailed", lambda r, seen=failed: seen.append(r.url))
                tab.goto(page.as_uri(), wait_until="load")
                assert [m for m in console if m.startswith("error")] == [], language
                assert requests == [page.as_uri()], language
                assert failed == []
                assert tab.evaluate("document.documentElement.lang") == language

                # The page is as wide as the phone (the KPI table is cards: see
                # test_the_kpi_table_fits_a_laptop_and_is_cards_on_a_phone).
                page_width, window_width = tab.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]"
                )
                assert page_width <= window_width, (language, page_width)
                chart_widths = tab.evaluate(
                    "Array.from(document.querySelectorAll('svg.chart'), s => s.getBoundingClientRect().right)"
                )
                assert len(chart_widths) == len(kpi_engine.BUSINESS_TYPES["celebrity_video"].kpis)
                assert max(chart_widths) <= window_width

                # The sheet's colours: the same palette on the page.
                colours = tab.evaluate(
                    """(() => { const bg = s => { const e = document.querySelector(s);
                        return e ? getComputedStyle(e).backgroundColor : null; };
                      return { header: bg('thead th'), exceptional: bg('.band-exceptional'),
                               met: bg('.status.met'), missed: bg('.status.missed') }; })()"""
                )
                assert colours["header"] == rgb(HEADER_FILL)
                assert colours["missed"] == rgb(BAD_FILL)
                assert colours["met"] in (None, rgb(GOOD_FILL))
                assert colours["exceptional"] in (None, rgb(BAND_FILLS["exceptional"]))

                # Printed: nothing scrolls, and an A4 PDF with pages.
                tab.emulate_media(media="print")
                assert (
                    tab.evaluate(
                        "getComputedStyle(document.querySelector('.table-scroll')).overflowX"
                    )
                    == "visible"
                )
                assert (
                    tab.evaluate(
                        "getComputedStyle(document.querySelector('figure.trend')).breakInside"
                    )
                    == "avoid"
                )
                pdf = tab.pdf(format="A4", print_background=True)
                assert pdf.startswith(b"%PDF")
                pages_in_pdf = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
                assert pages_in_pdf >= 2, pages_in_pdf  # a table, seven charts, the narrative
                sizes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
                # A4 is 595.3 by 841.9 points (Letter 612 by 792); Chromium
                # rounds the page to whole CSS pixels, about a point more.
                assert sizes
                for width, height in sizes:
                    assert abs(float(width) - 595.3) < 2, sizes
                    assert abs(float(height) - 841.9) < 2, sizes
                context.close()
        finally:
            browser.close()


#: What the page's layout looks like from inside: the table's box and its
#: overflow, each KPI cell's right edge, and the headings the cards show.
MEASURE = """(() => {
  const box = document.querySelector('.table-scroll');
  const cells = Array.from(document.querySelectorAll('table.kpis tbody tr[data-kpi] > *'));
  return {
    page: document.documentElement.scrollWidth, window: window.innerWidth,
    box: [box.scrollWidth, box.clientWidth],
    right: Math.max(...cells.map(c => c.getBoundingClientRect().right)),
    hidden: cells.filter(c => { const r = c.getBoundingClientRect();
      return r.width === 0 || r.height === 0; }).length,
    rows: Array.from(document.querySelectorAll('table.kpis tbody tr[data-kpi]'),
      r => r.getBoundingClientRect().height),
    labels: Array.from(document.querySelectorAll('table.kpis tbody tr[data-kpi] td'),
      c => getComputedStyle(c, '::before').content),
    header: document.querySelector('table.kpis thead').getBoundingClientRect().height,
  };
})()"""


def test_the_kpi_table_fits_a_laptop_and_is_cards_on_a_phone(
    pages: dict[tuple[str, str], tuple[Path, Report]],
) -> None:
    """Every business type in every language: at 1280 px the whole table shows
    with nothing to scroll; at 390 px each KPI is a card whose every figure
    shows beside its heading, within the screen."""
    problems = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for size, name in ((LAPTOP, "laptop"), (PHONE, "phone")):
                context = browser.new_context(viewport=size)
                tab = context.new_page()
                for (business_type, language), (page, _) in sorted(pages.items()):
                    tab.goto(page.as_uri(), wait_until="load")
                    seen = tab.evaluate(MEASURE)
                    where = (name, business_type, language)
                    if seen["page"] > seen["window"]:
                        problems.append((*where, "page", seen["page"]))
                    if seen["box"][0] > seen["box"][1]:
                        problems.append((*where, "table scrolls", seen["box"]))
                    if seen["right"] > seen["window"] or seen["hidden"]:
                        problems.append((*where, "cells", seen["right"], seen["hidden"]))
                    heads = words(language)["headings"]
                    if name == "phone":
                        # Cards: each figure under the KPI's title, headed by its column's heading.
                        # The headings move into the cards; the table's own stay for screen readers.
                        assert seen["header"] <= 1, where
                        assert min(seen["rows"]) > 4 * 20, where
                        expected = {f'"{heads[key]}"' for key in ("value", "target", "band")}
                        assert expected <= set(seen["labels"]), (where, seen["labels"][:9])
                    else:
                        assert set(seen["labels"]) == {"none"}, where  # a table, not cards
                context.close()
        finally:
            browser.close()
    assert problems == [], "\n".join(map(str, problems))


def test_a_table_wider_than_a_tablet_shows_that_it_scrolls(
    pages: dict[tuple[str, str], tuple[Path, Report]],
) -> None:
    """Between a phone and a laptop the table may scroll in its box: the box
    then carries the edge shadows that say so; printed, it carries none."""
    page, _ = pages["celebrity_video", "fr"]
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            tab = browser.new_page(viewport={"width": 820, "height": 700})
            tab.goto(page.as_uri(), wait_until="load")
            seen = tab.evaluate(
                """(() => { const box = document.querySelector('.table-scroll');
                return [box.scrollWidth, box.clientWidth, getComputedStyle(box).backgroundImage,
                        document.documentElement.scrollWidth, window.innerWidth]; })()"""
            )
            scroll_width, client_width, background, page_width, window_width = seen
            assert scroll_width > client_width  # the table scrolls, in its box only
            assert page_width <= window_width
            assert background.count("radial-gradient") == 2, background
            tab.emulate_media(media="print")
            printed = tab.evaluate(
                "getComputedStyle(document.querySelector('.table-scroll')).backgroundImage"
            )
            assert printed == "none"
        finally:
            browser.close()


def test_the_chart_helpers_examples_hold() -> None:
    # addin/ is outside the doctest paths of pyproject.toml: run its examples here.
    import addin.report.html  # noqa: PLC0415

    result = doctest.testmod(addin.report.html)
    assert result.attempted >= 3
    assert result.failed == 0
