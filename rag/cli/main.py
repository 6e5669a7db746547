"""`quire` command line. `--json` prints the documented shapes on stdout (outside tools read them);
everything else is for people, with progress bars on stderr. Each command group has its own module;
this one builds the app from them and holds the document commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ingest.pipeline import IngestProgress
from rag.auth import require_password_for
from rag.cli.batch import batch_app
from rag.cli.clauses import clauses
from rag.cli.common import DocOption, JsonFlag, State, emit, err, out, progress_bar, run_friendly
from rag.cli.eval import eval_app
from rag.cli.summarize import summarize
from rag.cli.train import train_app
from rag.errors import QuireError
from rag.service import DEMO_MODEL_NOTICE
from rag.settings import Settings
from rag.types import Answer, Evidence

APP_FILE = Path(__file__).resolve().parents[2] / "app.py"

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Quire: private document QA for contracts.")
app.add_typer(batch_app, name="batch")
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.command("summarize")(summarize)
app.command("clauses")(clauses)


@app.callback()
def main_options(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Overrides QUIRE_DATA_DIR.")] = None,
    workspace: Annotated[str | None, typer.Option("--workspace", help="Overrides QUIRE_WORKSPACE.")] = None,
) -> None:
    settings = Settings().with_data_dir(data_dir)
    if workspace:
        settings = Settings.model_validate({**settings.model_dump(), "workspace": workspace})
    State.settings = settings
    State._service = None


def _ingest_progress(bar: Progress) -> IngestProgress:
    """Three bars: files (with ETA), pages read, chunks embedded (of those chunked so far)."""
    files = bar.add_task("files", total=None)
    pages = bar.add_task("pages", total=None)
    chunks = bar.add_task("chunks", total=0)
    embedded_before = [0]

    def on_parsed(name: str, page_count: int, chunk_count: int) -> None:
        bar.update(pages, advance=page_count, total=bar.tasks[pages].completed + page_count)
        bar.update(chunks, total=(bar.tasks[chunks].total or 0) + chunk_count)
        embedded_before[0] = int(bar.tasks[chunks].completed)

    return IngestProgress(
        on_start=lambda total: bar.update(files, total=total),
        on_file=lambda name: bar.update(files, description=f"files · {name[:40]}"),
        on_parsed=on_parsed,
        on_chunks=lambda done, total: bar.update(chunks, completed=embedded_before[0] + done),
        on_result=lambda result: bar.advance(files),
    )


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
    password: Annotated[str | None, typer.Option(help="Password for encrypted PDFs.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add documents to the store. Exit 2 when any file failed (the others are still ingested)."""

    def action() -> int:
        with progress_bar() as bar:
            report = State.service().ingest(paths, password=password, progress=_ingest_progress(bar))
        if as_json:
            emit(report.to_json())
        else:
            table = Table("status", "name", "pages", "chunks", "error")
            for doc in report.documents:
                table.add_row(doc.status, doc.name, str(doc.pages), str(doc.chunks), doc.error or "")
            out.print(table)
            out.print(f"{len(report.documents)} files in {report.seconds:.1f}s")
        return 2 if report.failed else 0

    run_friendly(action)


@app.command()
def docs(as_json: JsonFlag = False) -> None:
    """List stored documents."""

    def action() -> None:
        documents = State.service().documents()
        if as_json:
            emit([{k: getattr(d, k) for k in ("doc_id", "name", "pages", "chunks", "ingested_at")} for d in documents])
            return
        table = Table("doc id", "name", "pages", "chunks", "OCR pages", "empty pages", "ingested")
        for d in documents:
            ocr, empty = (str(sum(1 for q in d.page_quality if q == kind)) for kind in ("ocr", "empty"))
            table.add_row(d.doc_id[:12], d.name, str(d.pages), str(d.chunks), ocr, empty, d.ingested_at)
        out.print(table)

    run_friendly(action)


@app.command()
def rm(refs: Annotated[list[str], typer.Argument(help="Document ids or names.")], as_json: JsonFlag = False) -> None:
    """Remove documents: their vectors, chunks and registry rows."""

    def action() -> None:
        removed = State.service().remove(refs)
        if as_json:
            emit({"removed": [{"doc_id": d.doc_id, "name": d.name} for d in removed]})
        else:
            for d in removed:
                out.print(f"removed {d.name} ({d.doc_id[:12]})")

    run_friendly(action)


