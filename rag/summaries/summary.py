"""What a summary holds: its words, the verified quotes, and which pages and sections fed it.

Records only, so the batch, the CLI and the web app read a summary without the summariser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Mode = Literal["whole-document", "map-reduce", "key-terms"]


def page_ranges(pages: Sequence[int]) -> str:
    """`pages 1-4, 7, 9-12` (or `page 3`) for a list of page numbers."""
    runs: list[list[int]] = []
    for page in sorted(set(pages)):
        if runs and page == runs[-1][1] + 1:
            runs[-1][1] = page
        else:
            runs.append([page, page])
    words = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    return f"page {words}" if len(runs) == 1 and runs[0][0] == runs[0][1] else f"pages {words}"


@dataclass(frozen=True)
class Coverage:
    """Which pages and sections of the document fed the summary."""

    pages: tuple[int, ...]  # pages whose text fed the summary
    total_pages: int
    text_pages: tuple[int, ...]  # pages that have text at all (a blank or unreadable page has none)
    sections: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return set(self.text_pages) <= set(self.pages)

    @property
    def line(self) -> str:
        if len(self.pages) == self.total_pages:
            where = (
                f"all {self.total_pages} pages ({page_ranges(self.pages)})"
                if self.total_pages > 1
                else "its one page (page 1)"
            )
        else:
            where = f"{len(self.pages)} of {self.total_pages} pages ({page_ranges(self.pages)})"
            blank = sorted(set(range(1, self.total_pages + 1)) - set(self.text_pages))
            if blank:
                where += f"; no text on {page_ranges(blank)}"
        line = f"{where}; sections: {', '.join(self.sections)}" if self.sections else where
        return line.rstrip(".")  # a section title's own full stop ("3.01 Termination.") ends no sentence here

    def to_json(self) -> dict[str, Any]:
        return {
            "pages": list(self.pages),
            "total_pages": self.total_pages,
            "text_pages": list(self.text_pages),
            "sections": list(self.sections),
            "complete": self.complete,
            "line": self.line,
        }


@dataclass(frozen=True)
class Quote:
    text: str
    page: int
    start: int
    end: int


@dataclass(frozen=True)
class Summary:
    doc_id: str
    name: str
    markdown: str
    mode: Mode
    coverage: Coverage
    headline: str
    key_terms: tuple[tuple[str, str], ...]
    quotes: tuple[Quote, ...]  # verified only; unverified phrases are shown without quotation marks
    calls: int
    backend: str
    model: str
    num_ctx: int

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "name": self.name,
            "mode": self.mode,
            "headline": self.headline,
            "key_terms": dict(self.key_terms),
            "quotes": [{"quote": q.text, "page": q.page, "start": q.start, "end": q.end} for q in self.quotes],
            "coverage": self.coverage.to_json(),
            "calls": self.calls,
            "backend": self.backend,
            "model": self.model,
            "num_ctx": self.num_ctx,
            "markdown": self.markdown,
        }
