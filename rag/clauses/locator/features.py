"""Featurisation shared by training and inference (numpy + scipy only).

Every unit becomes one sparse row:
  [0, V)                 inside-unit word uni+bigram TF-IDF (sublinear tf, L2-normalised)
  [V, V+C)               left-context unigrams (CONTEXT_TOKENS tokens before the unit)
  [V+C, V+2C)            right-context unigrams
  [V+2C, V+3C)           "heading" unigrams: start of the enclosing paragraph + preceding short line
  [V+3C, V+3C+N_DENSE)   dense cues: position, length, kind, shape
Context matters mostly for short entity units (party names, dates) whose own tokens say little.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from rag.clauses.locator.units import KIND_INDEX, KINDS, Unit, paragraphs

TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
CONTEXT_TOKENS = 6
HEADING_TOKENS = 8
POS_BINS = 10
LEN_BINS = 10
_DATEISH = re.compile(r"\b(?:19|20)\d{2}\b")
N_DENSE = 2 + POS_BINS + LEN_BINS + len(KINDS) + 8


@dataclass(frozen=True)
class Vocabulary:
    """Term list + idf for the inside block, and the smaller context vocabulary."""

    terms: tuple[str, ...]  # unigrams and "a b" bigrams
    idf: np.ndarray  # float32, len(terms)
    context_terms: tuple[str, ...]  # unigrams used by context/heading blocks

    @property
    def dim(self) -> int:
        return len(self.terms) + 3 * len(self.context_terms) + N_DENSE


@dataclass(frozen=True)
class Tokens:
    """Token positions and ids of one document."""

    start: np.ndarray
    end: np.ndarray
    uni: np.ndarray  # inside-vocab id of token t, -1 if unknown
    bi: np.ndarray  # inside-vocab id of bigram (t, t+1), -1 if unknown
    ctx: np.ndarray  # context-vocab id of token t, -1 if unknown


def tokenize(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Lower-cased word tokens with character offsets."""
    toks, st, en = [], [], []
    for m in TOKEN_RE.finditer(text):
        toks.append(m.group(0).lower().replace("’", "'"))
        st.append(m.start())
        en.append(m.end())
    return toks, np.array(st, dtype=np.int64), np.array(en, dtype=np.int64)


