"""The store: Chroma for vectors plus the SQLite registry for text, pages and chunks.

Writes follow one order so that a crash never leaves a half-visible document: registry row
'writing' -> vectors -> registry 'ready' (one transaction). Removal runs the other way: row
'removing' (invisible at once) -> vectors -> rows. Anything a crash left 'writing' or
'removing' is swept away on the next open, unless a live writer still holds the writers' lock.
"""

from __future__ import annotations

import fcntl
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import DocumentNotFound, EmbeddingMismatch, StoreUnavailable
from rag.settings import Settings, StoreSettings
from rag.store.embed import EmbeddingSpec
from rag.store.keyword import KeywordIndex
from rag.store.locks import require_writable
from rag.store.registry import Registry
from rag.types import Chunk, DocumentInfo, ParsedDocument

VECTOR_BATCH = 512
SCAN_BATCH = 5000
UPLOADS_DIR = "files"  # the web app's uploads, one folder per content hash (ui/uploads.py)
EMBEDDING_KEY = "embedding"
LEGACY_EMBEDDING = EmbeddingSpec.of(None, 256)  # stores made before the spec was recorded read 256 tokens


def uploads_dir(state_dir: Path) -> Path:
    return state_dir / UPLOADS_DIR


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


@dataclass(frozen=True)
class StoreCheck:
    """Registry against vectors: every ready chunk has exactly one vector, no vector lacks a document."""

    documents: int
    chunks: int
    vectors: int
    mismatched: dict[str, tuple[int, int]]  # ready doc -> (chunks in the registry, vectors in Chroma)
    orphans: dict[str, int]  # doc id with vectors but no ready document -> vectors
    unfinished: tuple[str, ...]  # documents left 'writing' or 'removing'

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.orphans or self.unfinished)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "documents": self.documents,
            "chunks": self.chunks,
            "vectors": self.vectors,
            "mismatched": {d: list(counts) for d, counts in self.mismatched.items()},
            "orphans": self.orphans,
            "unfinished": list(self.unfinished),
        }


