"""`quire clauses`: the clause checklist of one document or of every stored one, as a table, CSV or XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rag.clauses.categories import CREDIT
from rag.clauses.portfolio import csv_bytes, portfolio_reports, rows_of, xlsx_bytes
from rag.clauses.report import ClauseReport
from rag.clauses.stored import catalogue_for
from rag.cli.common import JsonFlag, State, emit, err, out, run_friendly
from rag.cli.eval import split_names
from rag.errors import QuireError

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
        decided = f"{f.engine} {f.score:.2f}" if f.score is not None else f.engine
        table.add_row(f.category, f"[{style}]{f.status}[/{style}]\n[dim]{decided}[/dim]", f.value, pages, detail)
    out.print(table)
    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    out.print(f"[dim]{counts} · {report.backend}:{report.model} · {report.seconds:.0f}s · {CREDIT}[/dim]")


def _list_catalogue(quire: Any, chosen: list[str] | None, as_json: bool) -> None:
    """The categories a review would ask about: as JSON through `emit`, else one line each."""
    catalogue = catalogue_for(quire.settings.clauses, chosen)
    rows = [{"category": c.name, "group": c.group, "answer_format": c.answer_format} for c in catalogue.categories]
    if as_json:
        emit(rows)
        return
    for row in rows:
        out.print(f"{row['group']:>12}  {row['category']}")


def _review(quire: Any, doc: str | None, chosen: list[str] | None) -> list[ClauseReport]:
    """One document's report, or (`doc` None) every stored document's, with a spinner naming each."""
    with err.status("reviewing clauses…") as status:
        if doc is not None:
            return [quire.review_clauses(doc, chosen)]
        return portfolio_reports(quire, chosen, lambda name: status.update(f"reviewing clauses: {name}"))


def _write_tables(reports: list[ClauseReport], csv_file: Path | None, xlsx_file: Path | None) -> None:
    rows = rows_of(reports)
    for path, to_bytes in ((csv_file, csv_bytes), (xlsx_file, xlsx_bytes)):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(to_bytes(rows))
            err.print(f"wrote {path}")


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
    as_json: JsonFlag = False,
) -> None:
    """Clause checklist (41 CUAD categories): each present with a verified quote, absent, or flagged."""

    def action() -> None:
        quire = State.service()
        chosen = split_names(categories)
        if list_categories:
            _list_catalogue(quire, chosen, as_json)
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
