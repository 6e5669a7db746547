"""Clause review over stored documents: ties the store, retrieval and the LLM to `rag.clauses.review`.

The service (`Quire.review_clauses`), the evaluator and the portfolio all come through here,
so a stored document is always reviewed the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from rag.clauses.candidates import Span
from rag.clauses.categories import CallGroup, Catalogue, Category, load_catalogue
from rag.clauses.focused import Located
from rag.clauses.located import review_with_locator
from rag.clauses.locator import Locator, default_locator
from rag.clauses.report import ClauseReport
from rag.clauses.review import ClauseDocument, Retrieved, review_document
from rag.errors import DocumentNotFound, QuireError
from rag.llm.base import LLMBackend
from rag.retrieval.retrieve import Retriever
from rag.settings import ClauseSettings
from rag.store.registry import Registry


def catalogue_for(settings: ClauseSettings, categories: Sequence[str] | None = None) -> Catalogue:
    """The categories to review: those named, else the configured default list, else all."""
    return load_catalogue(settings.extra_categories).select(list(categories or settings.categories) or None)


def stored_document(registry: Registry, doc_id: str) -> ClauseDocument:
    info = registry.info(doc_id)
    if info is None:
        raise DocumentNotFound(f"no document with id {doc_id}: `quire docs` lists them")
    return ClauseDocument(doc_id, info.name, registry.text(doc_id), registry.pages(doc_id))


def retrieval_for(retriever: Retriever, doc_id: str, k: int) -> Retrieved | None:
    """Spans retrieval proposes for a category's query inside one document (None when k is 0)."""
    if k <= 0:
        return None

    def retrieved(category: Category) -> list[Span]:
        return [(p.start, p.end) for p in retriever.search(category.query, k, doc_ids=[doc_id])]

    return retrieved


def call_plan(settings: ClauseSettings, text: str, locator: Locator | None = None) -> tuple[int, Located | None]:
    """Prompt tokens per call and the locator's candidates: with `located_call_tokens` set the locator
    picks the passages within that smaller limit; without it, or without a shipped locator, cues and
    retrieval fill `call_tokens`."""
    if settings.located_call_tokens <= 0:
        return settings.call_tokens, None
    try:
        located = (locator or default_locator()).candidates(text)
    except QuireError:  # no locator artifact: the cue and retrieval choice still works
        return settings.call_tokens, None
    return settings.located_call_tokens, located


def clause_engine(settings: ClauseSettings, backend: LLMBackend) -> Literal["locator", "model"]:
    """Who decides: the setting, or on `auto` the locator where the only model is the demo one."""
    if settings.engine != "auto":
        return settings.engine
    return "locator" if backend.is_demo else "model"


def review_stored(
    retriever: Retriever,
    backend: LLMBackend,
    settings: ClauseSettings,
    doc_id: str,
    categories: Sequence[str] | None = None,
    on_group: Callable[[CallGroup], None] | None = None,
    locator: Locator | None = None,
) -> ClauseReport:
    document = stored_document(retriever.store.registry, doc_id)
    catalogue = catalogue_for(settings, categories)
    if clause_engine(settings, backend) == "locator":
        return review_with_locator(document, catalogue, locator or default_locator())
    retrieved = retrieval_for(retriever, doc_id, settings.retrieved_per_category)
    call_tokens, located = call_plan(settings, document.text, locator)
    return review_document(document, catalogue, backend, call_tokens, retrieved, on_group, located)
