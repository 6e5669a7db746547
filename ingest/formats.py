"""DOCX, HTML and e-mail to plain text, with small focused parsers.

`unstructured` was measured as the alternative (see the ingestion notes): out of the box it
downloads a spaCy model on first use (so it fails offline), it needs ~600 MB of packages, and
it takes seconds per small file where these take milliseconds. python-docx and the standard
library's `email` and `html.parser` read the same text, offline.
"""

from __future__ import annotations

import io
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

from rag.errors import IngestError

BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section",
    "article", "header", "footer", "blockquote", "pre", "dd", "dt", "ul", "ol", "hr", "title",
}  # fmt: skip
SKIPPED_TAGS = {"script", "style", "noscript", "template", "svg", "head"}
CELL_TAGS = {"td", "th"}
MAIL_HEADERS = ("From", "To", "Cc", "Date", "Subject")


class _TextCollector(HTMLParser):
    """Visible text of an HTML page: block elements become line breaks, scripts and styles vanish."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_TAGS:
            self._skipping += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in CELL_TAGS:
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def tidy(text: str) -> str:
    """Collapse runs of spaces inside lines and keep at most one blank line between paragraphs."""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return tidy("\n\n".join(_paragraphs("".join(collector.parts))))


def _paragraphs(text: str) -> list[str]:
    """Each non-empty line as its own paragraph, so chunking sees block boundaries."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def docx_to_text(data: bytes) -> str:
    """Paragraphs and tables in body order; table cells joined with ' | ' per row."""
    import docx  # python-docx: imported here so text-only ingestion never pays for lxml
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises many kinds for a broken package
        raise IngestError(
            f"the DOCX file is damaged and could not be read ({type(error).__name__}: {error})"
        ) from error
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(item.text)
        elif isinstance(item, Table):
            blocks.extend(" | ".join(cell.text.strip() for cell in row.cells) for row in item.rows)
    return tidy("\n\n".join(block for block in blocks if block.strip()))


def _mail_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    return html_to_text(content) if part.get_content_type() == "text/html" else tidy(content)


def eml_to_text(data: bytes) -> str:
    """The headers people read (From, To, Date, Subject), the body, and the names of attachments."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    header = "\n".join(f"{name}: {message[name]}" for name in MAIL_HEADERS if message[name])
    attachments = [part.get_filename() for part in message.iter_attachments() if part.get_filename()]
    sections = [header, _mail_body(message)]
    if attachments:
        sections.append("Attachments (not ingested from inside the e-mail): " + ", ".join(attachments))
    return "\n\n".join(section for section in sections if section.strip())


def decode_markup(data: bytes) -> str:
    """HTML bytes as text: UTF-8 (with or without BOM) when valid, else Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def convert(kind: str, data: bytes) -> str:
    """Plain text of a DOCX, HTML or EML file."""
    if kind == "docx":
        return docx_to_text(data)
    if kind == "html":
        return html_to_text(decode_markup(data))
    if kind == "eml":
        return eml_to_text(data)
    raise IngestError(f"no parser for files of kind {kind!r}")
