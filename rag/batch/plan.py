"""What a batch is asked to do (`BatchPlan`), what it reports while it runs and what it returns.

Records only: the orchestrator (`rag.batch.run`) acts on them and the report (`rag.batch.report`)
reads them, so neither needs the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.batch.steps import Step


@dataclass(frozen=True)
class BatchPlan:
    folder: Path
    out_dir: Path
    steps: tuple[Step, ...]
    workers: int = 1
    retries: int = 1
    backoff_s: float = 5.0
    stop_grace_s: float = 30.0
    report_every_s: float = 30.0  # the report is rewritten after a finished file at most this often; 0: every file

    @property
    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]


@dataclass
class BatchProgress:
    """Callbacks for the CLI's progress bar; all optional."""

    on_start: Callable[[int, int], None] = lambda total, already: None
    on_step: Callable[[str, str], None] = lambda path, step: None
    on_file_done: Callable[[str, str], None] = lambda path, outcome: None


@dataclass(frozen=True)
class BatchOutcome:
    run_id: int
    files: int
    processed: int
    failed: int
    stopped: bool
    abandoned: int  # steps still running when the stop grace ran out; the next run redoes them
    seconds: float


@dataclass(frozen=True)
class WorkItem:
    path: str  # relative to the folder
    source: Path
    sha256: str
    out_name: str
