"""The services the CLI and the web app call. Heavy parts (models, store) load on first use.

Data flows one way: app.py / rag.cli.main -> Quire -> ingest/ and the seams (store, embedder, LLM).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from ingest.pipeline import IngestProgress, IngestReport, ingest_paths
from rag.answer.answer import AnswerEvent, AnswerRequest, stream_answer
from rag.clauses.categories import CallGroup
from rag.clauses.report import ClauseReport
from rag.clauses.stored import review_stored
from rag.llm.choose import BackendChoice, choose_backend
from rag.retrieval.retrieve import Retriever
from rag.settings import Settings
from rag.store.embed import Embedder, shared_embedder
from rag.store.locks import write_lock
from rag.store.store import Store
from rag.summaries.key_terms import key_term_summary, whole_coverage
from rag.summaries.summarize import summarize_document
from rag.summaries.summary import Summary
from rag.types import Answer, DocumentInfo, PageSpan, Passage

DEMO_MODEL_NOTICE = (
    "The tiny built-in demo model (SmolLM2-135M) is answering: it proves the plumbing, not the quality. "
    "For real answers install Ollama, run `ollama pull llama3.1:8b` and `ollama serve`; Quire uses it "
    "automatically (or set QUIRE_LLM__BACKEND=ollama)."
)


class Quire:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._backend_lock = threading.Lock()
        self._choice: BackendChoice | None = None

    # --- parts, built once ------------------------------------------------------------------
    @cached_property
    def store(self) -> Store:
        return Store(self.settings)

    @cached_property
    def embedder(self) -> Embedder:
        """The model with the window the store was built with (the settings' for a new store)."""
        embed = self.settings.embed
        return shared_embedder(embed.model_path, embed.batch_size, embed.precision, self.store.embedding.max_tokens)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder)

    def backend_choice(self) -> BackendChoice:
        with self._backend_lock:
            if self._choice is None:
                self._choice = choose_backend(self.settings.llm)
            return self._choice

    # --- documents --------------------------------------------------------------------------
    def ingest(
        self, paths: Iterable[Path], password: str | None = None, progress: IngestProgress | None = None
    ) -> IngestReport:
        with write_lock(self.settings.state_dir):
            return ingest_paths(paths, self.store, self.embedder.embed, self.settings.ingest, password, progress)

    def documents(self) -> list[DocumentInfo]:
        return self.store.registry.documents()

    def resolve(self, refs: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.store.resolve(ref).doc_id for ref in refs)

    def remove(self, refs: Sequence[str]) -> list[DocumentInfo]:
        infos = [self.store.resolve(ref) for ref in refs]
        with write_lock(self.settings.state_dir):
            for info in infos:
                self.store.remove(info.doc_id)
        return infos

    def prepare_search(self) -> None:
        """Bring the keyword index up to date after an ingest: rebuilt and saved for the next process
        when the new documents outgrew its delta (or there was none), else they join the delta in
        seconds. A batch calls this when it has stored new documents. (The document cards are kept
        in memory only, so the process that asks builds them: `Retriever.warm_up`.)"""
        self.store.keyword.prepare()

    # --- questions --------------------------------------------------------------------------
    def retrieve(self, query: str, doc_refs: Sequence[str] = (), budget_chars: int | None = None) -> list[Passage]:
        budget = budget_chars or self.settings.retrieval.budget_chars
        return self.retriever.retrieve(query, budget, doc_ids=self.resolve(doc_refs) or None)

    def stream_ask(self, question: str, doc_refs: Sequence[str] = ()) -> Iterator[AnswerEvent]:
        request = AnswerRequest(
            question=question,
            doc_ids=self.resolve(doc_refs),
            budget_chars=self.settings.retrieval.budget_chars,
            max_answer_tokens=self.settings.llm.max_answer_tokens,
        )
        return stream_answer(request, self.backend_choice().backend, self.retriever)

    def ask(self, question: str, doc_refs: Sequence[str] = ()) -> Answer:
        final = [e for e in self.stream_ask(question, doc_refs) if isinstance(e, Answer)]
        return final[-1]

    def summarize(self, doc_ref: str) -> Summary:
        """A whole-document summary of one document (stuffed, or map-reduce when it does not fit).
        The demo model cannot summarise a contract: there the summary is the clause locator's key-term sheet."""
        doc_id = self.store.resolve(doc_ref).doc_id
        backend = self.backend_choice().backend
        engine = self.settings.summarize.engine
        if engine == "key-terms" or (engine == "auto" and backend.is_demo):
            locator_settings = self.settings.clauses.model_copy(update={"engine": "locator", "categories": []})
            report = review_stored(self.retriever, backend, locator_settings, doc_id)
            return key_term_summary(report, whole_coverage(self.store.registry, doc_id))
        return summarize_document(backend, self.store.registry, doc_id, self.settings.summarize)

    # --- clause review ----------------------------------------------------------------------
    def review_clauses(
        self,
        doc_ref: str,
        categories: list[str] | None = None,
        on_group: Callable[[CallGroup], None] | None = None,
    ) -> ClauseReport:
        """The clause checklist (all categories, or `categories`) for one stored document."""
        doc_id = self.store.resolve(doc_ref).doc_id
        backend = self.backend_choice().backend
        return review_stored(self.retriever, backend, self.settings.clauses, doc_id, categories, on_group)

    # --- health -----------------------------------------------------------------------------
    def doctor(self) -> dict[str, Any]:
        """What answers, whether it is reachable, and what the store holds."""
        report: dict[str, Any] = {
            "data_dir": str(self.settings.data_dir.resolve()),
            "num_ctx": self.settings.llm.num_ctx,
        }
        try:
            choice = self.backend_choice()
            report.update(
                backend=choice.backend.name,
                model=choice.backend.model,
                reachable=True,
                num_ctx=choice.backend.num_ctx,
                reason=choice.reason,
                demo_model=choice.backend.is_demo,
                notice=DEMO_MODEL_NOTICE if choice.backend.is_demo else "",
            )
        except Exception as error:  # noqa: BLE001 - doctor reports, it does not fail
            report.update(
                backend=self.settings.llm.backend, model=self.settings.llm.model, reachable=False, reason=str(error)
            )
        report["store"] = {
            **self.store.registry.counts(),
            "vectors": self.store.vector_count(),
            "mode": self.settings.store.mode,
        }
        return report

    # --- for the web app ----------------------------------------------------------------------
    def with_llm_settings(self, settings: Settings) -> Quire:
        """Another LLM and retrieval setup over this one's store and embedding model.

        The web app's settings sidebar switches backend, model or num_ctx without loading the
        documents or the embedding model a second time (cached_property slots are shared)."""
        shared = settings.model_copy(
            update={
                "data_dir": self.settings.data_dir,
                "workspace": self.settings.workspace,
                "store": self.settings.store,
                "embed": self.settings.embed,
            }
        )
        other = Quire(shared)
        other.__dict__.update(store=self.store, embedder=_SharedEmbedder(self))
        return other

    def peek_backend_choice(self) -> BackendChoice | None:
        """The backend if one was chosen already; never loads a model (the sidebar asks often)."""
        return self._choice

    def document_pages(self, doc_id: str) -> tuple[str, tuple[PageSpan, ...]]:
        """A document's stored text and page map, to show a cited page of a text file."""
        return self.store.registry.text(doc_id), self.store.registry.pages(doc_id)


class _SharedEmbedder:
    """Another Quire's embedder, loaded on first use (loading costs seconds; the page must not wait)."""

    def __init__(self, owner: Quire):
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner.embedder, name)
