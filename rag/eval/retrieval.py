"""Retrieval evaluation on LegalBench-RAG-style query files: character recall and precision.

For each query the retriever returns ranked passages within a character budget; recall is the
share of gold characters covered, precision the share of returned characters that are gold
(the LegalBench-RAG metric). The corpus is every `.txt` file in the folders the query file
points into, indexed into a temporary data dir (or `--data-dir`, reused across runs), through
the same ingest and the same `Retriever` that `quire retrieve` and `quire ask` use.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import QuireError
from rag.retrieval.retrieve import Retriever
from rag.types import Passage

# What each part adds: each variant switches on one more part of retrieval.
NO_EVIDENCE = {"evidence_max_chars": 0}  # whole passages in rank order, as before sentence evidence
ABLATION: dict[str, dict[str, Any]] = {
    "dense only": {"mode": "dense", "routing": False, "expand": False, **NO_EVIDENCE},
    "BM25 only": {"mode": "keyword", "routing": False, "expand": False, **NO_EVIDENCE},
    "hybrid": {"mode": "hybrid", "routing": False, "expand": False, **NO_EVIDENCE},
    "+ routing": {"mode": "hybrid", "routing": True, "expand": False, **NO_EVIDENCE},
    "+ clause expansion": {"mode": "hybrid", "routing": True, "expand": True, **NO_EVIDENCE},
    "+ sentence evidence": {"mode": "hybrid", "routing": True, "expand": True, "evidence_max_chars": 4000},
}


@dataclass(frozen=True)
class Gold:
    file: str  # file name of the .txt document
    start: int
    end: int


@dataclass(frozen=True)
class Query:
    query_id: str
    query: str
    gold: tuple[Gold, ...]


@dataclass(frozen=True)
class Score:
    recall: float
    precision: float
    returned_chars: int


@dataclass(frozen=True)
class Report:
    budgets: tuple[int, ...]
    overall: dict[int, Score]
    per_query: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "budgets": list(self.budgets),
            "overall": {str(b): vars(s) for b, s in self.overall.items()},
            "queries": self.per_query,
            "seconds": round(self.seconds, 2),
        }


def load_queries(path: Path) -> tuple[list[Query], list[Path]]:
    """Queries and the corpus folders they point into (relative to the query file)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise QuireError(f"cannot read the query file {path}: {error}") from error
    tests = raw["tests"] if isinstance(raw, dict) else raw
    queries: list[Query] = []
    folders: dict[Path, None] = {}
    for test in tests:
        gold = []
        for snippet in test["snippets"]:
            txt = path.parent / (snippet.get("txt") or snippet["file_path"])
            folders[txt.parent] = None
            gold.append(Gold(txt.name, int(snippet["span"][0]), int(snippet["span"][1])))
        queries.append(Query(str(test.get("query_id", len(queries))), test["query"], tuple(gold)))
    if not queries:
        raise QuireError(f"{path} holds no queries: expected {{'tests': [{{query, snippets}}]}}")
    return queries, list(folders)


def score(passages: list[Passage], gold: tuple[Gold, ...], budget: int) -> Score:
    """LegalBench-RAG character recall and precision of ranked passages under a budget."""
    returned: dict[str, set[int]] = {}
    left = budget
    for p in passages:
        if left <= 0:
            break
        end = min(p.end, p.start + left)
        returned.setdefault(p.name, set()).update(range(p.start, end))
        left -= end - p.start
    gold_chars: dict[str, set[int]] = {}
    for g in gold:
        gold_chars.setdefault(g.file, set()).update(range(g.start, g.end))
    total_gold = sum(len(c) for c in gold_chars.values())
    hit = sum(len(c & returned.get(name, set())) for name, c in gold_chars.items())
    total_returned = sum(len(c) for c in returned.values())
    return Score(
        hit / total_gold if total_gold else 0.0,
        hit / total_returned if total_returned else 0.0,
        total_returned,
    )


def evaluate(retrieve: Callable[[str, int], list[Passage]], queries: list[Query], budgets: tuple[int, ...]) -> Report:
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    scores: dict[int, list[Score]] = {b: [] for b in budgets}
    for query in queries:
        row: dict[str, Any] = {"query_id": query.query_id}
        for budget in budgets:
            result = score(retrieve(query.query, budget), query.gold, budget)
            scores[budget].append(result)
            row[str(budget)] = {"recall": round(result.recall, 4), "precision": round(result.precision, 4)}
        rows.append(row)
    overall = {
        b: Score(
            round(statistics.fmean(s.recall for s in scores[b]), 4),
            round(statistics.fmean(s.precision for s in scores[b]), 4),
            round(statistics.fmean(s.returned_chars for s in scores[b])),
        )
        for b in budgets
    }
    return Report(budgets, overall, rows, time.perf_counter() - began)


def run_ablation(service: Any, queries: list[Query], budgets: tuple[int, ...]) -> dict[str, Report]:
    """The same store and models, retrieval switched part by part."""
    reports = {}
    for label, overrides in ABLATION.items():
        settings = service.settings.retrieval.model_copy(update=overrides)
        retriever = Retriever(service.store, service.embedder, settings)
        reports[label] = evaluate(lambda q, b, r=retriever: r.retrieve(q, b), queries, budgets)
    return reports
