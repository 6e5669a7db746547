"""`quire clauses` and `quire eval clauses`: the clause checklist on the command line.

Registered on the main app by `register(...)`, which receives the CLI's service getter and
helpers so that this module never imports `rag.cli` (run as `python -m rag.cli`, a second
copy of it would hold different settings).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from rag.categories import CREDIT
from rag.clause_report import ClauseReport
from rag.errors import QuireError

out = Console()
err = Console(stderr=True)
STATUS_STYLE = {"present": "green", "absent": "dim", "not_checked": "yellow", "needs_review": "magenta"}
QUOTE_PREVIEW = 160


def _print_report(report: ClauseReport) -> None:
    table = Table("category", "status", "value", "page", "quote / note", title=report.name, show_lines=False)
    for f in report.findings:
        quote = f.quotes[0].text if f.quotes else ""
        shown = (quote[:QUOTE_PREVIEW] + ("…" if len(quote) > QUOTE_PREVIEW else "")) if quote else ""
        detail = f'"{shown}"' + (f"\n[dim]{f.note}[/dim]" if f.note else "") if shown else f"[dim]{f.note}[/dim]"
        pages = ", ".join(str(p) for p in sorted({q.page for q in f.quotes}))
        style = STATUS_STYLE[f.status]
        table.add_row(f.category, f"[{style}]{f.status}[/{style}]", f.value, pages, detail)
    out.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    out.print(f"[dim]{counts} · {report.backend}:{report.model} · {report.seconds:.0f}s · {CREDIT}[/dim]")


def _categories(value: list[str] | None) -> list[str] | None:
    """`--categories` may be repeated or comma-separated."""
    if not value:
        return None
    return [name.strip() for item in value for name in item.split(",") if name.strip()]


def _list_catalogue(quire: Any, chosen: list[str] | None, emit: Callable[[Any], None] | None) -> None:
    """The categories a review would ask about: as JSON through `emit`, else one line each."""
    from rag.clause_service import catalogue_for

    catalogue = catalogue_for(quire.settings.clauses, chosen)
    rows = [{"category": c.name, "group": c.group, "answer_format": c.answer_format} for c in catalogue.categories]
    if emit:
        emit(rows)
        return
    for row in rows:
        out.print(f"{row['group']:>12}  {row['category']}")


def _review(quire: Any, doc: str | None, chosen: list[str] | None) -> list[ClauseReport]:
    """One document's report, or (`doc` None) every stored document's, with a spinner naming each."""
    from rag.portfolio import portfolio_reports

    with err.status("reviewing clauses…") as status:
        if doc is not None:
            return [quire.review_clauses(doc, chosen)]
        return portfolio_reports(quire, chosen, lambda name: status.update(f"reviewing clauses: {name}"))


def _write_tables(reports: list[ClauseReport], csv_file: Path | None, xlsx_file: Path | None) -> None:
    from rag.portfolio import csv_bytes, rows_of, xlsx_bytes

    rows = rows_of(reports)
    for path, to_bytes in ((csv_file, csv_bytes), (xlsx_file, xlsx_bytes)):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(to_bytes(rows))
            err.print(f"wrote {path}")


def register(
    app: typer.Typer,
    service: Callable[[], Any],
    emit: Callable[[Any], None],
    run_friendly: Callable[[Callable[[], int | None]], None],
) -> None:
    """Add `clauses` to `app` and `clauses` to its `eval` group (creating the group when absent)."""

    @app.command()
    def clauses(
        doc: Annotated[str | None, typer.Argument(help="Document id or name.")] = None,
        categories: Annotated[
            list[str] | None,
            typer.Option("--categories", help="Only these categories (repeat or comma-separate)."),
        ] = None,
        all_documents: Annotated[bool, typer.Option("--all", help="Every stored document (portfolio).")] = False,
        csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the findings as CSV.")] = None,
        xlsx_file: Annotated[Path | None, typer.Option("--xlsx", help="Write a spreadsheet (with --all).")] = None,
        list_categories: Annotated[bool, typer.Option("--list", help="List the categories and stop.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Clause checklist (41 CUAD categories): each present with a verified quote, absent, or flagged."""

        def action() -> None:
            quire = service()
            chosen = _categories(categories)
            if list_categories:
                _list_catalogue(quire, chosen, emit if as_json else None)
                return
            if all_documents == bool(doc):
                raise QuireError("give one DOC, or --all for every stored document")
            reports = _review(quire, None if all_documents else doc, chosen)
            _write_tables(reports, csv_file, xlsx_file)
            if as_json:
                emit(reports[0].to_json() if not all_documents else [r.to_json() for r in reports])
            else:
                for report in reports:
                    _print_report(report)

        run_friendly(action)

    eval_group = next((g.typer_instance for g in app.registered_groups if g.name == "eval"), None)
    if eval_group is None:
        eval_group = typer.Typer(no_args_is_help=True, help="Measure Quire against labelled data.")
        app.add_typer(eval_group, name="eval")

    @eval_group.command("clauses")
    def eval_clauses(
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
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Span precision/recall, missed-clause rate and candidate recall per category."""

        def action() -> None:
            from rag.eval_clauses import evaluate_clauses

            settings = service().settings
            with err.status("evaluating…") as status:
                result = evaluate_clauses(
                    settings, labels, limit, _categories(categories), not candidates_only,
                    progress=lambda name: status.update(f"evaluating {name}"), reports=reports,
                )  # fmt: skip
            if as_json:
                emit(result)
                return
            _print_evaluation(result)

        run_friendly(action)


def _print_evaluation(result: dict[str, Any]) -> None:
    columns = list(result["overall"])
    table = Table("category", *columns, title=f"{result['contracts']} contracts · {result['match']}")
    for name, figures in [*result["per_category"].items(), ("overall", result["overall"])]:
        table.add_row(name, *("-" if figures.get(c) is None else str(figures.get(c)) for c in columns))
    out.print(table)
    tokens, limit = result["max_call_tokens"], result["call_tokens"]
    out.print(f"largest call: {tokens} tokens (limit {limit}), {result['seconds']}s")
    if result["without_report"]:
        out.print(f"left out, no saved report: {', '.join(result['without_report'])}")
