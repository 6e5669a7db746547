"""CUAD's own measures of the clause locator: area under the precision-recall curve, and precision
at 80% recall, over every scored candidate span (not only those above the shipped thresholds).

The CUAD paper reports both (DeBERTa-xlarge: 47.8% AUPR, 44.0% precision at 80% recall) over its
test split with its own matching; these figures use Quire's match (character Jaccard >= 0.5) on the
contracts given, so they sit beside the paper's, not on the same scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.clauses.locator import Locator
from rag.clauses.locator.metrics import Curve, build_curve
from rag.errors import QuireError

Span = tuple[int, int]
CUAD_PUBLISHED = {"model": "DeBERTa-xlarge (CUAD paper)", "aupr": 0.478, "precision_at_80_recall": 0.44}


def locator_curves(
    locator: Locator, documents: Sequence[tuple[str, dict[str, tuple[Span, ...]]]], categories: Sequence[str]
) -> tuple[Curve, dict[str, Curve]]:
    """The pooled curve and one per category, from each document's text and labelled spans."""
    scored = [locator.candidates(text) for text, _ in documents]
    per_category = {
        name: build_curve([s.get(name, []) for s in scored], [gold.get(name, ()) for _, gold in documents])
        for name in categories
        if name in locator.categories
    }
    pooled = build_curve(
        [s.get(name, []) for s in scored for name in per_category],
        [gold.get(name, ()) for _, gold in documents for name in per_category],
    )
    return pooled, per_category


def curve_summary(pooled: Curve, per_category: dict[str, Curve]) -> dict[str, Any]:
    """The figures `quire eval clauses --engine locator` prints, with the paper's beside them."""
    labelled = [c for c in per_category.values() if len(c.gold_best)]
    return {
        "aupr": round(pooled.aupr(), 4),
        "precision_at_80_recall": round(pooled.precision_at_recall(0.8), 4),
        "mean_category_aupr": round(float(np.mean([c.aupr() for c in labelled])), 4) if labelled else None,
        "mean_category_precision_at_80_recall": (
            round(float(np.mean([c.precision_at_recall(0.8) for c in labelled])), 4) if labelled else None
        ),
        "candidate_recall_ceiling": round(float(np.mean(np.isfinite(pooled.gold_best))), 4)
        if len(pooled.gold_best)
        else None,
        "published": CUAD_PUBLISHED,
    }


def plot_curve(pooled: Curve, path: Path, title: str) -> Path:
    """The pooled precision-recall curve as a PNG (matplotlib, from the dev extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError as error:
        raise QuireError("the plot needs matplotlib: `pip install matplotlib` (or `make install`)") from error
    precision, recall, _ = pooled.sweep()
    figure, axes = pyplot.subplots(figsize=(6, 4.5), dpi=120)
    axes.plot(recall, precision, drawstyle="steps-post", label=f"clause locator (AUPR {pooled.aupr():.3f})")
    axes.scatter([0.8], [CUAD_PUBLISHED["precision_at_80_recall"]], marker="x", label="DeBERTa-xlarge at 80% recall")
    axes.set(xlabel="recall (spans, Jaccard >= 0.5)", ylabel="precision", xlim=(0, 1), ylim=(0, 1), title=title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight", metadata={"Software": None})
    pyplot.close(figure)
    return path
