"""The add-in's commands: ``kpi serve`` and ``kpi lite``.

Heavy modules (xlwings, uvicorn, the server) are imported inside the
commands, so ``kpi list`` and friends stay quick.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

LICENCE_MESSAGE = """\
kpi serve needs a valid xlwings licence key in the XLWINGS_LICENSE_KEY environment variable.

The Office.js backend is built on xlwings Server (xlwings PRO), which is
dual-licensed:
  * noncommercial use is free: set XLWINGS_LICENSE_KEY=noncommercial
    (PolyForm Noncommercial License 1.0.0);
  * commercial use needs a paid licence key from https://www.xlwings.org,
    set the same way.
kpi serve never sets a key for you. Without a server or a key: kpi lite writes
the files for xlwings Lite, the free add-in from Excel's add-in store (free for
personal and commercial use); the classic Windows add-in (COM, kpi com-setup)
and the KPI engine are BSD-licensed.
"""


def _loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", "[::1]") or host.startswith("127.")


def _settings_or_exit(overrides: dict[str, str]) -> Any:
    """The server's settings, or a readable list of what is wrong in them."""
    from pydantic import ValidationError  # noqa: PLC0415

    from addin.server.settings import Settings  # noqa: PLC0415

    # Worker processes read their settings anew: the options travel as KPI_*.
    for name, value in overrides.items():
        os.environ[f"KPI_{name.upper()}"] = value
    try:
        return Settings()
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            variable = f"KPI_{where.upper()}" if where else "settings"
            lines.append(f"  {variable}: {problem['msg']}")
        click.echo("kpi serve: the settings are not valid:\n" + "\n".join(lines), err=True)
        sys.exit(2)


def _raise_file_limit() -> None:
    """Every connection is a file descriptor: allow as many as the system lets us."""
    try:
        import resource  # noqa: PLC0415  (POSIX only)
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes that answer calls (one per core is a good start).",
)
@click.option(
    "--public-url",
    help="The address Excel reaches the server at, such as https://kpi.example.com "
    "(KPI_PUBLIC_URL); the manifest's URLs are built from it.",
)
@click.option("--reload", is_flag=True, help="Restart when the add-in's code changes.")
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="HTTPS certificate (Excel loads add-ins over HTTPS only; see https://kpi-addin.github.io/kpi-addin/addin-serve/#https-for-development).",
)
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="Its key.")
def serve(
    host: str,
    port: int,
    workers: int,
    public_url: str | None,
    reload: bool,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
) -> None:
    """Start the Office.js add-in's server for a team (xlwings PRO licence terms).

    It serves the manifest (/manifest.xml), the task pane, and every KPI as a custom function:
    =KPI.NPS(Survey[recommend_score]) (=KPI_DEV.NPS(...) when KPI_ENVIRONMENT is dev). The
    task pane starts a KPI workbook in the open workbook, refreshes the report and browses the
    KPIs. It is built on xlwings Server (xlwings
    PRO): free for noncommercial use with XLWINGS_LICENSE_KEY=noncommercial,
    a paid licence key otherwise; kpi serve never sets the key. For one person
    or a small business, kpi lite and the free xlwings Lite add-in need no
    server and no key. Every setting (limits, authentication, proxies) is a
    KPI_* environment variable or a line of a .env file, all listed at
    https://kpi-addin.github.io/kpi-addin/addin-serve/#settings.
    """
    if not os.environ.get("XLWINGS_LICENSE_KEY", "").strip():
        click.echo(LICENCE_MESSAGE, err=True)
        sys.exit(2)
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    if workers > 1 and reload:
        raise click.UsageError("--reload runs one process; leave out --workers")
    overrides = {"public_url": public_url} if public_url else {}
    if host not in ("0.0.0.0", "::", "") and not _loopback(host):
        # Whoever reaches the server by the address it listens on may use it.
        listed = os.environ.get("KPI_ALLOWED_HOSTS", "")
        overrides["allowed_hosts"] = f"{listed},{host}".strip(",")
    settings = _settings_or_exit(overrides)
    # Before xlwings is first imported: makes @xw.func register Office.js metadata.
    os.environ["XLWINGS_ON_SERVER"] = "true"
    try:
        # On the server, importing xlwings imports xlwings.server, which checks the key.
        import xlwings  # noqa: F401, PLC0415  (after XLWINGS_ON_SERVER is set)
    except Exception as error:
        if type(error).__name__ != "LicenseError":
            raise
        click.echo(f"{LICENCE_MESSAGE}\nxlwings says: {error}", err=True)
        sys.exit(2)
    try:
        import uvicorn  # noqa: PLC0415  (heavy; only this command needs it)

        from addin.server import app  # noqa: F401, PLC0415  (fails here, not in a worker)
    except ImportError as error:
        click.echo(
            f"kpi serve needs the server extra: pip install 'kpi-addin[server]' ({error})",
            err=True,
        )
        sys.exit(2)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics here, so /metrics counts all of them.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kpi-metrics-")
    _raise_file_limit()

    scheme = "https" if ssl_certfile else "http"
    manifest = f"{settings.public_url or f'{scheme}://{host}:{port}'}/manifest.xml"
    click.echo(f"KPI add-in: manifest at {manifest}", err=True)
    served_at = settings.public_url or f"{scheme}://{host}"
    if served_at.startswith("http://") and not _loopback(urlsplit(served_at).hostname or ""):
        click.echo(
            f"warning: Excel refuses an add-in served over plain http from {served_at}; "
            "give the server a certificate (--ssl-certfile/--ssl-keyfile) or put it behind "
            "an https proxy and set --public-url https://...",
            err=True,
        )
    if settings.auth == "none" and not _loopback(host):
        click.echo(
            "warning: anyone who reaches this server can use it; set KPI_AUTH=token or "
            "KPI_AUTH=entraid (see https://kpi-addin.github.io/kpi-addin/addin-serve/#authentication)",
            err=True,
        )
    uvicorn.run(
        "addin.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        reload_dirs=[str(Path(__file__).resolve().parent)] if reload else None,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        **uvicorn_options(settings),
    )


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """How uvicorn runs the app, beyond where it listens: one place, so that
    ``make bench`` measures a bare ASGI app under exactly these options."""
    from addin.server.protocol import GuardedHttpToolsProtocol  # noqa: PLC0415

    return {
        "http": GuardedHttpToolsProtocol,
        # The front door reads forwarded headers, from trusted proxies only.
        "proxy_headers": False,
        "timeout_keep_alive": settings.keep_alive_timeout,
        # Headers larger than this are no Excel call.
        "h11_max_incomplete_event_size": 64 * 1024,
        "access_log": False,
        "log_level": "warning",
    }