@app.command()
def retrieve(
    query: Annotated[str | None, typer.Argument(help="The question or search text.")] = None,
    doc: DocOption = None,
    budget_chars: Annotated[int | None, typer.Option(help="Characters of passages to return.")] = None,
    queries: Annotated[Path | None, typer.Option(help="JSONL file of {query_id, query}; one result line each.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search the documents without an LLM."""

    def action() -> None:
        service = State.service()
        if queries is not None:
            for line in queries.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    passages = service.retrieve(item["query"], doc or (), budget_chars)
                    emit({"query_id": item["query_id"], "passages": [p.to_json() for p in passages]})
            return
        if not query:
            raise QuireError("give a QUERY or --queries FILE")
        passages = service.retrieve(query, doc or (), budget_chars)
        if as_json:
            emit({"query": query, "passages": [p.to_json() for p in passages]})
            return
        for p in passages:
            out.print(f"[bold]{p.name}[/bold] p.{p.page_start}-{p.page_end} score {p.score:.3f}")
            out.print(p.text, markup=False, highlight=False)
            out.print()

    run_friendly(action)


def _print_evidence(evidence: tuple[Evidence, ...], is_demo: bool) -> None:
    """The evidence before the reply: each passage's answering sentence, with document and page."""
    out.print("[bold]Evidence[/bold]" if evidence else "[dim]No passage matches this question.[/dim]")
    for item in evidence:
        sentence = " ".join(item.sentence.split())
        out.print(f"  [cyan]{item.name}, page {item.page}[/cyan]: {escape(sentence)}", highlight=False)
    out.print("[bold]Reply of the demo model (not the answer)[/bold]" if is_demo else "[bold]Reply[/bold]")


def _print_answer(answer: Answer, is_demo: bool) -> None:
    out.print()
    if answer.hidden_reason:
        out.print(f"[yellow]{answer.hidden_reason}: the evidence above stands.[/yellow]")
    for c in answer.citations:
        if c.verified:
            out.print(f'  [green]✓[/green] {c.name}, page {c.page}: "{c.quote}"', markup=True, highlight=False)
        else:
            out.print(f"  [yellow]✗ unverified (not found in the document), not shown as a quote[/yellow] ({c.name})")
    out.print(f"[dim]{answer.in_view} · {answer.backend}:{answer.model} · num_ctx {answer.num_ctx}[/dim]")
    if is_demo:
        err.print(f"[yellow]{DEMO_MODEL_NOTICE}[/yellow]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    doc: DocOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Ask a question; the answer cites document, page and the exact words."""

    def action() -> None:
        service = State.service()
        backend = service.backend_choice().backend
        if as_json:
            emit(service.ask(question, doc or ()).to_json())
            return
        final = None
        for event in service.stream_ask(question, doc or ()):
            if isinstance(event, Answer):
                final = event
            elif isinstance(event, tuple):
                _print_evidence(event, backend.is_demo)
            else:
                out.print(event, end="", markup=False, highlight=False)
        if final:
            _print_answer(final, backend.is_demo)

    run_friendly(action)


@app.command()
def doctor(
    as_json: JsonFlag = False,
    check: Annotated[bool, typer.Option("--check", help="Also compare the registry with the vectors.")] = False,
) -> None:
    """Which model answers, whether it is reachable, and what the store holds (exit 1: check failed)."""

    def action() -> int:
        report = State.service().doctor()
        if check:
            report["check"] = State.service().store.check().to_json()
        if as_json:
            emit(report)
        else:
            for key, value in report.items():
                out.print(f"[bold]{key}[/bold]: {value}", highlight=False)
        return 1 if check and not report["check"]["ok"] else 0

    run_friendly(action)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8501).")] = None,
) -> None:
    """Start the web app."""
    settings = State.settings or Settings()
    bind = host or settings.server.host
    try:
        require_password_for(bind, settings.auth.password)
    except QuireError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    env = {**os.environ, "QUIRE_DATA_DIR": str(settings.data_dir.resolve()), "QUIRE_WORKSPACE": settings.workspace}
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_FILE),
        "--server.address", bind,
        "--server.port", str(port or settings.server.port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    err.print(f"Quire is starting on http://{bind}:{port or settings.server.port}")
    os.execve(sys.executable, command, env)  # streamlit takes this process over: signals reach it directly


def main() -> None:
    app()


if __name__ == "__main__":
    main()
