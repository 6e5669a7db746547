"""Clause review measured against lawyer labels (CUAD-style JSONL).

Two figures per category. Candidate recall (model-independent): the share of labelled spans
lying wholly inside the text sent to the model for their category, with prompts counted in
Llama-3 tokens. Extraction: span precision/recall where a shown quote matches a labelled
span when their character Jaccard overlap is at least 0.5 (CUAD's threshold), and the
missed-clause rate (labelled present, answered absent). The contracts are ingested into a
temporary store so the user's own store is never touched.

Extraction can also score reports already written (`quire batch --clauses`, `quire clauses
--json`): a night's batch over the labelled `.txt` files is then evaluated without asking the
model again. Reports are matched by document id, the sha256 of the content, so a report scores
only the exact text its offsets index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.discover import sha256_file
from rag.clauses.locator import default_locator
from rag.clauses.report import ClauseReport
from rag.clauses.review import excerpt_budget, plan_group
from rag.clauses.stored import call_plan, catalogue_for, clause_engine, retrieval_for, stored_document
from rag.errors import QuireError
from rag.eval.corpus import indexed_corpus
from rag.eval.curves import curve_summary, locator_curves, plot_curve
from rag.settings import Settings
from rag.tokens import llama3_token_count

MATCH_JACCARD = 0.5
Span = tuple[int, int]


@dataclass(frozen=True)
class LabelledContract:
    name: str
    path: Path
    spans: dict[str, tuple[Span, ...]]


@dataclass
class CategoryScore:
    gold_spans: int = 0
    covered_spans: int = 0
    predicted: int = 0
    matched_predicted: int = 0
    matched_gold: int = 0
    gold_documents: int = 0
    missed_documents: int = 0
    absent_documents: int = 0
    false_alarms: int = 0

    def add(self, other: CategoryScore) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self, extraction: bool) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "gold_spans": self.gold_spans,
            "candidate_recall": _ratio(self.covered_spans, self.gold_spans),
        }
        if extraction:
            figures.update(
                span_precision=_ratio(self.matched_predicted, self.predicted),
                span_recall=_ratio(self.matched_gold, self.gold_spans),
                missed_clause_rate=_ratio(self.missed_documents, self.gold_documents),
                false_alarm_rate=_ratio(self.false_alarms, self.absent_documents),
                predicted_spans=self.predicted,
            )
        return figures


@dataclass
class Evaluation:
    per_category: dict[str, CategoryScore] = field(default_factory=dict)
    present_only: CategoryScore = field(default_factory=CategoryScore)  # `present` findings alone, pooled
    max_call_tokens: int = 0
    prompt_tokens: list[int] = field(default_factory=list)  # per contract, summed over its call groups
    contracts: list[str] = field(default_factory=list)
    without_report: list[str] = field(default_factory=list)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def read_labels(path: Path, limit: int | None = None) -> list[LabelledContract]:
    """Labelled contracts; `txt` paths are relative to the labels file unless absolute."""
    if not path.is_file():
        raise QuireError(f"no labels file at {path}: give a CUAD-style JSONL file")
    contracts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            spans = {c: tuple((s["start"], s["end"]) for s in v["spans"]) for c, v in item["clauses"].items()}
            contracts.append(LabelledContract(item["contract"], path.parent / item["txt"], spans))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise QuireError(
                f"{path} line {number} is not a labelled contract ({error}): see the CUAD format"
            ) from error
        if limit and len(contracts) >= limit:
            break
    return contracts


def jaccard(a: Span, b: Span) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union else 0.0


def score_finding(gold: Sequence[Span], predicted: Sequence[Span], answered: bool) -> CategoryScore:
    score = CategoryScore(predicted=len(predicted))  # gold spans: candidate_scores counts them
    score.matched_predicted = sum(1 for p in predicted if any(jaccard(p, g) >= MATCH_JACCARD for g in gold))
    score.matched_gold = sum(1 for g in gold if any(jaccard(p, g) >= MATCH_JACCARD for p in predicted))
    score.gold_documents = int(bool(gold))
    score.missed_documents = int(bool(gold) and not answered)
    score.absent_documents = int(not gold)
    score.false_alarms = int(not gold and answered)
    return score


def read_reports(folder: Path) -> dict[str, ClauseReport]:
    """Clause reports in `folder` (`*.clauses.json`, one report or a list of them per file), by doc id."""
    if not folder.is_dir():
        raise QuireError(f"no folder at {folder}: give the --out folder of `quire batch --clauses`")
    reports: dict[str, ClauseReport] = {}
    for path in sorted(folder.glob("*.clauses.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            for item in raw if isinstance(raw, list) else [raw]:
                report = ClauseReport.from_json(item)
                reports[report.doc_id] = report
        except (KeyError, TypeError, ValueError) as error:  # json.JSONDecodeError is a ValueError
            raise QuireError(
                f"{path} is not a clause report ({error}): it should come from `quire clauses --json`"
            ) from error
    return reports


def score_report(
    report: ClauseReport, contract: LabelledContract, shown: tuple[str, ...] = ("present", "needs_review")
) -> dict[str, CategoryScore]:
    """Quotes of `present` and `needs_review` findings count as answers: a person is shown both
    (`shown=("present",)` scores the confident answers alone)."""
    scores = {}
    for finding in report.findings:
        answered = finding.status in shown and bool(finding.quotes)
        predicted = [(q.start, q.end) for q in finding.quotes] if answered else []
        scores[finding.category] = score_finding(contract.spans.get(finding.category, ()), predicted, answered)
    return scores


def candidate_scores(
    service: Any, doc_id: str, contract: LabelledContract, categories: Sequence[str] | None
) -> tuple[dict[str, CategoryScore], int, int]:
    """Candidate recall per category, the largest prompt of any call group and the prompt tokens of
    all call groups together (what reviewing this contract reads), in Llama-3 tokens."""
    settings = service.settings.clauses
    document = stored_document(service.store.registry, doc_id)
    retrieved = retrieval_for(service.retriever, doc_id, settings.retrieved_per_category)
    call_tokens, located = call_plan(settings, document.text)
    scores: dict[str, CategoryScore] = {}
    largest = total = 0
    for group in catalogue_for(settings, categories).groups:
        candidates = plan_group(document, group, call_tokens, llama3_token_count, retrieved, located)
        overhead = call_tokens - excerpt_budget(group, call_tokens, llama3_token_count)
        largest = max(largest, overhead + candidates.tokens)
        total += overhead + candidates.tokens
        for category in group.categories:
            gold = contract.spans.get(category.name, ())
            scores[category.name] = CategoryScore(
                gold_spans=len(gold), covered_spans=sum(candidates.covers(*g) for g in gold)
            )
    return scores, largest, total


def evaluate_clauses(
    settings: Settings,
    labels: Path,
    limit: int | None = None,
    categories: Sequence[str] | None = None,
    extraction: bool = True,
    progress: Callable[[str], None] | None = None,
    reports: Path | None = None,
    pr_plot: Path | None = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Ingest the labelled contracts into a temporary store (or `data_dir`, reused by a second run),
    then score candidates and the model's findings (asked now, or read from the saved `reports`;
    contracts without one are left out)."""
    began = time.perf_counter()
    contracts = read_labels(labels, limit)
    saved = read_reports(reports) if reports else None
    result = Evaluation()
    if saved is not None:  # only contracts with a saved report are ingested and scored
        with_report = [c for c in contracts if sha256_file(c.path) in saved]
        result.without_report = [c.name for c in contracts if c not in with_report]
        contracts = with_report
    with indexed_corpus([c.path for c in contracts], settings, data_dir) as corpus:
        service = corpus.service
        engine = clause_engine(settings.clauses, service.backend_choice().backend) if saved is None else "saved"
        labelled_texts = []
        for contract in contracts:
            if progress:
                progress(contract.name)
            doc_id = corpus.doc_id(contract.path)
            scores, largest, total = candidate_scores(service, doc_id, contract, categories)
            result.max_call_tokens = max(result.max_call_tokens, largest)
            result.prompt_tokens.append(total)
            if extraction:
                report = saved[doc_id] if saved is not None else service.review_clauses(doc_id, categories)
                for name, score in score_report(report, contract).items():
                    if name in scores:  # a saved report may hold more categories than asked
                        scores[name].add(score)
                for name, score in score_report(report, contract, ("present",)).items():
                    if name in scores:
                        result.present_only.add(score)
            for name, score in scores.items():
                result.per_category.setdefault(name, CategoryScore()).add(score)
            result.contracts.append(contract.name)
            labelled_texts.append((service.store.registry.text(doc_id), contract.spans))
        model = _model_of(service, saved) if extraction else None
    summary = _summary(result, extraction, model, settings, time.perf_counter() - began)
    summary["engine"] = engine
    if extraction:
        confident = result.present_only
        summary["present_only"] = {
            "span_precision": _ratio(confident.matched_predicted, confident.predicted),
            "span_recall": _ratio(confident.matched_gold, summary["overall"]["gold_spans"]),
            "predicted_spans": confident.predicted,
        }
    if extraction and engine == "locator":
        summary["curve"] = _locator_curve(labelled_texts, list(result.per_category), pr_plot)
    return summary


