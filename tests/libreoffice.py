"""LibreOffice headless: recalculate workbooks and read them back.

LibreOffice is installed by ``make test`` (package libreoffice-calc-nogui).
Recalculation happens on conversion: the profile used here tells Calc to
recalculate every formula when it loads an Excel file, so nothing cached by
the writer can stand in for a real result.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    assert found, "LibreOffice is missing: run make test, which installs libreoffice-calc-nogui"
    return found


def convert(paths: list[Path], outdir: Path, fmt: str = "xlsx", timeout: int = 900) -> list[Path]:
    """Open each file in LibreOffice, recalculate it, save it as ``fmt`` in ``outdir``."""
    profile = outdir / ".lo-profile"
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, encoding="utf-8")
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={profile.resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    results = [outdir / (p.stem + "." + fmt.split(":", maxsplit=1)[0]) for p in paths]
    missing = [str(p) for p in results if not p.exists()]
    assert not missing, f"LibreOffice did not write {missing}"
    return results
