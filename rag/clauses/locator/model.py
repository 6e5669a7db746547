"""Training (scikit-learn at train time only) and numpy/scipy-only inference.

Pipeline: units -> sparse features -> one linear scorer per category over the unit kinds
that category's gold spans actually use -> greedy non-maximum suppression per category
-> Platt-calibrated score -> per-category threshold and span cap chosen on a validation fold.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rag.clauses.locator.features import Featurizer, Vocabulary
from rag.clauses.locator.metrics import Scored
from rag.clauses.locator.units import KINDS, Unit, generate_units

SEED = 13
CANDIDATE_CAP = 30  # NMS survivors kept per (doc, category) before thresholding
NMS_OVERLAP = 0.5  # suppress if intersection / shorter length exceeds this
MAX_TERMS = 40000
MAX_CONTEXT = 5000
NEG_RATE = 0.08
MIN_KIND_SHARE = 0.02
K_GRID = (1, 2, 3, 4, 6, 8, 12, 20, 30)
REVIEW_FACTOR = 0.5  # needs_review band: [REVIEW_FACTOR * threshold, threshold)


@dataclass(frozen=True)
class LocatedSpan:
    """One located span; score is a calibrated probability that it matches a gold span."""

    start: int
    end: int
    score: float
    status: str  # "present" | "needs_review"


@dataclass(frozen=True)
class CategoryParams:
    """Per-category decoding parameters, all fitted on the validation fold."""

    kinds: tuple[str, ...]
    platt_a: float
    platt_b: float
    threshold: float
    review_threshold: float
    max_spans: int
    nms_iou: bool = False  # suppression by overlap/union instead of overlap/shorter (see nms)


def nms(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray, cap: int, iou: bool = False) -> list[int]:
    """Greedy suppression: keep best-first, dropping spans that mostly overlap a kept one.

    Why: a sentence and its enclosing paragraph/window usually describe the same clause;
    emitting both would cost a false positive whenever only one matches the gold span.
    With iou=True a span is dropped only if overlap/union exceeds NMS_OVERLAP, so a short
    span nested in a kept longer one survives: entity categories (Parties) label a name
    and its aliases separately ("Acme Widgets Inc." and "Acme"), and containment-based
    suppression removed those; the mode is chosen per category on the validation fold.
    """
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    for i in order:
        s, e = starts[i], ends[i]
        ok = True
        for j in kept:
            inter = min(e, ends[j]) - max(s, starts[j])
            denom = ((e - s) + (ends[j] - starts[j]) - inter) if iou else min(e - s, ends[j] - starts[j])
            if inter > 0 and inter > NMS_OVERLAP * denom:
                ok = False
                break
        if ok:
            kept.append(int(i))
            if len(kept) >= cap:
                break
    return kept


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


class Locator:
    """Inference-only model; loads from an artifact directory (json + npy, no pickle)."""

    def __init__(
        self, vocab: Vocabulary, W: np.ndarray, b: np.ndarray, categories: list[str], params: dict[str, CategoryParams]
    ) -> None:
        self.vocab = vocab
        self.W = W.astype(np.float32)
        self.b = b.astype(np.float32)
        self.categories = categories
        self.params = params
        self.featurizer = Featurizer(vocab)
        self._kind_mask = np.array([[k in params[c].kinds for k in KINDS] for c in categories], dtype=bool)

    # ---- persistence -------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / "idf.npy", self.vocab.idf.astype(np.float32))
        np.save(path / "W.npy", self.W.astype(np.float16))
        np.save(path / "b.npy", self.b.astype(np.float32))
        meta = {
            "format": 1,
            "kinds": list(KINDS),
            "categories": self.categories,
            "params": {c: asdict(p) for c, p in self.params.items()},
        }
        (path / "model.json").write_text(json.dumps(meta, indent=1, sort_keys=True), encoding="utf-8")
        (path / "vocab.json").write_text(
            json.dumps(
                {"terms": list(self.vocab.terms), "context_terms": list(self.vocab.context_terms)}, ensure_ascii=False
            ),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> Locator:
        path = Path(path)
        meta = json.loads((path / "model.json").read_text(encoding="utf-8"))
        if tuple(meta["kinds"]) != KINDS:
            raise ValueError("artifact was trained with a different unit-kind layout")
        voc = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
        vocab = Vocabulary(tuple(voc["terms"]), np.load(path / "idf.npy"), tuple(voc["context_terms"]))
        params = {c: CategoryParams(**{**p, "kinds": tuple(p["kinds"])}) for c, p in meta["params"].items()}
        return cls(vocab, np.load(path / "W.npy"), np.load(path / "b.npy"), meta["categories"], params)

    # ---- inference ---------------------------------------------------------------
    def candidates(self, text: str, units: list[Unit] | None = None) -> dict[str, list[Scored]]:
        """Calibrated NMS survivors per category (up to CANDIDATE_CAP), best first."""
        if units is None:
            units = generate_units(text)
        out: dict[str, list[Scored]] = {c: [] for c in self.categories}
        if not units:
            return out
        X = self.featurizer.transform(text, units)
        margins = np.asarray(X @ self.W.T) + self.b
        st = np.array([u.start for u in units])
        en = np.array([u.end for u in units])
        kind_idx = np.array([KINDS.index(u.kind) for u in units])
        for ci, c in enumerate(self.categories):
            p = self.params[c]
            pool = np.flatnonzero(self._kind_mask[ci][kind_idx])
            if len(pool) == 0:
                continue
            # Only the top slice can survive the cap; sorting all units per category is waste.
            m = margins[pool, ci]
            top = pool[np.argsort(-m, kind="stable")[: CANDIDATE_CAP * 8]]
            keep = nms(st[top], en[top], margins[top, ci], CANDIDATE_CAP, p.nms_iou)
            cal = _sigmoid(p.platt_a * margins[top[keep], ci] + p.platt_b)
            out[c] = [(int(st[top[k]]), int(en[top[k]]), float(s)) for k, s in zip(keep, cal, strict=False)]
        return out

    def locate(self, text: str) -> dict[str, list[LocatedSpan]]:
        """Findings per category: spans at or above the review threshold, capped per category."""
        res: dict[str, list[LocatedSpan]] = {}
        for c, cands in self.candidates(text).items():
            p = self.params[c]
            spans = [
                LocatedSpan(s, e, sc, "present" if sc >= p.threshold else "needs_review")
                for s, e, sc in cands[: p.max_spans]
                if sc >= p.review_threshold
            ]
            res[c] = spans
        return res
