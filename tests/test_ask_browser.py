"""Evidence first, in a real browser: the evidence is on screen while the model is still writing, its
highlighted sentence is the document's own words on the page its chip opens, and a reply that
repeats one sentence is hidden behind a note.

The model is an Ollama-protocol server on 127.0.0.1 (tests/ollama_server.py) whose model writes one
long sentence over and over, slowly, as small models do; Quire takes it for llama3.1:8b.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rag.llm.llamacpp import LlamaCppBackend
from tests.conftest import CONTRACT_TEXT, REPO_ROOT, make_pdf
from tests.ollama_server import OllamaProtocolServer, ServedModel
from tests.test_ui_browser import ARTIFACTS, chromium_page, streamlit_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUESTION = "Which law governs this agreement?"
REPEATED = (
    "No Party Deemed Drafter: the parties agree that no party shall be deemed the drafter of this Agreement "
    "and that it shall not be construed against either party as its drafter [1]. "
)
COPIES = 8
PIECE_SECONDS = 0.08  # one word at a time: the reply takes about twenty seconds in all
GOVERNING_WORDS = "governed by and construed in accordance with the laws of the State of New York"


class RepeatingModel(ServedModel):
    """Writes REPEATED `COPIES` times, a word at a time; `writing` is set while it does."""

    writing = threading.Event()
    finished = threading.Event()

    def generate(self, prompt: str, options: dict[str, Any], schema: Any) -> Iterator[dict[str, Any]]:
        self.writing.set()
        prompt_tokens = len(self.backend.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        words = (REPEATED * COPIES).split(" ")
        for word in words:
            time.sleep(PIECE_SECONDS)
            yield {"piece": word + " "}
        self.finished.set()
        yield {"done": True, "done_reason": "stop", "prompt_eval_count": prompt_tokens, "eval_count": len(words)}


@pytest.fixture(scope="module")
def repeating_server() -> Iterator[OllamaProtocolServer]:
    model = RepeatingModel(LlamaCppBackend(None, num_ctx=2048, threads=2), names=("llama3.1:8b",))
    server = OllamaProtocolServer(model).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory, repeating_server: OllamaProtocolServer) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("evidence")
    data_dir = folder / "data"
    parts = CONTRACT_TEXT.split("ARTICLE 2.")
    second, third = ("ARTICLE 2." + parts[1]).split("ARTICLE 4.")
    contract = make_pdf(folder / "msa.pdf", [parts[0], second, "ARTICLE 4." + third])
    env = {**os.environ, "QUIRE_DATA_DIR": str(data_dir), "QUIRE_LLM__OLLAMA_HOST": repeating_server.host}
    subprocess.run([sys.executable, "-m", "rag", "ingest", str(contract)], cwd=REPO_ROOT, env=env, check=True)
    with streamlit_app(env, folder / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator:
    with chromium_page(height=1100, timeout_ms=60_000) as page:
        yield page


def test_evidence_comes_before_the_reply_and_a_repeating_reply_is_hidden(app_url: str, page) -> None:
    page.goto(f"{app_url}/ask")
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.wait_for(timeout=120_000)
    box.fill(QUESTION)
    box.press("Enter")
    evidence = page.locator('[class*="st-key-evidence-"]').filter(has_text=GOVERNING_WORDS).first
    evidence.wait_for(timeout=60_000)
    assert not RepeatingModel.finished.is_set(), "the evidence must not wait for the model's reply"
    page.screenshot(path=str(ARTIFACTS / "evidence-while-writing.png"), full_page=True)

    page.get_by_text("the model's reply is hidden").wait_for(timeout=120_000)
    assert RepeatingModel.finished.is_set()
    assert not page.get_by_text("construed against either party").first.is_visible(), "the reply stays folded"
    page.screenshot(path=str(ARTIFACTS / "evidence-answer.png"), full_page=True)

    evidence.get_by_role("button", name="msa.pdf · p. 3").click()
    page.get_by_text("msa.pdf, page 3: the quote is highlighted").wait_for()
    quoted = page.get_by_text("Quoted:").first.inner_text()
    assert GOVERNING_WORDS in " ".join(quoted.split()), quoted
    assert not page.locator('[data-testid="stException"]').count()
