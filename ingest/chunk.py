"""Cut a document into chunks that keep exact offsets into the document text and their pages.

Paragraphs (blank-line separated) are packed up to `max_chars`; a longer paragraph is cut
at a sentence end, else at whitespace. `text[start:end] == chunk.text` always holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rag.types import Chunk, ParsedDocument, page_at

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
SENTENCE_END = re.compile(r"[.;:!?][\"')\]]?\s")


def _paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in PARAGRAPH_BREAK.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut_long(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut [start, end) into pieces of at most max_chars, preferring sentence ends, then spaces."""
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max((m.end() for m in SENTENCE_END.finditer(window)), default=0)
        if cut < max_chars // 3:
            cut = window.rfind(" ", max_chars // 3) + 1 or max_chars
        yield start, start + cut
        start += cut
    yield start, end


def chunk_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    """[start, end) spans of chunks: whole paragraphs packed together, long ones cut."""
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for para_start, para_end in _paragraph_spans(text):
        para_start, para_end = _strip_span(text, para_start, para_end)
        if para_start >= para_end:
            continue
        for piece in _cut_long(text, para_start, para_end, max_chars):
            if current and piece[1] - current[0] <= max_chars:
                current = (current[0], piece[1])
                continue
            if current:
                spans.append(current)
            current = piece
    if current:
        spans.append(current)
    return [_strip_span(text, s, e) for s, e in spans]


def chunk_document(doc: ParsedDocument, max_chars: int) -> list[Chunk]:
    return [
        Chunk(
            doc_id=doc.doc_id,
            index=index,
            text=doc.text[start:end],
            start=start,
            end=end,
            page_start=page_at(doc.pages, start),
            page_end=page_at(doc.pages, max(start, end - 1)),
        )
        for index, (start, end) in enumerate(chunk_spans(doc.text, max_chars))
        if end > start
    ]
