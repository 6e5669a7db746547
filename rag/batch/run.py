"""Overnight batch: ingest, summarise and review every file of a folder, resumable at any instant.

A batch is a list of *steps* (ingest, summarize, review: `rag.batch.steps`), so the orchestration
knows nothing about how a summary or a clause table is made; the journal (`rag.batch.journal`) records
each step's completion for each file's content hash, which is what makes a re-run skip finished
work and redo changed files.

Outputs are staged as fsynced temp files, then the journal commits the step, then the files are
renamed into place: a crash before the commit redoes the step, a crash after it only finishes
the renames (`recover`). Every output a reader sees is therefore complete, and every step's
work is committed exactly once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import httpx

from rag.batch.files import fsync_dir, sha256_bytes, write_synced
from rag.batch.folder import LOG_NAME, STAGING, batch_lock, log_to, recover, scan
from rag.batch.journal import Journal
from rag.batch.plan import BatchOutcome, BatchPlan, BatchProgress, WorkItem
from rag.batch.report import refresh_report, write_report
from rag.batch.steps import Step, StepResult, check_available
from rag.errors import QuireError, StepFailed, Transient

log = logging.getLogger("quire.batch")


class _Abandoned(Exception):
    """A stop arrived while a step waited to retry: leave it unfinished for the next run."""


# --- running ------------------------------------------------------------------------------------
def is_transient(error: BaseException) -> bool:
    """Errors a retry may fix: Quire's `Transient` ones (a server down, a lock held), a timeout, a dropped
    connection."""
    return isinstance(error, Transient | TimeoutError | ConnectionError | httpx.TransportError)


def describe_error(error: BaseException) -> str:
    if isinstance(error, QuireError):
        return str(error)
    return f"unexpected {type(error).__name__}: {error} (see {LOG_NAME})"


class BatchRunner:
    def __init__(self, service: Any, plan: BatchPlan, journal: Journal, run_id: int, stop: threading.Event):
        self.service = service
        self.plan = plan
        self.journal = journal
        self.run_id = run_id
        self.stop = stop
        self._ingest_lock = threading.Lock()  # one writer to the store at a time

    def pending_steps(self, item: WorkItem) -> list[Step]:
        done = {r.step for r in self.journal.steps(item.path) if r.status == "done" and r.sha256 == item.sha256}
        return [s for s in self.plan.steps if s.name not in done]

    def process(self, item: WorkItem, progress: BatchProgress) -> str:
        """Run the file's missing steps in order; returns `done`, `failed` or `stopped`."""
        doc_id = next((f.doc_id for f in self.journal.files() if f.path == item.path), None)
        for step in self.pending_steps(item):
            if self.stop.is_set():
                return "stopped"
            progress.on_step(item.path, step.name)
            ref = str(item.source) if step.name == "ingest" else (doc_id or "")
            result = self._attempt(item, step, ref)
            if result is None:
                return "stopped" if self.stop.is_set() else "failed"
            if result.doc_id:
                doc_id = result.doc_id
        return "done"

    def _attempt(self, item: WorkItem, step: Step, ref: str) -> StepResult | None:
        """One step with retries; the file fails alone with a reason, or the step is abandoned on stop."""
        self.journal.begin_step(self.run_id, item.path, step.name, item.sha256)
        began = time.perf_counter()
        try:
            result = self._with_retry(item, step, ref)
            if result.doc_id and result.doc_id != item.sha256:
                raise StepFailed("the file changed while it was being read: the next run picks up the new content")
        except _Abandoned:
            log.info("%s %s abandoned by the stop; the next run redoes it", step.name, item.path)
            return None
        except Exception as error:  # noqa: BLE001 - one file's failure must not stop the batch
            log.error("%s %s failed: %s", step.name, item.path, error, exc_info=not isinstance(error, QuireError))
            self.journal.fail_step(
                self.run_id,
                item.path,
                step.name,
                item.sha256,
                describe_error(error),
                time.perf_counter() - began,
            )
            return None
        self._commit(item, step, result, time.perf_counter() - began)
        return result

    def _with_retry(self, item: WorkItem, step: Step, ref: str) -> StepResult:
        for attempt in range(self.plan.retries + 1):
            try:
                return self._call(step, ref)
            except Exception as error:
                if attempt == self.plan.retries or not is_transient(error):
                    raise
                delay = self.plan.backoff_s * (2**attempt)
                log.warning("%s %s: %s; retrying in %.1fs", step.name, item.path, error, delay)
                if self.stop.wait(delay):
                    raise _Abandoned from error
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _call(self, step: Step, ref: str) -> StepResult:
        if step.name != "ingest":
            return step.run(self.service, ref)
        with self._ingest_lock:
            return step.run(self.service, ref)

    def _commit(self, item: WorkItem, step: Step, result: StepResult, seconds: float) -> None:
        """Stage, commit, publish: the order that makes a crash at any point recoverable."""
        staging = self.plan.out_dir / STAGING
        outputs: dict[str, dict[str, str]] = {}
        for suffix, data in result.files.items():
            name = f"{item.out_name}{suffix}"
            staged = f"{name}.{uuid.uuid4().hex[:12]}"
            write_synced(staging / staged, data)
            outputs[name] = {"sha256": sha256_bytes(data), "staged": staged}
        if result.doc_id:
            self.journal.set_doc_id(item.path, result.doc_id)
        self.journal.finish_step(self.run_id, item.path, step.name, item.sha256, outputs, seconds)
        for name, meta in outputs.items():
            os.replace(staging / meta["staged"], self.plan.out_dir / name)
            self.journal.mark_published(item.path, step.name, name)
        if outputs:
            fsync_dir(self.plan.out_dir)
        log.info(
            "%s %s done in %.2fs%s",
            step.name,
            item.path,
            seconds,
            f": {', '.join(outputs)}" if outputs else "",
        )


