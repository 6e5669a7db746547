"""Run the ingestion steps for many files: each file succeeds or fails alone, never half-stored.

A file whose content (sha256) is already stored is reported `unchanged` and costs nothing.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
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
from rag.store import Store

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
    """Callbacks for progress bars (CLI) and status lines (UI); all optional."""

    on_start: Callable[[int], None] = lambda total: None
    on_file: Callable[[str], None] = lambda name: None
    on_chunks: Callable[[int, int], None] = lambda done, total: None
    on_result: Callable[[IngestResult], None] = lambda result: None
    extra: dict[str, Any] = field(default_factory=dict)


LOW_SPACE_BYTES = 1 << 20
DISK_FULL = "the disk holding Quire's data is full; free some space (or move QUIRE_DATA_DIR) and run the ingest again"


def ingest_file(
    path: Path,
    store: Store,
    embed: Callable[[Sequence[str]], list[list[float]]],
    settings: IngestSettings,
    password: str | None = None,
    progress: IngestProgress | None = None,
) -> IngestResult:
    progress = progress or IngestProgress()
    name = display_name(path.name)
    try:
        source = describe(path)
        if source.size > settings.max_bytes:
            raise IngestError(
                f"the file is {source.size:,} bytes, more than the limit of {settings.max_bytes:,} (QUIRE_INGEST__MAX_BYTES)"
            )
        doc_id = sha256_file(path)
        if store.registry.status(doc_id) == "ready":
            info = store.registry.info(doc_id)
            return IngestResult(
                str(path), name, doc_id, "unchanged", info.pages if info else 0, info.chunks if info else 0
            )
        doc = parse_file(source, max_pages=settings.max_pages, password=password)
        chunks = chunk_document(doc, settings.chunk_chars)
        done = 0

        def on_batch(count: int) -> None:
            nonlocal done
            done += count
            progress.on_chunks(done, len(chunks))

        store.add_document(doc, chunks, embed, on_batch=on_batch)
        return IngestResult(str(path), name, doc_id, "ingested", len(doc.pages), len(chunks))
    except IngestError as error:
        return IngestResult(str(path), name, "", "failed", error=str(error))
    except OSError as error:
        if error.errno == errno.ENOSPC:
            return IngestResult(str(path), name, "", "failed", error=DISK_FULL)
        return IngestResult(
            str(path), name, "", "failed", error=f"the file could not be read: {error.strerror or error}"
        )
    except (sqlite3.OperationalError, InternalError) as error:
        # Chroma reports a full disk only as a failed compaction; the free space tells the two apart.
        if "full" not in str(error) and shutil.disk_usage(store.settings.state_dir).free > LOW_SPACE_BYTES:
            raise
        return IngestResult(str(path), name, "", "failed", error=DISK_FULL)


def ingest_paths(
    paths: Iterable[Path],
    store: Store,
    embed: Callable[[Sequence[str]], list[list[float]]],
    settings: IngestSettings,
    password: str | None = None,
    progress: IngestProgress | None = None,
) -> IngestReport:
    progress = progress or IngestProgress()
    began = time.perf_counter()
    files = list(iter_files(paths))
    progress.on_start(len(files))
    results: list[IngestResult] = []
    for path in files:
        progress.on_file(display_name(path.name))
        if not path.exists():
            result = IngestResult(str(path), display_name(path.name), "", "failed", error="no such file")
        else:
            result = ingest_file(path, store, embed, settings, password, progress)
        results.append(result)
        progress.on_result(result)
    return IngestReport(tuple(results), time.perf_counter() - began)
