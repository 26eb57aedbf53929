"""`kpi com-setup`: the classic (COM) add-in's settings, written for the user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.addin_support import KPI


def test_com_setup_writes_udf_modules_and_keeps_other_settings(tmp_path: Path) -> None:
    conf = tmp_path / ".kpi_functions" / "kpi_functions.conf"
    conf.parent.mkdir()
    conf.write_text('"UDF_MODULES","old_module"\n"SHOW_CONSOLE","True"\n')
    assert KPI
    result = subprocess.run(
        [KPI, "com-setup", "--addin-name", "kpi_functions", "--conf", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert conf.read_text().splitlines() == [
        '"SHOW_CONSOLE","True"',
        '"UDF_MODULES","addin.functions"',
        f'"INTERPRETER_WIN","{sys.executable}"',
    ]
    assert "ImportPythonUDFsToAddin" in result.stdout
