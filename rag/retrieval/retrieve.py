"""Questions in -> ranked passages out, cut to a character budget.

Hybrid search: dense vectors (Chroma) and BM25 (rag.store.keyword) ranked separately and fused by
reciprocal rank, because each finds clauses the other misses (paraphrase vs exact legal words).
A question that names a contract searches that contract first (rag.retrieval.routing); explicit
`doc_ids` always scope the search. Hits become readable passages in rag.retrieval.passages.
`quire retrieve`, `quire ask`, the web app and `quire eval retrieval` all come through here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from rag.retrieval.evidence import Scorer, default_cues, select_evidence
from rag.retrieval.passages import DocText, Hit, assemble
from rag.retrieval.routing import DocumentRouter, Route
from rag.settings import RetrievalSettings
from rag.store.embed import Embedder
from rag.store.store import Store
from rag.types import Evidence, Passage, page_at

CHARS_PER_CANDIDATE = 250  # candidates fetched per ranking: enough chunks to fill the budget twice over
MIN_CANDIDATES = 16
DOC_CACHE = 256  # documents whose text, pages, chunk offsets (and vectors, once scoped to) stay in memory
EXACT_SCOPE_CHUNKS = 20_000  # scoped searches over at most this many chunks score every vector exactly
EVIDENCE_POOL = 16_000  # a small budget picks its sentences from the passages of this budget


@dataclass(frozen=True)
class _Doc:
    text: DocText
    chunks: dict[int, tuple[int, int]]  # chunk index -> (start, end)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[tuple[str, int]]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[tuple[str, int], float]]:
    """Fuse ranked lists of chunk keys: each list gives 1/(k + rank); best fused score first.
    Ties keep the order in which the keys were first seen (dense before keyword)."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[tuple[str, int], float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank + 1)
    return sorted(fused.items(), key=lambda item: -item[1])


