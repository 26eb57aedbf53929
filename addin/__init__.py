"""The Excel add-in: the catalogue's KPIs as Excel functions through xlwings."""
