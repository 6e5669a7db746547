"""Clause-aware chunking: exact offsets always, structure when the text has it (no models)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_document, chunk_spans, find_headings
from ingest.extract import split_text_pages
from rag.types import Chunk, ParsedDocument
from tests.conftest import CONTRACT_TEXT, CONTRACTS, requires_shared_data


def _doc(text: str) -> ParsedDocument:
    return ParsedDocument("d" * 64, "x.txt", "x.txt", "text", text, split_text_pages(text))


def _check_chunks(text: str, chunks: list[Chunk], max_chars: int) -> None:
    """The invariants every chunking must keep, whatever the text."""
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert 0 < len(chunk.text) <= max_chars
        assert chunk.text == chunk.text.strip()
        assert chunk.page_start <= chunk.page_end
    assert all(a.end <= b.start for a, b in zip(chunks, chunks[1:], strict=False))
    covered = "".join(c.text for c in chunks)
    assert "".join(covered.split()) == "".join(text.split())


PIECES = st.sampled_from(
    ["ARTICLE IV", "Section 2.1", "12.3(b)(ii) ", "(a) ", "(iv) ", "SCHEDULE A", "Exhibit B", '"Term" means ',
     "The Supplier shall", "pay", ".", ";", " ", "  ", "\n", "\n\n", "\f", "word" * 30]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=400).map("".join), st.integers(min_value=200, max_value=1200))
def test_chunks_keep_exact_offsets_property(text: str, max_chars: int) -> None:
    _check_chunks(text, chunk_document(_doc(text), max_chars), max_chars)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=3000), st.integers(min_value=200, max_value=900))
def test_chunks_of_any_unicode_text(text: str, max_chars: int) -> None:
    _check_chunks(text, chunk_document(_doc(text), max_chars), max_chars)


@requires_shared_data()
def test_every_dev_contract_chunks_exactly() -> None:
    files = sorted(CONTRACTS.glob("*.txt"))
    assert len(files) >= 30
    sizes: list[int] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        chunks = chunk_document(_doc(text), 1000)
        _check_chunks(text, chunks, 1000)
        assert any(c.section for c in chunks), path.name
        sizes.extend(len(c.text) for c in chunks)
    assert 500 <= sum(sizes) / len(sizes) <= 1000  # modest chunks: good for retrieval recall


def test_sections_follow_articles_and_clauses() -> None:
    chunks = chunk_document(_doc(CONTRACT_TEXT), 300)
    law = next(c for c in chunks if "governed by" in c.text)
    assert law.section == "ARTICLE 4 GOVERNING LAW"
    assert law.text.startswith("ARTICLE 4.")  # cut along the article, not inside it
    term = next(c for c in chunks if "material breach" in c.text)
    assert term.section.startswith("ARTICLE 2 TERM AND TERMINATION")


def test_recognises_deep_numbering_schedules_and_defined_terms() -> None:
    text = (
        "ARTICLE 1 DEFINITIONS\n\n"
        '"Affiliate" means any entity that controls a party.\n\n'
        '"Term" has the meaning given in Section 2.1.\n\n'
        "ARTICLE 12 MISCELLANEOUS\n\n"
        "12.3(b)(ii) The Supplier shall notify the Customer.\n\n"
        "SCHEDULE A Services\n\n"
        "1. Logistics. Trucks and vans.\n"
    )
    labels = {h.label: h.level for h in find_headings(text)}
    assert "12.3(b)(ii) The Supplier" in labels
    assert labels["SCHEDULE A Services"] < labels["ARTICLE 12 MISCELLANEOUS"]
    assert "Affiliate" in labels and "Term" in labels
    chunks = chunk_document(_doc(text), 200)
    by_text = {c.text.split("\n")[0]: c.section for c in chunks}
    assert by_text["SCHEDULE A Services"] == "SCHEDULE A Services"
    affiliate = next(c for c in chunks if "Affiliate" in c.text)
    assert affiliate.section.startswith("ARTICLE 1 DEFINITIONS")


def test_inline_numbering_in_text_without_line_breaks() -> None:
    text = ("Preamble. 1. Services The supplier serves. " + "It works well. " * 12 + "2. Fees You pay monthly. ") * 2
    sections = [c.section for c in chunk_document(_doc(text), 300)]
    assert any(s.startswith("2 Fees") for s in sections)


def test_long_clause_is_cut_within_the_bound() -> None:
    text = "Section 5.1 Payment. " + "The Customer shall pay the fees. " * 100
    spans = chunk_spans(text, 400)
    assert len(spans) > 5 and all(e - s <= 400 for s, e in spans)
    assert all(text[s:e].endswith(".") for s, e in spans[:-1])  # cut at sentence ends
