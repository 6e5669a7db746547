"""Find the files to ingest and tell their type by content, not by extension.

A PNG renamed `.pdf` or an empty file must fail with a clear reason, and a document's id
is the sha256 of its bytes so that re-ingesting the same content is a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

SUPPORTED_SUFFIXES = {".pdf", ".txt", ".md", ".text"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str
    kind: str  # "pdf" | "text" | "unknown:<why>"
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
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG"):
        return "unknown:this is a PNG image, not a PDF or text file"
    if head[:3] == b"\xff\xd8\xff":
        return "unknown:this is a JPEG image, not a PDF or text file"
    if head.startswith(b"PK\x03\x04"):
        return "unknown:a ZIP-based file (DOCX/XLSX?) is not supported yet"
    if b"\x00" in head[:4096]:
        return "unknown:binary content that is neither PDF nor text"
    return "text"


def describe(path: Path) -> SourceFile:
    with path.open("rb") as handle:
        head = handle.read(8192)
    return SourceFile(path=path, name=path.name, kind=sniff_kind(head), size=path.stat().st_size)


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
