"""Find the files to ingest and tell their type by content, not by extension.

A PNG renamed `.pdf` or an empty file must fail with a clear reason, and a document's id
is the sha256 of its bytes so that re-ingesting the same content is a no-op.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.names import display_name

SUPPORTED_SUFFIXES = {".pdf", ".txt", ".md", ".markdown", ".text", ".docx", ".html", ".htm", ".eml"}
PDF_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b")
MAIL_HEADER = re.compile(rb"^(From|To|Subject|Date|Message-ID|MIME-Version|Received|Return-Path|Cc):", re.I | re.M)
HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str
    kind: str  # "pdf" | "docx" | "html" | "eml" | "text" | "unknown:<why>"
    size: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sniff_kind(head: bytes) -> str:
    """Type from the first bytes of a file."""
    if not head:
        return "unknown:the file is empty (0 bytes)"
    if b"%PDF-" in head[:1024] or PDF_OBJECT.search(head[:1024]):
        return "pdf"  # a PDF with its header lost still goes to the PDF parsers, which say why they fail
    if head.startswith(b"\x89PNG"):
        return "unknown:this is a PNG image, not a PDF or text file"
    if head[:3] == b"\xff\xd8\xff":
        return "unknown:this is a JPEG image, not a PDF or text file"
    if head.startswith(b"PK\x03\x04"):
        return "zip"  # `describe` looks inside: DOCX or another ZIP-based format
    if b"\x00" in head[:4096]:
        return "unknown:binary content that is neither PDF, DOCX, HTML, e-mail nor text"
    return _text_kind(head.removeprefix(b"\xef\xbb\xbf"))


def _text_kind(head: bytes) -> str:
    """HTML by its opening tags; an e-mail by a header block naming at least two mail headers."""
    if HTML_START.match(head):
        return "html"
    header_block = head.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if len({m.group(1).lower() for m in MAIL_HEADER.finditer(header_block)}) >= 2 and MAIL_HEADER.match(head):
        return "eml"
    return "text"


def zip_kind(path: Path) -> str:
    """DOCX is a ZIP holding word/document.xml; other ZIP-based files are named, not guessed at."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return f"unknown:a damaged ZIP/DOCX file ({error})"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "unknown:a spreadsheet (XLSX) is not supported: save it as PDF first"
    if "ppt/presentation.xml" in names:
        return "unknown:a presentation (PPTX) is not supported: save it as PDF first"
    return "unknown:a ZIP archive: unpack it and ingest the files inside"


def describe(path: Path) -> SourceFile:
    with path.open("rb") as handle:
        head = handle.read(8192)
    kind = sniff_kind(head)
    if kind == "zip":
        kind = zip_kind(path)
    return SourceFile(path=path, name=display_name(path.name), kind=kind, size=path.stat().st_size)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly, and supported files under folders (recursively, sorted, no hidden ones)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield child
        else:
            yield path
