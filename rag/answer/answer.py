"""Answer a question about the documents: the evidence first, then plan the context, stream the
model, verify citations, and judge the reply.

The evidence (the best passages, their answering sentence marked) comes from retrieval alone, in
well under a second, and is yielded before the model is even loaded: a person reads the clause at
once, and a slow or weak model's reply only comes below it. A degenerate reply (one sentence
repeated, only the sources' labels) is kept but marked hidden, with the reason (`rag.llm.degenerate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rag.answer.budget import ContextPlan, plan_context
from rag.answer.citations import find_citations
from rag.answer.support import supports
from rag.llm.base import LLMBackend
from rag.llm.degenerate import judge
from rag.prompts import answer_messages, passage_label
from rag.retrieval.retrieve import Retriever
from rag.store.registry import Registry
from rag.types import Answer, Evidence, Passage


@dataclass(frozen=True)
class AnswerRequest:
    question: str
    doc_ids: tuple[str, ...] = ()
    budget_chars: int = 8000
    max_answer_tokens: int = 512
    evidence_chars: int = 2000


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


AnswerEvent = tuple[Evidence, ...] | str | Answer


def stream_answer(request: AnswerRequest, backend: LLMBackend, retriever: Retriever) -> Iterator[AnswerEvent]:
    """Yield the evidence (a tuple, before any model work), the reply as it is generated, then the
    finished `Answer` with verified citations, the evidence and the verdict on the reply."""
    evidence = tuple(retriever.evidence(request.question, request.evidence_chars, request.doc_ids or None))
    yield evidence
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
            evidence=evidence,
        )
        return
    stream = backend.stream_chat(answer_messages(request.question, plan.passages), max_tokens=request.max_answer_tokens)
    pieces: list[str] = []
    for piece in stream:
        pieces.append(piece)
        yield piece
    reply = "".join(pieces)
    citations, shown = find_citations(retriever.store.registry, plan.passages, request.question, reply)
    verdict = judge(reply, [passage_label(i, p) for i, p in enumerate(plan.passages, start=1)])
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
        evidence=evidence,
        hidden_reason=verdict.reason,
        support=supports(shown, evidence),
    )
