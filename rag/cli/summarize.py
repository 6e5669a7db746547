"""`quire summarize DOC [--json] [--out FILE]`: a whole-document summary with its coverage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import JsonFlag, State, emit, err, out, run_friendly


def summarize(
    doc: Annotated[str, typer.Argument(help="Document id or name.")],
    as_json: JsonFlag = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the Markdown (JSON with --json) here.")
    ] = None,
) -> None:
    """Summarise a whole document: headline, key terms, coverage; quotes verified against the text."""

    def action() -> None:
        quire = State.service()
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
