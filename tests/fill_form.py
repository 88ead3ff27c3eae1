"""Fills a form that `zhenxing template` wrote, as a county's Excel would:
openpyxl opens the workbook, writes the given cells and saves it, keeping
the form's validation, protection and marker sheet.

    python3 tests/fill_form.py FORM OUT CELLS.json

CELLS.json: {"sheet": "如皋市", "cells": [[row, col, value], ...]} with
zero-based rows and columns; a value is a number, text, or
{"date": "2025-01-01"} for a real date cell.
"""

import datetime
import json
import sys

import openpyxl

form, out, cells = sys.argv[1], sys.argv[2], sys.argv[3]
with open(cells, encoding="utf-8") as f:
    plan = json.load(f)
wb = openpyxl.load_workbook(form)
ws = wb[plan["sheet"]]
for row, col, value in plan["cells"]:
    if isinstance(value, dict) and "date" in value:
        value = datetime.date.fromisoformat(value["date"])
    ws.cell(row=row + 1, column=col + 1, value=value)
wb.save(out)
