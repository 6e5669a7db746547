"""A store holding just the documents an evaluation scores, through the same ingest a user's documents go.

Both evaluations (retrieval and clauses) index their labelled `.txt` files here, so their figures are
the figures of the real pipeline, and a `--data-dir` lets a second run skip the embedding.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rag.errors import QuireError
from rag.service import Quire
from rag.settings import Settings


@dataclass(frozen=True)
class IndexedCorpus:
    service: Quire
    doc_ids: dict[Path, str]  # resolved source path -> doc id

    def doc_id(self, path: Path) -> str:
        return self.doc_ids[path.resolve()]


@contextmanager
def indexed_corpus(files: Sequence[Path], settings: Settings, data_dir: Path | None = None) -> Iterator[IndexedCorpus]:
    """A service whose store holds `files` (a temporary store unless `data_dir` is given)."""
    with tempfile.TemporaryDirectory(prefix="quire-eval-") as scratch:
        service = Quire(settings.with_data_dir(data_dir or Path(scratch)))
        report = service.ingest(list(files))
        failed = [d for d in report.documents if d.status == "failed"]
        if failed:
            raise QuireError(f"{len(failed)} file(s) could not be ingested, first {failed[0].path}: {failed[0].error}")
        yield IndexedCorpus(service, {Path(d.path).resolve(): d.doc_id for d in report.documents})
