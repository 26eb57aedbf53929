"""The front page and the docs site: every example runs, the site builds.

Shell blocks (see ``tests/docs_blocks.py`` for the not-run convention) run
page by page, in order, in a folder of their own that holds the files the
page's commands read (an export to import, a folder of Parquet files...):

- ``kpi ...`` runs in-process through click's CliRunner and must exit 0;
  ``kpi serve``, which serves until it is stopped, has its arguments parsed
  by its click command (an unknown option or a bad value fails) and is not
  started: the server's own tests start it;
- ``export NAME=value`` sets the variable for the page's next commands;
- ``pip install 'kpi-addin[extra]'`` must name this package and extras that
  pyproject.toml defines.

Anything else needs a ``<!-- not-run: reason -->`` line before its block.
Python examples are doctests: pytest collects every .md file of the site and
README.md (``--doctest-glob=*.md``, pyproject.toml).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from packaging.requirements import Requirement

from addin.cli import main
from tests.docs_blocks import DOCS, ROOT, SHELL, Block, blocks, commands, pages

SITE = "https://kpi-addin.github.io/kpi-addin/"
PICTURES = "https://raw.githubusercontent.com/kpi-addin/kpi-addin/main/"

#: The files a page's commands read, which a reader brings (an export) or made
#: on an earlier page (shop.xlsx), by page.
PAGE_FILES: dict[str, tuple[str, ...]] = {
    "docs/import.md": ("orders.csv", "june.csv", "export.xlsx", "shop-export.csv", "payments.csv"),
    "docs/sources.md": ("shop.xlsx", "exports", "shop.duckdb"),
    "docs/fr/index.md": ("commandes.csv",),
    "docs/nl/index.md": ("bestellingen.csv",),
}


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _shell_blocks(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.lang == SHELL]


def _table(path: Path, name: str) -> tuple[list[str], list[list[Any]]]:
    book = load_workbook(path)
    for sheet in book.worksheets:
        if name in sheet.tables:
            cells = list(sheet[sheet.tables[name].ref])
            header = [str(c.value) for c in cells[0]]
            return header, [[c.value for c in row] for row in cells[1:]]
    raise AssertionError(f"{path} has no table {name}")


def _csv_value(value: Any, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and decimal_comma:
        return repr(value).replace(".", ",")
    return str(value)


def _write_csv(
    path: Path,
    header: list[str],
    rows: list[list[Any]],
    delimiter: str = ",",
    decimal_comma: bool = False,
) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_value(v, decimal_comma) for v in row])


def _make_files(folder: Path) -> None:
    """Every file PAGE_FILES names, from starter workbooks' sample rows, written
    as the exports they stand for (csv module, openpyxl, pyarrow, DuckDB)."""
    import ibis  # noqa: PLC0415

    from tests.sources_support import typed_tables, write_parquet_folder  # noqa: PLC0415
    from tests.starter_reader import read_workbook  # noqa: PLC0415

    samples = folder / "samples"
    samples.mkdir()
    runner = CliRunner()
    # The French and Dutch pages import into a new workbook, which reports on
    # last month: their exports run up to today.
    for business_type, lang, as_of in (
        ("celebrity_video", "en", "2024-07-15"),
        ("networking", "en", "2024-07-15"),
        ("songwriting", "fr", dt.date.today().isoformat()),
        ("songwriting", "nl", dt.date.today().isoformat()),
    ):
        result = runner.invoke(
            main,
            [
                *("new", business_type, "--lang", lang, "--as-of", as_of, "--rows", "120"),
                *("-o", str(samples / f"{business_type}_{lang}.xlsx")),
            ],
        )
        assert result.exit_code == 0, result.output

    shop = samples / "celebrity_video_en.xlsx"
    shutil.copy(shop, folder / "shop.xlsx")
    header, rows = _table(shop, "Orders")
    _write_csv(folder / "orders.csv", header, rows)
    ordered_at = header.index("ordered_at")
    june = [
        r for r in rows if r[ordered_at] and (r[ordered_at].year, r[ordered_at].month) == (2024, 6)
    ]
    _write_csv(folder / "june.csv", header, june)
    export = Workbook()
    export.active.title = "Orders"
    export.active.append(header)
    for row in rows:
        export.active.append(row)
    export.save(folder / "export.xlsx")
    renamed = [{"ordered_at": "Order date", "amount": "Total"}.get(h, h) for h in header]
    _write_csv(folder / "shop-export.csv", [*renamed, "Note"], [[*r, "gift"] for r in rows])

    header, rows = _table(samples / "networking_en.xlsx", "Payments")
    stripe = {"paid_on": "Created (UTC)", "member_id": "Customer ID", "amount": "Amount"}
    _write_csv(
        folder / "payments.csv",
        ["id", *(stripe[h] for h in header), "Currency"],
        [[f"py_{i}", *row, "usd"] for i, row in enumerate(rows)],
    )

    # As Excel writes CSV in French and Dutch: semicolons and a decimal comma.
    for lang, name in (("fr", "commandes.csv"), ("nl", "bestellingen.csv")):
        header, rows = _table(samples / f"songwriting_{lang}.xlsx", "Orders")
        _write_csv(folder / name, header, rows, delimiter=";", decimal_comma=True)

    _, _, data = read_workbook(shop)
    tables = typed_tables("celebrity_video", data)
    write_parquet_folder(tables, folder / "exports")
    con = ibis.duckdb.connect(str(folder / "shop.duckdb"))
    for table_name, table in tables.items():
        con.create_table(table_name, table)
    con.disconnect()


@pytest.fixture(scope="module")
def example_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("docs-files")
    _make_files(folder)
    return folder


def _extras() -> set[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return set(pyproject["project"]["optional-dependencies"])


def _run(line: str, block: Block, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    where = f"{block.where}: {line}"
    args = shlex.split(line, comments=True)
    if args[:2] == ["pip", "install"]:
        for spec in args[2:]:
            requirement = Requirement(spec)
            assert requirement.name == "kpi-addin", where
            assert requirement.extras <= _extras(), where
        return
    if args[0] == "export":
        name, _, value = args[1].partition("=")
        monkeypatch.setenv(name, value)
        return
    assert args[0] == "kpi", f"{where}: not a command this test runs; mark the block not-run"
    if args[1] == "serve":
        # Serves until stopped: parse its arguments as click would, without starting it.
        command = main.get_command(click_context(), "serve")
        assert command is not None
        command.make_context("serve", args[2:])
        return
    result = runner.invoke(main, args[1:], catch_exceptions=False)
    assert result.exit_code == 0, f"{where}\n{result.output}"


def click_context() -> Any:
    return main.make_context("kpi", ["--help"], resilient_parsing=True)


@pytest.mark.parametrize(
    "page",
    [p for p in pages() if any(b.not_run is None for b in _shell_blocks(p))],
    ids=_name,
)
def test_the_shell_examples_run(
    page: Path,
    example_files: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in PAGE_FILES.get(_name(page), ()):
        source = example_files / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    ran = 0
    for block in _shell_blocks(page):
        if block.not_run is not None:
            continue
        for line in commands(block):
            _run(line, block, runner, monkeypatch)
            ran += 1
    assert ran


def test_every_block_names_its_language_and_every_shell_block_runs_or_says_why() -> None:
    unnamed = [b.where for p in pages() for b in blocks(p) if not b.lang]
    assert not unnamed, f"blocks without a language: {unnamed}"
    for page in pages():
        for block in _shell_blocks(page):
            if block.not_run is not None:
                assert len(block.not_run.split()) >= 3, f"{block.where}: say why it cannot run"
    # Only sh blocks are shell: a bash or console block would escape the runner.
    other_shells = [
        b.where for p in pages() for b in blocks(p) if b.lang in {"bash", "shell", "console"}
    ]
    assert not other_shells, f"write shell examples as sh blocks: {other_shells}"


def test_the_python_examples_are_doctests() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    options = pyproject["tool"]["pytest"]["ini_options"]
    assert "--doctest-glob=*.md" in options["addopts"].split()
    assert {"docs", "README.md"} <= set(options["testpaths"])
    for page in pages():
        for block in blocks(page):
            if block.lang == "python":
                assert block.text.lstrip().startswith(">>>"), f"{block.where}: not a doctest"


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    # --strict fails on any warning: a broken link or anchor, a page left out of the nav.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("index.html")}
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS).with_suffix("").as_posix()
        expected = "index.html" if relative == "index" else f"{relative}/index.html"
        expected = expected.replace("/index/index.html", "/index.html")
        assert expected in built, (page, sorted(built))
    assert not list(tmp_path.rglob("*.py")), "the picture scripts are not pages"
    engine = (tmp_path / "engine" / "index.html").read_text(encoding="utf-8")
    assert "benchmark_band" in engine, "API reference missing"
    assert "KPIInputError" in engine, "API reference missing"


def test_the_front_page_is_short_and_links_what_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme):
        assert picture.startswith(PICTURES), picture
        assert (ROOT / picture.removeprefix(PICTURES)).is_file(), picture
    links = re.findall(re.escape(SITE) + r"([\w/-]*)", readme)
    assert links
    for link in links:
        page = link.strip("/") or "index"
        assert (DOCS / f"{page}.md").is_file() or (DOCS / page / "index.md").is_file(), link
    for section in ("## Quick start", "## Licences"):
        assert section in readme
    for package in ("LibreOffice 25.2", "Chromium", "nginx", "PostgreSQL", "Java 17", "poppler"):
        assert package in readme, package


def _prose(page: Path) -> Iterator[tuple[int, str]]:
    """The page's lines outside code, with inline code and link targets removed."""
    fence = False
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            yield number, re.sub(r"`[^`]*`|\]\([^)]*\)|<!--.*?-->", "", line)


