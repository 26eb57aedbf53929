"""``make dist``: everything a release holds, built into dist/ from the checked-out commit.

    python tools/make_dist.py [--out DIST]

dist/ then holds:

- the wheel and the sdist, as PyPI gets them; ``twine check --strict`` and
  ``check-wheel-contents`` pass on them, and the wheel that the sdist builds is
  byte for byte the wheel built straight from the source tree (checked here);
- assets/, what the GitHub release offers for download besides them:
  - the starter workbooks, every business type in every language, with two
    years of sample data and empty: ``kpi-<type>-<language>-sample.xlsx`` and
    ``kpi-<type>-<language>-empty.xlsx``, the type as ``kpi new`` names it
    (``kpi-songwriting-fr-empty.xlsx``), so that a person picks theirs from
    the list by the words the docs use;
  - the two files for xlwings Lite, ``xlwings-lite-main.py`` and
    ``xlwings-lite-requirements.txt`` (which installs kpi-addin of this version
    from the package index), as ``kpi lite`` writes them;
  - a sample HTML report, the one ``kpi report --html`` writes for the English
    celebrity video workbook with sample data;
- SHA256SUMS, a line per file above.

Reproducible: every file depends only on the commit. The time is the commit's
(SOURCE_DATE_EPOCH, unless it is set already): it dates the files inside the
wheel and the sdist, it is the date the sample data runs up to (--as-of) and
the report's refresh time. The workbooks are zips written by
``addin.ooxml.zipwriter`` (fixed entry order and times). On a tagged commit
the tag must name this version (v0.1.0 for 0.1.0): a release is built from it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The workbook whose report is the sample report.
SAMPLE_REPORT_BOOK = ("celebrity_video", "en")
LITE_FILES = {
    "main.py": "xlwings-lite-main.py",
    "requirements.txt": "xlwings-lite-requirements.txt",
}


class DistError(Exception):
    """A release cannot be built as asked: the message says why."""


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH if set, else the time of the checked-out commit."""
    if "SOURCE_DATE_EPOCH" in os.environ:
        value = os.environ["SOURCE_DATE_EPOCH"]
        if not value.isdigit():
            raise DistError(f"make dist: SOURCE_DATE_EPOCH is {value!r}; expected whole seconds")
        return int(value)
    commit = _git("log", "-1", "--format=%ct", "HEAD")
    if commit.returncode != 0 or not commit.stdout.strip().isdigit():
        raise DistError(
            "make dist: no git commit to date the release by; run it in a clone "
            "or set SOURCE_DATE_EPOCH (seconds since 1970)"
        )
    return int(commit.stdout.strip())


def check_tag(version: str) -> str:
    """What is built, in words; refuses a tag that names another version."""
    tag = _git("describe", "--exact-match", "--tags", "HEAD")
    commit = _git("rev-parse", "--short", "HEAD").stdout.strip() or "an unknown commit"
    return built_from(version, tag.stdout.strip() if tag.returncode == 0 else None, commit)


def built_from(version: str, tag: str | None, commit: str) -> str:
    """What is built, in words, from the commit's tag (None: not tagged)."""
    if tag is None:
        return f"kpi-addin {version} from commit {commit} (not a tagged commit: a trial build)"
    if tag != f"v{version}":
        raise DistError(
            f"make dist: the commit is tagged {tag!r} but the package version is {version} "
            f"(kpi_engine/__init__.py); expected the tag v{version}"
        )
    return f"kpi-addin {version} from tag {tag} (commit {commit})"


def workbook_name(business_type: str, language: str, empty: bool) -> str:
    return f"kpi-{business_type}-{language}-{'empty' if empty else 'sample'}.xlsx"


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        raise DistError(f"make dist: {what} failed:\n{result.stdout}{result.stderr}")


def build_packages(out: Path, env: dict[str, str]) -> list[Path]:
    """The sdist, then the wheel built from it (python -m build); checked against
    a wheel built straight from the tree, and by twine and check-wheel-contents."""
    python = sys.executable
    _run([python, "-m", "build", "--outdir", str(out), str(ROOT)], env, "python -m build")
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    with tempfile.TemporaryDirectory() as direct:
        _run(
            [python, "-m", "build", "--wheel", "--outdir", direct, str(ROOT)],
            env,
            "python -m build --wheel",
        )
        (from_tree,) = Path(direct).glob("*.whl")
        if from_tree.read_bytes() != wheel.read_bytes():
            raise DistError(
                f"make dist: the wheel built from {sdist.name} differs from the one built "
                "from the source tree: the sdist lacks a file the wheel holds"
            )
    _run([python, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], env, "twine check")
    # check-wheel-contents reads its settings from pyproject.toml in the current folder (ROOT).
    _run([python, "-m", "check_wheel_contents", str(wheel)], env, "check-wheel-contents")
    return [wheel, sdist]


def build_assets(assets: Path, moment: dt.datetime) -> list[Path]:
    """The workbooks, the xlwings Lite files and the sample report."""
    # Imported here: `tools/make_dist.py --help` needs none of the package.
    import kpi_engine  # noqa: PLC0415
    from addin import lite  # noqa: PLC0415
    from addin.report.html import write_page  # noqa: PLC0415
    from addin.report.offline import make_report  # noqa: PLC0415
    from addin.starter import StarterOptions, new_workbook  # noqa: PLC0415

    assets.mkdir(parents=True)
    written = []
    for business_type in kpi_engine.BUSINESS_TYPES:
        for language in kpi_engine.LANGUAGES:
            for empty in (False, True):
                target = assets / workbook_name(business_type, language, empty)
                options = StarterOptions(business_type, language, empty=empty, as_of=moment.date())
                new_workbook(options.checked(), target)
                written.append(target)
    for source_name, asset_name in LITE_FILES.items():
        text = lite.main_py() if source_name == "main.py" else lite.requirements_txt(None)
        target = assets / asset_name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    book = assets / workbook_name(*SAMPLE_REPORT_BOOK, empty=False)
    report = make_report(book, clock=lambda: moment)
    target = assets / book.name.replace(".xlsx", "-report.html")
    write_page(report, target)
    written.append(target)
    return written


def write_checksums(out: Path, files: list[Path]) -> Path:
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(out).as_posix()}\n"
        for path in sorted(files)
    ]
    target = out / "SHA256SUMS"
    target.write_text("".join(lines), encoding="utf-8")
    return target


def make_dist(out: Path, packages: bool = True) -> list[Path]:
    """Build the release into ``out`` (emptied first); the files written.
    ``packages=False`` leaves out the wheel and the sdist."""
    import kpi_engine  # noqa: PLC0415

    version = kpi_engine.__version__
    what = check_tag(version)
    epoch = source_date_epoch()
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)
    print(f"Building {what} into {out}, dated {moment.isoformat()} UTC", flush=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = build_packages(out, env) if packages else []
    files += build_assets(out / "assets", moment)
    files.append(write_checksums(out, files))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder to build into")
    args = parser.parse_args(argv)
    try:
        files = make_dist(args.out.resolve())
    except DistError as error:
        print(error, file=sys.stderr)
        return 1
    for path in files:
        print(f"{path.stat().st_size:>10,}  {path.relative_to(args.out.resolve())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
