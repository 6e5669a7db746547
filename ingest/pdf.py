"""PDF text layer, page by page, with pypdf; a page map ties every character to its page."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError

from rag.errors import IngestError

logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files are reported by us, once


def read_pdf_pages(data: bytes, max_pages: int, password: str | None = None) -> list[str]:
    """The text of each page (empty string for a page without a text layer)."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            if not password or not reader.decrypt(password):
                raise IngestError("the PDF is password-protected: give its password (--password) to ingest it")
        page_count = len(reader.pages)
        if page_count > max_pages:
            raise IngestError(f"the PDF has {page_count} pages, more than the limit of {max_pages} (QUIRE_INGEST__MAX_PAGES)")
        return [(page.extract_text() or "") for page in reader.pages]
    except IngestError:
        raise
    except FileNotDecryptedError as error:
        raise IngestError("the PDF is password-protected: give its password (--password) to ingest it") from error
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as error:
        raise IngestError(f"the PDF is damaged and could not be read ({type(error).__name__}: {error})") from error
