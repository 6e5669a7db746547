"""The clause locator: finds the 41 CUAD clause categories in a contract in well under a second on a
CPU, with no language model. Trained on cuad_train (see docs/clause-locator.md for the model card).

A contract becomes candidate units at several sizes (`units`: sentences, clauses, paragraphs,
sections, windows, and names, dates and titles near the top), each unit a sparse row of TF-IDF,
context and shape features (`features`); one linear model per category scores them, overlapping
units are suppressed, and calibrated scores meet per-category thresholds (`model`). `training`
rebuilds the shipped artifact (`quire train clauses`); `corpus` reads CUAD-style labels.

Entry points: `default_locator()`, `model.Locator` (`locate`, `candidates`), `training.train`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rag.clauses.locator.model import LocatedSpan, Locator
from rag.errors import QuireError

ARTIFACT = Path(__file__).resolve().parents[2] / "data" / "clause_locator"
LOCATOR_MODEL = "clause-locator-1"

__all__ = ["ARTIFACT", "LOCATOR_MODEL", "LocatedSpan", "Locator", "default_locator"]


@cache
def default_locator() -> Locator:
    """The locator shipped inside the package, loaded once per process (about 0.2 s)."""
    if not (ARTIFACT / "model.json").is_file():
        raise QuireError(
            f"the clause locator is missing from {ARTIFACT}: reinstall Quire, or rebuild it with "
            "`quire train clauses ../shared/data/cuad_train`"
        )
    return Locator.load(ARTIFACT)
