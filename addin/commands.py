"""The add-in's commands: ``kpi serve`` and ``kpi lite``.

Heavy modules (xlwings, uvicorn, the server) are imported inside the
commands, so ``kpi list`` and friends stay quick.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

LICENCE_MESSAGE = """\
kpi serve needs an xlwings licence key in the XLWINGS_LICENSE_KEY environment variable.

The Office.js backend is built on xlwings Server (xlwings PRO), which is
dual-licensed:
  * noncommercial use is free: set XLWINGS_LICENSE_KEY=noncommercial
    (PolyForm Noncommercial License 1.0.0);
  * commercial use needs a paid licence key from https://www.xlwings.org,
    set the same way.
kpi serve never sets a key for you. The classic Windows add-in (COM) and the
KPI engine are BSD-licensed and need no key.
"""


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Processes."
)
@click.option("--reload", is_flag=True, help="Restart when the add-in's code changes.")
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="HTTPS certificate (Excel loads add-ins over HTTPS only; see the README).",
)
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="Its key.")
def serve(
    host: str,
    port: int,
    workers: int,
    reload: bool,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
) -> None:
    """Start the backend of the Office.js add-in (Excel on Windows, Mac and the web).

    It serves the manifest (/manifest.xml), the task pane, and every KPI as a
    custom function: =KPI.NPS(Survey[Score]).
    """
    if not os.environ.get("XLWINGS_LICENSE_KEY", "").strip():
        click.echo(LICENCE_MESSAGE, err=True)
        sys.exit(2)
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    # Before xlwings is first imported: makes @xw.func register Office.js metadata.
    os.environ["XLWINGS_ON_SERVER"] = "true"
    import xlwings

    try:
        import xlwings.server  # noqa: F401  (checks the licence key)
    except xlwings.LicenseError as error:
        click.echo(f"{LICENCE_MESSAGE}\nxlwings says: {error}", err=True)
        sys.exit(2)
    import uvicorn

    scheme = "https" if ssl_certfile else "http"
    click.echo(f"KPI add-in: manifest at {scheme}://{host}:{port}/manifest.xml", err=True)
    uvicorn.run(
        "addin.server:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        reload_dirs=[str(Path(__file__).resolve().parent)] if reload else None,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        access_log=False,
        log_level="warning",
    )


@click.command()
@click.option(
    "-o",
    "--output",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write main.py and requirements.txt into.",
)
def lite(folder: Path) -> None:
    """Write main.py and requirements.txt for xlwings Lite, KPI engine included."""
    from addin import lite as lite_files

    for path in lite_files.write(folder):
        click.echo(str(path))
