"""The batch journal: one SQLite file in the output folder that says, for every source file,
which steps are done for which content, so a batch killed at any instant resumes exactly.

Why SQLite: a transaction is atomic and durable (WAL, `synchronous=FULL`), so the only states a
crash can leave are "before the commit" (the step is redone) or "after" (it is never redone).
A step's outputs are staged as fsynced temp files *before* the commit that marks it done and
renamed into place after it; `Journal.pending_publications` lets the next run finish renames a
crash interrupted (roll forward), so committed work is never done twice.

`events` is append-only: one `attempt` row when a step starts, one `done` or `failed` row when it
ends. Tests count these rows to prove every step completed exactly once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

JOURNAL_NAME = "journal.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,           -- source path relative to the batch folder (POSIX)
    out_name TEXT NOT NULL UNIQUE,   -- safe, de-duplicated base name of this file's outputs
    sha256 TEXT NOT NULL,            -- content hash the steps below were done for
    doc_id TEXT,                     -- store id once ingested
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    path TEXT NOT NULL,
    step TEXT NOT NULL,              -- ingest | summarize | review
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL,            -- running | done | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    outputs TEXT NOT NULL DEFAULT '{}',  -- JSON {file name: {"sha256", "staged"}}
    seconds REAL,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (path, step)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    step TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,              -- attempt | done | failed | changed
    detail TEXT,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    folder TEXT NOT NULL,
    steps TEXT NOT NULL,             -- JSON list of the steps asked for
    workers INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    outcome TEXT                     -- finished | stopped; NULL while running or after a crash
);
"""

STEP_STATES = {"ingest": "ingested", "summarize": "summarised", "review": "reviewed"}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FileRow:
    path: str
    out_name: str
    sha256: str
    doc_id: str | None


@dataclass(frozen=True)
class StepRow:
    path: str
    step: str
    sha256: str
    status: str
    attempts: int
    error: str | None
    outputs: dict[str, dict[str, str]]
    seconds: float | None
    started_at: str | None


@dataclass(frozen=True)
class FileStatus:
    """One file as the report and `status` show it: its state and, when failed, why."""

    path: str
    out_name: str
    state: str  # queued | ingested | summarised | reviewed | failed: the last step done, or failed
    complete: bool  # every step asked for is done
    failed_step: str | None
    error: str | None
    outputs: tuple[str, ...]


