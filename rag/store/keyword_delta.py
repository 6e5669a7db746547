"""BM25 for the chunks stored since the keyword index was built, on the same scale as the index.

bm25s cannot add documents to a built index, and a rebuild reads every chunk (75-100 s at 1M
chunks, BENCHMARKS.md "Retrieval latency"), so one contract uploaded into a large store would make
the next question wait that long. Instead the new chunks form a small delta, scored here with the
built index's statistics folded in (its number of chunks, their mean length, each word's
document count): one ranking can then hold both, a word that only the new contract has (its
party's name) still counts, and a common word weighs what it weighs in the whole store. A new
chunk scores exactly as it would after a full rebuild; the built chunks keep the scores of their
build, which a small delta barely moves (the index is rebuilt once the delta outgrows a share of it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

# bm25s's defaults (method "lucene"), which the built index uses: the delta must score alike.
K1 = 1.5
B = 0.75
# A delta larger than this share of the built index (or than a floor, for a small one) is folded
# into a rebuild: its rows are made again by every new process, and the built rows' statistics drift.
DELTA_SHARE = 0.05


@dataclass(frozen=True)
class BuiltStats:
    """What the delta needs of the built index to score on its scale."""

    chunks: int
    mean_tokens: float
    document_frequency: Callable[[str], int]


def bm25s_document_frequency(bm25) -> Callable[[str], int]:
    """How many chunks of a bm25s index hold a word: the stored scores of its column (every
    chunk that holds the word scores above zero)."""
    indptr, vocabulary = bm25.scores["indptr"], bm25.vocab_dict

    def frequency(word: str) -> int:
        column = vocabulary.get(word)
        return 0 if column is None else int(indptr[column + 1] - indptr[column])

    return frequency


class DeltaSegment:
    """BM25 scores of a few chunks' word stems, as one index over built + these chunks gives them."""

    def __init__(self, token_lists: list[list[str]], built: BuiltStats):
        self.size = len(token_lists)
        self._vocabulary: dict[str, int] = {}
        rows, columns, counts = [], [], []
        for row, tokens in enumerate(token_lists):
            for word, count in Counter(tokens).items():
                rows.append(row)
                columns.append(self._vocabulary.setdefault(word, len(self._vocabulary)))
                counts.append(count)
        lengths = np.array([len(t) for t in token_lists], dtype=np.float64)
        total = built.chunks + self.size
        mean_tokens = (built.chunks * built.mean_tokens + lengths.sum()) / max(total, 1)
        term = np.asarray(counts, dtype=np.float64)
        saturation = term / (K1 * (1 - B + B * lengths[rows] / max(mean_tokens, 1e-9)) + term)
        self._matrix = sparse.csc_matrix(
            (saturation.astype(np.float32), (rows, columns)), shape=(self.size, len(self._vocabulary))
        )
        frequency = np.diff(self._matrix.indptr) + np.array(
            [built.document_frequency(w) for w in self._vocabulary], dtype=np.int64
        )
        self._idf = np.log(1 + (total - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """One score per delta chunk; a repeated query word counts again, as in bm25s."""
        columns = [self._vocabulary[t] for t in tokens if t in self._vocabulary]
        if not columns:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._matrix[:, columns] @ self._idf[columns], dtype=np.float32).ravel()


def outgrown(built_rows: int, delta_rows: int, floor: int) -> bool:
    """Whether the delta should be folded into a rebuild of the whole index."""
    return delta_rows > max(floor, DELTA_SHARE * built_rows)


def segment_scores(bm25, built_rows: int, delta: DeltaSegment | None, tokens: list[str]) -> np.ndarray:
    """One BM25 score per row: the built bm25s index's rows (none when `bm25` is None), then the delta's."""
    ids = bm25.get_tokens_ids(tokens) if bm25 is not None else []  # words no built row has are left out
    built = bm25.get_scores_from_ids(ids) if ids else np.zeros(built_rows, dtype=np.float32)
    return np.concatenate([built, delta.scores(tokens)]) if delta else built