def test_french_typography() -> None:
    # A no-break space before : ; ? ! % and », and after «.
    page = DOCS / "fr" / "index.md"
    for number, line in _prose(page):
        assert not re.search(r"[ \t][:;?!%»]|«[ \t]", line), f"fr/index.md:{number}: {line}"
        assert not re.search(r"\w[:;?!%»]|«\w", line), f"fr/index.md:{number}: {line}"


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_the_getting_started_pages_use_the_workbooks_words(language: str) -> None:
    """The sheet names and headings the page names in bold are the workbook's."""
    words = tomllib.loads((ROOT / "templates" / "workbook.toml").read_text(encoding="utf-8"))
    report = tomllib.loads(
        (ROOT / "templates" / "report" / "words.toml").read_text(encoding="utf-8")
    )
    notes = tomllib.loads((ROOT / "templates" / "notes.toml").read_text(encoding="utf-8"))
    taskpane = tomllib.loads((ROOT / "templates" / "taskpane.toml").read_text(encoding="utf-8"))
    known = {
        *words[language]["sheets"].values(),
        *words[language]["headings"].values(),
        *words["tables"][language].values(),
        *report[language]["headings"].values(),
        report[language]["sheet"],
        notes[language]["title"],
        taskpane[language]["refresh_button"],
    }
    page = DOCS / language / "index.md"
    prose = " ".join(line for _, line in _prose(page)).replace("\u00a0", " ")
    bold = set(re.findall(r"\*\*(.+?)\*\*", prose))
    assert bold
    assert bold <= known, bold - known


