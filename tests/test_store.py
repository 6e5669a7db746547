"""The store suite, run twice: against embedded Chroma on disk and against a real `chroma run` server
on 127.0.0.1 (server mode). Same checks, same real embedding model."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.chunk import chunk_document
from ingest.extract import split_text_pages
from rag.errors import DocumentNotFound, EmbeddingMismatch, StoreUnavailable
from rag.settings import Settings
from rag.store.embed import Embedder, shared_embedder
from rag.store.store import Store, uploads_dir
from rag.types import Chunk, ParsedDocument
from tests.conftest import CONTRACT_TEXT
from tests.servers import free_port

pytestmark = pytest.mark.slow

LEASE_TEXT = """COMMERCIAL LEASE

1. Premises. The Landlord leases to the Tenant the ground floor warehouse at 12 Harbour Road.

2. Rent. The Tenant shall pay a monthly rent of four thousand dollars on the first day of each month.

3. Repairs. The Landlord keeps the roof and structure in repair; the Tenant keeps the interior clean.
"""


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return shared_embedder()  # the process-wide model the other suites load too


@pytest.fixture(params=["embedded", "server"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Each test its own registry; in server mode its own collection on the shared server."""
    store: dict[str, object] = {"collection": f"quire-{uuid.uuid4().hex[:12]}"}
    if request.param == "server":
        server = request.getfixturevalue("chroma_server")
        store.update(mode="server", host="127.0.0.1", port=server.port)
    return Settings(data_dir=tmp_path / "data", store=store)


def parsed(name: str, text: str) -> tuple[ParsedDocument, list[Chunk]]:
    doc = ParsedDocument(
        doc_id=hashlib.sha256(text.encode()).hexdigest(),
        name=name,
        path=name,
        kind="txt",
        text=text,
        pages=split_text_pages(text),
    )
    return doc, chunk_document(doc, 300)


def add(store: Store, embedder: Embedder, name: str, text: str) -> tuple[ParsedDocument, list[Chunk], list[str]]:
    doc, chunks = parsed(name, text)
    replaced = store.add_document(doc, chunks, embedder.embed)
    return doc, chunks, replaced


def stored_pairs(store: Store, embedder: Embedder) -> set[tuple[str, int]]:
    """Every (document, chunk) that has a vector, read back through a query that returns them all."""
    hits = store.query(embedder.embed_query("anything"), k=max(store.vector_count(), 1))
    return {(h.doc_id, h.index) for h in hits}


def registry_pairs(store: Store) -> set[tuple[str, int]]:
    return {(c.doc_id, c.index) for c in store.registry.chunks()}


def test_add_and_query_finds_the_clause(settings: Settings, embedder: Embedder) -> None:
    store = Store(settings)
    assert store.query(embedder.embed_query("governing law"), k=5) == []  # an empty store answers, not fails
    contract, contract_chunks, _ = add(store, embedder, "msa.txt", CONTRACT_TEXT)
    lease, lease_chunks, _ = add(store, embedder, "lease.txt", LEASE_TEXT)
    assert store.vector_count() == len(contract_chunks) + len(lease_chunks)
    # k beyond the store's size: every vector, no error (the query asks Chroma for no count first)
    assert len(store.query(embedder.embed_query("rent"), k=10 * store.vector_count())) == store.vector_count()

    top = store.query(embedder.embed_query("Which state's law governs the agreement?"), k=3)
    assert top[0].doc_id == contract.doc_id
    assert "New York" in contract_chunks[top[0].index].text
    assert top[0].score > top[-1].score or len(top) == 1

    only_lease = store.query(embedder.embed_query("governing law"), k=5, doc_ids=[lease.doc_id])
    assert only_lease and {h.doc_id for h in only_lease} == {lease.doc_id}


