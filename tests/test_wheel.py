"""The built wheel works on its own: templates travel with it."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path

from tests.release_support import build_wheel


def test_installed_wheel_runs_kpi_list(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    # Run from an empty folder so that nothing from the source tree can be picked up.
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    kpi = env_dir / "bin" / "kpi"
    english = subprocess.run(
        [str(kpi), "list"], cwd=workdir, capture_output=True, text=True, check=False
    )
    assert english.returncode == 0, english.stderr
    assert "churn_rate" in english.stdout
    assert "higher is better" in english.stdout  # words from templates/labels.toml
    french = subprocess.run(
        [str(kpi), "list", "--type", "songwriting", "--lang", "fr"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert french.returncode == 0, french.stderr
    assert "Taux d'achèvement des chansons personnalisées" in french.stdout
    location = subprocess.run(
        [str(python), "-c", "import kpi_engine._labels as l; print(l.templates_dir())"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(env_dir) in location.stdout, "templates must come from the installed package"
