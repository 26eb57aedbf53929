"""LibreOffice headless: recalculate workbooks and read them back.

``make test`` installs LibreOffice 25.2 (package libreoffice-calc-nogui from
Debian's bookworm-backports), the first version of Calc that computes the
dynamic-array functions (FILTER, UNIQUE, LET...) of the starter workbooks
from an .xlsx file; 7.4, Debian's own, shows them as errors. Recalculation
happens on conversion: the profile used here tells Calc to recalculate every
formula when it loads an Excel file, so nothing cached by the writer can
stand in for a real result. The files are shared out over the machine's
cores, one soffice process (with its own profile) per share.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

#: The oldest LibreOffice that computes FILTER, UNIQUE, SORT, XMATCH and LET.
MINIMUM_VERSION = (24, 8)

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


@cache
def version() -> tuple[int, ...]:
    """LibreOffice's version, checked against what the formulas need."""
    printed = subprocess.run(
        [soffice(), "--version"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    match = re.search(r"LibreOffice (\d+)\.(\d+)", printed)
    assert match, f"cannot read LibreOffice's version from {printed!r}"
    found = (int(match.group(1)), int(match.group(2)))
    assert found >= MINIMUM_VERSION, (
        f"LibreOffice {found[0]}.{found[1]} cannot compute dynamic-array formulas; "
        f"{MINIMUM_VERSION[0]}.{MINIMUM_VERSION[1]} or later is needed: run make test, "
        "which installs it from Debian's bookworm-backports"
    )
    return found


def _command(paths: list[Path], outdir: Path, fmt: str, profile: Path) -> list[str]:
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_PROFILE_SETTINGS, encoding="utf-8")
    return [
        soffice(),
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        fmt,
        "--outdir",
        str(outdir),
        *map(str, paths),
    ]


def convert(
    paths: list[Path],
    outdir: Path,
    fmt: str = "xlsx",
    timeout: int = 900,
    processes: int | None = None,
) -> list[Path]:
    """Open each file in LibreOffice, recalculate it, save it as ``fmt`` in ``outdir``.

    The files are shared out over ``processes`` soffice processes (default:
    one per core), which run side by side.
    """
    version()
    outdir.mkdir(parents=True, exist_ok=True)
    count = max(1, min(processes or os.cpu_count() or 1, len(paths)))
    shares = [paths[i::count] for i in range(count)]
    running = [
        subprocess.Popen(
            _command(share, outdir, fmt, outdir / f".lo-profile-{i}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        for i, share in enumerate(shares)
    ]
    try:
        for process in running:
            _, errors = process.communicate(timeout=timeout)
            assert process.returncode == 0, f"soffice failed: {errors.decode(errors='replace')}"
    finally:
        for process in running:
            if process.poll() is None:
                os.killpg(process.pid, 9)
                process.wait()
    results = [outdir / (p.stem + "." + fmt.split(":", maxsplit=1)[0]) for p in paths]
    missing = [str(p) for p in results if not p.exists()]
    assert not missing, f"LibreOffice did not write {missing}"
    return results
