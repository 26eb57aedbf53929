"""Moved to ``addin.ooxml.package``, beside the package writer.

This module only forwards to it, so that code written against the old place
keeps working while branches that import it are merged; import
``addin.ooxml.package`` in new code.
"""

from __future__ import annotations

from typing import Any

from addin.ooxml import package as _package


def __getattr__(name: str) -> Any:
    return getattr(_package, name)
