"""The Office Open XML pieces that openpyxl does not write: formulas as Excel
stores them (``formulas``) and the dynamic-array markup (``dynamic_arrays``)."""
