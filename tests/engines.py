"""Real engines for the ``--source`` tests: a PostgreSQL server and Spark.

PostgreSQL is Debian's (``make system-deps``), started by the tests with
initdb and pg_ctl in a folder of their own, listening on a unix socket only
(no TCP port), and stopped after. PostgreSQL refuses to run as root: as root
the server runs as Debian's ``postgres`` user (or ``nobody``), who owns the
folder; the tests connect through the socket.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _postgres_bin() -> Path:
    """Debian's newest PostgreSQL programs (/usr/lib/postgresql/15/bin on bookworm)."""
    if "KPI_POSTGRES_BIN" in os.environ:
        return Path(os.environ["KPI_POSTGRES_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError("PostgreSQL is not installed: make system-deps installs Debian's")
    return found[-1].parent


POSTGRES_BIN = _postgres_bin()


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix running the server's programs, and that user's ids."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], user.pw_uid, user.pw_gid
    raise RuntimeError("running as root and there is no postgres or nobody user to run PostgreSQL")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server of its own; yields the ibis URL of its database."""
    prefix, uid, gid = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="kpi-postgres-"))
    try:
        if uid is not None and gid is not None:
            os.chown(folder, uid, gid)
        data, socket = folder / "data", folder
        subprocess.run(
            [
                *prefix,
                str(POSTGRES_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "kpi",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-k {socket} -c listen_addresses='' -c fsync=off -p 5432"
        subprocess.run(
            [
                *prefix,
                str(POSTGRES_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(folder / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        try:
            yield f"postgres://kpi@localhost:5432/postgres?host={socket}"
        finally:
            subprocess.run(
                [
                    *prefix,
                    str(POSTGRES_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                check=False,
                capture_output=True,
                timeout=120,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def spark_local() -> Iterator[Any]:
    """A local Spark session of two threads (UTC, no web UI), as ibis connects
    to it; stopped after."""
    import ibis  # noqa: PLC0415
    from pyspark.sql import SparkSession  # noqa: PLC0415

    session = (
        SparkSession.builder.master("local[2]")
        .appName("kpi tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        yield ibis.pyspark.connect(session)
    finally:
        session.stop()
