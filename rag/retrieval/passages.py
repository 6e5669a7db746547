"""Ranked chunk hits -> passages that read well, within a character budget.

A hit grows to the clause it sits in when that clause is not much longer (a reader, and the
model, need the whole clause); hits next to or over one another merge into one passage; no
character is returned twice; the last passage is cut so that the total fits the budget exactly,
and its pages are taken from where its characters really are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

from rag.types import PageSpan, Passage, page_at

# Where a clause begins: a blank line, or a numbered heading after a line break or a wide gap
# ("   12.3 ", "\nARTICLE IV", "   (b) ", "Section 5."), as contracts and their plain-text dumps lay them out.
CLAUSE_BREAK = re.compile(
    r"\n\s*\n"
    r"|(?:\n|\s{3,})(?=(?:ARTICLE|Article|SECTION|Section|SCHEDULE|Schedule|EXHIBIT|Exhibit)\s+[\dIVXA-Z]"
    r"|\d{1,3}(?:\.\d{1,3})*\.?\s+[A-Z(\"]"
    r"|\([a-zA-Z0-9]{1,4}\)\s)"
)
MERGE_GAP = 40  # hits closer than this read as one passage; the gap is returned too
EXPAND_FACTOR = 2.0  # a clause up to this many times the hit's length replaces the hit


@dataclass(frozen=True)
class Hit:
    """One ranked chunk: where it is and how it scored."""

    doc_id: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class DocText:
    name: str
    text: str
    pages: tuple[PageSpan, ...]


def clause_span(text: str, start: int, end: int, longest: int | None = None) -> tuple[int, int] | None:
    """The clause(s) holding [start, end), trimmed of surrounding whitespace; None when longer than `longest`.

    Only the text from `longest` before `end` to the first clause break after it is scanned, not
    the whole document (that cost ~2 ms per contract, for every document a query touched). The
    breaks found are the same: each is the end of a match that lies inside one run of whitespace,
    and the scan starts at the start of a run, where a scan of the whole text resumes too."""
    lowest = 0 if longest is None else max(end - longest, 0)  # no clause this long starts earlier
    scan = lowest
    while scan > 0 and text[scan - 1].isspace():
        scan -= 1
    left, right = 0, len(text)  # left stays 0 only when lowest is 0 or the clause is too long anyway
    found = (match.end() for match in CLAUSE_BREAK.finditer(text, scan))
    for offset in chain([0] if scan == 0 else [], found, [len(text)]):  # the breaks, in order
        if offset <= start:
            left = offset
        if offset >= end:
            right = offset
            break
    while right > left and text[right - 1].isspace():
        right -= 1
    span = left, max(right, end)
    return span if longest is None or span[1] - span[0] <= longest else None


def _grow(doc: DocText, hit: Hit, expand: bool) -> tuple[int, int]:
    if not expand:
        return hit.start, hit.end
    longest = math.floor(EXPAND_FACTOR * max(hit.end - hit.start, 1))
    return clause_span(doc.text, hit.start, hit.end, longest) or (hit.start, hit.end)


@dataclass
class _Piece:
    doc_id: str
    start: int
    end: int
    rank: int
    score: float


def _new_chars(pieces: list[_Piece], start: int, end: int) -> int:
    covered = sum(max(0, min(end, p.end) - max(start, p.start)) for p in pieces)
    return end - start - covered


def _absorb(pieces: list[_Piece], piece: _Piece) -> None:
    """Add `piece` to the pieces of its document, merging with every piece it touches."""
    for other in [p for p in pieces if p.start <= piece.end + MERGE_GAP and piece.start <= p.end + MERGE_GAP]:
        pieces.remove(other)
        piece = _Piece(
            piece.doc_id,
            min(piece.start, other.start),
            max(piece.end, other.end),
            min(piece.rank, other.rank),
            max(piece.score, other.score),
        )
    pieces.append(piece)


def assemble(
    hits: Iterable[Hit], doc: Callable[[str], DocText], budget_chars: int, expand: bool = True
) -> list[Passage]:
    """Passages from ranked hits: grown, merged, without repeats, in rank order, within budget."""
    by_doc: dict[str, list[_Piece]] = {}
    used = 0
    for rank, hit in enumerate(hits):
        if used >= budget_chars:
            break
        pieces = by_doc.setdefault(hit.doc_id, [])
        left = budget_chars - used
        start, end = _grow(doc(hit.doc_id), hit, expand)
        trial = None
        if (start, end) != (hit.start, hit.end):  # the whole clause, when it fits
            trial = _placed(pieces, _Piece(hit.doc_id, start, end, rank, hit.score), left, trim=False)
        if trial is None:  # else the hit itself, cut to fit
            trial = _placed(pieces, _Piece(hit.doc_id, hit.start, hit.end, rank, hit.score), left, trim=True)
        if trial is None:
            continue
        used += _size(trial) - _size(pieces)
        by_doc[hit.doc_id] = trial
    ordered = sorted((p for pieces in by_doc.values() for p in pieces), key=lambda p: p.rank)
    return cut_to_budget([_passage(doc(p.doc_id), p) for p in ordered], budget_chars, doc)


def _placed(pieces: list[_Piece], piece: _Piece, left: int, trim: bool) -> list[_Piece] | None:
    """The pieces with `piece` absorbed, growing by at most `left` characters (its end pulled in
    when `trim`); None when it adds nothing new or does not fit."""
    if _new_chars(pieces, piece.start, piece.end) <= 0:
        return None
    while piece.end > piece.start:
        trial = [_Piece(p.doc_id, p.start, p.end, p.rank, p.score) for p in pieces]
        _absorb(trial, piece)
        excess = _size(trial) - _size(pieces) - left
        if excess <= 0:
            return trial
        if not trim:
            return None
        piece = _Piece(piece.doc_id, piece.start, piece.end - excess, piece.rank, piece.score)
    return None


def _size(pieces: list[_Piece]) -> int:
    return sum(p.end - p.start for p in pieces)


def _passage(doc: DocText, piece: _Piece) -> Passage:
    return Passage(
        doc_id=piece.doc_id,
        name=doc.name,
        page_start=page_at(doc.pages, piece.start),
        page_end=page_at(doc.pages, max(piece.start, piece.end - 1)),
        start=piece.start,
        end=piece.end,
        text=doc.text[piece.start : piece.end],
        score=round(piece.score, 6),
    )


def cut_to_budget(passages: Sequence[Passage], budget_chars: int, doc: Callable[[str], DocText]) -> list[Passage]:
    """Passages in order until `budget_chars` are spent; the last one is cut to fit, its pages
    recomputed from the characters it keeps."""
    kept: list[Passage] = []
    left = budget_chars
    for passage in passages:
        if left <= 0:
            break
        if len(passage.text) > left:
            source = doc(passage.doc_id)
            end = passage.start + left
            passage = Passage(
                passage.doc_id,
                passage.name,
                passage.page_start,
                page_at(source.pages, max(passage.start, end - 1)),
                passage.start,
                end,
                source.text[passage.start : end],
                passage.score,
            )
        kept.append(passage)
        left -= len(passage.text)
    return kept
