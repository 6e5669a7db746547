"""`quire train clauses`: rebuild the clause locator from CUAD-style labels, deterministically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rag.clauses.locator import ARTIFACT
from rag.clauses.locator.training import train
from rag.cli.common import JsonFlag, emit, err, out, run_friendly
from rag.errors import QuireError

train_app = typer.Typer(no_args_is_help=True, help="Train Quire's own small models from labelled data.")


def check_training_folder(folder: Path) -> None:
    """The folder must hold `cuad_labels.jsonl` and the contracts it names, as cuad_train does."""
    if not (folder / "cuad_labels.jsonl").is_file():
        raise QuireError(
            f"no cuad_labels.jsonl in {folder}: give a folder like ../shared/data/cuad_train "
            "(contracts/*.txt and their lawyer labels)"
        )


@train_app.command("clauses")
def clauses_command(
    folder: Annotated[Path, typer.Argument(help="Training folder: cuad_labels.jsonl and contracts/*.txt.")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write the locator (default: the one the package ships).")
    ] = ARTIFACT,
    validation_fraction: Annotated[
        float, typer.Option(help="Share of contracts held out to calibrate and choose the thresholds.")
    ] = 0.2,
    metrics: Annotated[Path | None, typer.Option(help="Also write the validation figures (JSON) here.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Train the clause locator (minutes on two cores); the same data gives byte-identical files."""

    def action() -> None:
        check_training_folder(folder)
        with err.status("training the clause locator…") as status:
            figures = train(folder, out_dir, validation_fraction, log=lambda line: status.update(str(line)))
        if metrics is not None:
            metrics.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if as_json:
            emit(figures)
            return
        out.print(f"clause locator written to {out_dir} ({figures['n_train_docs']} contracts, "
                  f"{figures['n_val_docs']} held out, {figures['train_seconds']:.0f}s)")  # fmt: skip

    run_friendly(action)
