"""Worksheets out and in: a live .xlsx export (exports.xlsx) and a checker for students' workbooks (exports.check)."""
