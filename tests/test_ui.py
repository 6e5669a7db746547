"""The web app's logic: safe upload storage, background jobs, page highlighting, and the views
through Streamlit's AppTest (no browser; tests/test_ui_browser.py drives the real one)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from rag.errors import QuireError
from rag.llm.probe import describe_kv_cache, ollama_status
from rag.settings import LLMSettings
from rag.tokens import kv_cache_gib
from tests.conftest import CONTRACT_TEXT, REPO_ROOT, make_pdf
from ui.jobs import JobFailed, JobJournal, JobRunner
from ui.pages import highlighted_html, quote_spans, render_pdf_page
from ui.tasks import needs_password
from ui.uploads import forget_upload, safe_name, store_upload

GOVERNING = "This Agreement shall be governed by and construed in accordance with the laws of the State of New York"


# --- uploads --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("/abs/path/contract.pdf", "contract.pdf"),
        ("...", "upload"),
        ("a\x00b\nc.pdf", "abc.pdf"),
        ("x" * 500 + ".pdf", "x" * 116 + ".pdf"),
        ("Vertrag über Lieferung (v2).pdf", "Vertrag über Lieferung (v2).pdf"),
    ],
)
def test_safe_name_is_only_a_name(hostile: str, expected: str) -> None:
    assert safe_name(hostile) == expected


def test_uploads_are_stored_by_content_inside_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    path = store_upload(data, "../../../outside.pdf", b"%PDF-1.4 same bytes")
    assert path.resolve().is_relative_to((data / "files").resolve())
    assert path.name == "outside.pdf" and len(path.parent.name) == 64
    assert store_upload(data, "../../../outside.pdf", b"%PDF-1.4 same bytes") == path
    assert not (tmp_path / "outside.pdf").exists()
    assert forget_upload(data, str(path)) and not path.exists()


def test_forget_never_touches_files_quire_did_not_store(tmp_path: Path) -> None:
    mine = tmp_path / "contracts" / "msa.pdf"
    mine.parent.mkdir()
    mine.write_bytes(b"%PDF")
    assert not forget_upload(tmp_path / "data", str(mine))
    assert mine.exists()


# --- jobs ------------------------------------------------------------------------------------
def test_jobs_report_progress_results_and_errors_to_the_journal(tmp_path: Path) -> None:
    journal = JobJournal(tmp_path / "jobs.sqlite3")
    runner = JobRunner(journal)
    gate = threading.Event()

    def slow(report):
        report(0.5, "half way")
        gate.wait(10)
        return "finished", {"pages": 3}

    def broken(report):
        raise QuireError("the PDF is password-protected: give its password")

    def failed_with_result(report):
        raise JobFailed("nothing readable", {"status": "failed"})

    first = runner.submit("ingest", "a.pdf", {"path": "a"}, slow)
    second = runner.submit("ingest", "b.pdf", {"path": "b"}, broken)
    third = runner.submit("ingest", "c.pdf", {}, failed_with_result)
    for _ in range(200):
        if journal.get(first).message == "half way":
            break
        threading.Event().wait(0.02)
    reader = JobJournal(tmp_path / "jobs.sqlite3")  # what a reloaded page sees
    assert reader.get(first).state == "running" and reader.get(first).progress == 0.5
    assert reader.get(second).state == "queued"
    gate.set()
    assert runner.wait_idle(10)
    assert reader.get(first).state == "done" and reader.get(first).result == {"pages": 3}
    assert reader.get(second).state == "failed" and needs_password(reader.get(second).message)
    assert reader.get(third).result == {"status": "failed"}
    assert [j.title for j in reader.jobs("ingest")] == ["c.pdf", "b.pdf", "a.pdf"]


def test_jobs_of_a_dead_server_are_marked_interrupted(tmp_path: Path) -> None:
    journal = JobJournal(tmp_path / "jobs.sqlite3")
    job_id = journal.create("ingest", "a.pdf", {})
    journal._write("UPDATE jobs SET owner_pid = ?, state = 'running' WHERE job_id = ?", (2**22 + 12345, job_id))
    JobRunner(journal)
    job = journal.get(job_id)
    assert job.state == "interrupted" and "start it again" in job.message


# --- pages and highlights ----------------------------------------------------------------------
def test_quote_is_marked_on_the_rendered_pdf_page(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "msa.pdf", ["Nothing here.", CONTRACT_TEXT])
    marked = render_pdf_page(pdf, 2, GOVERNING + ",\nwithout regard")
    assert len(marked.boxes) == 2  # the quote runs over two lines
    plain = render_pdf_page(pdf, 2)
    assert not plain.boxes and plain.image.size == marked.image.size
    x0, y0, x1, y1 = (int(v) for v in marked.boxes[0])
    inside = marked.image.crop((x0, y0, x1, y1)).convert("RGB")
    yellowish = [p for p in inside.getdata() if p[0] > 200 and p[0] - p[2] > 60]  # white paper turned yellow
    assert len(yellowish) > 0.3 * inside.width * inside.height
    assert not render_pdf_page(pdf, 1, GOVERNING).boxes  # not on page 1


def test_quote_pieces_are_found_when_the_whole_quote_is_not() -> None:
    page = "4.1 This Agreement shall be gov-\nerned by the laws of New York. It binds successors and assigns."
    spans = quote_spans(
        page, "This Agreement shall be governed by the laws of New York. It binds successors and assigns"
    )
    assert [page[s:e] for s, e in spans] == ["It binds successors and assigns"]


def test_text_page_is_escaped_with_the_quote_marked() -> None:
    html = highlighted_html("a <b> governed by law & c", [(6, 21)])
    assert html == "a &lt;b&gt; <mark>governed by law</mark> &amp; c"


# --- settings helpers ----------------------------------------------------------------------------
def test_kv_cache_estimate_for_llama31_8b() -> None:
    assert kv_cache_gib(1) * 2**30 == 128 * 1024
    assert kv_cache_gib(16384) == 2
    assert "2.00 GiB" in describe_kv_cache(16384)


def test_ollama_status_says_how_to_fix_a_dead_server() -> None:
    status = ollama_status(LLMSettings(ollama_host="http://127.0.0.1:9"))
    assert not status.reachable and "ollama serve" in status.message


# --- views (AppTest) -----------------------------------------------------------------------------
@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUIRE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUIRE_LLM__OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.chdir(REPO_ROOT)
    return tmp_path / "data"


def _fresh_caches() -> None:
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.mark.slow
def test_app_opens_on_an_empty_library_and_says_who_answers(app_env: Path) -> None:
    _fresh_caches()
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception and not at.error
    assert any("No documents yet" in i.value for i in at.info)
    assert any("ollama serve" in w.value for w in at.sidebar.warning)
    assert any("built-in demo model" in m.value for m in at.sidebar.markdown)
    assert any("GiB of KV cache" in c.value for c in at.sidebar.caption)


def _page_script(page: str) -> None:
    import importlib

    importlib.import_module(f"ui.{page}").view()


@pytest.mark.parametrize("page", ["ask", "summaries", "clauses"])
def test_pages_that_need_a_document_point_an_empty_library_at_the_library_page(
    page: str, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.service import Quire

    quire = Quire(settings)
    monkeypatch.setattr("ui.state.service", lambda: quire)
    at = AppTest.from_function(_page_script, kwargs={"page": page}, default_timeout=60).run()
    assert not at.exception
    assert [i.value for i in at.info] == ["The library is empty: add a contract on the **Library** page first."]


def _summaries_script() -> None:
    from ui import summaries

    summaries.view()


@pytest.mark.slow
def test_summaries_view_shows_the_summary_its_coverage_and_quoted_pages(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view's rendering over a fast stand-in for `summarize`; the real model's summaries are
    tested in tests/test_summarize.py."""
    from dataclasses import dataclass

    from rag.service import Quire
    from rag.settings import Settings
    from rag.types import DocumentInfo

    @dataclass(frozen=True)
    class Summary:
        markdown: str

        def to_json(self) -> dict:
            coverage = {"pages": [1, 2, 3], "total_pages": 3, "complete": True, "line": "all 3 pages (1-3)"}
            quote = {"quote": "governed by the laws of New York", "page": 3, "start": 10, "end": 42}
            return {"coverage": coverage, "quotes": [quote], "markdown": self.markdown}

    class WithSummaries(Quire):
        def documents(self) -> list[DocumentInfo]:
            return [DocumentInfo("d" * 64, "msa.pdf", 3, 5, "2026-01-01T00:00:00+00:00")]

        def summarize(self, doc_ref: str) -> Summary:
            return Summary(f"**Summary of {doc_ref[:4]}**: New York law governs.")

    quire = WithSummaries(Settings())
    monkeypatch.setattr("ui.state.service", lambda: quire)
    _fresh_caches()
    at = AppTest.from_function(_summaries_script, default_timeout=120).run()
    assert not at.exception and not at.info
    button = next(b for b in at.button if b.label == "Summarise")
    assert not button.disabled
    button.click().run()
    from ui import state

    state.runner().wait_idle(20)
    at.run()
    assert any("New York law governs" in m.value for m in at.markdown)
    assert any("Coverage: all 3 pages (1-3)" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "p. 3").click().run()  # the quote chip opens its page
    assert any("page 3 of 3" in m.value for m in at.markdown)


