"""The overnight batch's orchestration: journal, resume, exactly-once, atomic outputs, report, stop.

These tests use `FakeBatchService` (tests/batch_fakes.py: the real ingest parser, no embedding,
summarize/review that sleep briefly) so a crash test can start the CLI a dozen times in seconds.
tests/test_batch_real.py runs the batch through the real store, embedder and model.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from rag.batch.files import safe_stem, unique_out_name
from rag.batch.folder import batch_lock, batch_status
from rag.batch.journal import FileStatus, Journal, StepRow, hours_minutes, seconds_left, steps_left
from rag.batch.plan import BatchPlan, BatchProgress
from rag.batch.run import ReportPacer, run_batch
from rag.batch.steps import plan_steps
from rag.errors import BackendUnavailable, BatchBusy, QuireError
from rag.settings import Settings
from tests.batch_fakes import CALLS_ENV, DELAY_ENV, FakeBatchService
from tests.conftest import CONTRACT_TEXT, REPO_ROOT

FACTORY = "tests.batch_fakes:FakeBatchService"
ALL_STEPS = ["ingest", "summarize", "review"]


def make_folder(root: Path, documents: int) -> Path:
    """`documents` small contracts (two share a stem), one nested, and one corrupt PDF."""
    folder = root / "in"
    (folder / "nested").mkdir(parents=True)
    for n in range(documents):
        target = folder / "nested" if n == 0 else folder
        (target / f"contract {n:02d}.txt").write_text(f"Contract number {n}.\n\n{CONTRACT_TEXT}", encoding="utf-8")
    (folder / "contract 01.md").write_text("# Same stem as contract 01.txt\n\nGoverned by Ohio law.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage, no xref, truncated")
    return folder


def plan(folder: Path, out: Path, workers: int = 2) -> BatchPlan:
    return BatchPlan(folder, out, plan_steps(True, True), workers=workers, retries=1, backoff_s=0.0)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli_command(folder: Path, out: Path, tmp: Path) -> list[str]:
    return [
        sys.executable, "-m", "rag", "--data-dir", str(tmp / "data"),
        "batch", str(folder), "--out", str(out), "--summaries", "--clauses", "--workers", "2",
    ]  # fmt: skip


def cli_env(tmp: Path, delay: float) -> dict[str, str]:
    return {
        **os.environ,
        "QUIRE_BATCH__SERVICE_FACTORY": FACTORY,
        DELAY_ENV: str(delay),
        CALLS_ENV: str(tmp / "calls.log"),
        "QUIRE_BATCH__RETRY_BACKOFF_S": "0",
        "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:9",
    }


def journal_rows(out: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(out / "journal.sqlite3") as db:
        return db.execute(sql).fetchall()


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def run_count(out: Path) -> int:
    if not (out / "journal.sqlite3").exists():
        return 0
    try:
        return journal_rows(out, "SELECT count(*) FROM runs")[0][0]
    except sqlite3.OperationalError:  # the journal is being created
        return 0


# --- checks shared by the crash tests ------------------------------------------------------------
def assert_complete_and_exactly_once(out: Path, folder: Path, steps: list[str], broken: set[str]) -> None:
    """Every step done exactly once per file content, every output complete and the one committed."""
    journal = Journal(out, readonly=True)
    try:
        assert journal_rows(out, "PRAGMA integrity_check") == [("ok",)]
        files = {f.path: f for f in journal.files()}
        on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        assert set(files) == on_disk
        done = Counter((e["path"], e["step"], e["sha256"]) for e in journal.events("done"))
        assert all(n == 1 for n in done.values()), f"a step completed twice: {done.most_common(3)}"
        expected_outputs = set()
        for path, row in files.items():
            current = {s.step: s for s in journal.steps(path)}
            if path in broken:
                assert current["ingest"].status == "failed" and current["ingest"].error
                assert not any(k[0] == path for k in done)
                continue
            for step in steps:
                assert current[step].status == "done", (path, step)
                assert done[(path, step, row.sha256)] == 1
                for name, meta in current[step].outputs.items():
                    assert "staged" not in meta, "an output was never renamed into place"
                    assert sha(out / name) == meta["sha256"], f"{name} is not the committed output"
                    expected_outputs.add(name)
        assert_outputs_valid(out, expected_outputs, portfolio="review" in steps)
        assert not journal.running_steps()
    finally:
        journal.close()
    report = (out / "index.md").read_text(encoding="utf-8")
    for path in files:
        assert path.replace("|", "\\|") in report
    for name in expected_outputs:
        assert f"({name.replace(' ', '%20')})" in report


def assert_report_links_exist(out: Path, files: int) -> None:
    """What a killed batch leaves: a report that lists every file and links only outputs that are there."""
    report = (out / "index.md").read_text(encoding="utf-8")
    assert f" of {files} files complete" in report
    for target in re.findall(r"\]\(([^)]+)\)", report):
        assert (out / unquote(target)).is_file(), f"the report links {target}, which is not there"


def assert_outputs_valid(out: Path, expected: set[str], portfolio: bool) -> None:
    own = {"journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm", "batch.lock", "batch.log"}
    report = {"index.md", "index.html", "clauses.csv", "clauses.xlsx"}
    present = {p.name for p in out.iterdir() if p.is_file()}
    assert present - own - report == expected, "missing outputs, or leftovers of a redone step"
    assert not list((out / ".staging").iterdir())
    for name in expected:
        data = (out / name).read_text(encoding="utf-8")
        if name.endswith(".summary.md"):
            assert data.startswith("# Summary") and data.rstrip().split()[-2] == "nonce"
        elif name.endswith(".clauses.json"):
            assert len(json.loads(data)["findings"]) == 2
        else:
            assert len(list(csv.DictReader(io.StringIO(data)))) == 2
    HTMLParser().feed((out / "index.html").read_text(encoding="utf-8"))
    if not portfolio:
        return
    reviewed = sum(1 for n in expected if n.endswith(".clauses.csv"))
    rows = list(csv.DictReader(io.StringIO((out / "clauses.csv").read_text(encoding="utf-8-sig"))))
    assert len(rows) == 2 * reviewed
    from openpyxl import load_workbook

    book = load_workbook(out / "clauses.xlsx")
    assert book["Findings"].max_row == 1 + 2 * reviewed  # one row per document and category
    assert book["Portfolio"].max_row == 1 + reviewed  # one row per document


# --- names ------------------------------------------------------------------------------------------
def test_output_names_are_safe_and_unique() -> None:
    assert safe_stem("../../etc/passwd") == "passwd"
    assert safe_stem("Vertrag Müller & Söhne (final).pdf") == "Vertrag_Muller_Sohne_final"
    assert safe_stem(".hidden.txt") == "hidden"
    assert safe_stem("CON.txt") == "_CON"
    assert safe_stem("契約.pdf") == "document"
    taken: set[str] = set()
    names = [unique_out_name(p, taken) for p in ("a/X.pdf", "X.txt", "b/x.pdf", "契約.pdf", "合同.pdf")]
    assert names == ["X", "X-txt", "x-pdf", "document", "document-pdf"]


# --- in-process runs ----------------------------------------------------------------------------------
def test_batch_writes_outputs_report_and_skips_finished_work(tmp_path: Path, settings: Settings) -> None:
    folder = make_folder(tmp_path, documents=3)
    out = tmp_path / "out"
    service = FakeBatchService(settings)
    first = run_batch(service, plan(folder, out), threading.Event())
    assert (first.files, first.failed, first.stopped) == (5, 1, False)
    assert_complete_and_exactly_once(out, folder, ALL_STEPS, broken={"broken.pdf"})
    report = (out / "index.md").read_text()
    assert "broken.pdf | ingest | the PDF is damaged" in report
    assert (
        "| contract 01.txt | reviewed | 1 present · 1 absent | [summary.md](contract_01-txt.summary.md) · "
        "[clauses.csv](contract_01-txt.clauses.csv) · [clauses.json](contract_01-txt.clauses.json) |" in report
    ), "each output is linked by what it is: its row already names the file"
    assert (
        '<td>contract 01.txt</td><td>reviewed</td><td>1 present · 1 absent</td><td><a href="contract_01-txt.summary.md">'
        "summary.md</a>" in (out / "index.html").read_text()
    )

    attempts = len(Journal(out).events("attempt"))
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.summary.md")}
    again = run_batch(service, plan(folder, out), threading.Event())
    journal = Journal(out)
    new_attempts = journal.events("attempt")[attempts:]
    assert [e["path"] for e in new_attempts] == ["broken.pdf"], "only the failed file is tried again"
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.summary.md")} == before
    assert again.processed == 0

    (folder / "contract 02.txt").write_text("Contract 2, amended.\n\nGoverned by Texas law.\n")
    run_batch(service, plan(folder, out), threading.Event())
    redone = [e for e in journal.events("attempt")[attempts + 1 :] if e["path"] != "broken.pdf"]
    assert [(e["path"], e["step"]) for e in redone] == [("contract 02.txt", s) for s in ALL_STEPS]
    assert "Document " + sha(folder / "contract 02.txt") in (out / "contract_02.summary.md").read_text()
    assert_complete_and_exactly_once(out, folder, ALL_STEPS, broken={"broken.pdf"})
    assert batch_status(out)["counts"] == {
        "queued": 0,
        "ingested": 0,
        "summarised": 0,
        "reviewed": 4,
        "failed": 1,
    }


class SearchingService(FakeBatchService):
    """Counts the batch's requests to rebuild the search indexes."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.prepared = 0

    def prepare_search(self) -> None:
        self.prepared += 1


