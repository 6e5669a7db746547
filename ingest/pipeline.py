"""Run the ingestion steps for many files: each file succeeds or fails alone, never half-stored.

A file whose content (sha256) is already stored is reported `unchanged` and costs nothing.
Files are parsed and chunked in a thread a little ahead of the embedder, so that the CPU time
of parsing hides behind the (dominant) embedding time.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chromadb.errors import InternalError

from ingest.chunk import chunk_document
from ingest.discover import describe, iter_files, sha256_file
from ingest.names import display_name
from ingest.parse import parse_file
from rag.errors import IngestError
from rag.settings import IngestSettings
from rag.store.store import Store
from rag.types import Chunk, ParsedDocument

Status = Literal["ingested", "unchanged", "failed"]


@dataclass(frozen=True)
class IngestResult:
    path: str
    name: str
    doc_id: str
    status: Status
    pages: int = 0
    chunks: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("path", "name", "doc_id", "status", "pages", "chunks", "error")}


@dataclass(frozen=True)
class IngestReport:
    documents: tuple[IngestResult, ...]
    seconds: float

    @property
    def failed(self) -> list[IngestResult]:
        return [d for d in self.documents if d.status == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {"documents": [d.to_json() for d in self.documents], "seconds": round(self.seconds, 3)}


@dataclass
class IngestProgress:
    """Callbacks for progress bars (CLI) and status lines (UI); all optional.

    on_start(files) once; per file: on_file(name), on_parsed(name, pages, chunks) once it is read,
    on_chunks(done, total) as its chunks are embedded, on_result(result) at the end."""

    on_start: Callable[[int], None] = lambda total: None
    on_file: Callable[[str], None] = lambda name: None
    on_parsed: Callable[[str, int, int], None] = lambda name, pages, chunks: None
    on_chunks: Callable[[int, int], None] = lambda done, total: None
    on_result: Callable[[IngestResult], None] = lambda result: None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """A file read and chunked, waiting for its embeddings."""

    path: Path
    doc: ParsedDocument
    chunks: list[Chunk]


Embed = Callable[[Sequence[str]], list[list[float]]]
READ_AHEAD = 2  # files parsed ahead of the embedder: enough to overlap, little memory
LOW_SPACE_BYTES = 1 << 20
DISK_FULL = "the disk holding Quire's data is full; free some space (or move QUIRE_DATA_DIR) and run the ingest again"


def _failed(path: Path, error: str) -> IngestResult:
    return IngestResult(str(path), display_name(path.name), "", "failed", error=error)


def _unchanged(path: Path, store: Store, doc_id: str) -> IngestResult | None:
    if store.registry.status(doc_id) != "ready":
        return None
    info = store.registry.info(doc_id)
    pages, chunks = (info.pages, info.chunks) if info else (0, 0)
    return IngestResult(str(path), display_name(path.name), doc_id, "unchanged", pages, chunks)


def prepare_file(
    path: Path, store: Store, settings: IngestSettings, password: str | None = None
) -> Prepared | IngestResult:
    """Read and chunk one file, or say why not (failed) or why not needed (unchanged)."""
    try:
        if not path.exists():
            return _failed(path, "no such file")
        source = describe(path)
        if source.size > settings.max_bytes:
            return _failed(
                path,
                f"the file is {source.size:,} bytes, more than the limit of "
                f"{settings.max_bytes:,} (QUIRE_INGEST__MAX_BYTES)",
            )
        known = _unchanged(path, store, sha256_file(path))
        if known:
            return known
        doc = parse_file(source, settings, password)
        return Prepared(path, doc, chunk_document(doc, settings.chunk_chars))
    except IngestError as error:
        return _failed(path, str(error))
    except OSError as error:
        return _failed(path, f"the file could not be read: {error.strerror or error}")
    except Exception as error:  # noqa: BLE001 - one file's surprise must not stop the batch
        return _failed(path, f"the file could not be read ({type(error).__name__}: {error})")


def store_prepared(item: Prepared, store: Store, embed: Embed, progress: IngestProgress) -> IngestResult:
    """Embed and store a prepared file; a copy stored meanwhile (same content) makes it `unchanged`."""
    known = _unchanged(item.path, store, item.doc.doc_id)
    if known:
        return known
    done = 0

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        progress.on_chunks(done, len(item.chunks))

    try:
        store.add_document(item.doc, item.chunks, embed, on_batch=on_batch)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        return _failed(item.path, DISK_FULL)
    except (sqlite3.OperationalError, InternalError) as error:
        # Chroma reports a full disk only as a failed compaction; the free space tells the two apart.
        if "full" not in str(error) and shutil.disk_usage(store.settings.state_dir).free > LOW_SPACE_BYTES:
            raise
        return _failed(item.path, DISK_FULL)
    return IngestResult(
        str(item.path), display_name(item.path.name), item.doc.doc_id, "ingested", len(item.doc.pages), len(item.chunks)
    )


def _read_ahead(
    files: list[Path], prepare: Callable[[Path], Prepared | IngestResult]
) -> Iterator[Prepared | IngestResult]:
    """Prepare files in a thread, a few ahead, so parsing overlaps with embedding."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quire-parse") as pool:
        pending: deque[Future[Prepared | IngestResult]] = deque()
        for path in files:
            pending.append(pool.submit(prepare, path))
            if len(pending) > READ_AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def ingest_paths(
    paths: Iterable[Path],
    store: Store,
    embed: Embed,
    settings: IngestSettings,
    password: str | None = None,
    progress: IngestProgress | None = None,
) -> IngestReport:
    progress = progress or IngestProgress()
    began = time.perf_counter()
    files = list(iter_files(paths))
    progress.on_start(len(files))
    results: list[IngestResult] = []
    prepared = _read_ahead(files, lambda path: prepare_file(path, store, settings, password))
    for path, item in zip(files, prepared, strict=True):
        progress.on_file(display_name(path.name))
        if isinstance(item, Prepared):
            progress.on_parsed(display_name(path.name), len(item.doc.pages), len(item.chunks))
            result = store_prepared(item, store, embed, progress)
        else:
            result = item
        results.append(result)
        progress.on_result(result)
    return IngestReport(tuple(results), time.perf_counter() - began)
