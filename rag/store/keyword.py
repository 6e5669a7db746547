"""The keyword side of retrieval: BM25 (bm25s) over every stored chunk, persisted under the data dir.

Contract questions hinge on exact words ("governed by", "Most Favored Nation", "12.3(b)") that a
small embedding model blurs, so BM25 runs beside the vectors. The index is derived state: the
registry holds the truth, the index remembers which registry version it was built from and is
rebuilt from the registry's chunks whenever that version moved on (another process ingested,
a crash was swept). Ingest and `rm` drop it at once, so removed words never linger on disk.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.store.registry import Registry

INDEX_DIR = "keyword"
ROWS_FILE = "rows.json"
TOKEN = re.compile(r"[a-z0-9]+")
# Function words only: legal content words ("not", "any", "shall") are kept on purpose, because
# they carry meaning in clauses ("shall not assign", "any amount").
STOPWORDS = frozenset(
    "a an and are as at be been by for from has have if in into is it its of on or that the their them "
    "then there these they this those to was were what when where which who whom why will with would "
    "does do did can could should this".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    """Snowball English stemmer, so that "governs" meets "governed" (PyStemmer, a C extension)."""
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-case word stems without function words; the same for chunks and questions."""
    words = [w for w in TOKEN.findall(text.lower()) if w not in STOPWORDS]
    return _stemmer().stemWords(words) if words else []


@dataclass(frozen=True)
class KeywordHit:
    doc_id: str
    index: int
    score: float


class KeywordIndex:
    """BM25 over all ready chunks; thread-safe; rebuilt lazily when the registry changed."""

    def __init__(self, registry: Registry, data_dir: Path):
        self.registry = registry
        self.path = data_dir / INDEX_DIR
        self._lock = threading.Lock()
        self._version: str | None = None
        self._bm25 = None
        self._rows: list[tuple[str, int]] = []
        self._doc_rows: dict[str, np.ndarray] = {}

    # --- keeping in step --------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget the index (memory and disk); the next search rebuilds it from the registry."""
        with self._lock:
            self._version, self._bm25, self._rows, self._doc_rows = None, None, [], {}
            shutil.rmtree(self.path, ignore_errors=True)

    def prepare(self) -> None:
        """Load or build the index now, so that the next question does not wait for it (a rebuild
        reads every chunk: about 100 s at 1M chunks, BENCHMARKS.md "Retrieval latency")."""
        with self._lock:
            self._current()

    def _current(self) -> None:
        """Make the in-memory index match the registry: load it from disk, else rebuild it."""
        version = self.registry.version()
        if self._version == version:
            return
        if not self._load(version):
            self._build(version)

    def _load(self, version: str) -> bool:
        import bm25s

        rows_path = self.path / ROWS_FILE
        if not rows_path.is_file():
            return False
        try:
            saved = json.loads(rows_path.read_text(encoding="utf-8"))
            if saved.get("version") != version:
                return False
            bm25 = bm25s.BM25.load(str(self.path), show_progress=False) if saved["rows"] else None
        except (OSError, ValueError, KeyError):
            return False  # unreadable or half-written by a crash: rebuild
        self._install(version, bm25, [(d, int(i)) for d, i in saved["rows"]])
        return True

    def _build(self, version: str) -> None:
        import bm25s

        chunks = self.registry.chunks()
        rows = [(c.doc_id, c.index) for c in chunks]
        bm25 = None
        if chunks:
            bm25 = bm25s.BM25()
            # An empty chunk keeps its row (bm25s needs one token per document), matching nothing.
            bm25.index([tokenize(c.text) or ["\x00"] for c in chunks], show_progress=False)
        self._save(version, bm25, rows)
        self._install(version, bm25, rows)

    def _save(self, version: str, bm25, rows: list[tuple[str, int]]) -> None:
        """Write to a fresh folder and swap it in, so a reader never sees half an index."""
        staging = self.path.with_name(INDEX_DIR + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if bm25 is not None:
            bm25.save(str(staging), show_progress=False)
        (staging / ROWS_FILE).write_text(json.dumps({"version": version, "rows": rows}), encoding="utf-8")
        shutil.rmtree(self.path, ignore_errors=True)
        staging.rename(self.path)

    def _install(self, version: str, bm25, rows: list[tuple[str, int]]) -> None:
        by_doc: dict[str, list[int]] = {}
        for row, (doc_id, _) in enumerate(rows):
            by_doc.setdefault(doc_id, []).append(row)
        self._bm25, self._rows, self._version = bm25, rows, version
        self._doc_rows = {d: np.asarray(r, dtype=np.int64) for d, r in by_doc.items()}

    # --- searching --------------------------------------------------------------------------
    def search(self, query: str, k: int, doc_ids: tuple[str, ...] | list[str] | None = None) -> list[KeywordHit]:
        """The k chunks with the highest BM25 score for `query` (zero scores left out), best first."""
        tokens = tokenize(query)
        with self._lock:
            self._current()
            if self._bm25 is None or not tokens:
                return []
            ids = self._bm25.get_tokens_ids(tokens)  # words no chunk has are left out
            if not ids:
                return []
            scores = self._bm25.get_scores_from_ids(ids)
            rows = self._rows
            candidates = self._candidate_rows(doc_ids, len(scores))
        chosen = candidates[scores[candidates] > 0]
        if len(chosen) > k:
            chosen = chosen[np.argpartition(-scores[chosen], k - 1)[:k]]
        chosen = chosen[np.argsort(-scores[chosen], kind="stable")]
        return [KeywordHit(rows[r][0], rows[r][1], float(scores[r])) for r in chosen]

    def _candidate_rows(self, doc_ids: Sequence[str] | None, total: int) -> np.ndarray:
        if not doc_ids:
            return np.arange(total)
        parts = [self._doc_rows[d] for d in doc_ids if d in self._doc_rows]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
