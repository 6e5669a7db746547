"""The keyword side of retrieval: BM25 (bm25s) over every stored chunk, persisted under the data dir.

Contract questions hinge on exact words ("governed by", "Most Favored Nation", "12.3(b)") that a
small embedding model blurs, so BM25 runs beside the vectors. The index is derived state: the
registry holds the truth, the index remembers which registry version it was built from and
follows the registry when it moves on (another process ingested, a crash was swept): documents
stored since are searched in a small delta, and the index is rebuilt from the registry's chunks
when the delta has grown large or a built document went away. `rm` and a replaced version drop
the index at once, so removed words never linger on disk.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from rag.store.keyword_delta import BuiltStats, DeltaSegment, bm25s_document_frequency, outgrown, segment_scores
from rag.store.registry import Registry

INDEX_DIR = "keyword"
ROWS_FILE = "rows.json"
META_FILE = "meta.json"
# New documents stay in the delta until they hold more than DELTA_SHARE of the built chunks (or
# this many, for a small store); then the next search rebuilds the whole index.
DELTA_MIN_CHUNKS = 2_000
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


def rows_by_document(rows: list[tuple[str, int]], first: int = 0) -> dict[str, np.ndarray]:
    """The row numbers (counted from `first`) of each document's chunks."""
    by_doc: dict[str, list[int]] = {}
    for row, (doc_id, _) in enumerate(rows, start=first):
        by_doc.setdefault(doc_id, []).append(row)
    return {d: np.asarray(r, dtype=np.int64) for d, r in by_doc.items()}


@dataclass(frozen=True)
class BuiltIndex:
    """A bm25s index as built from the registry at `version`: its rows are (doc_id, chunk index)."""

    version: str
    bm25: object | None  # None when it was built over no chunk
    rows: list[tuple[str, int]]
    mean_tokens: float

    @cached_property
    def chunks_per_document(self) -> Counter[str]:
        return Counter(doc_id for doc_id, _ in self.rows)

    @cached_property
    def document_rows(self) -> dict[str, np.ndarray]:
        """Each document's rows, for a search scoped to a few documents."""
        return rows_by_document(self.rows)

    def stats(self) -> BuiltStats:
        frequency = bm25s_document_frequency(self.bm25) if self.bm25 is not None else (lambda word: 0)
        return BuiltStats(len(self.rows), self.mean_tokens, frequency)