def _locator_curve(
    labelled_texts: list[tuple[str, dict[str, tuple[Span, ...]]]], categories: list[str], pr_plot: Path | None
) -> dict[str, Any]:
    """AUPR and precision at 80% recall of the locator's scored candidates; the plot when asked."""
    pooled, per_category = locator_curves(default_locator(), labelled_texts, categories)
    figures = curve_summary(pooled, per_category)
    if pr_plot is not None:
        title = f"Clause locator, {len(labelled_texts)} contracts"
        figures["plot"] = str(plot_curve(pooled, pr_plot, title))
    return figures


def _model_of(service: Any, saved: dict[str, ClauseReport] | None) -> tuple[str, str] | None:
    """(backend, model) that produced the findings: the saved reports' own (none in an empty folder:
    no model is loaded just to name it), else the service's."""
    if saved is not None:
        report = next(iter(saved.values()), None)
        return (report.backend, report.model) if report else None
    backend = service.backend_choice().backend
    return backend.name, backend.model


def _summary(
    result: Evaluation, extraction: bool, model: tuple[str, str] | None, settings: Settings, seconds: float
) -> dict[str, Any]:
    total = CategoryScore()
    for score in result.per_category.values():
        total.add(score)
    return {
        "contracts": len(result.contracts),
        "categories": len(result.per_category),
        "call_tokens": settings.clauses.call_tokens,
        "located_call_tokens": settings.clauses.located_call_tokens,
        "max_call_tokens": result.max_call_tokens,
        "prompt_tokens_per_contract": round(sum(result.prompt_tokens) / len(result.prompt_tokens))
        if result.prompt_tokens
        else 0,
        "overall": total.to_json(extraction),
        "per_category": {name: s.to_json(extraction) for name, s in result.per_category.items()},
        "without_report": result.without_report,
        "backend": model[0] if model else None,
        "model": model[1] if model else None,
        "match": f"character Jaccard >= {MATCH_JACCARD}",
        "seconds": round(seconds, 1),
    }
