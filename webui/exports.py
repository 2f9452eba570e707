"""Report tables as CSV and Excel (openpyxl) downloads, safe to open in a spreadsheet.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be
read as a formula by Excel or LibreOffice (CSV/formula injection): such a cell gets a leading
apostrophe, so the spreadsheet shows it as text. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from flask import Response
from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_SHEET_TITLE = 31  # Excel's limit


@dataclass
class Table:
    """A report table: a name (for files and sheets), a title, column headings, rows."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def neutralise(value: Any) -> Any:
    """A cell value a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_response(table: Table, filename: str) -> Response:
    """One table as a UTF-8 CSV download (with a BOM, so Excel reads the accents)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in table.columns])
    for row in table.rows:
        writer.writerow([neutralise(v) for v in row])
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def xlsx_response(tables: list[Table], filename: str) -> Response:
    """Every table as a sheet of one Excel workbook."""
    book = Workbook()
    first = book.active
    if first is not None:
        book.remove(first)
    for table in tables:
        sheet = book.create_sheet(table.name[:MAX_SHEET_TITLE])
        sheet.append([neutralise(c) for c in table.columns])
        for row in table.rows:
            sheet.append([neutralise(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )
