"""How a command that writes a file ends when the write fails: one line on
stderr and an exit status, never a traceback.

``kpi report --html``, ``kpi refresh`` and ``kpi import`` write through
``addin.ooxml.atomic``, which leaves the target as it was whatever stops
the write; ``exit_on_write_failure`` around that write says what happened.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click

__all__ = ["exit_on_write_failure"]


@contextlib.contextmanager
def exit_on_write_failure(target: Path, what: str = "") -> Iterator[None]:
    """A write's failures as one line on stderr (``what`` first: the command
    or option, such as "kpi import: ") and the command's exit status: a
    signal's (130, 143), 2 for a read-only target (the user's to change),
    1 for any other error of the system (a full disk, a missing permission)."""
    from addin.ooxml.atomic import ReadOnlyTargetError, WriteInterrupted  # noqa: PLC0415

    try:
        yield
    except WriteInterrupted as stop:
        click.echo(f"error: {stop}", err=True)
        sys.exit(stop.code)
    except ReadOnlyTargetError as error:
        click.echo(f"error: {what}{error}", err=True)
        sys.exit(2)
    except OSError as error:
        click.echo(f"error: {what}cannot write {target}: {error}", err=True)
        sys.exit(1)
