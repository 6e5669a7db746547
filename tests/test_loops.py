"""A reply that loops is cut back to one copy, a looping JSON string is closed early; contract text,
however repetitive, never reads as a loop."""

from __future__ import annotations

import pytest

from rag.llm.loops import MIN_STRING_LOOP_CHARS, JsonStringWatch, loop_start, without_loop
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
    """Quoted contract text (tables, leaders, redactions) must never be mistaken for a loop, as a
    reply's tail or as a quote of up to 160 characters inside a JSON reply."""
    for contract in sorted(CONTRACTS.glob("*.txt")):
        text = contract.read_text(encoding="utf-8")
        for end in range(200, len(text), 251):
            assert loop_start(text[:end]) is None, (contract.name, text[end - 120 : end])
        for end in range(160, len(text), 37):
            quote = text[end - 160 : end]
            assert loop_start(quote, MIN_STRING_LOOP_CHARS) is None, (contract.name, quote)


def watch_after(*pieces: str) -> JsonStringWatch:
    watch = JsonStringWatch()
    for piece in pieces:
        watch.feed(piece)
    return watch


def test_a_looping_string_in_a_json_reply_is_seen_while_it_is_written() -> None:
    assert watch_after('{"Parties": {"present": true, "value": "1.0', ".0" * 12).looping()
    assert watch_after('{"quotes": ["The contract is a document, ', "and the contract is a document, " * 3).looping()


def test_a_json_string_that_does_not_loop_or_has_closed_is_left_alone() -> None:
    assert not watch_after('{"value": "1.0.0.0"').looping()  # too short to call a loop
    assert not watch_after('{"value": "', "1.0" * 12, '", "confidence": "').looping()  # closed, a new one open
    assert not watch_after('{"quotes": ["The Company shall pay $1,000 in 2024, $1,000 in 2025').looping()
    assert not watch_after('{"a": "ha', "ha" * 12, '"}').looping()  # outside any string


def test_an_escaped_quote_does_not_close_the_string() -> None:
    assert watch_after('{"value": "say \\"', "ab " * 8).looping()
    assert not watch_after('{"value": "say \\\\"', "ab " * 8).looping()  # an escaped backslash, then the end


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


def test_a_looping_string_in_a_structured_reply_is_closed_early() -> None:
    """Without the watch the built-in model fills the string to its 160-character bound."""
    from rag.llm.llamacpp import LlamaCppBackend, demo_model_path

    backend = LlamaCppBackend(demo_model_path(), 2048)
    schema = {
        "type": "object",
        "properties": {"value": {"type": "string", "maxLength": 160}},
        "required": ["value"],
    }
    question = "Repeat after me: 1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1. Reply with JSON."
    messages = [{"role": "user", "content": question}]
    value = backend.structured(messages, schema, max_tokens=200)["value"]
    assert len(value) < 3 * MIN_STRING_LOOP_CHARS, value


def test_a_model_without_a_lone_quote_token_gets_no_string_closer() -> None:
    """A tokenizer that only has ' "' (a leading space glued on) cannot close a string cleanly."""
    from rag.llm.llamacpp import lone_quote_token

    class SpacedQuotes:
        def tokenize(self, text: bytes, **_: object) -> list[int]:
            return [7]

        def detokenize(self, tokens: list[int]) -> bytes:
            return b' "'

    assert lone_quote_token(SpacedQuotes()) is None
