"""`quire eval retrieval` and `quire eval clauses`: Quire measured against labelled data, on the user's machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rag.cli.common import JsonFlag, State, emit, err, out, run_friendly
from rag.errors import QuireError
from rag.eval.clauses import evaluate_clauses
from rag.eval.corpus import indexed_corpus
from rag.eval.retrieval import Report, evaluate, load_queries, run_ablation
from rag.settings import Settings

ENGINES = ("auto", "locator", "model")

eval_app = typer.Typer(no_args_is_help=True, help="Measure Quire against labelled data.")


def split_names(value: list[str] | None) -> list[str] | None:
    """`--categories` may be repeated or comma-separated."""
    if not value:
        return None
    return [name.strip() for item in value for name in item.split(",") if name.strip()]


def _parse_budgets(text: str) -> tuple[int, ...]:
    try:
        budgets = tuple(int(b) for b in text.split(",") if b.strip())
    except ValueError as error:
        raise QuireError(f"--budget-chars takes numbers separated by commas, got {text!r}") from error
    if not budgets or min(budgets) <= 0:
        raise QuireError("--budget-chars needs at least one positive number of characters")
    return budgets


def _print_report(label: str, report: Report) -> None:
    parts = [f"{b:,} chars: recall {s.recall:.1%}, precision {s.precision:.1%}" for b, s in report.overall.items()]
    out.print(f"[bold]{label}[/bold]  " + " | ".join(parts), highlight=False)


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
    as_json: JsonFlag = False,
) -> None:
    """Character recall and precision of retrieval, per budget, overall and per query."""

    def action() -> None:
        budgets = _parse_budgets(budget_chars)
        queries, folders = load_queries(queries_file)
        queries = queries[:limit] if limit else queries
        files = sorted(f for folder in folders for f in folder.glob("*.txt"))
        if not files:
            raise QuireError(f"no .txt corpus found in {', '.join(map(str, folders))}")
        with indexed_corpus(files, State.current_settings(), data_dir) as corpus:
            service = corpus.service
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


@eval_app.command("clauses")
def clauses_command(
    labels: Annotated[Path, typer.Argument(help="CUAD-style labels (JSONL: contract, txt, clauses).")],
    limit: Annotated[int | None, typer.Option(help="Only the first N contracts.")] = None,
    categories: Annotated[list[str] | None, typer.Option("--categories", help="Only these categories.")] = None,
    candidates_only: Annotated[
        bool, typer.Option("--candidates-only", help="Only candidate recall (no model calls).")
    ] = False,
    reports: Annotated[
        Path | None,
        typer.Option(
            "--reports",
            help="Score the *.clauses.json already in this folder (a `quire batch --clauses` --out) "
            "instead of asking the model; contracts without one are left out.",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Who decides: `locator` (the trained clause locator, no model), `model` (the language "
            "model), or `auto` (QUIRE_CLAUSES__ENGINE: the locator on the demo model).",
        ),
    ] = "",
    pr_plot: Annotated[
        Path | None, typer.Option("--pr-plot", help="With the locator: write its precision-recall curve (PNG) here.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Index the contracts here and reuse it (default: a temporary dir)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Span precision/recall, missed-clause rate and candidate recall per category."""

    def action() -> None:
        settings = with_engine(State.current_settings(), engine)
        with err.status("evaluating…") as status:
            result = evaluate_clauses(
                settings, labels, limit, split_names(categories), not candidates_only,
                progress=lambda name: status.update(f"evaluating {name}"), reports=reports, pr_plot=pr_plot,
                data_dir=data_dir,
            )  # fmt: skip
        if as_json:
            emit(result)
            return
        _print_evaluation(result)

    run_friendly(action)


def with_engine(settings: Settings, engine: str) -> Settings:
    """The settings with the clause engine a command asked for (unchanged when it asked for none)."""
    if not engine:
        return settings
    if engine not in ENGINES:
        raise QuireError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    clauses = settings.clauses.model_copy(update={"engine": engine})
    return settings.model_copy(update={"clauses": clauses})


def _print_evaluation(result: dict[str, Any]) -> None:
    columns = list(result["overall"])
    table = Table("category", *columns, title=f"{result['contracts']} contracts · {result['match']}")
    for name, figures in [*result["per_category"].items(), ("overall", result["overall"])]:
        table.add_row(name, *("-" if figures.get(c) is None else str(figures.get(c)) for c in columns))
    out.print(table)
    tokens, limit = result["max_call_tokens"], result["call_tokens"]
    out.print(
        f"largest call: {tokens} tokens (limit {limit}), {result['prompt_tokens_per_contract']} prompt tokens "
        f"per contract, {result['seconds']}s"
    )
    if result["without_report"]:
        out.print(f"left out, no saved report: {', '.join(result['without_report'])}")
    if "curve" in result:
        curve = result["curve"]
        out.print(
            f"locator AUPR {curve['aupr']}, precision at 80% recall {curve['precision_at_80_recall']} "
            f"(CUAD paper, DeBERTa-xlarge: {curve['published']['aupr']} / {curve['published']['precision_at_80_recall']})"
        )
