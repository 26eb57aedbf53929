"""Starter workbooks: a ready workbook per business type and language."""

from .build import StarterError, StarterOptions, build_workbook, new_workbook, save_workbook

__all__ = [
    "StarterError",
    "StarterOptions",
    "build_workbook",
    "new_workbook",
    "save_workbook",
]