def test_remove_leaves_no_vector_or_row(settings: Settings, embedder: Embedder) -> None:
    store = Store(settings)
    contract, _, _ = add(store, embedder, "msa.txt", CONTRACT_TEXT)
    lease, lease_chunks, _ = add(store, embedder, "lease.txt", LEASE_TEXT)

    store.remove(contract.doc_id)

    assert store.vector_count() == len(lease_chunks)
    assert [d.doc_id for d in store.registry.documents()] == [lease.doc_id]
    assert stored_pairs(store, embedder) == {(lease.doc_id, c.index) for c in lease_chunks}
    with pytest.raises(DocumentNotFound):
        store.remove(contract.doc_id)


def test_changed_file_replaces_its_old_version(settings: Settings, embedder: Embedder) -> None:
    store = Store(settings)
    old, _, _ = add(store, embedder, "msa.txt", CONTRACT_TEXT)
    lease, _, _ = add(store, embedder, "lease.txt", LEASE_TEXT)
    assert store.keyword.search("State of New York", k=1)[0].doc_id == old.doc_id  # the index is on disk
    new_text = CONTRACT_TEXT.replace("State of New York", "State of Delaware")
    new, new_chunks, replaced = add(store, embedder, "msa.txt", new_text)

    # The old version's words leave the keyword index on disk at once, not at the next question.
    assert not (settings.state_dir / "keyword").exists()
    assert [h.doc_id for h in store.keyword.search("York", k=5)] == []
    assert replaced == [old.doc_id]
    store.remove(lease.doc_id)
    assert [d.doc_id for d in store.registry.documents()] == [new.doc_id]
    assert store.vector_count() == len(new_chunks)
    assert {doc_id for doc_id, _ in stored_pairs(store, embedder)} == {new.doc_id}


def add_at(store: Store, embedder: Embedder, path: Path, text: str) -> tuple[ParsedDocument, list[str]]:
    doc, chunks = parsed(path.name, text)
    doc = replace(doc, path=str(path))
    return doc, store.add_document(doc, [replace(c, doc_id=doc.doc_id) for c in chunks], embedder.embed)


