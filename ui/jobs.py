"""Long work (ingesting, summarising, reviewing clauses) off the page, with progress on disk.

Streamlit reruns the page script on every click, so work done inside it would block the page
and vanish with the tab. Here a single worker thread in the server process runs one job at a
time (two cores, one llama context) and writes its progress to SQLite under the data dir; any
page, including one reloaded later, reads the journal. A job left `running` by a server that
is gone is marked `interrupted`, so nothing claims to be working when nothing is.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from rag.errors import QuireError

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed", "interrupted"]
ACTIVE: tuple[JobState, ...] = ("queued", "running")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    result TEXT,
    owner_pid INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_kind ON jobs(kind, created_at);
"""


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    title: str
    params: dict[str, Any]
    state: JobState
    progress: float
    message: str
    result: Any
    created_at: str
    updated_at: str

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobJournal:
    """The jobs table: written by the worker, read by every page."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.row_factory = sqlite3.Row
        return db

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        db = self._connect()
        try:
            with db:
                db.execute(sql, args)
        finally:
            db.close()

    def create(self, kind: str, title: str, params: dict[str, Any]) -> str:
        job_id = uuid.uuid4().hex[:12]
        now = _now()
        self._write(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, 'queued', 0, 'waiting for the jobs before it', NULL, ?, ?, ?)",
            (job_id, kind, title, json.dumps(params), os.getpid(), now, now),
        )
        return job_id

    def update(self, job_id: str, state: JobState, progress: float, message: str, result: Any = None) -> None:
        stored = None if result is None else json.dumps(result, default=str)
        self._write(
            "UPDATE jobs SET state = ?, progress = ?, message = ?, result = COALESCE(?, result), "
            "updated_at = ? WHERE job_id = ?",
            (state, max(0.0, min(progress, 1.0)), message, stored, _now(), job_id),
        )

    def forget(self, job_id: str) -> None:
        self._write("DELETE FROM jobs WHERE job_id = ?", (job_id,))

    def mark_orphans(self) -> int:
        """Jobs whose server process has died will never finish: say so."""
        db = self._connect()
        try:
            rows = db.execute("SELECT job_id, owner_pid FROM jobs WHERE state IN ('queued', 'running')").fetchall()
        finally:
            db.close()
        orphans = [r["job_id"] for r in rows if r["owner_pid"] != os.getpid() and not _alive(r["owner_pid"])]
        for job_id in orphans:
            self.update(job_id, "interrupted", 0.0, "the app stopped before this finished: start it again")
        return len(orphans)

    def get(self, job_id: str) -> Job | None:
        found = self._select("WHERE job_id = ?", (job_id,))
        return found[0] if found else None

    def jobs(self, kind: str | None = None, limit: int = 50) -> list[Job]:
        if kind is None:
            return self._select("ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,))
        return self._select("WHERE kind = ? ORDER BY created_at DESC, rowid DESC LIMIT ?", (kind, limit))

    def _select(self, clause: str, args: tuple[Any, ...]) -> list[Job]:
        db = self._connect()
        try:
            rows = db.execute(f"SELECT * FROM jobs {clause}", args).fetchall()
        finally:
            db.close()
        return [
            Job(
                job_id=r["job_id"],
                kind=r["kind"],
                title=r["title"],
                params=json.loads(r["params"]),
                state=r["state"],
                progress=r["progress"],
                message=r["message"],
                result=json.loads(r["result"]) if r["result"] else None,
                created_at=r["created_at"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]


class Reporter:
    """What a job's work function sees: a way to say how far it got."""

    def __init__(self, journal: JobJournal, job_id: str):
        self._journal = journal
        self._job_id = job_id

    def __call__(self, progress: float, message: str) -> None:
        self._journal.update(self._job_id, "running", progress, message)


Work = Callable[[Reporter], tuple[str, Any]]  # returns (closing message, JSON-able result)


class JobFailed(QuireError):
    """Raised by a work function whose job failed in a way the person can act on; keeps the result."""

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


class JobRunner:
    """One worker thread, first come first served."""

    def __init__(self, journal: JobJournal):
        self.journal = journal
        self.journal.mark_orphans()
        self._queue: queue.Queue[tuple[str, Work]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="quire-jobs", daemon=True)
        self._thread.start()

    def submit(self, kind: str, title: str, params: dict[str, Any], work: Work) -> str:
        job_id = self.journal.create(kind, title, params)
        self._queue.put((job_id, work))
        return job_id

    def wait_idle(self, timeout: float | None = None) -> bool:
        """For tests and shutdown: True once every submitted job has finished."""
        done = threading.Event()
        threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True).start()
        return done.wait(timeout)

    def _loop(self) -> None:
        while True:
            job_id, work = self._queue.get()
            try:
                self._run(job_id, work)
            finally:
                self._queue.task_done()

    def _run(self, job_id: str, work: Work) -> None:
        self.journal.update(job_id, "running", 0.0, "starting")
        try:
            message, result = work(Reporter(self.journal, job_id))
        except JobFailed as error:
            self.journal.update(job_id, "failed", 1.0, str(error), error.result)
        except QuireError as error:
            self.journal.update(job_id, "failed", 1.0, str(error))
        except Exception as error:  # noqa: BLE001 - a job must end with a message, never a dead thread
            log.exception("job %s failed", job_id)
            self.journal.update(job_id, "failed", 1.0, f"unexpected error ({type(error).__name__}: {error})")
        else:
            self.journal.update(job_id, "done", 1.0, message, result)
