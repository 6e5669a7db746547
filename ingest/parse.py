"""Turn one file into a `ParsedDocument`: the document text plus a map of where each page lies.

Plain text is read in this process (it cannot hurt it); every other kind is parsed in a child
process with limits (`ingest.isolate`), which calls `extract` below.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.discover import SourceFile, sha256_file
from ingest.formats import convert
from ingest.isolate import run_isolated
from ingest.ocr import TESSERACT_HINT, ocr_pages, tesseract_path
from ingest.pdf import PdfPage, open_pdfium, read_pdf_pages, usable
from rag.errors import IngestError
from rag.types import PageSpan, ParsedDocument

if TYPE_CHECKING:  # the parsing child never imports pydantic: it starts faster
    from rag.settings import IngestSettings

PAGE_SEPARATOR = "\n\n"
ISOLATED_KINDS = {"pdf", "docx", "html", "eml"}


@cache
def _one_for_one() -> dict[int, str]:
    """Characters stored as the single character they stand for, so that offsets stay put.

    - Unicode space separators (no-break, thin, ideographic ...) -> a space: a third of the CUAD PDFs
      put U+00A0 between every word, so the model read nearly twice the tokens and cues such as
      "governing law" missed them.
    - characters Unicode defines as another single character (U+037E GREEK QUESTION MARK is ";"):
      most semicolons of the CUAD PDFs come out of pdfium as U+037E, and a quote with ";" did not match.
    - U+FFFE, which pdfium returns for a hyphen it takes for a line-break one ("non", U+FFFE, "breaching").

    Built on first use (about 20 ms over the BMP), not at import: the parsing child imports this module
    and never needs it.
    """
    table = {c: n for c in range(0x10000) if len(n := unicodedata.normalize("NFC", chr(c))) == 1 and n != chr(c)}
    table.update(dict.fromkeys([0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000], " "))
    table[0xFFFE] = "-"
    return table


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


def _no_text_reason(source: SourceFile, settings: IngestSettings) -> str:
    if source.kind != "pdf":
        return "no text could be read from this file: nothing was ingested"
    if not settings.ocr:
        return "this PDF has no text layer (a scan?) and OCR is off (QUIRE_INGEST__OCR): nothing was ingested"
    if tesseract_path() is None:
        return f"this PDF has no text layer (a scan?) and OCR needs Tesseract: {TESSERACT_HINT}"
    return "no text could be read from this PDF, not even by OCR (blank or unreadable pages): nothing was ingested"


def parse_file(source: SourceFile, settings: IngestSettings, password: str | None = None) -> ParsedDocument:
    if source.kind.startswith("unknown:"):
        raise IngestError(source.kind.split(":", 1)[1])
    path = Path(source.path)
    if source.kind in ISOLATED_KINDS:
        text, pages = run_isolated(path, source.kind, settings.model_dump(), password)
    else:
        text, pages = extract(path, source.kind, settings.model_dump(), password)
    if not text.strip():
        raise IngestError(_no_text_reason(source, settings))
    return ParsedDocument(
        doc_id=sha256_file(path),
        name=source.name,
        path=str(path),
        kind=source.kind,
        text=text.translate(_one_for_one()),
        pages=pages,
    )
