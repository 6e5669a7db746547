"""The portfolio: every clause category across every stored document, as CSV or a spreadsheet.

One function builds the rows and two write them, so the CLI, the web app and the overnight
batch report all produce the same table.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.categories import CREDIT
from rag.clause_report import CSV_FIELDS, ClauseReport

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


def write_csv(rows: Sequence[Row], path: Path) -> Path:
    """The long table (one row per document and category), UTF-8 with a BOM so spreadsheets read accents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CSV_FIELDS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(rows: Sequence[Row], path: Path) -> Path:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
