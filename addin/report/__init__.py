"""Report refresh: one report model, written offline into the package or through xlwings."""