class Journal:
    """Thread-safe: one connection guarded by a lock (writes are tiny next to LLM calls)."""

    def __init__(self, out_dir: Path, readonly: bool = False):
        self.path = out_dir / JOURNAL_NAME
        if readonly and not self.path.exists():
            raise FileNotFoundError(self.path)
        out_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # survive a power cut, not only a crash
        if not readonly:
            self._db.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")  # all tables or none, for readers
        elif not self._rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'"):
            self._db.close()
            raise FileNotFoundError(self.path)  # the batch has only just created the file

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # --- runs -------------------------------------------------------------------------------
    def start_run(self, pid: int, folder: str, steps: list[str], workers: int) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO runs (pid, folder, steps, workers, started_at) VALUES (?, ?, ?, ?, ?)",
                (pid, folder, json.dumps(steps), workers, now()),
            )
            return int(cursor.lastrowid or 0)

    def end_run(self, run_id: int, outcome: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET ended_at = ?, outcome = ? WHERE run_id = ?", (now(), outcome, run_id))

    def last_run(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM runs ORDER BY run_id DESC LIMIT 1")
        if not rows:
            return None
        run = dict(rows[0])
        run["steps"] = json.loads(run["steps"])
        return run

    # --- files ------------------------------------------------------------------------------
    def files(self) -> list[FileRow]:
        rows = self._rows("SELECT path, out_name, sha256, doc_id FROM files ORDER BY path")
        return [FileRow(r["path"], r["out_name"], r["sha256"], r["doc_id"]) for r in rows]

    def taken_names(self) -> set[str]:
        return {r["out_name"].lower() for r in self._rows("SELECT out_name FROM files")}

    def enqueue(self, path: str, out_name: str, sha256: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO files (path, out_name, sha256, updated_at) VALUES (?, ?, ?, ?)",
                (path, out_name, sha256, now()),
            )

    def content_changed(self, run_id: int, path: str, sha256: str) -> None:
        """The file's bytes differ from what its steps were done for: forget them all."""
        with self._tx() as db:
            db.execute("DELETE FROM steps WHERE path = ?", (path,))
            db.execute(
                "UPDATE files SET sha256 = ?, doc_id = NULL, updated_at = ? WHERE path = ?",
                (sha256, now(), path),
            )
            _event(db, run_id, path, "*", sha256, "changed")

    def set_doc_id(self, path: str, doc_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE files SET doc_id = ?, updated_at = ? WHERE path = ?", (doc_id, now(), path))

    # --- steps ------------------------------------------------------------------------------
    def steps(self, path: str | None = None) -> list[StepRow]:
        sql = "SELECT * FROM steps" + (" WHERE path = ?" if path else "") + " ORDER BY path, step"
        return [_step_row(r) for r in self._rows(sql, (path,) if path else ())]

    def begin_step(self, run_id: int, path: str, step: str, sha256: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO steps (path, step, sha256, status, attempts, started_at) "
                "VALUES (?, ?, ?, 'running', 1, ?) "
                "ON CONFLICT (path, step) DO UPDATE SET sha256 = excluded.sha256, status = 'running', "
                "attempts = attempts + 1, error = NULL, outputs = '{}', started_at = excluded.started_at, "
                "finished_at = NULL",
                (path, step, sha256, now()),
            )
            _event(db, run_id, path, step, sha256, "attempt")

    def finish_step(
        self, run_id: int, path: str, step: str, sha256: str, outputs: dict[str, Any], seconds: float
    ) -> None:
        """The commit point: after this the step is never done again for this content."""
        with self._tx() as db:
            _end_step(db, path, step, "done", None, json.dumps(outputs), seconds)
            _event(db, run_id, path, step, sha256, "done", json.dumps(sorted(outputs)))

    def fail_step(self, run_id: int, path: str, step: str, sha256: str, error: str, seconds: float) -> None:
        with self._tx() as db:
            _end_step(db, path, step, "failed", error, "{}", seconds)
            _event(db, run_id, path, step, sha256, "failed", error)

    def mark_published(self, path: str, step: str, name: str) -> None:
        """An output's rename is done: drop its staged name so recovery leaves it alone."""
        with self._tx() as db:
            row = db.execute("SELECT outputs FROM steps WHERE path = ? AND step = ?", (path, step)).fetchone()
            outputs = json.loads(row["outputs"]) if row else {}
            if name in outputs:
                outputs[name].pop("staged", None)
                db.execute(
                    "UPDATE steps SET outputs = ? WHERE path = ? AND step = ?",
                    (json.dumps(outputs), path, step),
                )

    def reset_step(self, path: str, step: str) -> None:
        """Forget a step whose outputs vanished from disk, so it is done again."""
        with self._tx() as db:
            db.execute("DELETE FROM steps WHERE path = ? AND step = ?", (path, step))

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events" + (" WHERE kind = ?" if kind else "") + " ORDER BY id"
        return [dict(r) for r in self._rows(sql, (kind,) if kind else ())]

    # --- views ------------------------------------------------------------------------------
    def file_statuses(self, wanted: list[str]) -> list[FileStatus]:
        """Each file's state for the steps `wanted`, in order: the last one done, or why it failed."""
        by_path: dict[str, list[StepRow]] = {}
        for row in self.steps():
            by_path.setdefault(row.path, []).append(row)
        statuses = []
        for f in self.files():
            current = {s.step: s for s in by_path.get(f.path, []) if s.sha256 == f.sha256}
            statuses.append(_file_status(f, current, wanted))
        return statuses

    def running_steps(self) -> list[StepRow]:
        return [s for s in self.steps() if s.status == "running"]


def _event(
    db: sqlite3.Connection,
    run_id: int,
    path: str,
    step: str,
    sha256: str,
    kind: str,
    detail: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO events (run_id, path, step, sha256, kind, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, path, step, sha256, kind, detail, now()),
    )


def _end_step(
    db: sqlite3.Connection, path: str, step: str, status: str, error: str | None, outputs: str, seconds: float
) -> None:
    db.execute(
        "UPDATE steps SET status = ?, error = ?, outputs = ?, seconds = ?, finished_at = ? WHERE path = ? AND step = ?",
        (status, error, outputs, seconds, now(), path, step),
    )


def _step_row(r: sqlite3.Row) -> StepRow:
    return StepRow(
        path=r["path"],
        step=r["step"],
        sha256=r["sha256"],
        status=r["status"],
        attempts=r["attempts"],
        error=r["error"],
        outputs=json.loads(r["outputs"] or "{}"),
        seconds=r["seconds"],
        started_at=r["started_at"],
    )


def _file_status(f: FileRow, current: dict[str, StepRow], wanted: list[str]) -> FileStatus:
    state, failed_step, error = "queued", None, None
    outputs: list[str] = []
    for step in wanted:
        row = current.get(step)
        if row is None or row.status == "running":
            break
        if row.status == "failed":
            state, failed_step, error = "failed", step, row.error
            break
        state = STEP_STATES.get(step, step)
        outputs.extend(sorted(row.outputs))
    complete = all(step in current and current[step].status == "done" for step in wanted)
    return FileStatus(f.path, f.out_name, state, complete, failed_step, error, tuple(outputs))


def steps_left(status: FileStatus, wanted: list[str]) -> list[str]:
    """The steps still to do for one file; none when it is complete or failed (a run tries a file that
    failed again only when it starts, so a failure adds nothing to this run's time left)."""
    if status.complete or status.failed_step:
        return []
    done = [step for step in wanted if STEP_STATES.get(step, step) == status.state]
    return wanted[wanted.index(done[0]) + 1 :] if done else list(wanted)


def seconds_left(statuses: list[FileStatus], finished: list[StepRow], wanted: list[str]) -> float | None:
    """Rough time left at this batch's pace: each step still to do at the median time that step has
    taken (the median, so a step that ran while the machine slept or was paused does not swamp it).
    None while some step still to do has never finished here (no pace to go by)."""
    durations: dict[str, list[float]] = {}
    for row in finished:
        if row.status == "done" and row.seconds is not None:
            durations.setdefault(row.step, []).append(row.seconds)
    left = [step for status in statuses for step in steps_left(status, wanted)]
    if any(step not in durations for step in left):
        return None
    return sum(median(durations[step]) for step in left)


def hours_minutes(seconds: float) -> str:
    """A rough duration as people say it: "7 min", "2 h 05 min"."""
    minutes = max(1, round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
