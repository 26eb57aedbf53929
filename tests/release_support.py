"""What the release tests share: make dist, a real package index on 127.0.0.1,
the install lines the README and the docs show, and fresh virtual environments."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
import urllib.request
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tests.addin_support import free_port, stop

ROOT = Path(__file__).resolve().parent.parent
MAKE_DIST = ROOT / "tools" / "make_dist.py"
DISTRIBUTION = "kpi-addin"


def build_wheel(out: Path) -> Path:
    """The wheel the project's build backend makes, built into ``out``."""
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("*.whl")
    return built


def make_dist(out: Path) -> subprocess.CompletedProcess[str]:
    """Run `make dist`'s script into ``out``."""
    return subprocess.run(
        [sys.executable, str(MAKE_DIST), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


# --- the install lines of the README and the docs -----------------------------------------

#: A fenced code block (``` or ~~~), its body in group 2.
_FENCE = re.compile(r"^ *(```|~~~)[^\n]*\n(.*?)^ *\1 *$", re.MULTILINE | re.DOTALL)
#: An inline code span.
_SPAN = re.compile(r"`([^`\n]+)`")
#: `pip install ...` however pip is called: pip, pip3, python -m pip, /opt/kpi/bin/pip.
_PIP_INSTALL = re.compile(r"(?:^|[\s/&;(])(?:pip3?|python3? -m pip) install\s+(.*)$")


@dataclass
class InstallLine:
    """One requirement that pages tell a reader to `pip install`, and where."""

    requirement: str
    shown_at: list[str] = field(default_factory=list)

    @property
    def extras(self) -> frozenset[str]:
        return frozenset(Requirement(self.requirement).extras)


def _commands(text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of code: fenced blocks and inline spans."""
    for block in _FENCE.finditer(text):
        first = text.count("\n", 0, block.start(2)) + 1
        for offset, line in enumerate(block.group(2).splitlines()):
            yield first + offset, line
    for span in _SPAN.finditer(text):
        yield text.count("\n", 0, span.start()) + 1, span.group(1)


def install_lines(pages: list[Path]) -> list[InstallLine]:
    """Every kpi-addin requirement that a `pip install` in ``pages`` names,
    once per distinct requirement (extras sorted), with where each is shown.
    A path (a clone, a wheel file) is not a line for an index."""
    found: dict[str, InstallLine] = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for number, line in _commands(text):
            match = _PIP_INSTALL.search(line)
            if not match:
                continue
            for word in shlex.split(match.group(1), comments=True):
                if word.startswith("-") or "/" in word or "\\" in word:
                    continue
                try:
                    requirement = Requirement(word)
                except InvalidRequirement:  # a path such as .[dev]: not for an index
                    continue
                if canonicalize_name(requirement.name) != DISTRIBUTION:
                    continue
                extras = ",".join(sorted(requirement.extras))
                key = f"{DISTRIBUTION}[{extras}]" if extras else DISTRIBUTION
                entry = found.setdefault(key, InstallLine(key))
                entry.shown_at.append(f"{page.relative_to(ROOT)}:{number}")
    return sorted(found.values(), key=lambda entry: entry.requirement)


# --- a package index on 127.0.0.1 ------------------------------------------------------------


@dataclass
class PackageIndex:
    url: str  # the simple index, as pip's --index-url takes it
    root: str  # where micropip's index_urls point (it appends /<name>/)
    log: Path


@contextmanager
def package_index(folder: Path) -> Iterator[PackageIndex]:
    """pypiserver serving the packages in ``folder`` on a loopback port: no
    uploads, and no fallback to another index for what it lacks."""
    port = free_port()
    log = folder.parent / f"{folder.name}-pypiserver.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pypiserver",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--disable-fallback",
                "-v",  # a line per request: the tests read which files were fetched
                "--authenticate",
                ".",
                "--passwords",
                ".",
                str(folder),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"pypiserver exited early:\n{log.read_text()}")
                try:
                    with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("pypiserver did not answer within 60 s")
                time.sleep(0.1)
            yield PackageIndex(f"{base}/simple/", f"{base}/simple", log)
        finally:
            stop(process)


def ordinary_indexes() -> list[str]:
    """The indexes pip is set to use here (its configuration and environment),
    PyPI when none is set: where the dependencies come from, as for any user."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    main, extra = [], []
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        urls = value.strip().strip("'\"").split()
        if key.endswith(".extra-index-url"):
            extra += urls
        elif key.endswith(".index-url"):
            main = urls
    return [*(main or ["https://pypi.org/simple"]), *extra]


# --- fresh virtual environments -----------------------------------------------------------


@dataclass
class FreshEnv:
    folder: Path

    @property
    def bin(self) -> Path:
        return self.folder / "bin"

    @property
    def kpi(self) -> str:
        return str(self.bin / "kpi")


def install_from_index(
    folder: Path, index: PackageIndex, requirement: str
) -> tuple[FreshEnv, dict[str, str]]:
    """A new virtual environment with ``requirement`` installed by pip, kpi-addin
    from ``index`` and its dependencies from the ordinary indexes; returns it and
    where pip took each installed distribution from (its --report). Into the
    environment at ``folder`` when there is one already.

    --no-compile: the .pyc files are written on first import instead, as pip
    would have written them; it spares the tests a minute on Spark's 300 MB."""
    if not (folder / "bin" / "python").exists():
        venv.create(folder, with_pip=True)
    env = FreshEnv(folder)
    report = folder / "pip-report.json"
    extra = [arg for url in ordinary_indexes() for arg in ("--extra-index-url", url)]
    installed = subprocess.run(
        [
            str(env.bin / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--index-url",
            index.url,
            *extra,
            "--report",
            str(report),
            requirement,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, f"pip install {requirement}:\n{installed.stderr}"
    sources = {
        canonicalize_name(item["metadata"]["name"]): item["download_info"]["url"]
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    return env, sources