def pin_model(service: Any) -> None:
    """Keep the model loaded for the whole night (Ollama `keep_alive: -1`) instead of reloading it."""
    choose = getattr(service, "backend_choice", None)
    if not callable(choose):
        return
    try:
        backend = choose().backend
    except QuireError as error:  # an unreachable backend fails each LLM step alone, with this reason
        log.warning("the LLM backend is not ready: %s", error)
        return
    if hasattr(backend, "keep_alive"):
        backend.keep_alive = -1
    log.info("LLM: %s", backend.describe())


def warm_up(service: Any) -> None:
    """Build the service's shared parts on one thread before the workers race to build them twice."""
    for part in ("store", "embedder"):
        getattr(service, part, None)


def prepare_search(service: Any, progress: BatchProgress) -> None:
    """After new documents, bring the keyword index up to date before the batch ends, so the
    morning's first question does not wait for a rebuild (about 75 s at 1M chunks, when a large
    batch outgrew the index's delta). A test's fake may not search."""
    prepare = getattr(service, "prepare_search", None)
    if prepare is None:
        return
    progress.on_step("the search index", "preparing")
    began = time.perf_counter()
    prepare()
    log.info("keyword index ready in %.1f s", time.perf_counter() - began)


def run_batch(
    service: Any, plan: BatchPlan, stop: threading.Event, progress: BatchProgress | None = None
) -> BatchOutcome:
    """Run (or resume) the batch; always leaves a valid journal and a fresh report in `plan.out_dir`."""

    progress = progress or BatchProgress()
    check_available(service, plan.steps)
    began = time.perf_counter()
    with batch_lock(plan.out_dir), log_to(plan.out_dir):
        journal = Journal(plan.out_dir)
        try:
            run_id = journal.start_run(os.getpid(), str(plan.folder), plan.step_names, plan.workers)
            steps = "+".join(plan.step_names)
            log.info(
                "run %d: %s -> %s, steps %s, %d worker(s)",
                run_id,
                plan.folder,
                plan.out_dir,
                steps,
                plan.workers,
            )
            recover(journal, plan.out_dir)
            items = scan(journal, run_id, plan.folder, plan.out_dir)
            runner = BatchRunner(service, plan, journal, run_id, stop)
            todo = [item for item in items if runner.pending_steps(item)]
            progress.on_start(len(items), len(items) - len(todo))
            refresh_report(journal, plan)
            if todo:
                warm_up(service)
                if any(s.uses_llm for s in plan.steps):
                    pin_model(service)
            outcomes, abandoned = _run_workers(runner, todo, progress, lambda: refresh_report(journal, plan))
            if "done" in outcomes and not stop.is_set():
                prepare_search(service, progress)
            outcome_word = "stopped" if stop.is_set() else "finished"
            journal.end_run(run_id, outcome_word)
            write_report(journal, plan)
            failed = sum(1 for s in journal.file_statuses(plan.step_names) if s.state == "failed")
            processed = outcomes.count("done")
            log.info(
                "run %d %s: %d processed, %d failed, %d abandoned",
                run_id,
                outcome_word,
                processed,
                failed,
                abandoned,
            )
            seconds = time.perf_counter() - began
            return BatchOutcome(run_id, len(items), processed, failed, stop.is_set(), abandoned, seconds)
        finally:
            journal.close()


