"""The ``kpi`` command, run in-process with click's CliRunner; one test runs
the installed console script as a user's shell does."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

import kpi_engine
from addin.cli import SUBCOMMANDS, main
from tests.addin_support import KPI, run_kpi

pytestmark = pytest.mark.fast


def test_the_console_script_runs_kpi() -> None:
    assert KPI, "the kpi console script is not installed in this environment"
    result = subprocess.run(
        [KPI, "calc", "churn_rate", "50", "1000"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "0.05\n", "")


def test_kpi_help_lists_every_command_without_importing_any() -> None:
    """``kpi --help`` reads the lines of SUBCOMMANDS: it loads neither the
    engine's catalogue nor a subcommand's module (openpyxl, xlwings...)."""
    probe = (
        "import sys; from addin.cli import main\n"
        "try:\n    main(['--help'], prog_name='kpi')\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kpi_engine', 'openpyxl', 'xlwings', 'ibis') or m.startswith('addin.') "
        "and m != 'addin.cli'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"
    for name in SUBCOMMANDS:
        assert f"  {name} " in result.stdout


def test_a_command_ends_without_walking_its_objects_again() -> None:
    """After a command, the process's objects are frozen at exit (Python's
    last collections skip them), and only then: the process that ran it
    still collects its garbage until it ends."""
    probe = (
        "import atexit, gc, sys\n"
        # Registered first, so run last: after kpi's own exit step.
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from addin.cli import main\n"
        "for _ in range(2):\n"
        "    try:\n        main(['types'], prog_name='kpi')\n    except SystemExit:\n        pass\n"
        "print('frozen before exit:', gc.get_freeze_count() > 0, gc.isenabled())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines()[-2:] == [
        "frozen before exit: False True",
        "frozen at exit: True",
    ]


def test_the_help_lines_are_the_commands_own() -> None:
    for name, (_, line) in SUBCOMMANDS.items():
        command = main.get_command(click.Context(main), name)
        assert command is not None
        assert command.name == name
        assert line == command.get_short_help_str(limit=10_000), f"kpi {name}: update SUBCOMMANDS"


def test_calc_prints_the_value() -> None:
    result = run_kpi("calc", "churn_rate", "50", "1000")
    assert (result.returncode, result.stdout, result.stderr) == (0, "0.05\n", "")


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (("calc", "avg_fulfillment_time", "60", "20"), "3"),
        (("calc", "retention_rate", "110", "20", "100"), "0.9"),
        (("calc", "nps_from_shares", "0.7", "0.1"), "60"),
        (("calc", "engagement_growth", "2500", "1500"), "0.6666666666666666"),
        (("calc", "CSAT", "80", "100"), "0.8"),
    ],
)
def test_calc_values(args: tuple[str, ...], out: str) -> None:
    result = run_kpi(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("calc", "csat", "90", "80"),
            2,
            "error: csat: satisfied is 90, more than surveyed (80); expected at most surveyed",
        ),
        (
            ("calc", "churn_rate", "abc", "1000"),
            2,
            "error: churn_rate: churned is 'abc'; expected a whole number of 0 or more",
        ),
        (
            ("calc", "churn_rate", "-5", "1000"),
            2,
            "error: churn_rate: churned is -5; expected a whole number of 0 or more",
        ),
        (
            ("calc", "churn_rate", "50"),
            2,
            "error: kpi calc: churn_rate takes 2 inputs (churned customers_at_start), got 1",
        ),
        (
            ("calc", "happiness", "1"),
            2,
            "error: kpi calc: KPI_ID is 'happiness'; expected a KPI id such as 'nps' (see kpi list)",
        ),
        (("calc", "nps", "9"), 2, "error: kpi calc: nps works on ranges of records"),
        (
            ("calc", "churn_rate", "0", "0"),
            3,
            "error: churn_rate is undefined: customers_at_start is 0",
        ),
        (("list", "--type", "bakery"), 2, "error: kpi list: --type is 'bakery'; expected one of"),
    ],
)
def test_bad_input_goes_to_stderr(args: tuple[str, ...], code: int, message: str) -> None:
    result = run_kpi(*args)
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_list_json_is_the_catalogue() -> None:
    result = run_kpi("list", "--json")
    entries = json.loads(result.stdout)
    assert [e["id"] for e in entries] == list(kpi_engine.KPIS)


def test_list_type_json_has_bands(any_type: kpi_engine.BusinessType, any_language: str) -> None:
    result = run_kpi("list", "--type", any_type.id, "--lang", any_language, "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [e["id"] for e in entries] == [e.id for e in any_type.kpis]
    for entry, profile_entry in zip(entries, any_type.kpis, strict=True):
        assert entry["title"] == profile_entry.title[any_language]
        assert entry["bands"] == {
            name: band.figures() for name, band in profile_entry.bands.items()
        }


def test_list_table_in_french() -> None:
    result = run_kpi("list", "--type", "celebrity_video", "--lang", "fr")
    assert "Taux d'attrition de la plateforme" in result.stdout
    assert "plus c'est bas, mieux c'est" in result.stdout
    # French figures: a no-break space before %, narrow no-break spaces between
    # thousands, an en dash between the ends of a range, the currency after.
    assert "6\u20139\u00a0%" in result.stdout
    assert "1\u202f500\u20133\u202f000\u00a0$US" in result.stdout


def test_unknown_language() -> None:
    result = run_kpi("list", "--lang", "de")
    assert result.returncode == 2
    assert "kpi list: --lang is 'de'; expected one of en, fr, nl" in result.stderr


def test_types() -> None:
    result = run_kpi("types", "--json")
    assert [t["id"] for t in json.loads(result.stdout)] == list(kpi_engine.BUSINESS_TYPES)
    assert "celebrity_video" in run_kpi("types").stdout


@pytest.mark.parametrize("lang", kpi_engine.LANGUAGES)
def test_types_is_a_table_within_100_columns_naming_sources_by_title(lang: str) -> None:
    """Every line fits a 100-column terminal; each type's source shows as its
    title in the reader's language (with the original in brackets where it is
    a translation), never as a file name."""
    from kpi_engine._catalogue import SOURCES  # noqa: PLC0415

    text = run_kpi("types", "--lang", lang).stdout
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    flat = " ".join(" ".join(line.split()) for line in lines)
    for business_type in kpi_engine.BUSINESS_TYPES.values():
        assert business_type.id in text
        assert business_type.source not in text
        cited = " ".join(SOURCES[business_type.source].cited(lang).split())
        assert cited in flat, cited
    listed = json.loads(run_kpi("types", "--lang", lang, "--json").stdout)
    assert {t["source_title"] for t in listed} == {
        SOURCES[t.source].cited(lang) for t in kpi_engine.BUSINESS_TYPES.values()
    }


@pytest.mark.parametrize("lang", kpi_engine.LANGUAGES)
def test_list_names_the_source_by_title(lang: str) -> None:
    from kpi_engine._catalogue import SOURCES  # noqa: PLC0415

    for business_type in kpi_engine.BUSINESS_TYPES.values():
        first = run_kpi("list", "--type", business_type.id, "--lang", lang).stdout.splitlines()[0]
        assert SOURCES[business_type.source].cited(lang) in first
        assert business_type.source not in first


def _commands() -> list[str]:
    return main.list_commands(click.Context(main))


@pytest.mark.parametrize("command", ["", *_commands()])
def test_every_command_has_help(command: str) -> None:
    result = run_kpi(*([command] if command else []), "--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout
    if command:
        loaded = main.get_command(click.Context(main), command)
        assert loaded is not None
        assert loaded.help, f"kpi {command} needs a docstring"


def test_the_language_option_is_lang_everywhere_and_report_keeps_language() -> None:
    context = click.Context(main)
    for name in _commands():
        command = main.get_command(context, name)
        assert command is not None
        for param in command.params:
            names = [*param.opts, *param.secondary_opts]
            if "--language" in names:
                assert name == "report"
                assert getattr(param, "hidden", False), "--language is the hidden old name"
            if "--lang" in names or "--type" in names:
                assert isinstance(param.type, click.Choice), (name, names)
