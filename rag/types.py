"""Small frozen records that cross layers: ingest -> store -> retrieval -> answer -> UI/CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

PageQuality = Literal["text", "ocr", "empty"]
Message = dict[str, str]  # one chat message: {"role": ..., "content": ...}


@dataclass(frozen=True)
class PageSpan:
    """One page of a document: where its text lies in the document text, and how it was read."""

    number: int  # 1-based
    start: int
    end: int
    quality: PageQuality = "text"
    confidence: float | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """A file turned into one text with a page map; `doc_id` is the sha256 of the file bytes."""

    doc_id: str
    name: str
    path: str
    kind: str
    text: str
    pages: tuple[PageSpan, ...]

    def page_at(self, offset: int) -> int:
        return page_at(self.pages, offset)


def page_at(pages: tuple[PageSpan, ...] | list[PageSpan], offset: int) -> int:
    """Page number holding a character offset (the last page whose start is <= offset)."""
    number = pages[0].number if pages else 1
    for page in pages:
        if page.start <= offset:
            number = page.number
        else:
            break
    return number


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    index: int
    text: str
    start: int
    end: int
    page_start: int
    page_end: int
    section: str = ""


@dataclass(frozen=True)
class Passage:
    doc_id: str
    name: str
    page_start: int
    page_end: int
    start: int
    end: int
    text: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Evidence:
    """A passage shown as evidence for a question, its best-answering sentence marked inside it.

    `text` is the stored document's text at [start, end); the sentence lies at
    [sentence_start, sentence_end) within the same document (offsets into the document, not the text).
    """

    doc_id: str
    name: str
    page: int
    start: int
    end: int
    text: str
    sentence_start: int
    sentence_end: int
    score: float

    @property
    def sentence(self) -> str:
        return self.text[self.sentence_start - self.start : self.sentence_end - self.start]

    def as_passage(self) -> Passage:
        """The piece as a passage, for callers that take passages (the prompt, `quire retrieve`)."""
        return Passage(self.doc_id, self.name, self.page, self.page, self.start, self.end, self.text, self.score)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Support:
    """One statement of the reply and the evidence item behind it (None: unsupported)."""

    statement: str
    evidence: int | None  # index into the answer's evidence
    share: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    name: str
    pages: int
    chunks: int
    ingested_at: str
    path: str = ""
    kind: str = ""
    page_quality: tuple[PageQuality, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Citation:
    doc_id: str
    name: str
    page: int
    start: int
    end: int
    quote: str
    verified: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: tuple[Citation, ...]
    mode: Literal["retrieved", "whole-document"]
    context_tokens: int
    num_ctx: int
    backend: str
    model: str
    in_view: str = ""
    passages: tuple[Passage, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    hidden_reason: str = ""  # set when the reply is degenerate: it is shown only behind this note
    support: tuple[Support, ...] = ()  # each statement of the reply and the evidence behind it

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "evidence": [e.to_json() for e in self.evidence],
            "hidden_reason": self.hidden_reason,
            "support": [s.to_json() for s in self.support],
            "citations": [c.to_json() for c in self.citations],
            "mode": self.mode,
            "context_tokens": self.context_tokens,
            "num_ctx": self.num_ctx,
            "backend": self.backend,
            "model": self.model,
            "in_view": self.in_view,
        }
