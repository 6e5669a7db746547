"""`quire summarize DOC [--json] [--out FILE]`: a whole-document summary with its coverage.

Built by `rag.cli` with its service accessor and helpers (passed in, not imported: under
`python -m rag.cli` that module runs as `__main__`, and importing it again would make a second,
unconfigured copy).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console


def make_summarize_command(
    service: Callable[[], Any],
    run_friendly: Callable[[Callable[[], None]], None],
    emit: Callable[[Any], None],
) -> Callable[..., None]:
    out = Console()
    err = Console(stderr=True)

    def summarize(
        doc: Annotated[str, typer.Argument(help="Document id or name.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
        out_file: Annotated[
            Path | None, typer.Option("--out", help="Also write the Markdown (JSON with --json) here.")
        ] = None,
    ) -> None:
        """Summarise a whole document: headline, key terms, coverage; quotes verified against the text."""

        def action() -> None:
            quire = service()
            err.print(f"[dim]summarising with {quire.backend_choice().backend.describe()}…[/dim]")
            summary = quire.summarize(doc)
            if out_file is not None:
                body = json.dumps(summary.to_json(), ensure_ascii=False, indent=2) if as_json else summary.markdown
                out_file.write_text(body, encoding="utf-8")
            if as_json:
                emit(summary.to_json())
            else:
                out.print(summary.markdown, markup=False, highlight=False)

        run_friendly(action)

    return summarize
