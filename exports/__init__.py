"""Worksheets out: a live .xlsx export of the classroom table (exports.xlsx). The checker that reads students' workbooks is the sheetcheck package; `python -m exports check` forwards to it."""