def test_two_files_that_only_share_a_name_are_both_kept(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    """A portfolio has clients/acme/MSA.pdf and clients/blue/MSA.pdf: different contracts, both stay."""
    store = Store(settings)
    acme, _ = add_at(store, embedder, tmp_path / "acme" / "msa.txt", CONTRACT_TEXT)
    blue, replaced = add_at(store, embedder, tmp_path / "blue" / "msa.txt", CONTRACT_TEXT.replace("Acme", "Blue"))
    assert replaced == []
    assert {d.doc_id for d in store.registry.documents()} == {acme.doc_id, blue.doc_id}
    with pytest.raises(DocumentNotFound, match="2 documents are named 'msa.txt'"):
        store.resolve("msa.txt")


def test_an_upload_under_the_same_name_replaces_the_earlier_one(settings: Settings, embedder: Embedder) -> None:
    """Uploads are kept under files/<sha256>/<name>: their folders differ, their name says which document."""
    store = Store(settings)
    uploads = uploads_dir(settings.state_dir)
    old, _ = add_at(store, embedder, uploads / "a" / "msa.txt", CONTRACT_TEXT)
    new, replaced = add_at(store, embedder, uploads / "b" / "msa.txt", CONTRACT_TEXT.replace("New York", "Delaware"))
    assert replaced == [old.doc_id]
    assert [d.doc_id for d in store.registry.documents()] == [new.doc_id]


def test_re_adding_the_same_document_adds_nothing(settings: Settings, embedder: Embedder) -> None:
    store = Store(settings)
    _, chunks, _ = add(store, embedder, "msa.txt", CONTRACT_TEXT)
    _, _, replaced = add(store, embedder, "msa.txt", CONTRACT_TEXT)
    assert replaced == []
    assert store.vector_count() == len(chunks)


def test_resolve_by_id_prefix_name_and_stem(settings: Settings, embedder: Embedder) -> None:
    store = Store(settings)
    contract, _, _ = add(store, embedder, "msa.txt", CONTRACT_TEXT)
    add(store, embedder, "lease.txt", LEASE_TEXT)
    for ref in (contract.doc_id, contract.doc_id[:10], "msa.txt", "MSA.TXT", "msa"):
        assert store.resolve(ref).doc_id == contract.doc_id
    with pytest.raises(DocumentNotFound, match="quire docs"):
        store.resolve("no-such-contract.pdf")


def test_reopened_store_is_consistent_and_sweeps_half_written(settings: Settings, embedder: Embedder) -> None:
    store = Store(settings)
    add(store, embedder, "msa.txt", CONTRACT_TEXT)
    # A crash between "vectors written" and "registry ready": the lease is left 'writing'.
    lease, lease_chunks = parsed("lease.txt", LEASE_TEXT)
    store.registry.begin(lease, lease_chunks)
    store._collection.add(
        ids=[f"{c.doc_id}:{c.index}" for c in lease_chunks],
        embeddings=embedder.embed([c.text for c in lease_chunks]),
        metadatas=[{"doc_id": c.doc_id, "idx": c.index} for c in lease_chunks],
    )

    reopened = Store(settings)

    assert [d.name for d in reopened.registry.documents()] == ["msa.txt"]
    assert reopened.registry.status(lease.doc_id) is None
    assert stored_pairs(reopened, embedder) == registry_pairs(reopened)
    assert reopened.vector_count() == len(registry_pairs(reopened))


def test_server_mode_without_a_server_says_how_to_start_one(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", store={"mode": "server", "host": "127.0.0.1", "port": port})
    with pytest.raises(StoreUnavailable, match=f"chroma run --host 127.0.0.1 --port {port}"):
        Store(settings)


def with_embed(settings: Settings, **embed: object) -> Settings:
    return settings.model_copy(update={"embed": settings.embed.model_copy(update=embed)})


def test_a_store_keeps_the_window_it_was_built_with(settings: Settings, embedder: Embedder) -> None:
    """A store built reading 256 tokens keeps reading 256 when the setting (or its default) says 128:
    its vectors stay comparable with the questions', nothing has to be ingested again."""
    add(Store(with_embed(settings, max_tokens=256)), embedder, "msa.txt", CONTRACT_TEXT)
    reopened = Store(with_embed(settings, max_tokens=128))
    assert str(reopened.embedding) == "all-MiniLM-L6-v2@256"
    add(reopened, embedder, "lease.txt", LEASE_TEXT)
    assert reopened.registry.meta("embedding") == "all-MiniLM-L6-v2@256"


def test_a_store_refuses_vectors_of_another_model(settings: Settings, embedder: Embedder, tmp_path: Path) -> None:
    add(Store(settings), embedder, "msa.txt", CONTRACT_TEXT)
    other = Store(with_embed(settings, model_path=tmp_path / "other-model"))
    with pytest.raises(EmbeddingMismatch, match="QUIRE_EMBED__MODEL_PATH"):
        add(other, embedder, "lease.txt", LEASE_TEXT)
    with pytest.raises(EmbeddingMismatch):
        other.query(embedder.embed_query("rent"), k=3)
    assert other.registry.counts()["documents"] == 1  # nothing half-written by the refusal


def test_a_store_from_before_the_record_reads_256_tokens(settings: Settings, embedder: Embedder) -> None:
    store = Store(settings)
    add(store, embedder, "msa.txt", CONTRACT_TEXT)
    store.registry.set_meta("embedding", "")  # as a store written before the spec was recorded
    assert str(Store(settings).embedding) == "all-MiniLM-L6-v2@256"


def test_an_emptied_store_takes_the_settings_window(settings: Settings, embedder: Embedder) -> None:
    doc, _, _ = add(Store(with_embed(settings, max_tokens=256)), embedder, "msa.txt", CONTRACT_TEXT)
    Store(settings).remove(doc.doc_id)
    add(Store(with_embed(settings, max_tokens=64)), embedder, "lease.txt", LEASE_TEXT)
    assert Store(settings).registry.meta("embedding") == "all-MiniLM-L6-v2@64"
