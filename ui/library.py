"""Library: upload, watch ingestion, see every document's pages, chunks and page quality; delete,
read again, unlock encrypted PDFs.

Uploads are written by content hash under the data dir and ingested by the job runner, so the
page stays responsive and a reload (or another tab) still shows the progress.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import streamlit as st

from ingest.discover import SUPPORTED_SUFFIXES
from rag.service import Quire
from rag.types import DocumentInfo
from ui import state
from ui.jobs import Job, JobRunner
from ui.progress import job_line, show_progress, watch_jobs
from ui.tasks import ingest_work, needs_password, reingest_work
from ui.uploads import forget_upload, store_upload
from ui.viewer import SourceRef, show_source
from ui.widgets import pick_document

UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES)
QUALITY_LABELS = {"text": "text", "ocr": "OCR", "empty": "empty"}


def upload_limit_bytes(quire: Quire) -> int:
    """The smaller of Streamlit's upload cap and Quire's own file-size limit."""
    streamlit_cap = int(st.get_option("server.maxUploadSize")) * 1024 * 1024
    return min(streamlit_cap, quire.settings.ingest.max_bytes)


def quality_summary(info: DocumentInfo) -> str:
    counts = Counter(info.page_quality)
    return " · ".join(f"{counts[q]} {label}" for q, label in QUALITY_LABELS.items() if counts[q]) or "—"


def submit_ingest(quire: Quire, runner: JobRunner, path: Path, name: str, password: str | None = None) -> str:
    return runner.submit("ingest", name, {"path": str(path)}, ingest_work(quire, path, password))


def upload_panel(quire: Quire, runner: JobRunner) -> None:
    limit = upload_limit_bytes(quire)
    generation = st.session_state.setdefault("upload_generation", 0)
    files = st.file_uploader(
        "Add documents",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=f"uploads-{generation}",
        help=f"PDF or text files, up to {limit / 2**20:.0f} MB each. Ingestion runs in the background.",
    )
    if not files:
        return
    problems = []
    for upload in files:
        if upload.size > limit:
            problems.append(f"{upload.name} is {upload.size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB.")
        elif upload.size == 0:
            problems.append(f"{upload.name} is empty (0 bytes): nothing to read.")
        else:
            path = store_upload(quire.settings.state_dir, upload.name, upload.getvalue())
            submit_ingest(quire, runner, path, path.name)
    st.session_state["upload_problems"] = problems
    st.session_state["upload_generation"] = generation + 1  # a fresh, empty uploader
    st.rerun()


def render_ingest_jobs(quire: Quire, runner: JobRunner, jobs: list[Job]) -> None:
    for job in jobs:
        if job.active:
            show_progress(job)
        elif job.state == "failed" and needs_password(job.message):
            password_prompt(quire, runner, job)
        elif job.state in ("failed", "interrupted"):
            st.error(f"{job.title}: {job.message}")
        else:
            st.markdown(job_line(job))


def password_prompt(quire: Quire, runner: JobRunner, job: Job) -> None:
    with st.form(f"unlock-{job.job_id}", border=True):
        st.warning(f":material/lock: **{job.title}** is password-protected. Enter its password to ingest it.")
        password = st.text_input("Password", type="password", key=f"pw-{job.job_id}")
        if st.form_submit_button("Unlock and ingest") and password:
            runner.journal.forget(job.job_id)
            path = Path(job.params["path"])
            if job.params.get("reingest_of"):
                work = reingest_work(quire, job.params["reingest_of"], path, password)
                runner.submit("ingest", job.title, job.params, work)
            else:
                submit_ingest(quire, runner, path, job.title, password)
            st.rerun()


def jobs_panel(quire: Quire, runner: JobRunner) -> None:
    for problem in st.session_state.pop("upload_problems", []):
        st.error(problem)
    jobs = runner.journal.jobs("ingest", 8)
    if not jobs:
        return
    header, clear = st.columns([4, 1])
    header.markdown("##### Ingestion")
    if clear.button("Clear finished", disabled=all(j.active for j in jobs)):
        for job in jobs:
            if not job.active:
                runner.journal.forget(job.job_id)
        st.rerun()
    watch_jobs(runner.journal, "ingest", "library", lambda current: render_ingest_jobs(quire, runner, current))


def documents_table(documents: list[DocumentInfo]) -> None:
    st.dataframe(
        [
            {
                "document": d.name,
                "pages": d.pages,
                "chunks": d.chunks,
                "page quality": quality_summary(d),
                "status": "ready",
                "ingested": d.ingested_at.replace("T", " ").replace("+00:00", " UTC"),
            }
            for d in documents
        ],
        hide_index=True,
        width="stretch",
    )


def page_quality_line(info: DocumentInfo, show_all_up_to: int = 40) -> str:
    """Every page's reading for short documents; only the pages that were not plain text for long ones."""
    pages = list(enumerate(info.page_quality, start=1))
    if len(pages) > show_all_up_to:
        pages = [(n, q) for n, q in pages if q != "text"]
        if not pages:
            return f"all {info.pages} pages read from their text layer"
    return " ".join(f"`p{n} {QUALITY_LABELS.get(q, q)}`" for n, q in pages)


def document_actions(quire: Quire, runner: JobRunner, info: DocumentInfo, kept: bool) -> None:
    read_again, delete = st.columns(2)
    if read_again.button("Re-ingest", disabled=not kept, help="Read the original file again.", width="stretch"):
        work = reingest_work(quire, info.doc_id, Path(info.path))
        runner.submit("ingest", info.name, {"path": info.path, "reingest_of": info.doc_id}, work)
        st.rerun()
    with delete.popover("Delete", width="stretch"):
        st.write(f"Delete **{info.name}** with its vectors and stored text?")
        if st.button("Delete for good", type="primary", key=f"delete-{info.doc_id}"):
            quire.remove([info.doc_id])
            forget_upload(quire.settings.state_dir, info.path)
            st.toast(f"Deleted {info.name}")
            st.rerun()


def document_details(quire: Quire, runner: JobRunner, documents: list[DocumentInfo]) -> None:
    details, preview = st.columns(2, gap="large")
    with details:
        info = pick_document(documents, "library_doc")
        if info is None:
            return
        kept = bool(info.path) and Path(info.path).is_file()
        st.caption(
            f"{info.kind.upper() or 'file'} · {info.pages} pages · {info.chunks} chunks · "
            f"id {info.doc_id[:12]}… · " + ("original kept" if kept else "original file not available")
        )
        st.markdown(page_quality_line(info), help="How each page was read: text layer, OCR, or empty (no text found).")
        document_actions(quire, runner, info, kept)
    with preview:
        page = st.number_input(
            "Preview page", min_value=1, max_value=max(info.pages, 1), value=1, key=f"preview-{info.doc_id}"
        )
        show_source(quire, SourceRef(info.doc_id, info.name, int(page)))


def view() -> None:
    quire = state.service()
    runner = state.runner()
    st.header("Library")
    upload_panel(quire, runner)
    jobs_panel(quire, runner)
    documents = quire.documents()
    if not documents:
        st.info("No documents yet: drop a contract (PDF or text) above to start.")
        return
    st.markdown(f"##### {len(documents)} document{'s' if len(documents) != 1 else ''}")
    documents_table(documents)
    document_details(quire, runner, documents)
