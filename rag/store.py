"""The store: Chroma for vectors plus the SQLite registry for text, pages and chunks.

Writes follow one order so that a crash never leaves a half-visible document: registry row
'writing' -> vectors -> registry 'ready' (one transaction). Anything left 'writing' by a
crash is swept away on the next open.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import DocumentNotFound, StoreUnavailable
from rag.keyword import KeywordIndex
from rag.registry import Registry
from rag.settings import Settings, StoreSettings
from rag.types import Chunk, DocumentInfo, ParsedDocument

VECTOR_BATCH = 512


@dataclass(frozen=True)
class VectorHit:
    doc_id: str
    index: int
    score: float  # cosine similarity, higher is closer


def chroma_client(store: StoreSettings, data_dir: Path) -> Any:
    """An embedded on-disk Chroma, or a Chroma server, with telemetry off either way."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if store.mode == "server":
        headers = {"Authorization": f"Bearer {store.auth_token}"} if store.auth_token else None
        try:
            return chromadb.HttpClient(
                host=store.host, port=store.port, ssl=store.ssl, headers=headers, settings=chroma_settings
            )
        except Exception as error:  # noqa: BLE001
            raise StoreUnavailable(
                f"Chroma server at {store.host}:{store.port} is not answering: start it (`chroma run --host "
                f"{store.host} --port {store.port}`), check QUIRE_STORE__HOST/QUIRE_STORE__PORT, or set "
                f"QUIRE_STORE__MODE=embedded ({error})"
            ) from error
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class Store:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.registry = Registry(settings.state_dir / "registry.sqlite3")
        self._client = chroma_client(settings.store, settings.state_dir)
        self._collection = self._client.get_or_create_collection(
            name=settings.collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.keyword = KeywordIndex(self.registry, settings.state_dir)
        self.sweep_unfinished()

    # --- writing ----------------------------------------------------------------------------
    def sweep_unfinished(self) -> list[str]:
        """Remove every trace of documents a crash left half-written."""
        leftovers = self.registry.unfinished()
        for doc_id in leftovers:
            self._delete_vectors(doc_id)
            self.registry.delete(doc_id)
        if leftovers:
            self.keyword.invalidate()
        return leftovers

    def add_document(
        self,
        doc: ParsedDocument,
        chunks: list[Chunk],
        embed: Callable[[Sequence[str]], list[list[float]]],
        on_batch: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Store a document atomically; returns the ids of older versions (same name) it replaced."""
        replaces = [d for d in self.registry.ready_ids_named(doc.name) if d != doc.doc_id]
        self.registry.begin(doc, chunks)
        self._delete_vectors(doc.doc_id)
        for first in range(0, len(chunks), VECTOR_BATCH):
            batch = chunks[first : first + VECTOR_BATCH]
            self._collection.add(
                ids=[f"{c.doc_id}:{c.index}" for c in batch],
                embeddings=embed([c.text for c in batch]),
                metadatas=[{"doc_id": c.doc_id, "idx": c.index} for c in batch],
            )
            if on_batch:
                on_batch(len(batch))
        self.registry.commit(doc.doc_id, replaces)
        for old in replaces:
            self._delete_vectors(old)
        self.keyword.invalidate()
        return replaces

    def _delete_vectors(self, doc_id: str) -> None:
        self._collection.delete(where={"doc_id": doc_id})

    def remove(self, doc_id: str) -> None:
        if self.registry.status(doc_id) is None:
            raise DocumentNotFound(f"no document with id {doc_id}")
        self.registry.delete(doc_id)  # invisible first, then the vectors
        self._delete_vectors(doc_id)
        self.keyword.invalidate()

    # --- reading ----------------------------------------------------------------------------
    def resolve(self, ref: str) -> DocumentInfo:
        """A document by id, id prefix (8+ characters) or file name."""
        documents = self.registry.documents()
        for match in (
            [d for d in documents if d.doc_id == ref],
            [d for d in documents if d.name == ref],
            [d for d in documents if len(ref) >= 8 and d.doc_id.startswith(ref)],
            [d for d in documents if d.name.lower() == ref.lower() or Path(d.name).stem == ref],
        ):
            if len(match) == 1:
                return match[0]
        raise DocumentNotFound(f"no document matches {ref!r}: `quire docs` lists them")

    def vector_count(self) -> int:
        return int(self._collection.count())

    def vectors(self, doc_id: str, indexes: Sequence[int]) -> list[list[float]]:
        """The stored vectors of some of a document's chunks, fetched by id (no metadata filter:
        Chroma's `where` costs ~100 ms at 100k vectors, an id lookup a few)."""
        result = self._collection.get(ids=[f"{doc_id}:{i}" for i in indexes], include=["embeddings"])
        by_id = dict(zip(result["ids"], result["embeddings"], strict=True))
        return [list(by_id[f"{doc_id}:{i}"]) for i in indexes]

    def query(self, embedding: list[float], k: int, doc_ids: Sequence[str] | None = None) -> list[VectorHit]:
        where: dict[str, Any] | None = None
        if doc_ids:
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        k = min(k, max(self.vector_count(), 1))
        result = self._collection.query(
            query_embeddings=[embedding], n_results=k, where=where, include=["metadatas", "distances"]
        )
        metadatas = (result.get("metadatas") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        return [
            VectorHit(doc_id=str(m["doc_id"]), index=int(m["idx"]), score=1.0 - float(d))
            for m, d in zip(metadatas, distances, strict=False)
        ]
