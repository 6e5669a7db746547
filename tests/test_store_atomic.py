"""Idempotent and atomic ingestion: unchanged files cost nothing, a changed file replaces its old
version in one step, `rm` leaves nothing behind, and a crash leaves no half-visible document.

Most tests embed with a deterministic hash (a fake that only speeds them up: the store and the
pipeline are real, with real Chroma); the SIGKILL test runs the real CLI with the real model."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest.pipeline import IngestProgress, ingest_paths
from rag.settings import Settings
from rag.store.store import Store, StoreCheck
from tests.conftest import CONTRACT_TEXT, REPO_ROOT, run_cli


def hash_embed(texts: Sequence[str]) -> list[list[float]]:
    """A deterministic 16-dimensional vector per text."""
    return [[b / 255 + 0.01 for b in hashlib.sha256(t.encode()).digest()[:16]] for t in texts]


def clause_doc(number: int, clauses: int = 8) -> str:
    body = "\n\n".join(
        f"{number}.{i} The Supplier shall deliver lot {number}-{i} within {i + 3} days of the order, "
        f"and the Customer shall pay invoice {number * 100 + i} within thirty days. " * 3
        for i in range(1, clauses + 1)
    )
    return f"AGREEMENT {number}\n\nARTICLE {number}. DELIVERY\n\n{body}\n"


def write_docs(folder: Path, count: int, clauses: int = 8) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, count + 1):
        path = folder / f"contract_{number:02d}.txt"
        path.write_text(clause_doc(number, clauses), encoding="utf-8")
        paths.append(path)
    return paths


def counts(store: Store) -> dict[str, int]:
    return {**store.registry.counts(), "vectors": store.vector_count()}


def test_reingest_is_unchanged_and_adds_nothing(settings: Settings, contract_txt: Path) -> None:
    store = Store(settings)
    first = ingest_paths([contract_txt], store, hash_embed, settings.ingest)
    before = counts(store)
    second = ingest_paths([contract_txt, contract_txt], store, hash_embed, settings.ingest)
    assert [d.status for d in first.documents] == ["ingested"]
    assert [d.status for d in second.documents] == ["unchanged", "unchanged"]
    assert second.documents[0].chunks == first.documents[0].chunks > 0
    assert counts(store) == before
    assert store.check().ok


def test_changed_file_replaces_old_version_in_one_step(settings: Settings, contract_txt: Path) -> None:
    store = Store(settings)
    old = ingest_paths([contract_txt], store, hash_embed, settings.ingest).documents[0]
    contract_txt.write_text(CONTRACT_TEXT.replace("New York", "Delaware") + "\nARTICLE 5. NOTICES\n\n5.1 In writing.\n")
    new = ingest_paths([contract_txt], store, hash_embed, settings.ingest).documents[0]
    assert new.status == "ingested" and new.doc_id != old.doc_id
    assert [d.doc_id for d in store.registry.documents()] == [new.doc_id]
    assert counts(store) == {"documents": 1, "chunks": new.chunks, "vectors": new.chunks}
    assert "Delaware" in store.registry.text(new.doc_id)
    assert store.check().ok


def test_changed_file_embeds_only_changed_chunks(settings: Settings, tmp_path: Path) -> None:
    store = Store(settings)
    path = write_docs(tmp_path / "docs", 1, clauses=12)[0]
    ingest_paths([path], store, hash_embed, settings.ingest)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("lot 1-12 ", "lot 1-twelve "), encoding="utf-8")
    embedded: list[str] = []

    def counting_embed(texts: Sequence[str]) -> list[list[float]]:
        embedded.extend(texts)
        return hash_embed(texts)

    new = ingest_paths([path], store, counting_embed, settings.ingest).documents[0]
    assert new.status == "ingested" and 0 < len(embedded) < new.chunks
    assert all("twelve" in t for t in embedded)
    assert store.check().ok


def test_failed_new_version_keeps_the_old_one_visible(settings: Settings, contract_txt: Path) -> None:
    store = Store(settings)
    old = ingest_paths([contract_txt], store, hash_embed, settings.ingest).documents[0]
    contract_txt.write_text(CONTRACT_TEXT + "\nARTICLE 9. EXTRA\n\n9.1 More words.\n")

    def broken_embed(texts: Sequence[str]) -> list[list[float]]:
        raise KeyboardInterrupt  # the process dies half-way through the new version

    with pytest.raises(KeyboardInterrupt):
        ingest_paths([contract_txt], store, broken_embed, settings.ingest)
    assert [d.doc_id for d in store.registry.documents()] == [old.doc_id]
    assert not store.check().ok  # the half-written version is still on disk, invisible
    reopened = Store(settings)
    assert reopened.check().ok and counts(reopened)["vectors"] == old.chunks
    done = ingest_paths([contract_txt], reopened, hash_embed, settings.ingest).documents[0]
    assert done.status == "ingested"
    assert [d.doc_id for d in reopened.registry.documents()] == [done.doc_id]


def test_rm_removes_every_vector_and_row(settings: Settings, tmp_path: Path) -> None:
    store = Store(settings)
    paths = write_docs(tmp_path / "docs", 3, clauses=3)
    ingest_paths(paths[:2], store, hash_embed, settings.ingest)
    before = counts(store)
    added = ingest_paths(paths[2:], store, hash_embed, settings.ingest).documents[0]
    assert counts(store)["vectors"] == before["vectors"] + added.chunks
    store.remove(added.doc_id)
    assert counts(store) == before
    with sqlite3.connect(settings.data_dir / "registry.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id = ?", (added.doc_id,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM documents WHERE doc_id = ?", (added.doc_id,)).fetchone()[0] == 0
    assert store.check().ok


def test_check_reports_orphans_and_mismatches(settings: Settings, contract_txt: Path) -> None:
    store = Store(settings)
    doc = ingest_paths([contract_txt], store, hash_embed, settings.ingest).documents[0]
    store._collection.delete(ids=[f"{doc.doc_id}:0"])
    store._collection.add(ids=["ghost:0"], embeddings=hash_embed(["x"]), metadatas=[{"doc_id": "ghost", "idx": 0}])
    report = store.check()
    assert not report.ok
    assert report.mismatched == {doc.doc_id: (doc.chunks, doc.chunks - 1)}
    assert report.orphans == {"ghost": 1}
    assert json.loads(json.dumps(report.to_json()))["ok"] is False


def test_progress_callbacks_count_files_pages_and_chunks(settings: Settings, tmp_path: Path) -> None:
    store = Store(settings)
    paths = write_docs(tmp_path / "docs", 3, clauses=3)
    seen: dict[str, list] = {"start": [], "parsed": [], "chunks": [], "result": []}
    progress = IngestProgress(
        on_start=seen["start"].append,
        on_parsed=lambda name, pages, chunks: seen["parsed"].append((name, pages, chunks)),
        on_chunks=lambda done, total: seen["chunks"].append((done, total)),
        on_result=seen["result"].append,
    )
    report = ingest_paths(
        [tmp_path / "docs", tmp_path / "missing.txt"], store, hash_embed, settings.ingest, progress=progress
    )
    assert seen["start"] == [4]
    assert [p[0] for p in seen["parsed"]] == [p.name for p in paths]
    assert seen["chunks"][-1][0] == seen["chunks"][-1][1] == report.documents[2].chunks
    assert [r.status for r in seen["result"]] == ["ingested"] * 3 + ["failed"]


# --- SIGKILL at random points ------------------------------------------------------------------


def _inspect(settings: Settings) -> StoreCheck:
    """The store exactly as the killed process left it (no sweep), read afresh from disk; then swept."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # forget what this process cached of the store
    crashed = Store(settings, sweep=False)
    report = crashed.check()
    for doc in crashed.registry.documents():
        assert doc.chunks == len(crashed.registry.chunks(doc.doc_id)) > 0
    crashed.sweep_unfinished()
    return report


