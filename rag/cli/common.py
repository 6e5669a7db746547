"""What every `quire` command shares: the consoles, the settings and service of this run, JSON output,
friendly errors and progress bars.

Commands live in their own modules and import this one; none imports `rag.cli.main`, which may run as
`__main__` (a second copy of it would hold different settings).
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from rag.errors import QuireError
from rag.settings import Settings

out = Console()
err = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
DocOption = Annotated[list[str] | None, typer.Option("--doc", help="Limit to these documents (id or name).")]


class State:
    """The settings of this run (set by the root command's options) and the service built from them."""

    settings: Settings | None = None
    _service: Any = None

    @classmethod
    def current_settings(cls) -> Settings:
        return cls.settings or Settings()

    @classmethod
    def service(cls) -> Any:
        if cls._service is None:
            cls._service = build_service(cls.current_settings())
        return cls._service


def build_service(settings: Settings) -> Any:
    """The Quire facade, or the `module:callable` named in `batch.service_factory` (a lighter service).

    Imported here, not at the top: the facade loads the models' libraries, and `quire --help` should not wait.
    """
    factory = settings.batch.service_factory
    if factory:
        module, _, name = factory.partition(":")
        return getattr(importlib.import_module(module), name)(settings)
    from rag.service import Quire

    return Quire(settings)


def emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def run_friendly(action: Callable[[], int | None]) -> None:
    """Run a command; Quire's own errors become one red line and exit code 1."""
    try:
        code = action() or 0
    except QuireError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    raise typer.Exit(code)


def progress_bar(transient: bool = True) -> Progress:
    """Bars on stderr, so `--json` on stdout stays clean."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
    )
