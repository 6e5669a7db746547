"""Property tests for the parts that must never lie: quote verification and JSON repair."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rag.llm.base import parse_json_reply
from rag.verify import MIN_QUOTE_CHARS, NormalizedText, locate_quote, normalize

WORDS = st.lists(
    st.sampled_from("the party shall pay notice term Texas law 30 days (a) §".split()), min_size=5, max_size=60
)


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(WORDS, st.data())
def test_any_slice_of_the_document_is_found_at_its_place(words: list[str], data: st.DataObject) -> None:
    separators = data.draw(
        st.lists(st.sampled_from([" ", "\n", "  ", "\t", " \n "]), min_size=len(words), max_size=len(words))
    )
    document = "".join(w + s for w, s in zip(words, separators, strict=True))
    first = data.draw(st.integers(0, len(words) - 5))
    last = data.draw(st.integers(first + 4, len(words) - 1))
    quote = " ".join(words[first : last + 1]).upper()
    assume(len(normalize(quote).strip(" .,;:\"'")) >= MIN_QUOTE_CHARS)
    span = locate_quote(quote, NormalizedText.of(document))
    assert span is not None
    assert normalize(document[span[0] : span[1]]) == normalize(quote).strip(" .,;:\"'")


@given(st.text(min_size=MIN_QUOTE_CHARS, max_size=80), st.text(max_size=400))
def test_a_found_quote_is_really_there(quote: str, document: str) -> None:
    span = locate_quote(quote, NormalizedText.of(document))
    if span is not None:
        assert normalize(document[span[0] : span[1]]) == normalize(quote).strip(" .,;:\"'")


@given(
    st.dictionaries(st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=20), st.booleans()), max_size=5),
    st.text(alphabet="abc \n", max_size=30),
    st.text(alphabet="xyz \n", max_size=30),
)
def test_json_repair_finds_the_object_inside_prose(value: dict, before: str, after: str) -> None:
    assert parse_json_reply(f"{before}```json\n{json.dumps(value)}\n```{after}") == value


def test_a_raw_line_break_inside_a_string_is_read_as_one() -> None:
    reply = '{"Parties": {"quotes": ["ACME CORP.\n(the \\"Company\\")\tand"], "answer": "ACME"}}'
    assert parse_json_reply(reply)["Parties"]["quotes"] == ['ACME CORP.\n(the "Company")\tand']


@pytest.mark.parametrize("reply", ["", "no json here", "[1, 2]", "{broken"])
def test_json_repair_refuses_what_is_not_an_object(reply: str) -> None:
    with pytest.raises(ValueError):
        parse_json_reply(reply)
