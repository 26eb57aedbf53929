"""The backend of the Office.js add-in, started by ``kpi serve``.

``settings`` holds every setting; ``app`` is the web application (importing
it needs xlwings set up for the server: ``kpi serve`` does that).
"""