@click.command()
@click.option(
    "-o",
    "--output",
    "folder",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write main.py, requirements.txt and the kpi-addin wheel into.",
)
@click.option(
    "--wheel-url",
    help="Where you will host the kpi-addin wheel, such as https://raw.githubusercontent.com/"
    "you/kpi/main/kpi_addin-0.1.0-py3-none-any.whl; requirements.txt installs it from "
    "there. Without it, requirements.txt names kpi-addin and its version, for a package index.",
)
def lite(folder: Path, wheel_url: str | None) -> None:
    """Write the files for xlwings Lite, the free add-in from Excel's add-in store.

    main.py holds one function per KPI, the refresh_report script and a marked
    section for your own functions, kept when main.py is written again;
    requirements.txt installs the KPI engine, kpi-addin of this version, from
    PyPI (or, with --wheel-url, the kpi-addin wheel written beside them, from
    where you host it). Paste the two files into xlwings Lite's tabs, then type
    =NPS(Survey[recommend_score]) in a cell.
    """
    from addin import lite as lite_files  # noqa: PLC0415  (only this command needs it)
    from addin.ooxml.atomic import WriteInterrupted  # noqa: PLC0415

    if wheel_url and not lite_files.wheel_url_ok(wheel_url):
        raise click.BadParameter(
            f"{wheel_url!r}: give the https:// address of the .whl file "
            f"(xlwings Lite fetches it from the browser), such as https://.../{lite_files.WHEEL_NAME}",
            param_hint="--wheel-url",
        )
    try:
        paths = lite_files.write(folder, wheel_url)
    except WriteInterrupted as stop:
        # SIGINT or SIGTERM during a write: one line, and the signal's exit status.
        click.echo(f"error: {stop}", err=True)
        sys.exit(stop.code)
    except lite_files.LiteOutputError as error:
        click.echo(f"error: kpi lite: {error}", err=True)
        sys.exit(2)
    except OSError as error:  # a full disk, a folder without write permission...
        click.echo(f"error: kpi lite: cannot write into {folder}: {error}", err=True)
        sys.exit(1)
    for path in paths:
        click.echo(str(path))
    if not wheel_url:
        click.echo(
            f"note: requirements.txt installs {lite_files.DISTRIBUTION}=={lite_files.VERSION} "
            f"from PyPI; to host {lite_files.WHEEL_NAME} yourself, add --wheel-url "
            "(see https://kpi-addin.github.io/kpi-addin/addin-lite/)",
            err=True,
        )


def _write_xlwings_conf(path: Path, settings: dict[str, str]) -> None:
    """Set keys in an xlwings config file (lines of "KEY","VALUE"), keeping the rest."""
    from addin.ooxml.atomic import check_target, write_bytes_atomically  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    check_target(
        path, force_option=False
    )  # a FIFO would hang the read below; a device is not a config file
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(",", 1)[0].strip().strip('"') not in settings]
    kept += [f'"{key}","{value}"' for key, value in settings.items()]
    write_bytes_atomically(path, ("\n".join(kept) + "\n").encode("utf-8"))


@click.command("com-setup")
@click.option(
    "--addin-name",
    default=None,
    help="Name of a custom add-in made with `xlwings quickstart NAME --addin`.",
)
@click.option(
    "--conf",
    "conf_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file to write (default: ~/.xlwings/xlwings.conf, or ~/.NAME/NAME.conf).",
)
def com_setup(addin_name: str | None, conf_path: Path | None) -> None:
    """Set up classic xlwings on Windows (COM, BSD-licensed) to serve the KPI functions.

    Writes UDF_MODULES=addin.functions and this Python interpreter into
    xlwings' user config file (or a custom add-in's), then says what to
    click in Excel.
    """
    from addin.ooxml.atomic import NotRegularTargetError  # noqa: PLC0415

    name = addin_name or "xlwings"
    path = conf_path or Path.home() / f".{name}" / f"{name}.conf"
    try:
        _write_xlwings_conf(
            path, {"UDF_MODULES": "addin.functions", "INTERPRETER_WIN": sys.executable}
        )
    except (OSError, UnicodeDecodeError) as error:
        click.echo(f"error: kpi com-setup: cannot write {path}: {error}", err=True)
        sys.exit(2 if isinstance(error, UnicodeDecodeError | NotRegularTargetError) else 1)
    click.echo(f"wrote UDF_MODULES and INTERPRETER_WIN to {path}")
    where = f"the {name} ribbon tab" if addin_name else "the xlwings ribbon tab"
    click.echo(f"Next, in Excel on Windows: click Import Functions on {where}", nl=False)
    if addin_name:
        click.echo(" (or run the add-in's ImportPythonUDFsToAddin macro).")
    else:
        click.echo(".")
