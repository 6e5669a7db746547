"""A light stand-in service for the batch's orchestration tests ONLY (never used by Quire itself).

`FakeBatchService` parses files with the real ingest parser (so a corrupt file fails for the
real reason) but skips embedding, and its summarize/review steps sleep briefly and return text
carrying a random nonce: a step done twice would leave a different output than the one the
journal committed, which the crash tests detect. Every call that returns is appended to a call
log so the tests can count side effects. When the settings name the Ollama backend, each LLM
step first calls the real Ollama backend, so an unreachable server fails the real way.

Selected in a `quire batch` subprocess with QUIRE_BATCH__SERVICE_FACTORY=tests.batch_fakes:FakeBatchService.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.discover import describe, sha256_file
from ingest.parse import parse_file
from ingest.pipeline import IngestReport, IngestResult
from rag.errors import IngestError
from rag.settings import Settings

DELAY_ENV = "QUIRE_FAKE_STEP_DELAY_S"
CALLS_ENV = "QUIRE_FAKE_CALLS_LOG"


@dataclass(frozen=True)
class FakeSummary:
    markdown: str

    def to_json(self) -> dict[str, Any]:
        return {"markdown": self.markdown}


@dataclass(frozen=True)
class FakeClauseReport:
    doc_id: str
    nonce: str

    def to_json(self) -> dict[str, Any]:
        return {"doc_id": self.doc_id, "nonce": self.nonce, "findings": [r for r in self.csv_rows()]}

    def csv_rows(self) -> list[dict[str, Any]]:
        """Rows in the real report's shape (`rag.clauses.report.CSV_FIELDS`)."""
        common = {"document": f"contract-{self.doc_id[:8]}", "doc_id": self.doc_id, "value": "", "note": ""}
        return [
            {**common, "category": "Governing Law", "status": "present", "pages": "1",
             "quote": f"laws of New York {self.nonce}"},
            {**common, "category": "Cap On Liability", "status": "absent", "pages": "", "quote": ""},
        ]  # fmt: skip


class FakeBatchService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.delay_s = float(os.environ.get(DELAY_ENV, "0.02"))
        self.calls_log = os.environ.get(CALLS_ENV)

    def _record(self, step: str, ref: str) -> None:
        if self.calls_log:
            with open(self.calls_log, "a", encoding="utf-8") as handle:
                handle.write(f"{step}\t{ref}\n")

    def _ask_llm(self) -> None:
        if self.settings.llm.backend == "ollama":
            from rag.llm.choose import choose_backend

            backend = choose_backend(self.settings.llm).backend
            backend.complete([{"role": "user", "content": "Say OK."}], max_tokens=4)
        time.sleep(self.delay_s)

    def ingest(self, paths: list[Path], **_: Any) -> IngestReport:
        path = paths[0]
        try:
            doc = parse_file(describe(path), self.settings.ingest)
            result = IngestResult(str(path), path.name, sha256_file(path), "ingested", len(doc.pages), 1)
        except IngestError as error:
            result = IngestResult(str(path), path.name, "", "failed", error=str(error))
        time.sleep(self.delay_s)
        self._record("ingest", str(path))
        return IngestReport((result,), 0.0)

    def summarize(self, doc_ref: str) -> FakeSummary:
        self._ask_llm()
        self._record("summarize", doc_ref)
        return FakeSummary(f"# Summary\n\nDocument {doc_ref}.\n\nnonce {uuid.uuid4().hex}\n")

    def review_clauses(self, doc_ref: str) -> FakeClauseReport:
        self._ask_llm()
        self._record("review", doc_ref)
        return FakeClauseReport(doc_ref, uuid.uuid4().hex)
