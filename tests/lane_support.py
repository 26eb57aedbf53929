"""Functions run in the compute lane's processes by tests/test_server_lane.py:
each waits at a gate file or returns at once, and appends its name to an
order file, so the tests see which calls ran, and in what order, without
timing anything."""

from __future__ import annotations

import os
import time
from pathlib import Path


def started(folder: Path, name: str) -> None:
    """Write ``folder/{name}.started``, which holds the id of this process,
    whole: a test that sees the file can read the id."""
    writing = folder / f".{name}.started"
    writing.write_text(str(os.getpid()))
    writing.replace(folder / f"{name}.started")


def gated(folder: str, name: str, body: object) -> str:
    """Say in ``folder/{name}.started`` which process runs ``name``, wait until
    ``folder/open`` exists, then say ``name`` ran."""
    started(Path(folder), name)
    while not (Path(folder) / "open").exists():
        time.sleep(0.02)
    return ran(folder, name, body)


def process_id(body: object) -> int:
    """The id of the lane process that runs this call."""
    return os.getpid()


def ran(folder: str, name: str, body: object) -> str:
    with (Path(folder) / "order").open("a") as order:
        order.write(name + "\n")
    return name
