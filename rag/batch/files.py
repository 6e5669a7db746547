"""The batch's output files: names safe on every file system and unique in the output folder, and
writes that a crash leaves whole or absent (temp file, fsync, rename, fsync of the folder)."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
import uuid
from pathlib import Path

from rag.errors import QuireError

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def safe_stem(name: str) -> str:
    """A file-name stem safe on every file system: ASCII letters, digits, `._-`, no leading dot."""
    stem = unicodedata.normalize("NFKD", Path(name).stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:120] or "document"
    return f"_{stem}" if stem.lower() in _RESERVED else stem


def unique_out_name(rel_path: str, taken: set[str]) -> str:
    """`contract`, else `contract-pdf` (same stem, other type), else `contract-2`, ...; case-insensitive."""
    path = Path(rel_path)
    stem = safe_stem(path.name)
    candidates = [stem, f"{stem}-{safe_stem(path.suffix.lstrip('.') or 'file')}"]
    candidates += [f"{stem}-{n}" for n in range(2, 10_000)]
    for candidate in candidates:
        if candidate.lower() not in taken:
            taken.add(candidate.lower())
            return candidate
    raise QuireError(f"too many files named like {rel_path}")


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def temp_name(path: Path) -> Path:
    """A hidden name beside `path`; the next run's recovery deletes any a crash left (`.*.tmp`)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def publish(temp: Path, path: Path) -> None:
    """Move a fully written temp file into place so that even a power cut leaves the old or the new file."""
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a part."""
    temp = temp_name(path)
    temp.write_bytes(data)
    publish(temp, path)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