def _anchors(page: Path) -> set[str]:
    """The ids MkDocs gives the page's headings (its default slugify)."""
    found = set()
    for _, line in _prose(page):
        heading = re.match(r"#+ (.+)", line)
        if heading:
            text = re.sub(r"[^\w\s-]", "", heading.group(1).replace("`", "")).strip().lower()
            found.add(re.sub(r"[-\s]+", "-", text))
    return found


def test_the_docs_addresses_in_messages_and_pages_exist() -> None:
    """Error messages and help texts send people to the site: each address and
    anchor there must exist."""
    sources = [*ROOT.joinpath("addin").rglob("*.py"), *ROOT.joinpath("kpi_engine").rglob("*.py")]
    texts = [p.read_text(encoding="utf-8") for p in [*sources, *pages()]]
    addresses = {a for text in texts for a in re.findall(re.escape(SITE) + r"[\w/#-]*", text)}
    assert any("#" in a for a in addresses)
    for address in addresses:
        path, _, anchor = address.removeprefix(SITE).partition("#")
        name = path.strip("/") or "index"
        page = DOCS / f"{name}.md" if (DOCS / f"{name}.md").is_file() else DOCS / name / "index.md"
        assert page.is_file(), address
        if anchor:
            assert anchor in _anchors(page), (address, sorted(_anchors(page)))