def test_a_batch_that_stored_documents_prepares_search_before_it_ends(tmp_path: Path, settings: Settings) -> None:
    folder = make_folder(tmp_path, documents=2)
    out = tmp_path / "out"
    service = SearchingService(settings)
    steps: list[tuple[str, str]] = []
    run_batch(service, plan(folder, out), threading.Event(), BatchProgress(on_step=lambda *s: steps.append(s)))
    assert service.prepared == 1
    assert steps[-1] == ("the search index", "preparing"), "the progress bar says what the wait is for"
    run_batch(service, plan(folder, out), threading.Event())  # only the broken file is tried again
    assert service.prepared == 1, "nothing new was stored, so nothing is rebuilt"


def test_the_report_is_rewritten_after_every_file_so_a_crash_leaves_it_current(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report written only at a clean stop would be stale, or missing, after a reboot in the night."""
    import rag.batch.report

    folder = make_folder(tmp_path, documents=3)
    out = tmp_path / "out"
    seen: dict[str, str] = {}

    def on_file_done(path: str, outcome: str) -> None:
        seen[path] = (out / "index.md").read_text(encoding="utf-8")

    real_render = rag.batch.report.render_html
    failures = iter([OSError(28, "No space left on device")])

    def render_failing_once(summary):
        error = next(failures, None)
        if error:
            raise error
        return real_render(summary)

    monkeypatch.setattr(rag.batch.report, "render_html", render_failing_once)
    every_file = replace(plan(folder, out), report_every_s=0)
    run_batch(FakeBatchService(settings), every_file, threading.Event(), BatchProgress(on_file_done=on_file_done))
    assert len(seen) == 5
    for path, report in seen.items():
        state = "failed" if path == "broken.pdf" else "reviewed"
        assert f"| {path} | {state} |" in report, f"the report did not list {path} as done when it was"
        assert "The run was still going when this was written" in report
    assert "could not be rewritten" in (out / "batch.log").read_text(), "the failed rewrite is logged"
    final = (out / "index.md").read_text(encoding="utf-8")
    assert "run 1 finished" in final and "still going" not in final


def test_report_rewrites_are_paced_to_a_small_share_of_the_run() -> None:
    pacer = ReportPacer(every_s=30)
    assert not pacer.due(0.0), "nothing finished: nothing to report"
    pacer.file_done()
    assert pacer.due(0.0)
    pacer.wrote(now=100.0, took_s=0.1)
    pacer.file_done()
    assert not pacer.due(129.0) and pacer.due(130.0), "small portfolio: at most every 30 s"
    assert pacer.due(5000.0), "a file finished inside the wait is reported once it is over, with no new file"
    pacer.wrote(now=100.0, took_s=6.0)
    pacer.file_done()
    assert not pacer.due(219.0) and pacer.due(220.0), "a 6 s rewrite: at most 5% of the time"
    every_file = ReportPacer(every_s=0)
    every_file.file_done()
    every_file.wrote(now=100.0, took_s=6.0)
    every_file.file_done()
    assert every_file.due(100.0), "0: after every file"


class FlakyService(FakeBatchService):
    """Summaries fail `failures` times with an unreachable server before they work."""

    def __init__(self, settings: Settings, failures: int):
        super().__init__(settings)
        self.failures = failures
        self.summarize_calls = 0

    def summarize(self, doc_ref: str):
        self.summarize_calls += 1
        if self.summarize_calls <= self.failures:
            raise BackendUnavailable("Ollama is not answering at http://127.0.0.1:9: start it with `ollama serve`")
        return super().summarize(doc_ref)


def test_one_retry_then_the_file_fails_alone(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(CONTRACT_TEXT)
    flaky = FlakyService(settings, failures=1)
    run_batch(flaky, plan(folder, tmp_path / "once"), threading.Event())
    assert flaky.summarize_calls == 2 and (tmp_path / "once" / "a.summary.md").is_file()

    down = FlakyService(settings, failures=99)
    outcome = run_batch(down, plan(folder, tmp_path / "down"), threading.Event())
    assert down.summarize_calls == 2 and outcome.failed == 1
    status = batch_status(tmp_path / "down")
    assert status["failures"] == [
        {"path": "a.txt", "step": "summarize", "error": down_error()},
    ]


def down_error() -> str:
    return "Ollama is not answering at http://127.0.0.1:9: start it with `ollama serve`"


def test_unreachable_backend_and_corrupt_file_fail_alone_with_reasons(tmp_path: Path, settings: Settings) -> None:
    """The LLM steps go through the real Ollama backend pointed at a closed port."""
    folder = make_folder(tmp_path, documents=2)
    settings = settings.model_copy(update={"llm": settings.llm.model_copy(update={"backend": "ollama"})})
    outcome = run_batch(FakeBatchService(settings), plan(folder, tmp_path / "out"), threading.Event())
    assert (outcome.files, outcome.failed) == (4, 4)
    status = batch_status(tmp_path / "out")
    reasons = {f["path"]: (f["step"], f["error"]) for f in status["failures"]}
    assert reasons["broken.pdf"][0] == "ingest" and "damaged" in reasons["broken.pdf"][1]
    for path in ("contract 01.txt", "contract 01.md", "nested/contract 00.txt"):
        assert reasons[path][0] == "summarize" and "Ollama is not answering at http://127.0.0.1:9" in reasons[path][1]
    report = (tmp_path / "out" / "index.html").read_text()
    assert report.count("Ollama is not answering") == 3 and "damaged" in report


def test_missing_step_and_busy_folder_are_clear_errors(tmp_path: Path, settings: Settings) -> None:
    folder = make_folder(tmp_path, documents=1)

    class IngestOnly:
        def ingest(self, paths):  # pragma: no cover - never reached
            raise AssertionError

    with pytest.raises(QuireError, match="summarize .needs IngestOnly.summarize"):
        run_batch(IngestOnly(), plan(folder, tmp_path / "out"), threading.Event())
    with (
        batch_lock(tmp_path / "out"),
        pytest.raises(BatchBusy, match=rf"another batch \(pid {os.getpid()}\) is writing"),
    ):
        run_batch(FakeBatchService(settings), plan(folder, tmp_path / "out"), threading.Event())


# --- processes ----------------------------------------------------------------------------------------
def test_sigkill_at_random_points_then_resume_does_every_step_exactly_once(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, documents=10)
    out = tmp_path / "out"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills = runs = 0
    while kills < 12 and runs < 40:
        runs += 1
        started = run_count(out)
        command, env = cli_command(folder, out, tmp_path), cli_env(tmp_path, 0.03)
        proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda p=proc, n=started: run_count(out) > n or p.poll() is not None)
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    print(f"seed {seed}: {kills} kills in {runs} runs")
    assert kills >= 10, f"seed {seed}: the batch finished before 10 kills"
    assert_report_links_exist(out, files=sum(1 for p in folder.rglob("*") if p.is_file()))
    final = subprocess.run(cli_command(folder, out, tmp_path), cwd=REPO_ROOT, env=cli_env(tmp_path, 0.0),
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert final.returncode == 2, final.stderr  # 2: one file (broken.pdf) failed, the rest are done
    assert_complete_and_exactly_once(out, folder, ALL_STEPS, broken={"broken.pdf"})
    calls = len((tmp_path / "calls.log").read_text().splitlines())
    done = len(journal_rows(out, "SELECT * FROM events WHERE kind = 'done'"))
    attempts = len(journal_rows(out, "SELECT * FROM events WHERE kind = 'attempt'"))
    assert done <= calls <= attempts, f"seed {seed}"
    # each kill interrupts at most one step per worker; broken.pdf is tried once per run
    assert attempts - done <= 2 * kills + runs + 1, f"seed {seed}: more redone work than the kills explain"


def test_sigterm_stops_cleanly_and_status_works_during_and_after(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, documents=4)
    out = tmp_path / "out"
    env = cli_env(tmp_path, 1.5)  # slow steps: `batch status` below starts a Python, seconds on a loaded machine
    proc = subprocess.Popen(cli_command(folder, out, tmp_path), cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(lambda: run_count(out) > 0 and journal_rows(out, "SELECT count(*) FROM events WHERE kind='done'")[0][0])
    status = subprocess.run([sys.executable, "-m", "rag", "batch", "status", str(out), "--json"],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    during = json.loads(status.stdout)
    assert during["running"] is True and during["files"] == 6 and during["in_progress"]
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "run the same command again" in stderr
    after = batch_status(out)
    assert after["running"] is False and after["run"]["outcome"] == "stopped"
    assert after["complete"] < 5 and not after["interrupted"], "a clean stop leaves no step half-done"
    assert journal_rows(out, "PRAGMA integrity_check") == [("ok",)]
    resumed = subprocess.run(cli_command(folder, out, tmp_path), cwd=REPO_ROOT, env=cli_env(tmp_path, 0.0),
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert resumed.returncode == 2, resumed.stderr
    assert_complete_and_exactly_once(out, folder, ALL_STEPS, broken={"broken.pdf"})
    assert batch_status(out)["complete"] == 5
    assert batch_status(out)["seconds_left"] == 0, "nothing left once every file is complete or failed"


def test_status_of_a_journal_the_batch_has_only_just_created_is_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "journal.sqlite3").touch()  # what a reader may see before the batch has made its tables
    with pytest.raises(QuireError, match="no batch journal"):
        batch_status(tmp_path)
    Journal(tmp_path).close()
    assert batch_status(tmp_path)["files"] == 0


def test_time_left_counts_each_step_still_to_do_at_its_median_pace() -> None:
    def file(state: str, complete: bool = False, failed: str | None = None) -> FileStatus:
        return FileStatus(f"{state}.pdf", state, state, complete, failed, "broken" if failed else None, ())

    def took(step: str, seconds: float) -> StepRow:
        return StepRow("x.pdf", step, "sha", "done", 1, None, {}, seconds, None)

    statuses = [file("queued"), file("ingested"), file("summarised"), file("reviewed", complete=True)]
    statuses.append(file("failed", failed="ingest"))
    assert [steps_left(s, ALL_STEPS) for s in statuses] == [ALL_STEPS, ALL_STEPS[1:], ["review"], [], []]
    finished = [took("ingest", 1), took("summarize", 100), took("review", 400), took("review", 600)]
    finished.append(took("review", 9000))  # a step the machine slept through: the median ignores it
    assert seconds_left(statuses, finished, ALL_STEPS) == 1 + 2 * 100 + 3 * 600
    assert seconds_left(statuses, finished[:1], ALL_STEPS) is None, "no summary has finished yet: no pace"
    assert [hours_minutes(s) for s in (20, 7 * 60, 2 * 3600 + 5 * 60)] == ["1 min", "7 min", "2 h 05 min"]


class Crash(BaseException):
    """Stands for the process dying at one exact instant (a BaseException, so nothing catches it)."""


@pytest.mark.parametrize("instant", ["before_commit", "after_commit_before_rename"])
def test_crash_at_each_side_of_the_commit_recovers_exactly_once(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, instant: str
) -> None:
    """The two instants random kills rarely hit: outputs staged but not committed (redo the step),
    committed but not renamed into place (finish the rename, never redo the step)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(CONTRACT_TEXT)
    out = tmp_path / "out"
    real_finish, real_replace = Journal.finish_step, os.replace

    def finish_then_maybe_crash(self, run_id, path, step, *rest):
        if step == "summarize" and instant == "before_commit":
            raise Crash
        real_finish(self, run_id, path, step, *rest)

    def replace_or_crash(src, dst):
        if str(dst).endswith(".summary.md") and ".staging" in str(src):
            raise Crash
        real_replace(src, dst)

    monkeypatch.setattr(Journal, "finish_step", finish_then_maybe_crash)
    monkeypatch.setattr(os, "replace", replace_or_crash)
    with pytest.raises(Crash):
        run_batch(FakeBatchService(settings), plan(folder, out, workers=1), threading.Event())
    monkeypatch.undo()
    assert len(list((out / ".staging").iterdir())) == 1, "the summary was staged when the crash came"
    run_batch(FakeBatchService(settings), plan(folder, out, workers=1), threading.Event())
    assert_complete_and_exactly_once(out, folder, ALL_STEPS, broken=set())
    attempts = Counter(e["step"] for e in Journal(out).events("attempt"))
    assert attempts["summarize"] == (2 if instant == "before_commit" else 1)


def test_llm_steps_pin_the_ollama_model_for_the_night(tmp_path: Path, settings: Settings) -> None:
    from rag.llm.choose import choose_backend

    class WithBackend(FakeBatchService):
        def __init__(self, settings: Settings):
            super().__init__(settings)
            self.choice = choose_backend(settings.llm.model_copy(update={"backend": "ollama"}))

        def backend_choice(self):
            return self.choice

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(CONTRACT_TEXT)
    service = WithBackend(settings)
    assert service.choice.backend.keep_alive == settings.llm.keep_alive
    run_batch(service, plan(folder, tmp_path / "out"), threading.Event())
    assert service.choice.backend.keep_alive == -1