class KeywordIndex:
    """BM25 over all ready chunks; thread-safe; kept in step with the registry lazily.

    Documents stored since the index was built are searched in a delta (`keyword_delta`) instead
    of a rebuild; once they outgrow a share of it, or a built document went away, it is rebuilt."""

    def __init__(self, registry: Registry, data_dir: Path):
        self.registry = registry
        self.path = data_dir / INDEX_DIR
        self._lock = threading.Lock()
        self._version: str | None = None
        self._built: BuiltIndex | None = None
        self._delta: DeltaSegment | None = None
        self._delta_chunks: dict[str, tuple[list[int], list[list[str]]]] = {}
        self._rows: list[tuple[str, int]] = []
        self._doc_rows: dict[str, np.ndarray] = {}

    # --- keeping in step --------------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget the index (memory and disk); the next search rebuilds it from the registry."""
        with self._lock:
            self._version, self._built, self._delta, self._delta_chunks = None, None, None, {}
            self._rows, self._doc_rows = [], {}
            shutil.rmtree(self.path, ignore_errors=True)

    def prepare(self) -> None:
        """Bring the index up to date now, so that the next question does not wait for it (a
        rebuild reads every chunk: 75-100 s at 1M chunks, BENCHMARKS.md "Retrieval latency")."""
        with self._lock:
            self._current()

    def _current(self) -> None:
        """Make the in-memory index match the registry: the built index (from memory or disk) plus
        a delta of the documents stored since, else a rebuild."""
        version = self.registry.version()
        if self._version == version:
            return
        ready = self.registry.ready_chunk_totals()
        built = self._usable_built(ready)
        new = {d: n for d, n in ready.items() if built is not None and d not in built.chunks_per_document}
        if built is None or outgrown(len(built.rows), sum(new.values()), DELTA_MIN_CHUNKS):
            built, new = self._build(version), {}
        self._install(version, built, sorted(new))

    def _usable_built(self, ready: dict[str, int]) -> BuiltIndex | None:
        """The newest built index whose documents are all still ready with the same chunks."""
        built = self._built
        saved = self._saved_meta()
        if saved is not None and (built is None or built.version != saved["version"]):
            built = self._load(saved) or built
        if built is None:
            return None
        return built if all(ready.get(d) == n for d, n in built.chunks_per_document.items()) else None

    def _saved_meta(self) -> dict | None:
        """The saved index's version and mean length (a small file, read at every registry change)."""
        try:
            meta = json.loads((self.path / META_FILE).read_text(encoding="utf-8"))
            return {"version": str(meta["version"]), "mean_tokens": float(meta["mean_tokens"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _load(self, meta: dict) -> BuiltIndex | None:
        """The saved index that `meta` describes; None when the folder no longer holds it."""
        import bm25s

        try:
            saved = json.loads((self.path / ROWS_FILE).read_text(encoding="utf-8"))
            if saved.get("version") != meta["version"]:
                return None  # swapped in by another process while reading: rebuild
            bm25 = bm25s.BM25.load(str(self.path), show_progress=False) if saved["rows"] else None
        except (OSError, ValueError, KeyError):
            return None  # unreadable or half-written by a crash: rebuild
        return BuiltIndex(meta["version"], bm25, [(d, int(i)) for d, i in saved["rows"]], meta["mean_tokens"])

    def _build(self, version: str) -> BuiltIndex:
        """BM25 over every ready chunk, read one document at a time and held as word ids: a
        million chunks' texts and word strings at once took gigabytes."""
        import bm25s

        vocabulary: dict[str, int] = {}
        token_ids: list[list[int]] = []
        rows: list[tuple[str, int]] = []
        for chunks in self.registry.chunks_by_document():
            for chunk in chunks:
                # An empty chunk keeps its row (bm25s needs one token per document), matching nothing.
                words = tokenize(chunk.text) or ["\x00"]
                token_ids.append([vocabulary.setdefault(w, len(vocabulary)) for w in words])
                rows.append((chunk.doc_id, chunk.index))
        bm25 = None
        if rows:
            bm25 = bm25s.BM25()
            bm25.index((token_ids, vocabulary), show_progress=False)
        mean_tokens = float(np.mean([len(t) for t in token_ids])) if token_ids else 0.0
        built = BuiltIndex(version, bm25, rows, mean_tokens)
        self._save(built)
        return built

    def _save(self, built: BuiltIndex) -> None:
        """Write to a fresh folder and swap it in, so a reader never sees half an index."""
        staging = self.path.with_name(INDEX_DIR + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if built.bm25 is not None:
            built.bm25.save(str(staging), show_progress=False)
        (staging / ROWS_FILE).write_text(json.dumps({"version": built.version, "rows": built.rows}), encoding="utf-8")
        meta = {"version": built.version, "mean_tokens": built.mean_tokens}
        (staging / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
        shutil.rmtree(self.path, ignore_errors=True)
        staging.rename(self.path)

    def _install(self, version: str, built: BuiltIndex, delta_doc_ids: list[str]) -> None:
        """Hold `built` plus a delta over `delta_doc_ids`, whose chunks are tokenized once per process."""
        self._delta_chunks = {d: self._delta_chunks.get(d) or self._tokenized(d) for d in delta_doc_ids}
        delta_rows = [(d, i) for d in delta_doc_ids for i in self._delta_chunks[d][0]]
        token_lists = [t for d in delta_doc_ids for t in self._delta_chunks[d][1]]
        self._delta = DeltaSegment(token_lists, built.stats()) if token_lists else None
        self._rows = built.rows + delta_rows
        self._doc_rows = built.document_rows | rows_by_document(delta_rows, first=len(built.rows))
        self._built, self._version = built, version

    def _tokenized(self, doc_id: str) -> tuple[list[int], list[list[str]]]:
        chunks = self.registry.chunks(doc_id)
        return [c.index for c in chunks], [tokenize(c.text) for c in chunks]

    # --- searching --------------------------------------------------------------------------
    def search(self, query: str, k: int, doc_ids: tuple[str, ...] | list[str] | None = None) -> list[KeywordHit]:
        """The k chunks with the highest BM25 score for `query` (zero scores left out), best first."""
        tokens = tokenize(query)
        with self._lock:
            self._current()
            if not self._rows or not tokens:
                return []
            built = self._built
            assert built is not None  # installed with the rows
            scores = segment_scores(built.bm25, len(built.rows), self._delta, tokens)
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
