"""Fast unit tests of the pieces under the end-to-end path (no models)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ingest.chunk import chunk_spans
from ingest.discover import sniff_kind
from ingest.extract import join_pages
from rag.types import page_at
from rag.verify import NormalizedText, locate_quote


def test_chunks_keep_exact_offsets_and_bound() -> None:
    text = "Para one is here.\n\nPara two is a bit longer. It has two sentences.\n\n" + "word " * 600
    for start, end in chunk_spans(text, 300):
        assert end - start <= 300
        assert text[start:end].strip() == text[start:end]


@given(st.text(alphabet=st.sampled_from("ab .\n;"), max_size=3000), st.integers(min_value=200, max_value=900))
def test_chunk_spans_property(text: str, max_chars: int) -> None:
    spans = chunk_spans(text, max_chars)
    covered = "".join(text[s:e] for s, e in spans)
    assert covered.replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert all(0 < e - s <= max_chars for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_page_map() -> None:
    text, pages = join_pages(["alpha", "", "gamma"])
    assert text[pages[2].start : pages[2].end] == "gamma"
    assert pages[1].quality == "empty"
    assert page_at(pages, text.index("gamma")) == 3


def test_sniff_by_content() -> None:
    assert sniff_kind(b"%PDF-1.7\n") == "pdf"
    assert sniff_kind(b"\x89PNG\r\n").startswith("unknown:")
    assert sniff_kind(b"").startswith("unknown:")
    assert sniff_kind(b"plain words") == "text"


def test_quote_found_despite_whitespace_and_case() -> None:
    original = "This Agreement shall be governed by\n  the Laws of the State of New York."
    span = locate_quote("shall be governed by the laws of the state of New York", NormalizedText.of(original))
    assert span is not None
    assert original[span[0] : span[1]] == "shall be governed by\n  the Laws of the State of New York"


def test_invented_quote_is_not_found() -> None:
    assert locate_quote("governed by the laws of Texas", NormalizedText.of("governed by the laws of Ohio")) is None


def test_fixture_pdf_is_readable(contract_pdf: Path) -> None:
    from ingest.pdf import read_pdf_pages

    pages = read_pdf_pages(contract_pdf.read_bytes(), max_pages=10)
    assert len(pages) == 3
    assert "governed by" in pages[2].text
