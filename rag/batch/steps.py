"""What a batch does to one file: the steps (ingest, summarize, review) and which of them a batch runs.

Each step is a plain callable `(service, doc_ref) -> StepResult` that returns its outputs as
bytes and writes nothing itself: `rag.batch.run` stages, journals and publishes them, so a step
never needs to know about crashes, retries or the output folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ingest.pipeline import IngestReport
from rag.clauses.portfolio import csv_bytes
from rag.clauses.report import ClauseReport
from rag.errors import QuireError, StepFailed
from rag.summaries.summary import Summary


class BatchService(Protocol):
    """What the steps call on the service (`rag.service.Quire`, or a test's fake): a service may
    lack a method, and then only the steps that need it are refused (`check_available`)."""

    def ingest(self, paths: Iterable[Path]) -> IngestReport: ...

    def summarize(self, doc_ref: str) -> Summary: ...

    def review_clauses(self, doc_ref: str) -> ClauseReport: ...


@dataclass(frozen=True)
class StepResult:
    """What a step produced: output files (by suffix, e.g. `.summary.md`) and, for ingest, the doc id."""

    files: dict[str, bytes] = field(default_factory=dict)
    doc_id: str | None = None


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[BatchService, str], StepResult]
    needs: str  # the service method the step calls
    uses_llm: bool

    def available(self, service: BatchService) -> bool:
        return callable(getattr(service, self.needs, None))


def ingest_step(service: BatchService, doc_ref: str) -> StepResult:
    """`doc_ref` is the source path; the store makes re-ingesting the same bytes a no-op."""
    result = service.ingest([Path(doc_ref)]).documents[0]
    if result.status == "failed":
        raise StepFailed(result.error or "ingestion failed")
    return StepResult(doc_id=result.doc_id)


def summarize_step(service: BatchService, doc_ref: str) -> StepResult:
    summary = service.summarize(doc_ref)
    return StepResult({".summary.md": summary.markdown.encode("utf-8")})


def review_step(service: BatchService, doc_ref: str) -> StepResult:
    report = service.review_clauses(doc_ref)
    payload = json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n"
    return StepResult({".clauses.json": payload.encode("utf-8"), ".clauses.csv": csv_bytes(report.csv_rows())})


STEPS: dict[str, Step] = {
    "ingest": Step("ingest", ingest_step, "ingest", uses_llm=False),
    "summarize": Step("summarize", summarize_step, "summarize", uses_llm=True),
    "review": Step("review", review_step, "review_clauses", uses_llm=True),
}


def plan_steps(summaries: bool, clauses: bool) -> tuple[Step, ...]:
    chosen = [STEPS["ingest"]]
    if summaries:
        chosen.append(STEPS["summarize"])
    if clauses:
        chosen.append(STEPS["review"])
    return tuple(chosen)


def check_available(service: BatchService, steps: tuple[Step, ...]) -> None:
    missing = [s for s in steps if not s.available(service)]
    if missing:
        names = ", ".join(f"{s.name} (needs {type(service).__name__}.{s.needs})" for s in missing)
        raise QuireError(
            f"the batch step(s) {names} cannot run with this service: drop the flag, or use a service that has it"
        )