class Store:
    def __init__(self, settings: Settings, sweep: bool = True):
        """`sweep=False` opens the store as a crash left it (for `check` and tests)."""
        self.settings = settings
        embedded = settings.store.mode == "embedded"
        require_writable(settings.state_dir, *([settings.state_dir / "chroma"] if embedded else []))
        self.registry = Registry(settings.state_dir / "registry.sqlite3")
        self._client = chroma_client(settings.store, settings.state_dir)
        self._collection = self._client.get_or_create_collection(
            name=settings.collection_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.keyword = KeywordIndex(self.registry, settings.state_dir)
        self.embedding = self._embedding_in_use(EmbeddingSpec.of(settings.embed.model_path, settings.embed.max_tokens))
        self._embedding_checked = False
        if sweep:
            self.sweep_unfinished()

    def _stored_embedding(self) -> EmbeddingSpec | None:
        """What made the stored vectors; None while the store holds no document."""
        if not self.registry.counts()["documents"]:
            return None
        recorded = self.registry.meta(EMBEDDING_KEY)
        return EmbeddingSpec.parse(recorded) if recorded else LEGACY_EMBEDDING

    def _embedding_in_use(self, asked: EmbeddingSpec) -> EmbeddingSpec:
        """A store keeps reading with the window it was built with (a changed default never makes
        an older store unreadable); the settings' window applies to a new store."""
        stored = self._stored_embedding()
        return stored if stored is not None and stored.model == asked.model else asked

    def require_same_embedding(self) -> None:
        """Vectors of another model (or, written meanwhile by another process, another window) are
        not comparable with the question's: refuse to mix them."""
        if self._embedding_checked:
            return
        stored = self._stored_embedding()
        if stored is not None and stored != self.embedding:
            raise EmbeddingMismatch(
                f"this store's vectors were made with {stored}, this process embeds with {self.embedding}: set "
                f"QUIRE_EMBED__MODEL_PATH back (and restart), or use another QUIRE_DATA_DIR (or QUIRE_WORKSPACE) "
                f"and ingest the documents again there"
            )
        self._embedding_checked = True

    # --- writing ----------------------------------------------------------------------------
    @contextmanager
    def _writers_lock(self, exclusive: bool) -> Iterator[bool]:
        """Writers share the lock; a sweep needs it alone, so it never removes a live writer's work.

        The kernel drops the lock of a killed process, so a crash never blocks the next sweep."""
        path = self.settings.state_dir / "writers.lock"
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(handle)

    def sweep_unfinished(self) -> list[str]:
        """Remove every trace of documents a crash left half-written or half-removed."""
        with self._writers_lock(exclusive=True) as alone:
            if not alone:
                return []
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
        """Store a document atomically; returns the ids of the older versions it replaced."""
        self.require_same_embedding()
        self.registry.set_meta(EMBEDDING_KEY, str(self.embedding))
        with self._writers_lock(exclusive=False):
            replaces = self._older_versions(doc)
            stored_before = self.registry.status(doc.doc_id) == "ready"
            known = self._vectors_by_text(replaces)
            self.registry.begin(doc, chunks)
            for first in range(0, len(chunks), VECTOR_BATCH):
                batch = chunks[first : first + VECTOR_BATCH]
                texts = [c.text for c in batch]
                todo = [t for t in texts if t not in known]
                fresh = dict(zip(todo, embed(todo), strict=True)) if todo else {}
                self._collection.upsert(
                    ids=[f"{c.doc_id}:{c.index}" for c in batch],
                    embeddings=[known[t] if t in known else fresh[t] for t in texts],
                    metadatas=[{"doc_id": c.doc_id, "idx": c.index} for c in batch],
                )
                if on_batch:
                    on_batch(len(batch))
            self.registry.commit(doc.doc_id, replaces)
            for old in replaces:
                self._delete_vectors(old)
                self.registry.delete(old)
            if replaces or stored_before:  # old words must leave the index on disk; a document
                self.keyword.invalidate()  # new to the store is picked up by the index's delta
        return replaces

    def _older_versions(self, doc: ParsedDocument) -> list[str]:
        """What `doc` replaces: the same file read again, or an earlier upload under the same name
        (an upload's stored path is its content hash, so only its name tells its versions apart).
        Two files that merely share a name (clients/acme/MSA.pdf, clients/blue/MSA.pdf) are both kept."""
        uploads = uploads_dir(self.settings.state_dir).resolve()
        new = Path(doc.path).resolve()

        def same_source(old: Path) -> bool:
            return old == new or (old.parent.parent == uploads and new.parent.parent == uploads)

        return [
            d
            for d, path in self.registry.ready_named(doc.name)
            if d != doc.doc_id and same_source(Path(path).resolve())
        ]

    def _vectors_by_text(self, doc_ids: list[str]) -> dict[str, list[float]]:
        """Vectors of the chunks of older versions, by chunk text: an edited contract re-embeds
        only the clauses that changed."""
        known: dict[str, list[float]] = {}
        for doc_id in doc_ids:
            chunks = {f"{doc_id}:{c.index}": c.text for c in self.registry.chunks(doc_id)}
            if not chunks:
                continue
            got = self._collection.get(ids=list(chunks), include=["embeddings"])
            for vector_id, vector in zip(got["ids"], got["embeddings"], strict=True):
                known[chunks[vector_id]] = [float(x) for x in vector]
        return known

    def _delete_vectors(self, doc_id: str) -> None:
        self._collection.delete(where={"doc_id": doc_id})

    def remove(self, doc_id: str) -> None:
        if self.registry.status(doc_id) is None:
            raise DocumentNotFound(f"no document with id {doc_id}")
        with self._writers_lock(exclusive=False):
            self.registry.hide(doc_id)  # invisible first, then the vectors, then the rows
            self._delete_vectors(doc_id)
            self.registry.delete(doc_id)
            self.keyword.invalidate()

    def check(self) -> StoreCheck:
        """Compare the registry with the vectors, document by document (reads every vector's metadata)."""
        per_doc: Counter[str] = Counter()
        total = self.vector_count()
        for offset in range(0, total, SCAN_BATCH):
            got = self._collection.get(include=["metadatas"], limit=SCAN_BATCH, offset=offset)
            per_doc.update(str(m["doc_id"]) for m in got.get("metadatas") or [])
        expected = self.registry.chunk_counts()
        unfinished = tuple(self.registry.unfinished())
        return StoreCheck(
            documents=len(expected),
            chunks=sum(expected.values()),
            vectors=sum(per_doc.values()),
            mismatched={d: (n, per_doc.get(d, 0)) for d, n in expected.items() if per_doc.get(d, 0) != n},
            orphans={d: n for d, n in per_doc.items() if d not in expected and d not in unfinished},
            unfinished=unfinished,
        )

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
        named = [d for d in documents if d.name == ref]
        if len(named) > 1:
            raise DocumentNotFound(f"{len(named)} documents are named {ref!r}: give its id (`quire docs` lists them)")
        raise DocumentNotFound(f"no document matches {ref!r}: `quire docs` lists them")

    def vector_count(self) -> int:
        return int(self._collection.count())

    def vectors(self, doc_id: str, indexes: Sequence[int]) -> list[list[float]]:
        """The stored vectors of some of a document's chunks, fetched by id (no metadata filter:
        Chroma's `where` costs ~100 ms at 100k vectors, an id lookup a few)."""
        self.require_same_embedding()
        result = self._collection.get(ids=[f"{doc_id}:{i}" for i in indexes], include=["embeddings"])
        by_id = dict(zip(result["ids"], result["embeddings"], strict=True))
        return [list(by_id[f"{doc_id}:{i}"]) for i in indexes]

    def query(self, embedding: list[float], k: int, doc_ids: Sequence[str] | None = None) -> list[VectorHit]:
        """The `k` closest chunks (fewer when the store holds fewer: Chroma 1.x returns what it has,
        so no `count()` first, which alone took ~15 ms a query at 100k vectors)."""
        self.require_same_embedding()
        where: dict[str, Any] | None = None
        if doc_ids:
            where = {"doc_id": doc_ids[0]} if len(doc_ids) == 1 else {"doc_id": {"$in": list(doc_ids)}}
        result = self._collection.query(
            query_embeddings=[embedding], n_results=k, where=where, include=["metadatas", "distances"]
        )
        metadatas = (result.get("metadatas") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        return [
            VectorHit(doc_id=str(m["doc_id"]), index=int(m["idx"]), score=1.0 - float(d))
            for m, d in zip(metadatas, distances, strict=False)
        ]
