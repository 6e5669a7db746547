"""The batch's output folder: one writer at a time, its log, crash recovery, and the work to do.

`rag.batch.run` drives the steps; everything here is about the folder itself, so `quire batch
status` and the web app read a folder's state without loading the runner or any model.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ingest.discover import iter_files, sha256_file
from rag.batch.files import fsync_dir, unique_out_name
from rag.batch.journal import Journal, StepRow, seconds_left
from rag.batch.plan import WorkItem
from rag.errors import BatchBusy, QuireError
from rag.store.locks import holder, stamped

log = logging.getLogger("quire.batch")

LOCK_NAME = "batch.lock"
LOG_NAME = "batch.log"
STAGING = ".staging"


# --- locking and logging ------------------------------------------------------------------------
@contextmanager
def batch_lock(out_dir: Path) -> Iterator[None]:
    """One batch per output folder; the OS drops the lock when the process dies, even by SIGKILL."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / LOCK_NAME).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise BatchBusy(
                f"another batch (pid {holder(handle)}) is writing to {out_dir}: wait for it, "
                f"or watch it with `quire batch status {out_dir}`"
            ) from error
        with stamped(handle):
            yield


def is_running(out_dir: Path) -> bool:
    lock = out_dir / LOCK_NAME
    if not lock.exists():
        return False
    with lock.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


@contextmanager
def log_to(out_dir: Path) -> Iterator[None]:
    handler = logging.FileHandler(out_dir / LOG_NAME, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()


# --- recovery and scanning ----------------------------------------------------------------------
def recover(journal: Journal, out_dir: Path) -> None:
    """Finish renames a crash interrupted; redo steps whose outputs are gone; drop orphan temp files."""
    staging = out_dir / STAGING
    staging.mkdir(exist_ok=True)
    referenced: set[str] = set()
    for row in journal.steps():
        if row.status == "done" and not _outputs_in_place(journal, row, out_dir):
            log.warning("outputs of %s for %s are missing or altered: the step will be redone", row.step, row.path)
            journal.reset_step(row.path, row.step)
        referenced.update(m["staged"] for m in row.outputs.values() if "staged" in m)
    for leftover in staging.iterdir():
        if leftover.name not in referenced:
            leftover.unlink()
    for leftover in out_dir.glob(".*.tmp"):
        leftover.unlink()


def _outputs_in_place(journal: Journal, row: StepRow, out_dir: Path) -> bool:
    for name, meta in row.outputs.items():
        staged = out_dir / STAGING / meta.get("staged", "")
        if "staged" in meta and staged.is_file():
            os.replace(staged, out_dir / name)
            fsync_dir(out_dir)
        final = out_dir / name
        if not final.is_file() or sha256_file(final) != meta["sha256"]:
            return False
        if "staged" in meta:
            journal.mark_published(row.path, row.step, name)
    return True


def scan(journal: Journal, run_id: int, folder: Path, out_dir: Path) -> list[WorkItem]:
    """Every supported file under `folder` (never the batch's own outputs), enqueued or re-hashed."""
    known = {f.path: f for f in journal.files()}
    taken = journal.taken_names()
    out_resolved = out_dir.resolve()
    items = []
    for source in iter_files([folder]):
        if source.resolve().is_relative_to(out_resolved):
            continue
        rel = source.relative_to(folder).as_posix()
        sha = sha256_file(source)
        row = known.get(rel)
        if row is None:
            out_name = unique_out_name(rel, taken)
            journal.enqueue(rel, out_name, sha)
        else:
            out_name = row.out_name
            if row.sha256 != sha:
                log.info("%s changed since the last run: its steps will be redone", rel)
                journal.content_changed(run_id, rel, sha)
        items.append(WorkItem(rel, source, sha, out_name))
    return items


def batch_status(out_dir: Path) -> dict[str, Any]:
    """What `quire batch status` shows; reads the journal only, so it works during a run and after."""
    try:
        journal = Journal(out_dir, readonly=True)
    except FileNotFoundError as error:
        raise QuireError(
            f"no batch journal in {out_dir}: start one with `quire batch FOLDER --out {out_dir}`"
        ) from error
    try:
        run = journal.last_run() or {}
        steps = run.get("steps", ["ingest"])
        statuses = journal.file_statuses(steps)
        counts = {state: 0 for state in ("queued", "ingested", "summarised", "reviewed", "failed")}
        for status in statuses:
            counts[status.state] = counts.get(status.state, 0) + 1
        running = is_running(out_dir)
        unfinished = [
            {"path": r.path, "step": r.step, "since": r.started_at, "attempts": r.attempts}
            for r in journal.running_steps()
        ]
        return {
            "out": str(out_dir),
            "running": running,
            "run": run,
            "steps": steps,
            "files": len(statuses),
            "complete": sum(1 for s in statuses if s.complete),
            "counts": counts,
            "in_progress": unfinished if running else [],
            "interrupted": [] if running else unfinished,  # left by a crash or a stop; the next run redoes them
            "failures": [{"path": s.path, "step": s.failed_step, "error": s.error} for s in statuses if s.failed_step],
            "seconds_left": seconds_left(statuses, journal.steps(), steps),
        }
    finally:
        journal.close()
