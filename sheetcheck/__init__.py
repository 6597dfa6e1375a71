"""The worksheet checker: reads students' backpropagation workbooks and names the wrong cells.

    python -m sheetcheck PATH... [--json] [--report class.csv]    (python -m exports check ... forwards here)

Beside the xlsx writer (exports/), which writes the classroom layout; this package reads any student's
layout and compares it with backprop_core.network's formula trees.
"""
