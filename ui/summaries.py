"""Summarise: a long-context summary of one contract with its coverage, made in the background."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from rag.service import Quire
from rag.types import DocumentInfo
from ui import state
from ui.jobs import Job, JobRunner
from ui.progress import show_progress, watch_jobs
from ui.tasks import summary_work
from ui.viewer import SourceRef, show_source
from ui.widgets import documents_or_hint, pick_document


def latest_for(jobs: list[Job], doc_id: str) -> Job | None:
    return next((j for j in jobs if j.params.get("doc_id") == doc_id), None)


def coverage_line(summary_json: dict[str, Any]) -> str:
    """ "all 12 pages (1-12); sections: …", with a warning mark when pages with text were left out."""
    coverage = summary_json.get("coverage") or {}
    if not coverage:
        return ""
    line = str(coverage.get("line", ""))
    return line if coverage.get("complete", True) else f":orange[:material/warning:] incomplete: {line}"


def quote_chips(info: DocumentInfo, summary_json: dict[str, Any]) -> None:
    """The summary's verified quotes as page chips; a click shows the page with the quote marked."""
    quotes = summary_json.get("quotes") or []
    if not quotes:
        return
    st.caption("Quoted in the summary:")
    columns = st.columns(min(len(quotes), 4))
    for i, quote in enumerate(quotes):
        ref = SourceRef(info.doc_id, info.name, int(quote["page"]), quote["quote"], quote["start"], quote["end"])
        columns[i % len(columns)].button(
            f"p. {ref.page}",
            key=f"summary-quote-{i}",
            icon=":material/description:",
            help=f"“{ref.quote[:200]}”",
            on_click=st.session_state.__setitem__,
            args=("summary_source", ref),
        )
    ref = st.session_state.get("summary_source")
    if ref is not None and ref.doc_id == info.doc_id:
        show_source(state.service(), ref)


def show_summary(job: Job, info: DocumentInfo) -> None:
    if job.active:
        show_progress(job)
        return
    if job.state != "done":
        st.error(f"The summary of {info.name} failed: {job.message}")
        return
    result = job.result or {}
    summary_json = result.get("json", {})
    line = coverage_line(summary_json)
    if line:
        st.caption(f"Coverage: {line}")
    st.markdown(result.get("markdown", ""))
    quote_chips(info, summary_json)
    stem = info.name.rsplit(".", 1)[0]
    left, right = st.columns(2)
    left.download_button("Download Markdown", result.get("markdown", ""), f"{stem}-summary.md", "text/markdown")
    right.download_button(
        "Download JSON",
        json.dumps(result.get("json", {}), indent=2),
        f"{stem}-summary.json",
        "application/json",
    )


def summary_panel(quire: Quire, runner: JobRunner, documents: list[DocumentInfo]) -> None:
    info = pick_document(documents, "summary_doc")
    if info is None:
        return
    if st.button("Summarise", type="primary", key="summarise"):
        runner.submit("summary", info.name, {"doc_id": info.doc_id}, summary_work(quire, info.doc_id))
        st.rerun()

    def render(jobs: list[Job]) -> None:
        job = latest_for(jobs, info.doc_id)
        if job is None:
            st.caption("No summary of this document yet.")
        else:
            show_summary(job, info)

    watch_jobs(runner.journal, "summary", "summaries", render, limit=50)


def view() -> None:
    quire = state.service()
    st.header("Summaries")
    documents = documents_or_hint(quire)
    if not documents:
        return
    summary_panel(quire, state.runner(), documents)