REPORT_COST_FACTOR = 20  # wait 20x as long as the last rewrite took: rewrites stay under 5% of the run


@dataclass
class ReportPacer:
    """When to rewrite the report during a run: once files have finished since the last rewrite, and
    no sooner than `every_s` (0: after every file) nor 20x the last rewrite's time after it. A rewrite
    reads every document's clause table, so on a large portfolio it takes seconds; a file that finished
    inside the wait is still reported when the wait is over, not when the next file finishes."""

    every_s: float
    pending: bool = False
    next_at: float = 0.0

    def file_done(self) -> None:
        self.pending = True

    def due(self, now: float) -> bool:
        return self.pending and now >= self.next_at

    def wrote(self, now: float, took_s: float) -> None:
        self.pending = False
        self.next_at = now + max(self.every_s, REPORT_COST_FACTOR * took_s) if self.every_s > 0 else now


def _run_workers(
    runner: BatchRunner, todo: list[WorkItem], progress: BatchProgress, refresh_report: Callable[[], object]
) -> tuple[list[str], int]:
    """Process files on N threads; on stop, start nothing new and wait up to the grace for the rest.

    The report is rewritten as files finish (paced by `ReportPacer`), on this thread: a crash or a
    power cut in the night leaves a morning report that lists what was done, not the one the last
    clean stop wrote."""
    outcomes: list[str] = []
    pacer = ReportPacer(runner.plan.report_every_s)
    pool = ThreadPoolExecutor(max_workers=max(1, runner.plan.workers), thread_name_prefix="batch")
    futures: dict[Future[str], WorkItem] = {pool.submit(runner.process, item, progress): item for item in todo}
    pending = set(futures)
    deadline: float | None = None
    while pending:
        done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        if any(not future.cancelled() for future in done):
            pacer.file_done()
        if pacer.due(time.monotonic()):
            began = time.monotonic()
            refresh_report()
            pacer.wrote(time.monotonic(), time.monotonic() - began)
        for future in done:
            outcome = future.result() if not future.cancelled() else "stopped"
            outcomes.append(outcome)
            progress.on_file_done(futures[future].path, outcome)
        if runner.stop.is_set():
            if deadline is None:
                log.info("stop requested: finishing the steps in flight (up to %.0fs)", runner.plan.stop_grace_s)
                for future in pending:
                    future.cancel()
                deadline = time.monotonic() + runner.plan.stop_grace_s
            pending = {f for f in pending if not f.cancelled()}
            if time.monotonic() > deadline:
                break
    pool.shutdown(wait=not pending, cancel_futures=True)
    return outcomes, len(pending)
