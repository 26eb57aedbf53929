"""Custom scripts of the Office.js add-in: what the task pane's buttons run.

``kpi serve`` discovers every function of this module decorated with
``@xlwings.script`` (``xlwings.server.script`` on the server): it lists them at
``/xlwings/custom-scripts-meta`` and runs them at
``/xlwings/custom-scripts-call/<name>``. The task pane's "Refresh report"
button calls the script named ``refresh_report``; it works as soon as a
function of that name, taking the workbook (``book: xw.Book``), is defined
here. Until then the button reports that the script does not exist.
"""
