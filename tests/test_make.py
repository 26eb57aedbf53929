"""The README's two commands say what they do: `make demo` installs the package
alone, and `make test` first lists the system packages it installs with apt-get."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def make(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    make_tool = shutil.which("make")
    assert make_tool, "make is needed (the README's commands are make targets)"
    done = subprocess.run(
        [make_tool, "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_make_test_first_lists_every_system_package_it_may_install() -> None:
    (prerequisites,) = re.findall(r"^test: (.*)$", MAKEFILE, re.MULTILINE)
    assert prerequisites.split()[0] == "system-deps-plan"
    plan = make("system-deps-plan").stdout.splitlines()
    assert "apt-get" in plan[0]
    for line in plan[1:]:
        # Each says whether it is there, or that apt-get will install it, and why.
        assert re.fullmatch(
            r"  .+: (installed|missing, make installs it with apt-get) \(.+\)", line
        ), line
    # Every package an apt-get of the Makefile names is in the list.
    installed = set()
    for start in re.finditer(r"apt-get install -y\b", MAKEFILE):
        words = MAKEFILE[start.end() :].split()
        for word in words:
            if word == "\\":
                continue
            if not re.fullmatch(r"[-\w.]+;?", word):
                break
            if not word.startswith("-"):
                installed.add(word.rstrip(";"))
            if word.endswith(";"):
                break
    installed -= {"bookworm-backports"}  # the suite of -t, not a package
    listed = " ".join(plan[1:])
    for package in sorted(installed):
        assert package in listed, f"{package} is installed by the Makefile but not listed"


def test_make_demo_installs_the_package_alone(tmp_path: Path) -> None:
    venv = tmp_path / "demo-venv"
    shown = make("demo", f"DEMO_VENV={venv}").stdout
    assert "KPI report: Celebrity video message platform" in shown
    assert (ROOT / "demo" / "celebrity_video_en.xlsx").is_file()
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.lower()
    names = {line.split("==")[0] for line in listed.splitlines()}
    assert "kpi-addin" in names
    # None of the tests' tools, nor the extras' engines.
    assert not names & {"pytest", "pyspark", "polars", "playwright", "fastapi", "duckdb", "mypy"}