def test_resume_runs_the_steps_the_batch_was_started_with() -> None:
    from ui.batch import resume_flags

    assert resume_flags({"flags": ["--clauses"]}, {"steps": ["ingest"]}) == ("--clauses",)
    older_record = {"folder": "/x", "out": "/y"}  # kept by an app that did not record the flags
    assert resume_flags(older_record, {"steps": ["ingest", "summarize", "review"]}) == ("--summaries", "--clauses")


def _batch_script() -> None:
    from ui import batch

    batch.view()


def _wait_for_batch(out: Path, until, timeout: float = 60.0) -> dict:
    from rag.batch.folder import batch_status
    from rag.errors import QuireError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = batch_status(out)
        except QuireError:  # no journal yet, or the batch has created the file but not yet its tables
            status = None
        if status is not None and until(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"the batch in {out} did not get there in {timeout:.0f}s")


@pytest.mark.slow
def test_batch_page_starts_a_batch_resumes_it_after_a_kill_and_offers_the_report(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch runs as `quire batch` in its own process (with the orchestration tests' light service,
    tests/batch_fakes.py); the page must resume it in the same output folder after it dies."""
    from rag.settings import Settings
    from tests.batch_fakes import DELAY_ENV
    from ui.batch import known_batches

    monkeypatch.setenv("QUIRE_BATCH__SERVICE_FACTORY", "tests.batch_fakes:FakeBatchService")
    monkeypatch.setenv(DELAY_ENV, "0.5")
    folder = tmp_path / "contracts"
    folder.mkdir()
    for n in range(3):
        (folder / f"contract {n}.txt").write_text(f"Contract {n}.\n\n{CONTRACT_TEXT}", encoding="utf-8")
    _fresh_caches()
    at = AppTest.from_function(_batch_script, default_timeout=120).run()
    at.text_input(key="batch_folder").input(str(folder))
    at.button(key="batch_start").click().run()
    [record] = known_batches(Settings())
    out = Path(record["out"])
    _wait_for_batch(out, lambda s: s["complete"] >= 1)
    os.kill(record["pid"], signal.SIGKILL)
    _wait_for_batch(out, lambda s: not s["running"])

    at.run()
    assert any("interrupted" in p.proto.text for p in at.get("progress"))
    at.button(key=f"again-{out}").click().run()
    assert [r["out"] for r in known_batches(Settings())] == [str(out)], "resumed in place, not a second batch"
    status = _wait_for_batch(out, lambda s: s["run"].get("outcome") == "finished" and not s["running"])
    assert (
        status["complete"] == 3
        and status["run"]["run_id"] == 2
        and status["steps"] == ["ingest", "summarize", "review"]
    )

    at.run()
    assert at.button(key=f"again-{out}").label == "Run again"
    downloads = [b.proto.label for b in at.get("download_button")]
    assert downloads[:5] == ["index.html", "index.md", "clauses.xlsx", "clauses.csv", "batch.log"]
    assert at.selectbox(key=f"doc-{out}").options == ["contract_0", "contract_1", "contract_2"]
    assert downloads[5:] == ["contract_0.summary.md", "contract_0.clauses.csv", "contract_0.clauses.json"]


# --- ingestion jobs through the real pipeline ------------------------------------------------------
@pytest.mark.slow
def test_encrypted_upload_asks_for_its_password_then_ingests(settings, contract_pdf: Path) -> None:
    from pypdf import PdfWriter

    from rag.service import Quire
    from ui.pages import PageUnavailable
    from ui.tasks import ingest_work, reingest_work

    locked = contract_pdf.with_name("locked.pdf")
    writer = PdfWriter(clone_from=contract_pdf)
    writer.encrypt("s3cret")
    with locked.open("wb") as handle:
        writer.write(handle)
    quire = Quire(settings)
    runner = JobRunner(JobJournal(settings.data_dir / "ui" / "jobs.sqlite3"))
    stored = store_upload(settings.data_dir, "../locked.pdf", locked.read_bytes())

    first = runner.submit("ingest", stored.name, {"path": str(stored)}, ingest_work(quire, stored))
    assert runner.wait_idle(120)
    job = runner.journal.get(first)
    assert job.state == "failed" and needs_password(job.message) and quire.documents() == []

    second = runner.submit("ingest", stored.name, {"path": str(stored)}, ingest_work(quire, stored, "s3cret"))
    assert runner.wait_idle(120)
    assert runner.journal.get(second).state == "done"
    [info] = quire.documents()
    assert info.pages == 3 and info.path == str(stored) and info.page_quality == ("text", "text", "text")
    with pytest.raises(PageUnavailable):  # the viewer then shows the stored text of the page
        render_pdf_page(stored, 3)

    text, pages = quire.document_pages(info.doc_id)
    assert "laws of the State of New York" in text[pages[2].start : pages[2].end]
    third = runner.submit("ingest", stored.name, {}, reingest_work(quire, info.doc_id, stored))
    assert runner.wait_idle(120)
    job = runner.journal.get(third)
    assert job.state == "failed" and needs_password(job.message)
    assert quire.documents() == [info]  # a re-ingest that cannot read the file loses nothing
    fourth = runner.submit("ingest", stored.name, {}, reingest_work(quire, info.doc_id, stored, "s3cret"))
    assert runner.wait_idle(120)
    assert runner.journal.get(fourth).state == "done"
    assert [d.doc_id for d in quire.documents()] == [info.doc_id]


def _answer_turn_script() -> None:
    import streamlit as st

    from rag.types import Answer, Citation
    from ui import ask

    quote = "shall be governed by the laws of the State of New York"
    answer = Answer(
        answer=f'New York law: "{quote}" [1].',
        citations=(
            Citation("d" * 64, "msa.pdf", 3, 900, 954, quote, True),
            Citation("d" * 64, "msa.pdf", 3, 900, 954, quote, True),  # the same place twice: one chip
            Citation("d" * 64, "msa.pdf", 1, -1, -1, "an invented quote of some length", False),
        ),
        mode="retrieved",
        context_tokens=700,
        num_ctx=8192,
        backend="llamacpp",
        model="SmolLM2-135M-Instruct (built-in demo)",
        in_view="2 passages from pages 1-3 of msa.pdf",
    )
    ask.render_turn(0, {"role": "assistant", "text": answer.answer, "answer": answer})
    source = st.session_state.get("source")
    if source is not None:
        st.write(f"source: {source.name} page {source.page} quote {source.quote}")


def test_answer_shows_one_chip_per_verified_place_and_a_chip_opens_its_page() -> None:
    at = AppTest.from_function(_answer_turn_script, default_timeout=30).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["msa.pdf · p. 3"]
    captions = " ".join(c.value for c in at.caption)
    assert "1 quote(s) the model gave were not found" in captions
    assert "In view: 2 passages from pages 1-3 of msa.pdf" in captions and "num_ctx 8,192" in captions
    at.button[0].click().run()
    assert any("source: msa.pdf page 3 quote shall be governed" in m.value for m in at.markdown)


@pytest.mark.slow
def test_a_password_guards_the_whole_app(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_AUTH__PASSWORD", "correct horse")
    _fresh_caches()
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception and not at.info and not at.sidebar.markdown  # nothing but the form
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert "Wrong password (4 attempts left" in at.error[0].value
    at.text_input[0].input("correct horse")
    at.button[0].click().run()
    assert any("No documents yet" in i.value for i in at.info)
