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
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.errors import QuireError
from rag.settings import Settings
from rag.types import Passage

# What each part adds: each variant switches on one more part of retrieval.
ABLATION: dict[str, dict[str, Any]] = {
    "dense only": {"mode": "dense", "routing": False, "expand": False},
    "BM25 only": {"mode": "keyword", "routing": False, "expand": False},
    "hybrid": {"mode": "hybrid", "routing": False, "expand": False},
    "+ routing": {"mode": "hybrid", "routing": True, "expand": False},
    "+ clause expansion": {"mode": "hybrid", "routing": True, "expand": True},
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


@contextmanager
def indexed_corpus(folders: list[Path], settings: Settings, data_dir: Path | None) -> Iterator[Any]:
    """A Quire service whose store holds every `.txt` in `folders` (a temporary one unless given)."""
    from rag.service import Quire

    with tempfile.TemporaryDirectory(prefix="quire-eval-") as scratch:
        service = Quire(settings.with_data_dir(data_dir or Path(scratch)))
        files = sorted(f for folder in folders for f in folder.glob("*.txt"))
        if not files:
            raise QuireError(f"no .txt corpus found in {', '.join(map(str, folders))}")
        report = service.ingest(files)
        if report.failed:
            raise QuireError(f"{len(report.failed)} corpus files failed to ingest: {report.failed[0].error}")
        yield service


def run_ablation(service: Any, queries: list[Query], budgets: tuple[int, ...]) -> dict[str, Report]:
    """The same store and models, retrieval switched part by part."""
    from rag.retrieve import Retriever

    reports = {}
    for label, overrides in ABLATION.items():
        settings = service.settings.retrieval.model_copy(update=overrides)
        retriever = Retriever(service.store, service.embedder, settings)
        reports[label] = evaluate(lambda q, b, r=retriever: r.retrieve(q, b), queries, budgets)
    return reports


# --- command line -------------------------------------------------------------------------------
eval_app = typer.Typer(no_args_is_help=True, help="Measure Quire against labelled data.")


def _parse_budgets(text: str) -> tuple[int, ...]:
    try:
        budgets = tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError as error:
        raise QuireError(f"--budget-chars takes numbers separated by commas, got {text!r}") from error
    if not budgets or min(budgets) <= 0:
        raise QuireError("--budget-chars needs at least one positive number of characters")
    return budgets


def _print_report(label: str, report: Report) -> None:
    from rich.console import Console

    parts = [f"{b:,} chars: recall {s.recall:.1%}, precision {s.precision:.1%}" for b, s in report.overall.items()]
    Console().print(f"[bold]{label}[/bold]  " + " | ".join(parts), highlight=False)


@eval_app.command("retrieval")
def retrieval_command(
    queries_file: Annotated[Path, typer.Argument(help="LegalBench-RAG query file ({tests: [{query, snippets}]}).")],
    budget_chars: Annotated[str, typer.Option(help="Character budgets, comma separated.")] = "4000,16000",
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Index the corpus here and reuse it (default: a temporary dir)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N queries.")] = None,
    ablation: Annotated[bool, typer.Option(help="Also measure what each part of retrieval adds.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Character recall and precision of retrieval, per budget, overall and per query."""
    from rag.cli import emit, run_friendly

    def action() -> None:
        budgets = _parse_budgets(budget_chars)
        queries, folders = load_queries(queries_file)
        queries = queries[:limit] if limit else queries
        with indexed_corpus(folders, Settings(), data_dir) as service:
            report = evaluate(lambda q, b: service.retrieve(q, budget_chars=b), queries, budgets)
            variants = run_ablation(service, queries, budgets) if ablation else {}
        if as_json:
            emit({**report.to_json(), "ablation": {k: v.to_json()["overall"] for k, v in variants.items()}})
            return
        for row in report.per_query:
            cells = "  ".join(f"{b}: {row[str(b)]['recall']:.0%}" for b in budgets)
            typer.echo(f"{row['query_id']:>14}  {cells}")
        for label, variant in variants.items():
            _print_report(label, variant)
        _print_report(f"Quire ({len(queries)} queries)", report)

    run_friendly(action)
