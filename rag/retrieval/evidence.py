"""Small-budget evidence: the best sentences of the retrieved passages, not the first whole chunks.

Why: a lawyer-labelled answer is usually one or two sentences (median ~250 characters), while a
chunk is ~700. With 1,000 or 2,000 characters to fill, handing over the first one or two chunks
in rank order spends most of the budget on neighbouring text and leaves out the right sentence
of the third chunk. Here the passages retrieved for a large budget are split into sentences
(clauses, list items); each sentence is scored for the question, and the budget is filled with
the best ones, merged where they touch.

A sentence's score adds up, after per-question standardisation:
- the rank of the passage it came from (retrieval already knows a lot),
- BM25 of the question's words against the sentence (IDF taken over the candidate sentences),
- cosine of question and sentence embeddings (the existing MiniLM embedder; optional),
- category cues: the question is mapped to CUAD clause categories (cosine to category
  prototypes, softmax), and each category's logistic cue model, learned from lawyer labels of
  the CUAD training split by rag/retrieval/evidence_train.py, scores how much the sentence reads like
  that kind of clause ("governed by", "laws of"; "in no event", "aggregate", "exceed").

The interface depends only on rag.types.Passage and an object with `embed(list[str])` (the
Embedder); offsets and text come verbatim from the passages, which hold the stored document's
text at their offsets, so evidence text is exactly the document's characters at [start, end).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.retrieval.sentences import split_sentences
from rag.store.keyword import tokenize
from rag.types import Evidence, Passage

CUES_FILE = Path(__file__).parents[1] / "data" / "evidence_cues.json"


class TextEmbedder(Protocol):
    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class Weights:
    """How the standardised features add up. Tuned on the CUAD-train tuning fold (not dev)."""

    rank: float = 1.0
    bm25: float = 1.0
    dense: float = 1.0
    cue: float = 1.0
    category_temperature: float = 0.05  # softmax temperature over question-category cosines
    context_chars: int = 0  # characters of context added on each side of a chosen sentence
    candidate_passages: int = 24  # passages (in rank order) whose sentences compete
    embed_sentences: bool = False  # MiniLM cosine per sentence: too slow for 300 ms on 2 cores


@dataclass(frozen=True)
class Unit:
    """One sentence of one passage, with document offsets."""

    passage: int  # index in the passage list (= its rank)
    start: int
    end: int
    text: str


def passage_units(passages: Sequence[Passage]) -> list[Unit]:
    """Every sentence of every passage, with document offsets (passage.start + local offset)."""
    return [
        Unit(rank, p.start + a, p.start + b, p.text[a:b])
        for rank, p in enumerate(passages)
        for a, b in split_sentences(p.text)
    ]


# --- cue models ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CueModel:
    """Per CUAD category: a prototype text (for mapping questions) and logistic cue weights over
    word stems and stem pairs (for scoring sentences). Learned by rag/retrieval/evidence_train.py."""

    categories: tuple[str, ...]
    prototypes: tuple[str, ...]
    weights: tuple[dict[str, float], ...]
    biases: tuple[float, ...]
    weights_default: Weights = field(default_factory=Weights)

    @classmethod
    def load(cls, path: Path = CUES_FILE) -> CueModel:
        raw = json.loads(path.read_text(encoding="utf-8"))
        cats = raw["categories"]
        tuned = Weights(**raw.get("weights", {}))
        return cls(
            tuple(c["name"] for c in cats),
            tuple(c["prototype"] for c in cats),
            tuple(c["weights"] for c in cats),
            tuple(float(c["bias"]) for c in cats),
            tuned,
        )

    def unit_logits(self, features: list[set[str]], only: Sequence[int] | None = None) -> np.ndarray:
        """(units x categories) logits of "this sentence is a clause of that category", for the
        categories `only` (all by default; a question needs its top few)."""
        columns = list(range(len(self.categories))) if only is None else list(only)
        out = np.empty((len(features), len(columns)), dtype=np.float32)
        for c, j in enumerate(columns):
            weights, bias = self.weights[j], self.biases[j]
            for i, feats in enumerate(features):
                out[i, c] = bias + sum(weights.get(f, 0.0) for f in feats)
        return out


@lru_cache(maxsize=2)
def default_cues(path: Path = CUES_FILE) -> CueModel | None:
    return CueModel.load(path) if path.is_file() else None


def features(text: str) -> set[str]:
    """Word stems and adjacent stem pairs ("govern law", "no event"): the cue vocabulary."""
    stems = tokenize(text)
    return set(stems) | {f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False)}


# --- scoring ---------------------------------------------------------------------------------
QUESTION_PREFIX = re.compile(r"^\s*consider\b[^;?]*;\s*", re.IGNORECASE)


def question_content(question: str) -> str:
    """The question without its "Consider the X Agreement between A and B;" naming part, whose
    party names fill the whole contract and say nothing about which sentence answers."""
    stripped = QUESTION_PREFIX.sub("", question)
    return stripped if stripped.strip() else question


def bm25_scores(query: list[str], docs: list[list[str]], k1: float = 1.2, b: float = 0.75) -> np.ndarray:
    """Okapi BM25 of one query against a few hundred sentences, IDF over those sentences."""
    if not docs:
        return np.zeros(0, dtype=np.float32)
    n = len(docs)
    avg = sum(len(d) for d in docs) / n or 1.0
    df = Counter(w for d in docs for w in set(d))
    out = np.zeros(n, dtype=np.float32)
    for i, doc in enumerate(docs):
        counts = Counter(doc)
        norm = k1 * (1 - b + b * len(doc) / avg)
        for word in set(query):
            tf = counts.get(word, 0)
            if tf:
                idf = math.log(1 + (n - df[word] + 0.5) / (df[word] + 0.5))
                out[i] += idf * tf * (k1 + 1) / (tf + norm)
    return out


def standardise(values: np.ndarray) -> np.ndarray:
    """Zero mean, unit spread within one question, so that weights mean the same everywhere."""
    if values.size == 0:
        return values
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


def category_weights(question_vec: np.ndarray, prototype_vecs: np.ndarray, temperature: float) -> np.ndarray:
    """P(category | question): softmax of cosines to the category prototypes."""
    sims = prototype_vecs @ question_vec
    z = (sims - sims.max()) / max(temperature, 1e-6)
    p = np.exp(z)
    return p / p.sum()


@dataclass
class Scorer:
    """Scores the sentences of ranked passages for a question; holds the embedder and cue model,
    caching the category prototype vectors (embedded once)."""

    embedder: TextEmbedder | None = None
    cues: CueModel | None = None
    weights: Weights | None = None
    _prototypes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.weights is None:
            self.weights = self.cues.weights_default if self.cues else Weights()

    def prototype_vectors(self) -> np.ndarray | None:
        if self.cues is None or self.embedder is None:
            return None
        if self._prototypes is None:
            self._prototypes = np.asarray(self.embedder.embed(list(self.cues.prototypes)), dtype=np.float32)
        return self._prototypes

    def raw_features(self, question: str, units: list[Unit]) -> dict[str, np.ndarray]:
        """Per-unit feature columns, before standardisation (kept apart so tuning can reweight
        without recomputing them)."""
        content = question_content(question)
        tokens = [tokenize(u.text) for u in units]
        out: dict[str, np.ndarray] = {
            "rank": -np.log1p(np.asarray([u.passage for u in units], dtype=np.float32)),
            "bm25": bm25_scores(tokenize(content), tokens),
            "length": np.log1p(np.asarray([len(u.text) for u in units], dtype=np.float32)),
        }
        qvec = None
        if self.embedder is not None and units:
            # Embedding every sentence costs seconds on two cores (MiniLM, ~150 sentences); by
            # default only the question is embedded, to map it to its clause categories.
            texts = [content] + ([u.text for u in units] if self.weights.embed_sentences else [])
            vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
            qvec = vectors[0]
            if self.weights.embed_sentences:
                out["dense"] = vectors[1:] @ qvec
        if self.cues is not None:
            probs = self.category_probabilities(content, qvec)
            top = np.argsort(-probs)[:3]
            logits = self.cues.unit_logits([_features_from_stems(t) for t in tokens], only=top)
            out["cue"] = logits @ (probs[top] / probs[top].sum())
        return out

    def category_probabilities(self, content: str, qvec: np.ndarray | None) -> np.ndarray:
        """P(category | question) from embedding cosines to the prototypes, or, without an
        embedder, from the share of question stems found in each prototype."""
        protos = self.prototype_vectors()
        if protos is not None and qvec is not None:
            return category_weights(qvec, protos, self.weights.category_temperature)
        words = set(tokenize(content))
        sims = np.asarray(
            [
                len(words & (p := set(tokenize(t)))) / math.sqrt(max(1, len(words) * len(p)))
                for t in self.cues.prototypes
            ],
            dtype=np.float32,
        )
        return category_weights(sims, np.eye(len(sims), dtype=np.float32), self.weights.category_temperature * 4)

    def combine(self, raw: dict[str, np.ndarray], weights: Weights | None = None) -> np.ndarray:
        w = weights or self.weights
        total = np.zeros(len(raw["rank"]), dtype=np.float32)
        for name in ("rank", "bm25", "dense", "cue"):
            if name in raw:
                total += getattr(w, name) * standardise(raw[name])
        return total


def _features_from_stems(stems: list[str]) -> set[str]:
    return set(stems) | {f"{a} {b}" for a, b in zip(stems, stems[1:], strict=False)}


# --- filling the budget ----------------------------------------------------------------------
def fill_budget(
    units: list[Unit], scores: np.ndarray, passages: Sequence[Passage], budget_chars: int, context_chars: int = 0
) -> list[tuple[int, int, int, float, int]]:
    """Best units first, each widened by `context_chars` (within its passage), merged with any
    chosen piece of the same passage it touches, until `budget_chars` are used; the last one is
    cut to fit. Returns (passage, start, end, score, best unit) per piece, in order of choice."""
    pieces: list[list] = []  # [passage, start, end, score, best unit index]
    used = 0
    for i in np.argsort(-scores, kind="stable"):
        if used >= budget_chars:
            break
        unit = units[int(i)]
        p = passages[unit.passage]
        start, end = max(p.start, unit.start - context_chars), min(p.end, unit.end + context_chars)
        new = _uncovered(pieces, unit.passage, start, end)
        if new <= 0:
            continue
        left = budget_chars - used
        if new > left:  # cut the last one to fit exactly
            end = _cut_end(pieces, unit.passage, start, end, left)
            if end <= start:
                break
        touching = [q for q in pieces if q[0] == unit.passage and q[1] <= end and start <= q[2]]
        if touching:
            first = touching[0]
            first[1] = min([start] + [q[1] for q in touching])
            first[2] = max([end] + [q[2] for q in touching])
            for q in touching[1:]:
                pieces.remove(q)
        else:
            pieces.append([unit.passage, start, end, float(scores[i]), int(i)])
        used = sum(q[2] - q[1] for q in pieces)
    return [tuple(q) for q in pieces]


def _uncovered(pieces: list[list], passage: int, start: int, end: int) -> int:
    covered = sum(max(0, min(end, q[2]) - max(start, q[1])) for q in pieces if q[0] == passage)
    return end - start - covered


def _cut_end(pieces: list[list], passage: int, start: int, end: int, left: int) -> int:
    """The largest end <= `end` such that [start, end) adds at most `left` new characters."""
    lo, hi = start, end
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _uncovered(pieces, passage, start, mid) <= left:
            lo = mid
        else:
            hi = mid - 1
    return lo


def select_evidence(
    question: str,
    passages: Sequence[Passage],
    budget_chars: int,
    embedder: TextEmbedder | None = None,
    cues: CueModel | None = None,
    weights: Weights | None = None,
    scorer: Scorer | None = None,
) -> list[Evidence]:
    """The best sentences of `passages` (ranked, best first) for `question`, within
    `budget_chars` characters in all (the same accounting as rag.eval.retrieval.score: characters
    returned), best piece first. Passages of the same document must not overlap (assemble's
    output never does)."""
    scorer = scorer or Scorer(embedder, cues if cues is not None else default_cues(), weights)
    w = scorer.weights
    passages = list(passages)[: w.candidate_passages]
    units = passage_units(passages)
    if not units or budget_chars <= 0:
        return []
    scores = scorer.combine(scorer.raw_features(question, units))
    return to_evidence(units, scores, passages, budget_chars, w.context_chars)


def to_evidence(
    units: list[Unit], scores: np.ndarray, passages: Sequence[Passage], budget_chars: int, context_chars: int
) -> list[Evidence]:
    chosen = fill_budget(units, scores, passages, budget_chars, context_chars)
    out = []
    for passage_index, start, end, score, best in chosen:
        p = passages[passage_index]
        unit = units[best]
        out.append(
            Evidence(
                name=p.name,
                doc_id=p.doc_id,
                page=_page(p, start),
                start=start,
                end=end,
                text=p.text[start - p.start : end - p.start],
                sentence_start=max(start, unit.start),
                sentence_end=min(end, unit.end),
                score=round(score, 6),
            )
        )
    return out


def _page(passage: Passage, offset: int) -> int:
    """The page of an offset inside a passage: exact when the passage is on one page, else
    estimated from the form feeds / share of the passage before it (passages hold no page map)."""
    if passage.page_start == passage.page_end:
        return passage.page_start
    share = (offset - passage.start) / max(1, passage.end - passage.start)
    return passage.page_start + math.floor(share * (passage.page_end - passage.page_start + 1) - 1e-9)


PageOf = Callable[[str, int], int]