class Featurizer:
    """Maps (text, units) to a CSR matrix with the layout above."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.term_id = {t: i for i, t in enumerate(vocab.terms)}
        self.ctx_id = {t: i for i, t in enumerate(vocab.context_terms)}
        self.V = len(vocab.terms)
        self.C = len(vocab.context_terms)

    def doc_tokens(self, text: str) -> Tokens:
        toks, st, en = tokenize(text)
        get, cget = self.term_id.get, self.ctx_id.get
        uni = np.array([get(t, -1) for t in toks], dtype=np.int64)
        bi = np.array(
            [get(a + " " + b, -1) for a, b in zip(toks, toks[1:], strict=False)] + ([-1] if toks else []),
            dtype=np.int64,
        )
        ctx = np.array([cget(t, -1) for t in toks], dtype=np.int64)
        return Tokens(st, en, uni, bi, ctx)

    def transform(self, text: str, units: list[Unit]) -> sp.csr_matrix:
        n = len(units)
        if n == 0:
            return sp.csr_matrix((0, self.vocab.dim), dtype=np.float32)
        tk = self.doc_tokens(text)
        us = np.array([u.start for u in units], dtype=np.int64)
        ue = np.array([u.end for u in units], dtype=np.int64)
        i0 = np.searchsorted(tk.start, us, "left")
        i1 = np.searchsorted(tk.end, ue, "right")
        i1 = np.maximum(i1, i0)
        blocks = [
            self._inside(tk, i0, i1, n),
            self._bag(tk.ctx, np.maximum(i0 - CONTEXT_TOKENS, 0), i0, n, self.V),
            self._bag(tk.ctx, i1, np.minimum(i1 + CONTEXT_TOKENS, len(tk.ctx)), n, self.V + self.C),
        ]
        h0, h1 = self._heading_ranges(text, tk, us)
        blocks.append(self._bag(tk.ctx, h0, h1, n, self.V + 2 * self.C))
        blocks.append(self._dense(text, units, us, ue))
        X = blocks[0]
        for b in blocks[1:]:
            X = X + b
        return X.tocsr()

    @staticmethod
    def _ranges(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row index and flat position for all integer ranges [a_i, b_i)."""
        lens = np.maximum(b - a, 0)
        rows = np.repeat(np.arange(len(a)), lens)
        offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        return rows, np.repeat(a, lens) + offs

    def _inside(self, tk: Tokens, i0: np.ndarray, i1: np.ndarray, n: int) -> sp.csr_matrix:
        r1, p1 = self._ranges(i0, i1)
        r2, p2 = self._ranges(i0, np.maximum(i1 - 1, i0))
        rows = np.concatenate([r1, r2])
        cols = np.concatenate([tk.uni[p1], tk.bi[p2]]) if len(p1) + len(p2) else np.zeros(0, np.int64)
        keep = cols >= 0
        rows, cols = rows[keep], cols[keep]
        M = sp.coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, self.vocab.dim)).tocsr()
        M.sum_duplicates()
        M.data = (np.log1p(M.data) * self.vocab.idf[M.indices]).astype(np.float32)
        norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.diags((1.0 / norms).astype(np.float32)) @ M

    def _bag(self, ids: np.ndarray, a: np.ndarray, b: np.ndarray, n: int, offset: int) -> sp.csr_matrix:
        rows, pos = self._ranges(a, b)
        cols = ids[pos] if len(pos) else np.zeros(0, np.int64)
        keep = cols >= 0
        rows, cols = rows[keep], cols[keep] + offset
        M = sp.coo_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, self.vocab.dim)).tocsr()
        M.sum_duplicates()
        M.data[:] = 1.0
        cnt = np.diff(M.indptr).astype(np.float32)
        cnt[cnt == 0] = 1.0
        return sp.diags(1.0 / np.sqrt(cnt)) @ M

    def _heading_ranges(self, text: str, tk: Tokens, us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token range of the enclosing paragraph's first words, or of a preceding short line."""
        paras = paragraphs(text)
        if not paras:
            z = np.zeros(len(us), np.int64)
            return z, z
        ps = np.array([p[0] for p in paras], dtype=np.int64)
        pe = np.array([p[1] for p in paras], dtype=np.int64)
        k = np.clip(np.searchsorted(ps, us, "right") - 1, 0, len(ps) - 1)
        # a paragraph that is itself short (a heading line) defers to itself; a unit that
        # starts its paragraph looks at the previous paragraph if that one is short.
        prev_short = (k > 0) & ((pe[np.maximum(k - 1, 0)] - ps[np.maximum(k - 1, 0)]) < 80)
        at_start = us <= ps[k]
        k = np.where(at_start & prev_short, k - 1, k)
        a = np.searchsorted(tk.start, ps[k], "left")
        return a, np.minimum(a + HEADING_TOKENS, len(tk.start))

    def _dense(self, text: str, units: list[Unit], us: np.ndarray, ue: np.ndarray) -> sp.csr_matrix:
        n = len(units)
        L = max(len(text), 1)
        D = np.zeros((n, N_DENSE), dtype=np.float32)
        rel = us / L
        D[:, 0] = rel
        D[:, 1] = np.minimum(us / 5000.0, 1.0)
        D[np.arange(n), 2 + np.minimum((rel * POS_BINS).astype(int), POS_BINS - 1)] = 1
        ln = np.log2(np.maximum(ue - us, 1))
        D[np.arange(n), 2 + POS_BINS + np.minimum((ln / 1.2).astype(int), LEN_BINS - 1)] = 1
        o = 2 + POS_BINS + LEN_BINS
        D[np.arange(n), o + np.array([KIND_INDEX[u.kind] for u in units])] = 1
        o += len(KINDS)
        for r, u in enumerate(units):
            s = text[u.start : u.end]
            letters = sum(ch.isalpha() for ch in s[:200]) or 1
            D[r, o] = sum(ch.isupper() for ch in s[:200]) / letters
            D[r, o + 1] = 1.0 if s[:1].isupper() else 0.0
            D[r, o + 2] = 1.0 if s.endswith(".") else 0.0
            D[r, o + 3] = 1.0 if _DATEISH.search(s) else 0.0
            D[r, o + 4] = min(s.count('"') + s.count("“"), 4) / 4.0
            before = text[max(0, u.start - 2) : u.start]
            after = text[u.end : u.end + 2]
            D[r, o + 5] = 1.0 if ('"' in before or "“" in before or "(" in before) else 0.0
            D[r, o + 6] = 1.0 if ('"' in after or "”" in after or ")" in after) else 0.0
            D[r, o + 7] = 1.0 if "," in after else 0.0
        off = len(self.vocab.terms) + 3 * len(self.vocab.context_terms)
        M = sp.csr_matrix(D)
        return sp.csr_matrix((M.data, M.indices + off, M.indptr), shape=(n, self.vocab.dim))


def build_vocabulary(
    texts: list[str], unit_lists: list[list[Unit]], max_terms: int, max_context: int, min_df: int = 3
) -> Vocabulary:
    """Document-frequency over sentence-like units of the training fold; ties broken by term."""
    df: dict[str, int] = {}
    ctx_df: dict[str, int] = {}
    n_units = 0
    for text, units in zip(texts, unit_lists, strict=False):
        toks, st, en = tokenize(text)
        for t in set(toks):
            ctx_df[t] = ctx_df.get(t, 0) + 1
        for u in units:
            if u.kind != "sentence":
                continue
            a = int(np.searchsorted(st, u.start, "left"))
            b = int(np.searchsorted(en, u.end, "right"))
            w = toks[a:b]
            n_units += 1
            for t in set(w) | {x + " " + y for x, y in zip(w, w[1:], strict=False)}:
                df[t] = df.get(t, 0) + 1
    terms = sorted((t for t, c in df.items() if c >= min_df), key=lambda t: (-df[t], t))[:max_terms]
    terms = sorted(terms)
    idf = np.array([math.log((1 + n_units) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
    ctx = sorted(sorted((t for t, c in ctx_df.items() if c >= min_df), key=lambda t: (-ctx_df[t], t))[:max_context])
    return Vocabulary(tuple(terms), idf, tuple(ctx))
