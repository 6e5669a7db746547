"""Answer a question about the documents: plan the context, stream the model, verify citations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.answer.budget import ContextPlan, plan_context
from rag.answer.citations import find_citations
from rag.llm.base import LLMBackend
from rag.prompts import answer_messages
from rag.retrieval.retrieve import Retriever
from rag.store.registry import Registry
from rag.types import Answer, Passage


@dataclass(frozen=True)
class AnswerRequest:
    question: str
    doc_ids: tuple[str, ...] = ()
    budget_chars: int = 8000
    max_answer_tokens: int = 512


def whole_document_passages(registry: Registry, doc_ids: Sequence[str]) -> list[Passage]:
    """Every page of the chosen documents as passages, in reading order."""
    passages: list[Passage] = []
    for doc_id in doc_ids:
        info = registry.info(doc_id)
        if info is None:
            continue
        text = registry.text(doc_id)
        for page in registry.pages(doc_id):
            if page.end > page.start:
                passages.append(
                    Passage(
                        doc_id,
                        info.name,
                        page.number,
                        page.number,
                        page.start,
                        page.end,
                        text[page.start : page.end],
                        1.0,
                    )
                )
    return passages


def plan_for(request: AnswerRequest, backend: LLMBackend, retriever: Retriever) -> ContextPlan:
    registry = retriever.store.registry
    whole = whole_document_passages(registry, request.doc_ids) if request.doc_ids else None

    def retrieved(budget_chars: int) -> list[Passage]:
        budget = min(budget_chars, request.budget_chars)
        return retriever.retrieve(request.question, budget, doc_ids=request.doc_ids or None)

    return plan_context(
        backend,
        whole,
        retrieved,
        lambda passages: answer_messages(request.question, passages),
        reserve_output=request.max_answer_tokens,
    )


def stream_answer(request: AnswerRequest, backend: LLMBackend, retriever: Retriever) -> Iterator[str | Answer]:
    """Yield the reply as it is generated, then the finished `Answer` with verified citations."""
    plan = plan_for(request, backend, retriever)
    if not plan.passages:
        yield Answer(
            "No documents to answer from: ingest some first.",
            (),
            plan.mode,
            0,
            backend.num_ctx,
            backend.name,
            backend.model,
            plan.in_view,
        )
        return
    stream = backend.stream_chat(answer_messages(request.question, plan.passages), max_tokens=request.max_answer_tokens)
    pieces: list[str] = []
    for piece in stream:
        pieces.append(piece)
        yield piece
    citations, shown = find_citations(retriever.store.registry, plan.passages, request.question, "".join(pieces))
    usage = stream.usage
    yield Answer(
        answer=shown.strip(),
        citations=citations,
        mode=plan.mode,
        context_tokens=usage.prompt_tokens if usage and usage.prompt_tokens else plan.prompt_tokens,
        num_ctx=backend.num_ctx,
        backend=backend.name,
        model=backend.model,
        in_view=plan.in_view,
        passages=plan.passages,
    )
