"""The one layer that writes Office Open XML packages.

``names`` (namespaces, content types, relationship types), ``xmltext`` (text
and attribute escaping with Excel's ``_xHHHH_``), ``dates`` (serial dates in
the 1900 and 1904 systems), ``cells`` (the starter's data cells), ``zipwriter``
(the deterministic zip, with raw copies) and ``atomic`` (temporary file,
signals, rename), plus what openpyxl does not write: formulas as Excel
stores them (``formulas``), the dynamic-array markup (``dynamic_arrays``) and
the chart option "show #N/A as empty" (``charts``).
"""