class Retriever:
    def __init__(self, store: Store, embedder: Embedder, settings: RetrievalSettings | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings or store.settings.retrieval
        self.router = DocumentRouter(store.registry)
        self._docs: OrderedDict[str, _Doc] = OrderedDict()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._docs_lock = threading.Lock()
        self._embed = lru_cache(maxsize=256)(self.embedder.embed_query)
        self._scorer: Scorer | None = None

    # --- documents in memory ----------------------------------------------------------------
    def _doc(self, doc_id: str) -> _Doc | None:
        """Text, pages and chunk offsets of a ready document (doc ids are content
        hashes, so a cached entry never goes out of date; a removed one is simply never hit)."""
        with self._docs_lock:
            if doc_id in self._docs:
                self._docs.move_to_end(doc_id)
                return self._docs[doc_id]
        registry = self.store.registry
        info = registry.info(doc_id)
        if info is None:
            return None  # being written or removed right now
        entry = _Doc(DocText(info.name, registry.text(doc_id), registry.pages(doc_id)), registry.chunk_spans(doc_id))
        with self._docs_lock:
            self._docs[doc_id] = entry
            while len(self._docs) > DOC_CACHE:
                self._docs.popitem(last=False)
        return entry

    def _doc_vectors(self, doc_id: str, indexes: list[int]) -> np.ndarray:
        with self._docs_lock:
            if doc_id in self._vectors:
                self._vectors.move_to_end(doc_id)
                return self._vectors[doc_id]
        matrix = np.asarray(self.store.vectors(doc_id, indexes), dtype=np.float32).reshape(len(indexes), -1)
        with self._docs_lock:
            self._vectors[doc_id] = matrix
            while len(self._vectors) > DOC_CACHE:
                self._vectors.popitem(last=False)
        return matrix

    # --- ranking ----------------------------------------------------------------------------
    def _dense(self, query: str, k: int, doc_ids: Sequence[str] | None) -> list[tuple[str, int]]:
        embedding = self._embed(query)
        docs = [(d, sorted(doc.chunks)) for d in doc_ids or () if (doc := self._doc(d))]
        if doc_ids and sum(len(indexes) for _, indexes in docs) <= EXACT_SCOPE_CHUNKS:
            return self._dense_exact(embedding, k, docs)
        hits = self.store.query(embedding, k=k, doc_ids=doc_ids)
        return [(h.doc_id, h.index) for h in hits]

    def _dense_exact(self, embedding: list[float], k: int, docs: list[tuple[str, list[int]]]) -> list[tuple[str, int]]:
        """Cosine against every chunk of the scoped documents: exact, and faster than a filtered
        approximate query once the store is large."""
        keys = [(doc_id, i) for doc_id, indexes in docs for i in indexes]
        if not keys:
            return []
        matrix = np.concatenate([self._doc_vectors(doc_id, indexes) for doc_id, indexes in docs])
        scores = matrix @ np.asarray(embedding, dtype=np.float32)
        best = np.argsort(-scores, kind="stable")[:k]
        return [keys[i] for i in best]

    def _keyword(self, query: str, k: int, doc_ids: Sequence[str] | None) -> list[tuple[str, int]]:
        return [(h.doc_id, h.index) for h in self.store.keyword.search(query, k, doc_ids)]

    def rank(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[tuple[tuple[str, int], float]]:
        """Chunk keys with fused scores, best first, by the configured mode."""
        mode = self.settings.mode
        rankings: list[list[tuple[str, int]]] = []
        if mode in ("hybrid", "dense"):
            rankings.append(self._dense(query, k, doc_ids))
        if mode in ("hybrid", "keyword"):
            rankings.append(self._keyword(query, k, doc_ids))
        weights = [1.0, self.settings.keyword_weight] if mode == "hybrid" else None
        return reciprocal_rank_fusion(rankings, k=self.settings.rrf_k, weights=weights)

    def search(self, query: str, k: int, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        """The `k` best chunks for `query`, without routing or passage assembly (clause review
        wants raw chunk spans inside one document)."""
        return list(self._hits(self.rank(query, k, doc_ids)))

    def route(self, query: str, doc_ids: Sequence[str] | None) -> Route:
        if doc_ids or not self.settings.routing:
            return Route((), query)
        return self.router.route(query)

    def _hits(self, ranked: list[tuple[tuple[str, int], float]]) -> Iterator[Hit]:
        """Hits in rank order, lazily: assembly stops once the budget is full, so documents
        ranked below that are never loaded."""
        for (doc_id, index), score in ranked:
            doc = self._doc(doc_id)
            if doc is not None and index in doc.chunks:
                start, end = doc.chunks[index]
                yield Hit(doc_id, start, end, score)

    def retrieve(
        self, query: str, budget_chars: int, doc_ids: Sequence[str] | None = None, k: int | None = None
    ) -> list[Passage]:
        """Passages for `query` within `budget_chars`: the named document's first, then the rest.
        A small budget (below `evidence_max_chars`) gets the best sentences of a large passage
        pool instead (rag.retrieval.evidence): whole chunks in rank order spend it on neighbouring text."""
        if 0 < budget_chars < self.settings.evidence_max_chars:
            return [e.as_passage() for e in self.evidence(query, budget_chars, doc_ids, k)]
        return self._passages(query, budget_chars, doc_ids, k)

    def evidence(
        self, query: str, budget_chars: int, doc_ids: Sequence[str] | None = None, k: int | None = None
    ) -> list[Evidence]:
        """The best sentences, best first, of the passages for EVIDENCE_POOL characters, within
        `budget_chars`, each on its page as the document's page map gives it."""
        pool = self._passages(query, max(EVIDENCE_POOL, budget_chars), doc_ids, k)
        pieces = select_evidence(query, pool, budget_chars, scorer=self._evidence_scorer())
        return [replace(e, page=page_at(self._text(e.doc_id).pages, e.start)) for e in pieces]

    def _evidence_scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = Scorer(self.embedder, default_cues())
        return self._scorer

    def warm_up(self) -> None:
        """Load the embedding model, the evidence scorer's category vectors and the search indexes now,
        so that a person's first question does not wait for them (the web app calls this when Ask opens)."""
        self._embed("warm up")
        self._evidence_scorer().prototype_vectors()
        self.store.keyword.prepare()
        self.router.prepare()

    def _passages(
        self, query: str, budget_chars: int, doc_ids: Sequence[str] | None = None, k: int | None = None
    ) -> list[Passage]:
        k = k or max(MIN_CANDIDATES, 2 * budget_chars // CHARS_PER_CANDIDATE)
        route = self.route(query, doc_ids)
        passages: list[Passage] = []
        ranked: list[tuple[tuple[str, int], float]] = []
        if route.doc_ids:
            ranked = self.rank(route.content_query, k, route.doc_ids)
            passages = self._assemble(ranked, budget_chars)
        if sum(len(p.text) for p in passages) < budget_chars:  # the named documents did not fill it
            named = {key for key, _ in ranked}
            ranked += [item for item in self.rank(query, k, doc_ids or None) if item[0] not in named]
            passages = self._assemble(ranked, budget_chars)
        return passages

    def _assemble(self, ranked: list[tuple[tuple[str, int], float]], budget_chars: int) -> list[Passage]:
        return assemble(self._hits(ranked), self._text, budget_chars, expand=self.settings.expand)

    def _text(self, doc_id: str) -> DocText:
        doc = self._doc(doc_id)
        if doc is None:
            raise KeyError(doc_id)  # _hits only passes documents it found ready
        return doc.text
