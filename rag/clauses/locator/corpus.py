"""Corpus loading, validation split and span matching utilities."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Document:
    """One contract with gold spans per category (category -> tuple of (start, end))."""

    name: str
    text: str
    gold: dict[str, tuple[tuple[int, int], ...]]


def load_categories(path: Path) -> list[str]:
    """The 41 CUAD category names, in file order."""
    with path.open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    return [r[0].split("Category:", 1)[1].strip() for r in rows[1:] if r]


def load_documents(jsonl: Path) -> list[Document]:
    """Read a CUAD-style jsonl; documents sorted by name for determinism."""
    docs: list[Document] = []
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        text = (jsonl.parent / d["txt"]).read_text(encoding="utf-8")
        gold = {
            c: tuple(sorted((s["start"], s["end"]) for s in v.get("spans", [])))
            for c, v in d.get("clauses", {}).items()
        }
        docs.append(Document(d["contract"], text, gold))
    return sorted(docs, key=lambda d: d.name)


def is_validation(name: str, fraction: float) -> bool:
    """Fixed hash split so the fold never depends on file order or Python's hash seed."""
    h = int(hashlib.md5(name.encode("utf-8")).hexdigest()[:8], 16)
    return (h % 10000) < fraction * 10000


def jaccard(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Character Jaccard overlap of two half-open spans."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0]) + (b[1] - b[0]) - inter)
