"""Clauses: the 41 CUAD categories for one contract (status, value, quote, page), downloads, and
the portfolio table across every reviewed contract. Reviews run in the background; the
downloads' bytes come from `rag.clauses.portfolio`, so the web app, the CLI and the batch report give the same table."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from rag.clauses.categories import load_catalogue
from rag.clauses.portfolio import csv_bytes, matrix, xlsx_bytes
from rag.service import Quire
from rag.types import DocumentInfo
from ui import state
from ui.jobs import Job, JobRunner
from ui.progress import show_progress, watch_jobs
from ui.tasks import clauses_work
from ui.viewer import SourceRef, show_source
from ui.widgets import documents_or_hint, pick_document

TABLE_COLUMNS = ("category", "status", "value", "pages", "quote", "note")


def downloads(rows: list[dict[str, str]], payload: Any, stem: str, key: str) -> None:
    a, b, c = st.columns(3)
    a.download_button("Download CSV", csv_bytes(rows), f"{stem}.csv", "text/csv", key=f"csv-{key}")
    b.download_button("Download XLSX", xlsx_bytes(rows), f"{stem}.xlsx", key=f"xlsx-{key}")
    c.download_button(
        "Download JSON", json.dumps(payload, indent=2), f"{stem}.json", "application/json", key=f"json-{key}"
    )


def first_quote(report: dict[str, Any], index: int) -> SourceRef | None:
    """Where the finding in row `index` was quoted from, to open that page."""
    findings = report.get("findings", [])
    quotes = findings[index].get("quotes", []) if index < len(findings) else []
    if not quotes:
        return None
    quote = quotes[0]
    return SourceRef(report["doc_id"], report["name"], int(quote["page"]), quote["text"], quote["start"], quote["end"])


def clause_table(quire: Quire, info: DocumentInfo, job: Job) -> None:
    result = job.result or {}
    rows, report = result.get("rows", []), result.get("json", {})
    counts = report.get("counts", {})
    st.caption(
        " · ".join(f"{v} {k}" for k, v in counts.items())
        + f" · answered by {report.get('backend', '?')}:{report.get('model', '?')}"
    )
    table = [{k: row.get(k, "") for k in TABLE_COLUMNS} for row in rows]
    picked = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="clause_rows",
    )
    downloads(rows, report, f"{info.name.rsplit('.', 1)[0]}-clauses", info.doc_id[:8])
    selected = picked.selection.rows if picked else []
    if not selected:
        st.caption("Select a row to see its page with the quote highlighted.")
        return
    ref = first_quote(report, selected[0])
    if ref is None:
        st.caption("No quote for this category.")
    else:
        show_source(quire, ref)


def portfolio(jobs: list[Job]) -> list[dict[str, str]]:
    """Every document's latest finished review, one row per (document, category)."""
    latest: dict[str, Job] = {}
    for job in jobs:
        if job.state == "done":
            latest.setdefault(job.params["doc_id"], job)
    return [row for job in latest.values() for row in (job.result or {}).get("rows", [])]


def portfolio_panel(jobs: list[Job]) -> None:
    rows = portfolio(jobs)
    if not rows:
        return
    st.markdown("##### Portfolio")
    header, body = matrix(rows)
    st.dataframe([dict(zip(header, line, strict=False)) for line in body], hide_index=True, width="stretch")
    downloads(rows, rows, "portfolio-clauses", "portfolio")


def review_panel(quire: Quire, runner: JobRunner, documents: list[DocumentInfo]) -> None:
    info = pick_document(documents, "clauses_doc")
    if info is None:
        return
    names = load_catalogue(quire.settings.clauses.extra_categories).names()
    chosen = st.multiselect("Categories", names, key="clause_categories", placeholder=f"All {len(names)} categories")
    if st.button("Review clauses", type="primary", key="review"):
        work = clauses_work(quire, info.doc_id, chosen or None)
        runner.submit("clauses", info.name, {"doc_id": info.doc_id, "categories": chosen}, work)
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
        portfolio_panel(jobs)

    watch_jobs(runner.journal, "clauses", "clauses", render, limit=200)


def view() -> None:
    quire = state.service()
    st.header("Clauses")
    documents = documents_or_hint(quire)
    if not documents:
        return
    review_panel(quire, state.runner(), documents)
