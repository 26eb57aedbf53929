"""What the add-in's manifest (``web/manifest.xml``) says about the add-in
itself: its version and its icons. The app renders the manifest with these
and with URLs built from the server's public address.

Kept apart from ``app.py`` so that it imports without xlwings' server mode.
"""

from __future__ import annotations

import importlib.metadata
import re

#: The sizes Office asks for: 16, 32 and 80 px on the ribbon, 32 and 64 px
#: for the add-in's tile. docs/make_icons.py draws each from web/icon.svg.
ICON_SIZES = (16, 32, 64, 80)
#: Where the server serves each icon (``web/static`` is mounted at ``/web``).
ICON_PATHS = {size: f"/web/icons/kpi-{size}.png" for size in ICON_SIZES}


def manifest_version(version: str) -> str:
    """The package's version as the four numbers of Office's manifest.

    >>> manifest_version("0.1.0")
    '0.1.0.0'
    >>> manifest_version("1.2rc1")
    '1.2.0.0'
    >>> manifest_version("2.0.0.1.7")
    '2.0.0.1'
    """
    # Office takes n.n.n.n only: a pre-release or local tag keeps its release numbers.
    release = re.match(r"\d+(?:\.\d+)*", version)
    numbers = release.group(0).split(".")[:4] if release else []
    return ".".join(numbers + ["0"] * (4 - len(numbers)))


#: The version Office sees, so that an upgrade of the package is an upgrade of the add-in.
VERSION = manifest_version(importlib.metadata.version("kpi-addin"))
