"""Turn one file into a `ParsedDocument`: the document text plus a map of where each page lies."""

from __future__ import annotations

from pathlib import Path

from ingest.discover import SourceFile, sha256_file
from ingest.pdf import read_pdf_pages
from rag.errors import IngestError
from rag.types import PageSpan, ParsedDocument

PAGE_SEPARATOR = "\n\n"


def decode_text(data: bytes) -> str:
    """Text files as their characters: UTF-8 when valid, else Windows-1252 (never lossy-silent)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def join_pages(page_texts: list[str]) -> tuple[str, tuple[PageSpan, ...]]:
    """One document text from page texts, with each page's [start, end) offsets in it."""
    parts: list[str] = []
    spans: list[PageSpan] = []
    cursor = 0
    for number, page_text in enumerate(page_texts, start=1):
        if parts:
            parts.append(PAGE_SEPARATOR)
            cursor += len(PAGE_SEPARATOR)
        quality = "text" if page_text.strip() else "empty"
        spans.append(PageSpan(number=number, start=cursor, end=cursor + len(page_text), quality=quality))
        parts.append(page_text)
        cursor += len(page_text)
    return "".join(parts), tuple(spans)


def split_text_pages(text: str) -> tuple[PageSpan, ...]:
    """Pages of a plain-text file: form feeds separate pages when present, else one page."""
    spans: list[PageSpan] = []
    start = 0
    for number, piece in enumerate(text.split("\f"), start=1):
        end = start + len(piece)
        spans.append(PageSpan(number=number, start=start, end=end, quality="text" if piece.strip() else "empty"))
        start = end + 1
    return tuple(spans)


def parse_file(source: SourceFile, max_pages: int, password: str | None = None) -> ParsedDocument:
    if source.kind.startswith("unknown:"):
        raise IngestError(source.kind.split(":", 1)[1])
    data = Path(source.path).read_bytes()
    doc_id = sha256_file(Path(source.path))
    if source.kind == "pdf":
        text, pages = join_pages(read_pdf_pages(data, max_pages=max_pages, password=password))
    else:
        text = decode_text(data)
        pages = split_text_pages(text)
    if not text.strip():
        raise IngestError(
            "no text could be read from this file (a scan without a text layer?): nothing was ingested"
        )
    return ParsedDocument(doc_id=doc_id, name=source.name, path=str(source.path), kind=source.kind, text=text, pages=pages)
