"""Bad input to `kpi refresh` and `kpi report`: a clear message, exit status 2,
no traceback, and the original file byte-identical."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from msoffcrypto.format.ooxml import OOXMLFile

from addin.ooxml.package import open_package, split_reference
from addin.starter import StarterOptions, new_workbook
from tests.addin_support import KPI

AS_OF = dt.date(2024, 7, 15)


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("starter") / "shop.xlsx"
    new_workbook(StarterOptions("celebrity_video", "en", as_of=AS_OF), path)
    return path.read_bytes()


def kpi(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert KPI
    return subprocess.run(
        [KPI, *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def table_part(data: bytes, name: str) -> str:
    """The part of the package that defines the Excel table ``name``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    for part in source.namelist():
        if part.startswith("xl/tables/") and f'displayName="{name}"'.encode() in source.read(part):
            return part
    raise AssertionError(f"no table {name} in the package")


def rewrite_part(data: bytes, part: str, change: Callable[[str], str]) -> bytes:
    """The same package with one part's text changed."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == part:
                content = change(content.decode()).encode()
            target.writestr(info.filename, content)
    return out.getvalue()


def assert_refused(
    path: Path, *fragments: str, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> None:
    before = path.read_bytes()
    listing = sorted(os.listdir(path.parent))
    for command in (["refresh", str(path), *extra], ["report", str(path), *extra]):
        result = kpi(*command, env=env)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ")
        for fragment in fragments:
            assert fragment in result.stderr, result.stderr
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == listing  # no temporary file left behind


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "notes.xlsx"
    path.write_text("quarterly numbers, not a workbook\n")
    assert_refused(path, "is not an Excel workbook", "zip package")


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert_refused(path, "not an Excel workbook", "no xl/workbook.xml", "readme.txt")


def test_an_encrypted_workbook(tmp_path: Path, starter: bytes) -> None:
    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(starter)
    path = tmp_path / "secret.xlsx"
    with plain.open("rb") as source, path.open("wb") as target:
        OOXMLFile(source).encrypt("s3cret", target)
    assert_refused(path, "is encrypted", "password")


def test_a_protected_workbook_structure(tmp_path: Path, starter: bytes) -> None:
    path = tmp_path / "locked.xlsx"
    path.write_bytes(
        rewrite_part(
            starter,
            "xl/workbook.xml",
            # openpyxl writes the empty element with or without a space (lxml or not).
            lambda text: re.sub(
                r"<workbookProtection\s*/>",
                '<workbookProtection lockStructure="1" workbookPassword="CC3D" />',
                text,
                count=1,
            ),
        )
    )
    assert b'lockStructure="1"' in zipfile.ZipFile(path).read("xl/workbook.xml")
    result = kpi("refresh", str(path))
    assert result.returncode == 2
    assert "structure is protected" in result.stderr


def test_a_missing_table(tmp_path: Path, starter: bytes) -> None:
    path = tmp_path / "no_survey.xlsx"
    path.write_bytes(
        rewrite_part(
            starter,
            table_part(starter, "Survey"),
            lambda text: text.replace(
                'name="Survey" displayName="Survey"', 'name="Poll" displayName="Poll"'
            ),
        )
    )
    assert_refused(
        path, "needs the table(s) Survey", "tables found: Celebrities, Customers, Orders, Poll"
    )


def test_a_missing_column(tmp_path: Path, starter: bytes) -> None:
    path = tmp_path / "no_status.xlsx"
    path.write_bytes(
        rewrite_part(
            starter,
            table_part(starter, "Orders"),
            lambda text: text.replace('name="status"', 'name="state"'),
        )
    )
    assert_refused(path, "table Orders lacks the column(s) status", "its columns are order_id")


def test_a_period_with_no_data(tmp_path: Path, starter: bytes) -> None:
    path = tmp_path / "shop.xlsx"
    path.write_bytes(starter)
    assert_refused(
        path, "no data for the period 2019-03", "the data runs from", extra=("--period", "2019-03")
    )


def test_a_bad_period_option(tmp_path: Path, starter: bytes) -> None:
    path = tmp_path / "shop.xlsx"
    path.write_bytes(starter)
    result = kpi("refresh", str(path), "--period", "June")
    assert result.returncode == 2
    assert "expected a month as YYYY-MM" in result.stderr
    assert path.read_bytes() == starter


@pytest.mark.parametrize("month", ["0000-05", "1899-12", "1901-12", "9999-12"])
def test_a_period_outside_the_dates_a_report_can_cover(
    tmp_path: Path, starter: bytes, month: str
) -> None:
    path = tmp_path / "shop.xlsx"
    path.write_bytes(starter)
    for command in ("refresh", "report"):
        result = kpi(command, str(path), "--period", month)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert f"--period is '{month}'" in result.stderr
    assert path.read_bytes() == starter


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('t="inlineStr"><is><t>0000-05</t></is>', "'0000-05'"),
        ('t="inlineStr"><is><t>9999-12</t></is>', "'9999-12'"),
        ("><v>400</v>", "1901-02-03"),
        ("><v>2958460</v>", "9999-12-26"),
    ],
)
def test_a_period_cell_outside_the_dates_a_report_can_cover(
    tmp_path: Path, starter: bytes, cell: str, shown: str
) -> None:
    """The PERIOD cell holds a month no report can cover: a message, not a traceback."""
    original = tmp_path / "original.xlsx"
    original.write_bytes(starter)
    package = open_package(original)
    sheet_name, address = split_reference(package.defined_names["PERIOD"])
    sheet_part = next(sheet.part for sheet in package.sheets if sheet.name == sheet_name)
    package.close()

    def change(text: str) -> str:
        return re.sub(
            rf'<c r="{address}"([^>]*?)(?: t="[^"]*")?>.*?</c>',
            lambda m: f'<c r="{address}"{m.group(1)}{cell}</c>',
            text,
            count=1,
            flags=re.DOTALL,
        )

    path = tmp_path / "shop.xlsx"
    path.write_bytes(rewrite_part(starter, sheet_part, change))
    assert_refused(path, "the named cell PERIOD is " + shown, "expected a month")


def test_a_file_open_in_excel_is_refused_unless_forced(tmp_path: Path, starter: bytes) -> None:
    path = tmp_path / "shop.xlsx"
    path.write_bytes(starter)
    (tmp_path / "~$shop.xlsx").write_bytes(b"\x00" * 165)
    result = kpi("refresh", str(path))
    assert result.returncode == 2
    assert "looks open in Excel" in result.stderr
    assert "~$shop.xlsx" in result.stderr
    assert "--force" in result.stderr
    assert path.read_bytes() == starter
    forced = kpi("refresh", str(path), "--force")
    assert forced.returncode == 0, forced.stderr
    with zipfile.ZipFile(path) as archive:
        assert "Report" in archive.read("xl/workbook.xml").decode()


def test_a_zip_bomb_is_refused_before_inflating(tmp_path: Path, starter: bytes) -> None:
    path = tmp_path / "bomb.xlsx"
    source = zipfile.ZipFile(io.BytesIO(starter))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        with target.open("xl/media/filler.bin", "w") as filler:
            chunk = b"\x00" * (1 << 20)
            for _ in range(300):
                filler.write(chunk)
    assert path.stat().st_size < 2_000_000  # 300 MB of zeros in well under 2 MB
    env = dict(os.environ, KPI_MAX_INFLATED_MB="200")
    assert_refused(path, "would inflate to", "guard against zip bombs", env=env)


def test_xml_entity_expansion_is_refused(tmp_path: Path, starter: bytes) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    )
    path = tmp_path / "laughs.xlsx"
    path.write_bytes(
        rewrite_part(
            starter,
            "xl/workbook.xml",
            lambda text: laughs + text.replace('name="PERIOD">', 'name="PERIOD">&lol3;'),
        )
    )
    assert_refused(path, "declares XML entities or a DTD", "xl/workbook.xml")


def test_a_missing_file(tmp_path: Path) -> None:
    result = kpi("refresh", str(tmp_path / "absent.xlsx"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "absent.xlsx").exists()
