"""Display names for uploaded files: shown to people, never used as paths (documents are stored by content hash)."""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 120


def display_name(raw: str, limit: int = MAX_NAME_CHARS) -> str:
    """The last path part of `raw`, without control characters, NFC-normalised and capped at `limit` characters.

    WHY: a hostile name such as `../../etc/passwd.pdf` or one full of terminal escapes must not look like a path
    or repaint a terminal when Quire lists it; very long names would swamp every table.
    """
    base = raw.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    clean = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C").strip()
    if len(clean) > limit:
        stem, dot, ext = clean.rpartition(".")
        keep = f".{ext}" if dot and len(ext) <= 8 else ""
        clean = clean[: limit - len(keep) - 1] + "…" + keep
    return clean or "unnamed"
