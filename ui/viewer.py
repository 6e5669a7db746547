"""The source panel: the cited page of the original document with the quote marked.

PDFs are drawn from the stored original; text files, and PDFs whose original is gone or
locked, show the stored text of the page with the quote in <mark>, so a citation can
always be checked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from PIL import Image

from rag.service import Quire
from rag.types import Citation, DocumentInfo
from ui.pages import PageUnavailable, highlighted_html, quote_spans, render_pdf_page

PAGE_STYLE = (
    "white-space: pre-wrap; font-family: ui-serif, Georgia, serif; font-size: 0.92rem; line-height: 1.45; "
    "max-height: 34rem; overflow-y: auto; padding: 0.8rem 1rem; "
    "border: 1px solid #ddd; border-radius: 0.4rem;"
)


@dataclass(frozen=True)
class SourceRef:
    """A place to show: a document, a page and (optionally) the quote to mark there."""

    doc_id: str
    name: str
    page: int
    quote: str = ""
    start: int = -1
    end: int = -1

    @classmethod
    def of(cls, citation: Citation) -> SourceRef:
        quote = citation.quote if citation.verified else ""
        return cls(citation.doc_id, citation.name, citation.page, quote, citation.start, citation.end)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@st.cache_data(show_spinner=False, max_entries=64)
def _page_pngs(path: str, mtime: float, page: int, quote: str) -> tuple[bytes, bytes, int]:
    """The page, the band around the quote, and how many boxes mark it (cached: reruns must not redraw)."""
    rendered = render_pdf_page(Path(path), page, quote)
    return _png(rendered.image), _png(rendered.focus()), len(rendered.boxes)


def find_document(quire: Quire, doc_id: str) -> DocumentInfo | None:
    return next((d for d in quire.documents() if d.doc_id == doc_id), None)


def show_source(quire: Quire, ref: SourceRef) -> None:
    info = find_document(quire, ref.doc_id)
    if info is None:
        st.warning(f"{ref.name} is no longer in the library.")
        return
    st.markdown(f"**{info.name}** · page {ref.page} of {info.pages}")
    if ref.quote:
        st.caption(f"Quoted: “{ref.quote}”")
    original = Path(info.path) if info.path else None
    if info.kind == "pdf" and original is not None and original.is_file():
        try:
            page_png, focus_png, boxes = _page_pngs(str(original), original.stat().st_mtime, ref.page, ref.quote)
        except PageUnavailable as error:
            st.info(f"The page image is not available ({error}); showing the stored text instead.")
        else:
            show_page_images(info, ref, page_png, focus_png, boxes)
            return
    elif info.kind == "pdf":
        st.info(
            "The original PDF is not kept for this document (ingested from the command line?); showing its stored text."
        )
    show_page_text(quire, ref)


def show_page_images(info: DocumentInfo, ref: SourceRef, page_png: bytes, focus_png: bytes, boxes: int) -> None:
    if not ref.quote:
        st.image(page_png, caption=f"{info.name}, page {ref.page}")
        return
    if not boxes:
        st.image(page_png, caption=f"{info.name}, page {ref.page}: the quote could not be placed on the drawn page")
        return
    st.image(focus_png, caption=f"{info.name}, page {ref.page}: the quote is highlighted")
    with st.expander("Whole page"):
        st.image(page_png)


def show_page_text(quire: Quire, ref: SourceRef) -> None:
    text, pages = quire.document_pages(ref.doc_id)
    page = next((p for p in pages if p.number == ref.page), None)
    if page is None:
        st.warning(f"Page {ref.page} is not in the stored document.")
        return
    page_text = text[page.start : page.end]
    if page.start <= ref.start < ref.end <= page.end:
        spans = [(ref.start - page.start, ref.end - page.start)]
    else:
        spans = quote_spans(page_text, ref.quote)
    st.html(f'<div class="quire-page" style="{PAGE_STYLE}">{highlighted_html(page_text, spans)}</div>')
