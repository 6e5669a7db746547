"""Statements of a reply backed by the evidence, or not: word overlap with the figures required."""

from __future__ import annotations

from rag.answer.support import supports
from rag.types import Evidence

LAW = "This Agreement shall be governed by and construed in accordance with the laws of the State of New York."
TERM = "Either party may terminate this Agreement on sixty (60) days' written notice to the other party."


def evidence(*sentences: str) -> tuple[Evidence, ...]:
    items, start = [], 0
    for sentence in sentences:
        items.append(Evidence("d" * 64, "msa.pdf", 1, start, start + len(sentence), sentence, start,
                              start + len(sentence), 1.0))  # fmt: skip
        start += len(sentence) + 1
    return tuple(items)


def test_a_statement_the_evidence_says_is_linked_to_it() -> None:
    found = supports("The agreement is governed by the laws of the State of New York [1].", evidence(TERM, LAW))
    assert [(s.evidence, s.share >= 0.6) for s in found] == [(1, True)]


def test_an_invented_figure_or_claim_is_unsupported() -> None:
    found = supports(
        "Either party may terminate on ninety (90) days' written notice. The supplier owns all the patents forever.",
        evidence(TERM, LAW),
    )
    assert [s.evidence for s in found] == [None, None]


def test_sentences_without_content_words_state_nothing() -> None:
    assert supports("Yes. See [1].", evidence(LAW)) == ()
