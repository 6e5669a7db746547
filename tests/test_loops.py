"""A reply that loops is cut back to one copy; contract text, however repetitive, never is."""

from __future__ import annotations

import pytest

from rag.llm.loops import loop_start, without_loop
from tests.conftest import CONTRACTS, requires_shared_data

HEADLINE = "An agency agreement between General Electric Capital Corporation and Duckwall-Alco, LLC"


def test_a_repeated_word_is_cut_back_to_one_copy() -> None:
    assert without_loop(HEADLINE + ", LLC" * 40) == HEADLINE


def test_a_repeated_sentence_is_cut_back_to_one_copy() -> None:
    sentence = "The contract is not a document of the contract, but a note. "
    assert without_loop("Summary. " + sentence * 3) == "Summary. " + sentence.strip()


@pytest.mark.parametrize(
    "reply",
    [
        "The parties are Acme Corp and Zenith LLC; the term is two years, renewed yearly.",
        "Fees: $1,000 in 2024, $1,000 in 2025, $1,000 in 2026.",  # similar, not a loop
        "Sign here: " + "_" * 80,  # a blank signature line
        "Contents" + " ." * 60,  # a dot leader
        "Volume table: " + "[***] " * 30,  # a redaction table
    ],
)
def test_text_that_does_not_loop_is_kept_whole(reply: str) -> None:
    assert loop_start(reply) is None and without_loop(reply) == reply


@requires_shared_data()
def test_no_stretch_of_a_real_contract_reads_as_a_loop() -> None:
    """Quoted contract text (tables, leaders, redactions) must never be mistaken for a loop."""
    for contract in sorted(CONTRACTS.glob("*.txt")):
        text = contract.read_text(encoding="utf-8")
        for end in range(200, len(text), 251):
            assert loop_start(text[:end]) is None, (contract.name, text[end - 120 : end])


def test_the_embedded_model_is_stopped_as_soon_as_it_loops() -> None:
    """The built-in model asked to repeat itself stops within a few copies, not at the reply budget."""
    from rag.llm.llamacpp import LlamaCppBackend, demo_model_path

    backend = LlamaCppBackend(demo_model_path(), 2048)
    messages = [{"role": "user", "content": "Write the word LLC followed by a comma, 200 times: LLC, LLC, LLC,"}]
    stream = backend.stream_chat(messages, max_tokens=400)
    streamed = stream.text()
    assert loop_start(streamed) is not None and stream.usage is not None
    assert stream.usage.completion_tokens < 100
    assert loop_start(backend.complete(messages, max_tokens=400).text) is None
