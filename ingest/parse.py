"""Turn one file into a `ParsedDocument`: the document text plus a map of where each page lies.

Plain text is read in this process (it cannot hurt it); every other kind is parsed in a child
process with limits (`ingest.isolate`); both call `ingest.extract.extract`.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.discover import SourceFile, sha256_file
from ingest.extract import extract
from ingest.isolate import run_isolated
from ingest.ocr import TESSERACT_HINT, tesseract_path
from rag.errors import IngestError
from rag.types import ParsedDocument

if TYPE_CHECKING:  # the parsing child never imports pydantic: it starts faster
    from rag.settings import IngestSettings

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
