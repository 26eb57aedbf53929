"""``kpi lite``: the files for xlwings Lite, the free add-in from Microsoft's store.

xlwings Lite runs the Python of its editor in the browser (Pyodide) and
installs what its ``requirements.txt`` tab lists with micropip, Pyodide's pip:
pure-Python wheels from PyPI, Pyodide's own builds of compiled packages, and
one's own packages as the URL of a wheel. The KPI engine and the report code
travel as the kpi-addin package: ``kpi lite`` writes

- ``main.py``: under 100 lines, and the part a user extends: a header that
  says what to edit, the version check, one import that brings every KPI
  function and the ``refresh_report`` script from the wheel
  (``addin.xlwings_lite``, which says why xlwings Lite finds them there),
  and a marked section for the user's own functions that ``kpi lite`` keeps
  when it writes the file again;
- ``requirements.txt``: by default kpi-addin by name and this version, which
  micropip installs from PyPI (or from the index a self-hosted xlwings Lite
  is set to); with ``--wheel-url``, the wheel below by the URL it is hosted at;
- ``kpi_addin-<version>-py3-none-any.whl``: that wheel, for those who host it
  themselves (a machine without access to PyPI, a version not released).

Why a wheel rather than the engine inside ``main.py`` (as a base64 zip, as
before): it is the way xlwings Lite documents for one's own packages, it
keeps ``main.py`` readable, and the engine is then installed once, versioned,
instead of being unpacked on every start. Why ``kpi lite`` writes the wheel
itself: ``kpi`` may have been installed from a wheel, with no source tree to
build one from, and the wheel must be the very engine that ``main.py`` was
written for (``main.py`` checks the version). A pure-Python wheel is a zip of
the packages and three small files of metadata (PEP 427), written here with
the same ``ZipWriter`` as the workbooks, so it is the same from run to run.

In Pyodide (``sys_platform == "emscripten"``) the wheel's dependency markers
leave out what only the CLI, the workbook builder and the offline reader use:
click, openpyxl, lxml and python-calamine (which has no Pyodide build). The
Lite path imports xlwings, babel, jinja2 (with markupsafe) and defusedxml, all
installable in Pyodide; the report code imports openpyxl and lxml lazily, only
on paths that Lite does not take. tests/test_lite_pyodide.py proves this in
Pyodide itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from importlib import metadata, resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kpi_engine
from addin.ooxml.atomic import NotRegularTargetError, check_target, write_bytes_atomically
from addin.ooxml.zipwriter import ZipWriter
from kpi_engine.texts import templates_dir

DISTRIBUTION = "kpi-addin"
VERSION = kpi_engine.__version__
WHEEL_NAME = f"kpi_addin-{VERSION}-py3-none-any.whl"

#: The line above the user's own code in main.py: ``kpi lite`` keeps
#: everything below it when it writes main.py again.
USER_SECTION_MARKER = "# ===== Your own functions and scripts: below this line ====="

_HEADER = '''\
"""KPI functions for xlwings Lite, written by `kpi lite` (kpi-addin {version}).

Paste this file into xlwings Lite's main.py tab and requirements.txt into its
requirements.txt tab. Every KPI of the catalogue is then an Excel function,
such as =NPS(Survey[recommend_score]), with its description and argument help
in Excel; =KPI_LIST() lists them and =BENCHMARK_BAND(...) rates a value. The
script refresh_report writes the workbook's report sheet.

The functions and the script are not written out here: requirements.txt
installs them with the kpi-addin package, and the import below brings them
into this file, where xlwings Lite finds them. Blank cells for optional
arguments mean their default, bad input shows as #VALUE! with the reason, and
a KPI without a value as #DIV/0!.

What you can edit: the part at the end, below the marked line. Write your own
functions and scripts there (one with a KPI's name takes that KPI's place);
`kpi lite` keeps that part when it writes this file again for a new version.
"""

import xlwings as xw

import kpi_engine

if kpi_engine.__version__ != "{version}":
    raise ImportError(
        "main.py was written for kpi-addin {version}, but requirements.txt installed "
        f"kpi-addin {{kpi_engine.__version__}}: write main.py again with that version's kpi lite"
    )

# Every KPI function, BENCHMARK_BAND, KPI_LIST and the refresh_report script.
from addin.xlwings_lite import *  # noqa: E402, F403


'''

_USER_SECTION_START = f'''{USER_SECTION_MARKER}
# An example to start from: remove the # signs, and =GROSS_MARGIN(B2, C2) gives
# the share of revenue left after the cost of goods. The engine's own functions
# are there to build on too, such as kpi_engine.nps([9, 10, 6]).
#
# @xw.func
# @xw.arg("revenue", doc="Revenue of the period")
# @xw.arg("cost_of_goods", doc="Cost of the goods sold in the period")
# def gross_margin(revenue, cost_of_goods):
#     """Gross margin: the share of revenue left after the cost of goods."""
#     return (revenue - cost_of_goods) / revenue
'''


def main_py(user_section: str | None = None) -> str:
    """main.py: the header, the import of the functions and the script, the user's part.

    ``user_section`` is what followed the marker line in an earlier main.py;
    without it, the section holds a commented example.
    """
    user_part = _USER_SECTION_START if user_section is None else USER_SECTION_MARKER + user_section
    return _HEADER.format(version=kpi_engine.__version__) + user_part


#: The characters of a URL (RFC 3986), a percent sign only before two hex
#: digits: a space or a new line would change what pip reads in requirements.txt.
_URL = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")


class LiteOutputError(ValueError):
    """The folder or a file kpi lite writes cannot be written; nothing was written."""


def wheel_url_ok(url: str) -> bool:
    """An https:// address of a .whl file, written only with a URL's characters.

    >>> wheel_url_ok("https://x/kpi_addin.whl"), wheel_url_ok("https://x/a b.whl")
    (True, False)
    """
    if _URL.fullmatch(url) is None:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and parts.path.endswith(".whl")


def requirements_txt(wheel_url: str | None) -> str:
    """requirements.txt: the kpi-addin wheel by its URL, or by name and version."""
    version = kpi_engine.__version__
    if wheel_url:
        source = f"""\
