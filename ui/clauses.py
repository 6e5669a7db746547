"""Clauses: the 41 CUAD categories for one contract (status, quote, page), downloads, and the
portfolio table across every reviewed contract. Reviews run in the background."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import streamlit as st

from rag.service import Quire
from rag.types import DocumentInfo
from ui import state
from ui.features import disabled_panel, has_clause_review
from ui.jobs import Job, JobRunner
from ui.progress import show_progress, watch_jobs
from ui.tasks import clauses_work
from ui.viewer import SourceRef, show_source
from ui.widgets import pick_document


def csv_text(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def xlsx_bytes(rows: list[dict[str, Any]]) -> bytes:
    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame(rows).to_excel(buffer, index=False, sheet_name="clauses")
    return buffer.getvalue()


def field(row: dict[str, Any], name: str) -> Any:
    """A row value by column name, whatever its case."""
    return next((v for k, v in row.items() if str(k).lower() == name), None)


def downloads(rows: list[dict[str, Any]], payload: Any, stem: str, key: str) -> None:
    a, b, c = st.columns(3)
    a.download_button("Download CSV", csv_text(rows), f"{stem}.csv", "text/csv", key=f"csv-{key}")
    b.download_button("Download XLSX", xlsx_bytes(rows), f"{stem}.xlsx", key=f"xlsx-{key}")
    c.download_button(
        "Download JSON", json.dumps(payload, indent=2), f"{stem}.json", "application/json", key=f"json-{key}"
    )


def clause_table(quire: Quire, info: DocumentInfo, job: Job) -> None:
    rows = (job.result or {}).get("rows", [])
    st.caption("Select a row to see its page with the quote highlighted.")
    picked = st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="clause_rows",
    )
    downloads(rows, (job.result or {}).get("json"), f"{info.name.rsplit('.', 1)[0]}-clauses", info.doc_id[:8])
    selected = picked.selection.rows if picked else []
    if selected:
        row = rows[selected[0]]
        page = field(row, "page")
        if page not in (None, ""):
            show_source(quire, SourceRef(info.doc_id, info.name, int(page), str(field(row, "quote") or "")))


def portfolio(jobs: list[Job]) -> list[dict[str, Any]]:
    """Every document's latest finished review, one row per (document, category)."""
    latest: dict[str, Job] = {}
    for job in jobs:
        if job.state == "done":
            latest.setdefault(job.params["doc_id"], job)
    return [
        {"document": job.title, **row}
        for job in latest.values()
        for row in (job.result or {}).get("rows", [])
    ]


def review_panel(quire: Quire, runner: JobRunner, documents: list[DocumentInfo]) -> None:
    info = pick_document(documents, "clauses_doc")
    if info is None:
        return
    if st.button("Review clauses", type="primary", key="review"):
        runner.submit("clauses", info.name, {"doc_id": info.doc_id}, clauses_work(quire, info.doc_id))
        st.rerun()

    def render(jobs: list[Job]) -> None:
        job = next((j for j in jobs if j.params.get("doc_id") == info.doc_id), None)
        if job is None:
            st.caption("This document has not been reviewed yet.")
        elif job.active:
            show_progress(job)
        elif job.state != "done":
            st.error(f"The clause review of {info.name} failed: {job.message}")
        else:
            clause_table(quire, info, job)
        rows = portfolio(jobs)
        if rows:
            st.markdown("##### Portfolio")
            st.dataframe(rows, hide_index=True, width="stretch")
            downloads(rows, rows, "portfolio-clauses", "portfolio")

    watch_jobs(runner.journal, "clauses", "clauses", render, limit=200)


def view() -> None:
    quire = state.service()
    st.header("Clauses")
    documents = quire.documents()
    if not has_clause_review(quire):
        disabled_panel(
            "Clause review",
            "the clause service (`Quire.review_clauses`)",
            "It will check the 41 CUAD categories with status, quote and page, export CSV/XLSX/JSON, "
            "and build a portfolio table across contracts.",
        )
        pick_document(documents, "clauses_doc", disabled=True)
        st.button("Review clauses", disabled=True, key="review")
        return
    if not documents:
        st.info("The library is empty: add a contract on the **Library** page first.")
        return
    review_panel(quire, state.runner(), documents)
