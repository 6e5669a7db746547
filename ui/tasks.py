"""The work the job runner does for the web app: each builder returns a function of a `Reporter`.

Passwords reach the work only through the closure: they are never written to the journal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.discover import describe
from ingest.parse import parse_file
from ingest.pipeline import IngestProgress
from rag.clauses.categories import CallGroup
from rag.clauses.stored import catalogue_for
from rag.errors import QuireError
from rag.service import Quire
from ui.jobs import JobFailed, Reporter, Work

PASSWORD_HINT = "password"


def needs_password(message: str) -> bool:
    """A failed ingest that a password would fix (the PDF reader says 'password-protected')."""
    return PASSWORD_HINT in message.lower()


def ingest_work(quire: Quire, path: Path, password: str | None = None) -> Work:
    def work(report: Reporter) -> tuple[str, Any]:
        report(0.05, "reading the pages")

        def on_chunks(done: int, total: int) -> None:
            report(0.1 + 0.9 * done / max(total, 1), f"embedding {done} of {total} chunks")

        result = quire.ingest([path], password=password, progress=IngestProgress(on_chunks=on_chunks)).documents[0]
        if result.status == "failed":
            raise JobFailed(result.error or "the file could not be ingested", result.to_json())
        return f"{result.status}: {result.pages} pages, {result.chunks} chunks", result.to_json()

    return work


def reingest_work(quire: Quire, doc_id: str, path: Path, password: str | None = None) -> Work:
    """Read a stored document again from its original file (after a parser or settings change).

    The file is parsed before the stored copy is removed, so a file that no longer reads (gone,
    locked, damaged) leaves the library as it was."""
    ingest = ingest_work(quire, path, password)

    def work(report: Reporter) -> tuple[str, Any]:
        if not path.is_file():
            raise QuireError(f"the original file is no longer at {path}: upload it again")
        report(0.02, "checking that the file still reads")
        parse_file(describe(path), quire.settings.ingest, password)
        quire.remove([doc_id])
        return ingest(report)

    return work


def summary_work(quire: Quire, doc_id: str) -> Work:
    def work(report: Reporter) -> tuple[str, Any]:
        report(0.05, "summarising: a long contract can take minutes")
        summary = quire.summarize(doc_id)
        return "summary ready", {"markdown": summary.markdown, "json": summary.to_json()}

    return work


def clauses_work(quire: Quire, doc_id: str, categories: list[str] | None = None) -> Work:
    """Review all categories, or the chosen ones; one model call per group of related categories."""

    def work(report: Reporter) -> tuple[str, Any]:
        total = len(catalogue_for(quire.settings.clauses, categories).groups)
        done = 0
        report(0.02, f"reviewing clauses: 0 of {total} groups of categories")

        def on_group(_group: CallGroup) -> None:
            nonlocal done
            done += 1
            report(done / max(total, 1), f"reviewing clauses: {done} of {total} groups of categories")

        review = quire.review_clauses(doc_id, categories, on_group=on_group)
        return "clause review ready", {"json": review.to_json(), "rows": review.csv_rows()}

    return work
