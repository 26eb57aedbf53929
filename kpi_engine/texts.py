"""The words of the catalogue and of the templates, per language: labels of
units, directions, ratings and headings (``labels``), and the folder of the
templates (``templates_dir``), inside the installed package or beside the
source tree.
"""

from __future__ import annotations

from ._labels import labels, templates_dir

__all__ = ["labels", "templates_dir"]
