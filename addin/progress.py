"""Progress of long commands on stderr, shown only on a terminal.

``kpi new --rows 200000``, ``kpi new --all`` and ``kpi refresh`` of a large
workbook take seconds. A command opens ``shown()`` around its work, and the
code doing the work calls ``stage()`` and ``count()`` wherever it is: they
do nothing unless a command opened a display (so the library, the server
and xlwings Lite never print). The display is one line, rewritten in place
(a carriage return and "erase to the end of the line"), at most ten times a
second, and erased when the work ends, so that stdout's own lines (the
written file's path) stay clean. When stderr is not a terminal (piped into
a file, a CI log, another program) nothing at all is written to it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import time
from collections.abc import Iterator
from typing import TextIO

#: Shortest time between two redraws of the line, in seconds.
REDRAW_EVERY = 0.1
_ERASE_LINE = "\r\x1b[K"


class Display:
    """The progress line of one command."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.prefix = ""
        self.text = ""
        self.drawn = 0.0
        self.dirty = False

    def show(self, text: str, *, now: bool = False) -> None:
        self.text = text
        moment = time.monotonic()
        if now or moment - self.drawn >= REDRAW_EVERY:
            line = f"{self.prefix}{text}"
            self.stream.write(f"{_ERASE_LINE}{line}")
            self.stream.flush()
            self.drawn = moment
            self.dirty = True

    def erase(self) -> None:
        if self.dirty:
            self.stream.write(_ERASE_LINE)
            self.stream.flush()
            self.dirty = False


_current: contextvars.ContextVar[Display | None] = contextvars.ContextVar(
    "kpi_progress", default=None
)


def wanted(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal that can redraw a line."""
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


@contextlib.contextmanager
def shown(stream: TextIO | None = None) -> Iterator[Display | None]:
    """Show the progress of the work inside on ``stream`` (stderr), if it is a terminal."""
    stream = sys.stderr if stream is None else stream
    if not wanted(stream):
        yield None
        return
    display = Display(stream)
    token = _current.set(display)
    try:
        yield display
    finally:
        display.erase()
        _current.reset(token)


@contextlib.contextmanager
def part(prefix: str) -> Iterator[None]:
    """A prefix for the stages inside, such as ``[3/15] networking_fr.xlsx: ``."""
    display = _current.get()
    if display is None:
        yield
        return
    before = display.prefix
    display.prefix = prefix
    try:
        yield
    finally:
        display.prefix = before


def erase() -> None:
    """Clear the progress line, before a command prints a line of its own."""
    display = _current.get()
    if display is not None:
        display.erase()


def stage(text: str) -> None:
    """A new step of the work ("reading the tables"), drawn at once."""
    display = _current.get()
    if display is not None:
        display.show(text, now=True)


def count(text: str, done: int, total: int) -> None:
    """How far a step is: ``text`` with done/total and a percentage."""
    display = _current.get()
    if display is not None:
        share = 100 * done // total if total else 100
        display.show(f"{text}: {done:,}/{total:,} ({share}%)", now=done >= total)


__all__ = ["count", "erase", "part", "shown", "stage", "wanted"]
