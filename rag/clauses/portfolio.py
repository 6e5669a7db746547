"""The portfolio: every clause category across every stored document, as CSV or a spreadsheet.

One function builds the rows and two turn them into a file's bytes (CSV, XLSX), so the CLI,
the web app and the overnight batch (each document's table and the morning portfolio) all
produce the same table; each caller decides where and how the bytes are written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from rag.clauses.categories import CREDIT
from rag.clauses.report import CSV_FIELDS, ClauseReport

Row = dict[str, str]


def portfolio_reports(
    service: Any, categories: Sequence[str] | None = None, on_document: Callable[[str], None] | None = None
) -> list[ClauseReport]:
    """A clause report for each stored document (`service` is a `rag.service.Quire`)."""
    reports = []
    for info in service.documents():
        if on_document:
            on_document(info.name)
        reports.append(service.review_clauses(info.doc_id, list(categories) if categories else None))
    return reports


def rows_of(reports: Sequence[ClauseReport]) -> list[Row]:
    return [row for report in reports for row in report.csv_rows()]


def matrix(rows: Sequence[Row]) -> tuple[list[str], list[list[str]]]:
    """Documents down, categories across; a cell is the value when present, else the status."""
    categories = list(dict.fromkeys(r["category"] for r in rows))
    documents: dict[str, dict[str, str]] = {}
    for row in rows:
        cell = row["value"] if row["status"] == "present" and row["value"] else row["status"]
        documents.setdefault(row["document"], {})[row["category"]] = cell
    body = [[name, *(cells.get(c, "") for c in categories)] for name, cells in documents.items()]
    return ["document", *categories], body


def csv_bytes(rows: Sequence[Row]) -> bytes:
    """The long table (one row per document and category), UTF-8 with a BOM so spreadsheets read accents."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_FIELDS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows: Sequence[Row]) -> bytes:
    """A workbook: 'Portfolio' (documents x categories), 'Findings' (the long table), 'About'."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Portfolio"
    header, body = matrix(rows)
    sheet.append(header)
    for line in body:
        sheet.append(line)
    findings = book.create_sheet("Findings")
    findings.append(list(CSV_FIELDS))
    for row in rows:
        findings.append([row[f] for f in CSV_FIELDS])
    for table in (sheet, findings):
        for cell in table[1]:
            cell.font = Font(bold=True)
        table.freeze_panes = "B2"
    about = book.create_sheet("About")
    about.append(["Statuses", "present: verified quote; absent: searched, not found; "
                  "not_checked: unreadable pages; needs_review: a person should look"])  # fmt: skip
    about.append(["Credit", CREDIT])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
