"""Questions in -> ranked passages out, cut to a character budget.

Dense search over Chroma; passages carry exact offsets and pages so that answers can cite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.embed import Embedder
from rag.store import Store
from rag.types import Passage

CANDIDATE_FACTOR = 4  # fetch more than top_k so that the budget can be filled


class Retriever:
    def __init__(self, store: Store, embedder: Embedder):
        self.store = store
        self.embedder = embedder

    def search(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[Passage]:
        """The k best passages by vector similarity, best first."""
        hits = self.store.query(self.embedder.embed_query(query), k=k, doc_ids=doc_ids)
        names = {d.doc_id: d.name for d in self.store.registry.documents()}
        passages: list[Passage] = []
        for hit in hits:
            chunk = self.store.registry.chunk(hit.doc_id, hit.index)
            if chunk is None or hit.doc_id not in names:
                continue  # a document being written or removed right now
            passages.append(
                Passage(
                    doc_id=chunk.doc_id,
                    name=names[chunk.doc_id],
                    page_start=chunk.page_start,
                    page_end=chunk.page_end,
                    start=chunk.start,
                    end=chunk.end,
                    text=chunk.text,
                    score=round(hit.score, 6),
                )
            )
        return passages

    def retrieve(
        self, query: str, budget_chars: int, doc_ids: Sequence[str] | None = None, k: int | None = None
    ) -> list[Passage]:
        k = k or max(8, budget_chars // 250)
        return cut_to_budget(self.search(query, k * CANDIDATE_FACTOR // 2, doc_ids), budget_chars)


def cut_to_budget(passages: list[Passage], budget_chars: int) -> list[Passage]:
    """Passages in rank order until `budget_chars` are spent; the last one is cut to fit."""
    kept: list[Passage] = []
    left = budget_chars
    for passage in passages:
        if left <= 0:
            break
        if len(passage.text) > left:
            passage = replace(passage, text=passage.text[:left], end=passage.start + left)
        kept.append(passage)
        left -= len(passage.text)
    return kept
