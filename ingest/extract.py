"""Read one file of a known kind into a text and its page map, with no limits of its own.

`ingest.isolate` calls `extract` inside the parsing child for every kind but plain text, and
`ingest.parse` calls it in this process for plain text. It imports no pydantic, so the child starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ingest.formats import convert
from ingest.ocr import ocr_pages, tesseract_path
from ingest.pdf import PdfPage, open_pdfium, read_pdf_pages, usable
from rag.types import PageSpan

PAGE_SEPARATOR = "\n\n"


def decode_text(data: bytes) -> str:
    """Text files as their characters: UTF-8 when valid, else Windows-1252 (never lossy-silent)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def join_pages(pages: list[tuple[str, str, float | None] | str]) -> tuple[str, tuple[PageSpan, ...]]:
    """One document text from page texts, with each page's [start, end) offsets in it.

    Items are page texts, or `(text, quality, confidence)` tuples when the quality is known."""
    parts: list[str] = []
    spans: list[PageSpan] = []
    cursor = 0
    for number, item in enumerate(pages, start=1):
        page_text, quality, confidence = item if isinstance(item, tuple) else (item, "text", None)
        if parts:
            parts.append(PAGE_SEPARATOR)
            cursor += len(PAGE_SEPARATOR)
        if not page_text.strip():
            quality, confidence = "empty", None
        spans.append(PageSpan(number, cursor, cursor + len(page_text), quality, confidence))
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


def _pdf_with_ocr(data: bytes, limits: dict[str, Any], password: str | None) -> list[tuple]:
    """Text layer of every page; OCR only for the pages whose text layer is not usable."""
    pages: list[PdfPage] = read_pdf_pages(data, max_pages=int(limits["max_pages"]), password=password)
    missing = [page.number - 1 for page in pages if page.needs_ocr]
    results = {}
    if missing and limits.get("ocr", True) and tesseract_path():
        document = open_pdfium(data, password)
        try:
            results = ocr_pages(
                document,
                missing,
                int(limits["ocr_dpi"]),
                str(limits["ocr_language"]),
                float(limits["max_seconds"]),
            )
        finally:
            document.close()
    items: list[tuple] = []
    for page in pages:
        ocr = results.get(page.number - 1)
        if ocr is not None and usable(ocr.text):
            items.append((ocr.text, "ocr", ocr.confidence))
        else:
            items.append((page.text, "text", None))
    return items


def extract(path: Path, kind: str, limits: dict[str, Any], password: str | None) -> tuple[str, tuple[PageSpan, ...]]:
    """Text and page map of one file of a known kind (runs in the child for isolated kinds)."""
    data = path.read_bytes()
    if kind == "pdf":
        return join_pages(_pdf_with_ocr(data, limits, password))
    if kind == "text":
        text = decode_text(data)
        return text, split_text_pages(text)
    return join_pages([convert(kind, data)])
