"""The real flow in a real browser: Debian Chromium driven by Playwright against `streamlit run app.py`.

Upload a generated contract, wait for ingestion, ask which law governs it, see a cited answer,
open the citation and see page 3 drawn with the quote highlighted. The embedded demo model
answers (Ollama is pointed at a closed port). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import CONTRACT_TEXT, REPO_ROOT, make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
QUESTION = "Which law governs this agreement?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout} s")


@contextmanager
def streamlit_app(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port with `env`, its URL once healthy; stopped on exit."""
    port = free_port()
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


@contextmanager
def chromium_page(height: int = 1000, timeout_ms: int = 30_000) -> Iterator:
    """A page of Debian's Chromium driven by Playwright (skips the test when Chromium is missing)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed: run `make sysdeps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": height})
        page.set_default_timeout(timeout_ms)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    env = {
        **os.environ,
        "QUIRE_DATA_DIR": str(data_dir),
        "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:9",
        "QUIRE_LLM__NUM_CTX": "8192",
        # small clause-review calls: the demo model reads ~250 prompt tokens a second on two cores
        "QUIRE_CLAUSES__CALL_TOKENS": "1500",
        "QUIRE_CLAUSES__RETRIEVED_PER_CATEGORY": "2",
    }
    with streamlit_app(env, tmp_path_factory.getbasetemp() / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser_page(app_url: str) -> Iterator:
    with chromium_page() as page:
        yield page


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parts = CONTRACT_TEXT.split("ARTICLE 2.")
    second, third = ("ARTICLE 2." + parts[1]).split("ARTICLE 4.")
    path = tmp_path_factory.mktemp("upload") / "msa.pdf"
    return make_pdf(path, [parts[0], second, "ARTICLE 4." + third])


@pytest.fixture
def shot_on_failure(browser_page, request: pytest.FixtureRequest) -> Iterator[None]:
    """Keep what the browser showed when a step failed, next to the other screenshots."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        browser_page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)


def test_upload_ask_and_open_the_cited_page(app_url: str, browser_page, contract: Path, shot_on_failure) -> None:
    page = browser_page
    page.goto(app_url)
    page.get_by_text("No documents yet").wait_for(timeout=120_000)  # the first page opens the store
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(contract))
    page.get_by_text("1 document", exact=True).wait_for(timeout=180_000)
    page.get_by_text("3 text").first.wait_for()
    page.locator('[data-testid="stImage"] img').first.wait_for()  # the page preview
    page.screenshot(path=str(ARTIFACTS / "library.png"), full_page=True)

    page.goto(app_url)  # a reload keeps the library and the finished job
    page.get_by_text("ingested: 3 pages").wait_for()

    page.get_by_role("link", name="Ask").click()
    page.get_by_text("tiny built-in demo model").wait_for(timeout=120_000)
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(QUESTION)
    box.press("Enter")
    chip = page.get_by_role("button", name="msa.pdf · p. 3")
    chip.first.wait_for(timeout=180_000)
    page.get_by_text("In view:").first.wait_for()
    page.get_by_text("llamacpp:SmolLM2").first.wait_for()
    page.get_by_text("Evidence", exact=True).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)

    chip.first.click()
    page.get_by_text("msa.pdf, page 3: the quote is highlighted").wait_for(timeout=60_000)
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for()
    assert image.evaluate("img => img.naturalWidth") > 500
    page.screenshot(path=str(ARTIFACTS / "citation-page.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()


def test_clause_csv_download(app_url: str, browser_page, shot_on_failure) -> None:
    page = browser_page
    page.goto(f"{app_url}/clauses")
    categories = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Categories")
    categories.locator("input").click()  # one category keeps the demo model's review short
    page.keyboard.type("Governing Law")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Review clauses").click()
    with page.expect_download(timeout=300_000) as download:
        page.get_by_role("button", name="Download CSV").first.click(timeout=300_000)
    saved = ARTIFACTS / "clauses.csv"
    download.value.save_as(saved)
    assert "Governing Law" in saved.read_text(encoding="utf-8")
    page.screenshot(path=str(ARTIFACTS / "clauses.png"), full_page=True)


def test_batch_page_runs_a_folder_and_opens_its_report(
    app_url: str, browser_page, tmp_path: Path, shot_on_failure
) -> None:
    """A real `quire batch` process (ingest only) started from the page, which follows it to the end."""
    folder = tmp_path / "night"
    folder.mkdir()
    for n in range(2):
        (folder / f"contract {n}.txt").write_text(f"Contract {n}.\n\n{CONTRACT_TEXT}", encoding="utf-8")
    page = browser_page
    page.goto(f"{app_url}/batch")
    page.get_by_label("Folder on this machine").fill(str(folder))
    page.get_by_role("checkbox", name="Summaries").uncheck(force=True)  # the model steps have their own tests
    page.get_by_role("checkbox", name="Clause tables and portfolio").uncheck(force=True)
    page.get_by_role("button", name="Start batch").click()
    page.get_by_text("2 of 2 files · finished").wait_for(timeout=180_000)
    page.get_by_role("button", name="Run again").wait_for()
    page.get_by_role("button", name="Open the report").click()
    page.get_by_text("2 of 2 files complete").wait_for()
    page.screenshot(path=str(ARTIFACTS / "batch.png"), full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
