"""Show a cited page as people know it: the PDF page as an image with the quote marked on it.

The quote was verified against Quire's stored text (pypdf's reading), but boxes must come from
the page as pdfium lays it out, whose spaces and line breaks differ. So the quote is found in
pdfium's page text with the same whitespace- and case-blind matcher that verified it, and when
the whole quote is not found (hyphenation, ligatures), its pieces are, so a long quote split
over lines is still marked.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from rag.verify import MIN_QUOTE_CHARS, NormalizedText, locate_quote

Box = tuple[float, float, float, float]  # left, top, right, bottom in image pixels
HIGHLIGHT_FILL = (255, 214, 0, 90)
HIGHLIGHT_EDGE = (224, 130, 0, 255)
RENDER_SCALE = 1.6  # 72 dpi * 1.6 ≈ 115 dpi: readable on screen, small to send
FOCUS_MARGIN = 140.0  # pixels of context kept above and below the quote


class PageUnavailable(Exception):
    """The page cannot be drawn from the original file; the viewer falls back to the stored text."""


@dataclass(frozen=True)
class RenderedPage:
    image: Image.Image
    boxes: tuple[Box, ...]

    def focus(self, margin: float = FOCUS_MARGIN) -> Image.Image:
        """The band of the page around the marked quote: a whole page shrunk into a column is unreadable."""
        if not self.boxes:
            return self.image
        left = max(min(b[0] for b in self.boxes) - margin / 3, 0)
        top = max(min(b[1] for b in self.boxes) - margin, 0)
        right = min(max(b[2] for b in self.boxes) + margin / 3, self.image.width)
        bottom = min(max(b[3] for b in self.boxes) + margin, self.image.height)
        return self.image.crop((int(left), int(top), int(right), int(bottom)))


def quote_pieces(quote: str) -> list[str]:
    """The whole quote first, then its lines and sentences long enough to be found unambiguously."""
    pieces = [quote]
    for piece in re.split(r"[\n.;:]+", quote):
        piece = piece.strip()
        if len(piece) >= MIN_QUOTE_CHARS and piece not in pieces:
            pieces.append(piece)
    return pieces


def quote_spans(page_text: str, quote: str) -> list[tuple[int, int]]:
    """[start, end) spans of `page_text` covering the quote, or nothing when it is not on the page."""
    if not quote.strip():
        return []
    normalized = NormalizedText.of(page_text)
    whole, *parts = quote_pieces(quote)
    span = locate_quote(whole, normalized)
    if span:
        return [span]
    found = (locate_quote(part, normalized) for part in parts)
    return [s for s in found if s]


def render_pdf_page(path: Path, page_number: int, quote: str = "", scale: float = RENDER_SCALE) -> RenderedPage:
    """Page `page_number` (1-based) of the PDF at `path`, with `quote` marked when it is found."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as error:
        raise PageUnavailable(f"the original PDF could not be opened ({error})") from error
    try:
        if not 1 <= page_number <= len(document):
            raise PageUnavailable(f"the PDF has no page {page_number}")
        page = document[page_number - 1]
        image = page.render(scale=scale).to_pil().convert("RGBA")
        boxes = _quote_boxes(page, quote, scale)
        return RenderedPage(_draw(image, boxes), tuple(boxes))
    finally:
        document.close()


def _quote_boxes(page, quote: str, scale: float) -> list[Box]:
    """Pixel boxes of the quote's characters, line by line, as pdfium lays them out."""
    textpage = page.get_textpage()
    page_text = textpage.get_text_range()
    left, _bottom, _right, top = page.get_cropbox()
    boxes: list[Box] = []
    for start, end in quote_spans(page_text, quote):
        for index in range(textpage.count_rects(start, end - start)):
            x0, y0, x1, y1 = textpage.get_rect(index)
            boxes.append(((x0 - left) * scale, (top - y1) * scale, (x1 - left) * scale, (top - y0) * scale))
    return boxes


def _draw(image: Image.Image, boxes: list[Box]) -> Image.Image:
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    for x0, y0, x1, y1 in boxes:
        pen.rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), fill=HIGHLIGHT_FILL, outline=HIGHLIGHT_EDGE, width=2)
    return Image.alpha_composite(image, overlay).convert("RGB")


def highlighted_html(page_text: str, spans: list[tuple[int, int]]) -> str:
    """The page's text as escaped HTML with the quoted spans in <mark>, for text documents."""
    parts: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor:
            continue
        parts.append(html.escape(page_text[cursor:start]))
        parts.append(f"<mark>{html.escape(page_text[start:end])}</mark>")
        cursor = end
    parts.append(html.escape(page_text[cursor:]))
    return "".join(parts)
