"""Keep uploaded files where Quire can find them again, named by content, never by the browser.

Pages are rendered from the original file, so an upload must outlive the request. The folder
is the sha256 of the bytes (the document id); the file name inside it is the upload's base
name stripped of anything that could act as a path (`../../etc/passwd.pdf` -> `passwd.pdf`),
kept only so that the library shows the name people know.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from pathlib import Path

from rag.store.store import uploads_dir

MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[^\w .,()\[\]+-]")


def safe_name(name: str) -> str:
    """A base name that is only a name: no folders, no control characters, no leading dots."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if dot and len(suffix) <= 8:
        return (stem[: MAX_NAME_CHARS - len(suffix) - 1].strip(" .") or "upload") + "." + suffix
    return base[:MAX_NAME_CHARS] or "upload"


def store_upload(state_dir: Path, name: str, data: bytes) -> Path:
    """Write the bytes once under files/<sha256>/<safe name> and return that path."""
    folder = uploads_dir(state_dir) / hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(name)
    if not path.exists():
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # never a half-written file under the final name
    return path


def forget_upload(state_dir: Path, stored_path: str) -> bool:
    """Delete a stored upload; files that Quire did not store (CLI ingests) are never touched."""
    root = uploads_dir(state_dir).resolve()
    folder = Path(stored_path).resolve().parent
    if folder.parent != root:
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True
