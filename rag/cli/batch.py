"""`quire batch FOLDER --out DIR` and `quire batch status DIR`: the overnight batch on the command line.

SIGTERM and Ctrl-C stop the batch cleanly (no new steps; running ones get `QUIRE_BATCH__STOP_GRACE_S`
to finish, then are abandoned and redone by the next run); a second signal stops at once. Either
way the journal stays valid, because every state change is one SQLite transaction.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.progress import Progress
from typer.core import TyperGroup

from rag.batch.folder import batch_status
from rag.batch.journal import hours_minutes
from rag.batch.plan import BatchPlan, BatchProgress
from rag.batch.run import run_batch
from rag.batch.steps import plan_steps
from rag.cli.common import State, emit, err, progress_bar
from rag.cli.common import out as console
from rag.errors import QuireError


class DefaultRunGroup(TyperGroup):
    """`quire batch FOLDER ...` means `quire batch run FOLDER ...`; `status` stays a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


batch_app = typer.Typer(cls=DefaultRunGroup, no_args_is_help=True, help="Overnight batch over a folder.")


def _install_stop_handlers(stop: threading.Event) -> dict[str, int]:
    received: dict[str, int] = {}

    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set():
            os._exit(128 + signum)  # second signal: the journal is valid at every instant
        received["signal"] = signum
        err.print("[yellow]stopping: finishing the steps in flight; run the same command again to continue[/yellow]")
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return received


@batch_app.command("run")
def run(
    folder: Annotated[Path, typer.Argument(help="Folder of documents (recursive).", exists=True, file_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="Output folder: journal, log, outputs, report.")],
    summaries: Annotated[bool, typer.Option("--summaries", help="Write NAME.summary.md per document.")] = False,
    clauses: Annotated[bool, typer.Option("--clauses", help="Write NAME.clauses.json/.csv and the portfolio.")] = False,
    workers: Annotated[int | None, typer.Option(help="Files at once (default QUIRE_BATCH__WORKERS).", min=1)] = None,
) -> None:
    """Ingest (and summarise/review) every supported file; re-run the same command to resume."""
    settings = State.current_settings()
    plan = BatchPlan(
        folder=folder,
        out_dir=out,
        steps=plan_steps(summaries, clauses),
        workers=workers or settings.batch.workers,
        retries=settings.batch.retries,
        backoff_s=settings.batch.retry_backoff_s,
        stop_grace_s=settings.batch.stop_grace_s,
    )
    stop = threading.Event()
    received = _install_stop_handlers(stop)
    try:
        with progress_bar(transient=False) as bar:
            outcome = run_batch(State.service(), plan, stop, _bar_callbacks(bar))
    except QuireError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    err.print(
        f"{outcome.processed} processed, {outcome.failed} failed of {outcome.files} files "
        f"in {outcome.seconds:.1f}s; "
        f"report: {out / 'index.md'}"
    )
    if outcome.stopped:
        err.print(f"stopped; {outcome.abandoned} step(s) abandoned: run the same command again to continue")
        code = 128 + received.get("signal", signal.SIGTERM)
        if outcome.abandoned:
            sys.stderr.flush()
            os._exit(code)  # threads stuck in an LLM call cannot be joined; the journal is already valid
        raise typer.Exit(code)
    raise typer.Exit(2 if outcome.failed else 0)


def _bar_callbacks(bar: Progress) -> BatchProgress:
    task = bar.add_task("batch", total=None)

    def on_start(total: int, already: int) -> None:
        bar.update(task, total=total, completed=already)

    return BatchProgress(
        on_start=on_start,
        on_step=lambda path, step: bar.update(task, description=f"{step} {Path(path).name[:40]}"),
        on_file_done=lambda path, outcome: bar.advance(task),
    )


@batch_app.command("status")
def status(
    out: Annotated[Path, typer.Argument(help="The batch's output folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Where a batch stands: counts per state, what runs now, failures and their reasons."""
    try:
        report = batch_status(out)
    except QuireError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    if as_json:
        emit(report)
        return
    state = "running" if report["running"] else (report["run"].get("outcome") or "interrupted")
    console.print(f"[bold]{out}[/bold]: {state}; {report['complete']} of {report['files']} files complete")
    console.print("  " + ", ".join(f"{k} {v}" for k, v in report["counts"].items()))
    for item in report["in_progress"]:
        console.print(f"  now: {item['step']} {item['path']} (since {item['since']})", markup=False)
    for failure in report["failures"]:
        console.print(
            f"  [red]failed[/red] {failure['path']} at {failure['step']}: {failure['error']}", highlight=False
        )
    if report["seconds_left"]:
        console.print(f"  about {hours_minutes(report['seconds_left'])} of work left at this batch's pace so far")