def _rows(registry: Path) -> int:
    if not registry.exists():
        return 0
    try:
        with sqlite3.connect(registry, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_no_half_document(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_docs(folder, 40, clauses=12)  # enough work that every kill lands mid-ingest, even on a fast machine
    data_dir = tmp_path / "data"
    registry = data_dir / "registry.sqlite3"
    env = {**os.environ, "QUIRE_INGEST__CHUNK_CHARS": "300", "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:9"}
    command = [sys.executable, "-m", "rag", "--data-dir", str(data_dir), "ingest", str(folder), "--json"]
    rng = random.Random(20261122)
    settings = Settings(data_dir=data_dir)
    kills = attempts = 0
    while kills < 10 and attempts < 25:
        attempts += 1
        baseline = _rows(registry)  # all 'ready': the previous inspection swept the leftovers
        child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while child.poll() is None and _rows(registry) <= baseline and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))  # somewhere inside the writing of this or a next document
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait()
        report = _inspect(settings)
        assert not report.mismatched and not report.orphans, report  # ready docs whole, no stray vectors
    assert kills >= 10
    finished = run_cli("ingest", str(folder), "--json", data_dir=data_dir, env=env)
    assert finished.returncode == 0, finished.stderr
    assert {d["status"] for d in json.loads(finished.stdout)["documents"]} <= {"ingested", "unchanged"}
    doctor = run_cli("doctor", "--check", "--json", data_dir=data_dir, env=env)
    check = json.loads(doctor.stdout)["check"]
    assert doctor.returncode == 0 and check["ok"] and check["documents"] == 40
    assert check["vectors"] == check["chunks"]
