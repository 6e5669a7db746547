"""Span matching (Jaccard >= 0.5) and precision/recall curves."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.clauses.locator.corpus import jaccard

MATCH_JACCARD = 0.5

Span = tuple[int, int]
Scored = tuple[int, int, float]


@dataclass(frozen=True)
class PR:
    """Counts and rates at one operating point."""

    n_pred: int
    n_pred_matched: int
    n_gold: int
    n_gold_matched: int

    @property
    def precision(self) -> float:
        return self.n_pred_matched / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        return self.n_gold_matched / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def match_flags(pred: list[Scored], gold: tuple[Span, ...]) -> tuple[list[bool], list[float]]:
    """Per-prediction matched flag, and per-gold best score of any matching prediction (-inf if none)."""
    flags = [False] * len(pred)
    best = [-np.inf] * len(gold)
    for i, (s, e, sc) in enumerate(pred):
        for j, g in enumerate(gold):
            if jaccard((s, e), g) >= MATCH_JACCARD:
                flags[i] = True
                best[j] = max(best[j], sc)
    return flags, best


@dataclass(frozen=True)
class Curve:
    """All prediction scores with matched flags, and best matching score per gold span."""

    pred_scores: np.ndarray
    pred_matched: np.ndarray
    gold_best: np.ndarray

    def at(self, threshold: float) -> PR:
        keep = self.pred_scores >= threshold
        return PR(
            int(keep.sum()),
            int((self.pred_matched & keep).sum()),
            len(self.gold_best),
            int((self.gold_best >= threshold).sum()),
        )

    def sweep(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Precision, recall and thresholds at every distinct score (descending)."""
        order = np.argsort(-self.pred_scores, kind="stable")
        sc = self.pred_scores[order]
        tp = np.cumsum(self.pred_matched[order])
        n = np.arange(1, len(sc) + 1)
        last = np.r_[sc[1:] != sc[:-1], True] if len(sc) else np.zeros(0, bool)
        thr = sc[last]
        prec = tp[last] / n[last]
        gb = np.sort(self.gold_best)[::-1]
        rec = np.searchsorted(-gb, -thr, side="right") / max(len(gb), 1)
        return prec, rec, thr

    def aupr(self) -> float:
        """Area under the PR curve (step interpolation with max-precision-to-the-right)."""
        prec, rec, _ = self.sweep()
        if len(prec) == 0:
            return 0.0
        p_interp = np.maximum.accumulate(prec[::-1])[::-1]
        r = np.r_[0.0, rec]
        return float(np.sum((r[1:] - r[:-1]) * p_interp))

    def precision_at_recall(self, target: float) -> float:
        prec, rec, _ = self.sweep()
        ok = rec >= target
        return float(prec[ok].max()) if ok.any() else 0.0


def build_curve(preds: list[list[Scored]], golds: list[tuple[Span, ...]]) -> Curve:
    """Concatenate (doc, category) prediction lists and their gold spans."""
    ps, pm, gb = [], [], []
    for pred, gold in zip(preds, golds, strict=False):
        f, b = match_flags(pred, gold)
        ps += [p[2] for p in pred]
        pm += f
        gb += b
    return Curve(np.array(ps, dtype=np.float64), np.array(pm, dtype=bool), np.array(gb, dtype=np.float64))