# The KPI engine and the report code: the kpi-addin wheel that `kpi lite` wrote
# beside this file, at the address it is hosted at. That server must allow
# xlwings Lite to fetch it (the Access-Control-Allow-Origin header; GitHub's
# raw file addresses do).
{wheel_url}
"""
    else:
        source = f"""\
# The KPI engine and the report code: kpi-addin of this version, from PyPI (or
# from the package index that a self-hosted xlwings Lite is set to). To install
# the kpi-addin wheel from where you host it instead, write this file again
# with: kpi lite -o FOLDER --wheel-url https://.../{WHEEL_NAME}
{DISTRIBUTION}=={version}
"""
    return (
        "# xlwings Lite installs these when this tab changes (restart it after a version change).\n"
        + source
        + "# With it come xlwings, babel, jinja2 and defusedxml; what only the kpi command\n"
        "# needs (click, openpyxl, lxml, python-calamine) is marked not for the browser.\n"
    )


def _package_files(folder: Traversable, prefix: str) -> Iterator[tuple[str, bytes]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__" or entry.name.startswith("."):
            continue
        name = f"{prefix}/{entry.name}"
        if entry.is_dir():
            yield from _package_files(entry, name)
        elif not entry.name.endswith(".pyc"):
            yield name, entry.read_bytes()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


def engine_wheel() -> bytes:
    """The kpi-addin wheel (``WHEEL_NAME``): the ``kpi_engine`` and ``addin``
    packages with the templates inside ``kpi_engine``, as the project's build
    lays them out (pyproject.toml), and the installed distribution's metadata."""
    files = list(_package_files(resources.files("kpi_engine"), "kpi_engine"))
    if not resources.files("kpi_engine").joinpath("templates").is_dir():
        # In the source tree, templates/ sits beside the package (see _labels).
        files += _package_files(templates_dir(), "kpi_engine/templates")
    files += _package_files(resources.files("addin"), "addin")
    installed = metadata.distribution(DISTRIBUTION)
    dist_info = f"kpi_addin-{kpi_engine.__version__}.dist-info"
    files.append((f"{dist_info}/METADATA", _read_metadata(installed, "METADATA")))
    files.append((f"{dist_info}/entry_points.txt", _read_metadata(installed, "entry_points.txt")))
    # The licence files the metadata names (License-File), where PEP 639 puts them.
    for licence in installed.metadata.get_all("License-File") or []:
        name = f"licenses/{licence}"
        files.append((f"{dist_info}/{name}", _read_metadata(installed, name)))
    wheel = (
        "Wheel-Version: 1.0\n"
        f"Generator: kpi lite ({DISTRIBUTION} {kpi_engine.__version__})\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    )
    files.append((f"{dist_info}/WHEEL", wheel.encode("utf-8")))
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files)
    files.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode("utf-8")))
    buffer = io.BytesIO()
    with ZipWriter(buffer) as archive:
        for name, data in files:
            archive.write(name, data)
    return buffer.getvalue()


def _read_metadata(distribution: Any, name: str) -> bytes:
    text = distribution.read_text(name)
    if text is None:
        raise FileNotFoundError(f"the installed {DISTRIBUTION} has no {name}; reinstall it")
    return str(text).encode("utf-8")


def _user_section(main: Path) -> str | None:
    """What follows the marker line in an existing main.py, or None."""
    if not main.is_file():
        return None
    _, marker, user_part = main.read_text(encoding="utf-8").partition(USER_SECTION_MARKER)
    return user_part if marker else None


def write(folder: Path, wheel_url: str | None = None) -> list[Path]:
    """Write main.py, requirements.txt and the kpi-addin wheel into ``folder``;
    return their paths. The user's part of an existing main.py is kept.

    Each is written atomically (``addin.ooxml.atomic``): an interrupted run
    leaves the previous main.py whole, never half of a new one.
    """
    if folder.exists() and not folder.is_dir():
        raise LiteOutputError(
            f"-o {folder} is not a folder; expected the folder to write main.py, "
            "requirements.txt and the wheel into"
        )
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / "main.py"
    # Every file is checked before any is written: a FIFO named main.py would
    # hang the read of its user section, a device is no place for a wheel.
    for path in (main, folder / "requirements.txt", folder / WHEEL_NAME):
        try:
            check_target(path, force_option=False)
        except NotRegularTargetError as error:
            raise LiteOutputError(str(error)) from None
    source = main_py(_user_section(main))
    write_bytes_atomically(main, source.encode("utf-8"))
    requirements = folder / "requirements.txt"
    write_bytes_atomically(requirements, requirements_txt(wheel_url).encode("utf-8"))
    wheel = folder / WHEEL_NAME
    write_bytes_atomically(wheel, engine_wheel())
    return [main, requirements, wheel]
