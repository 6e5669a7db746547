"""Twenty users at once against one service: no errors, every answer still cited.
(Latency figures come from bench/load.py, not from this test.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rag.service import Quire
from rag.settings import Settings

pytestmark = pytest.mark.slow


def test_twenty_concurrent_users(settings: Settings, contract_txt: Path, contract_pdf: Path) -> None:
    quire = Quire(settings.model_copy(update={"llm": settings.llm.model_copy(update={"max_answer_tokens": 24})}))
    quire.ingest([contract_txt, contract_pdf])
    questions = ["Which law governs this agreement?", "How long is the term?", "What is the liability cap?"]

    def user(number: int) -> tuple[int, bool]:
        question = questions[number % len(questions)]
        passages = quire.retrieve(question, budget_chars=1500)
        if number % 5:
            return len(passages), True
        answer = quire.ask(question)
        return len(passages), any(c.verified for c in answer.citations)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(user, range(20)))
    assert all(count > 0 and cited for count, cited in results)
