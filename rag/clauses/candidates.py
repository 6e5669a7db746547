"""Which text of a document the model reads for one call group, bounded in tokens.

A contract that fits the budget is sent whole, so `absent` then means the model read every
word. A longer one is cut into paragraph units; each category ranks them by its keyword cues
and by retrieval, the ranks are fused, and the group's categories take turns choosing units
until the budget is spent. Units go to the model in document order, with their offsets, so
quotes can be found again in the stored text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ingest.chunk import chunk_spans
from rag.clauses.categories import CallGroup, Category
from rag.types import PageSpan, page_at

UNIT_CHARS = 1500  # paragraphs are packed to about this size; a clause rarely spans two units
RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al.), damps the weight of the very top ranks
EXCERPT_OVERHEAD_TOKENS = 12  # the "[excerpt N, page P]" header and separator around each excerpt

TokenCounter = Callable[[str], int]
Span = tuple[int, int]

T = TypeVar("T")


@dataclass(frozen=True)
class Excerpt:
    start: int
    end: int
    page_start: int
    page_end: int
    text: str


@dataclass(frozen=True)
class CandidateSet:
    """The text one call group sends to the model; `whole_document` when nothing was left out."""

    group: str
    excerpts: tuple[Excerpt, ...]
    tokens: int
    whole_document: bool

    def covers(self, start: int, end: int) -> bool:
        """Whether [start, end) lies wholly inside one excerpt."""
        return any(e.start <= start and end <= e.end for e in self.excerpts)


def units_of(text: str) -> list[Span]:
    return chunk_spans(text, UNIT_CHARS)


def cue_ranking(category: Category, text: str, units: Sequence[Span]) -> list[int]:
    """Unit indexes with at least one cue, most distinct cues first (ties: more hits, then earlier)."""
    scored: list[tuple[int, int, int]] = []
    for index, (start, end) in enumerate(units):
        piece = text[start:end]
        hits = [len(p.findall(piece)) for p in category.cues]
        distinct = sum(1 for h in hits if h)
        if distinct:
            scored.append((-distinct, -sum(hits), index))
    return [index for _, _, index in sorted(scored)]


def span_ranking(spans: Sequence[Span], units: Sequence[Span]) -> list[int]:
    """Unit indexes overlapping retrieved spans, in the spans' rank order."""
    ranked: list[int] = []
    for start, end in spans:
        for index, (u_start, u_end) in enumerate(units):
            if u_start < end and start < u_end and index not in ranked:
                ranked.append(index)
    return ranked


def fuse(rankings: Sequence[Sequence[int]]) -> list[int]:
    """Reciprocal-rank fusion of several rankings of unit indexes."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, index in enumerate(ranking):
            scores[index] = scores.get(index, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores, key=lambda i: (-scores[i], i))


def _front_units(units: Sequence[Span], front_chars: int) -> list[int]:
    return [i for i, (start, _) in enumerate(units) if start < front_chars]


def _take_turns(rankings: Sequence[list[int]], cost: Callable[[int], int], budget: int, first: list[int]) -> set[int]:
    """Categories choose units in turn (their next best that still fits) until nothing fits."""
    chosen: set[int] = set()
    spent = 0
    for index in first:
        if spent + cost(index) <= budget:
            chosen.add(index)
            spent += cost(index)

    def take(index: int) -> bool:
        nonlocal spent
        if index in chosen or spent + cost(index) > budget:
            return False
        chosen.add(index)
        spent += cost(index)
        return True

    take_turns(rankings, take)
    return chosen


def take_turns(rankings: Sequence[Sequence[T]], take: Callable[[T], bool]) -> None:
    """Rankings choose in turn, each its next best item that `take` accepts, until `take` accepts none:
    every category of a call group gets its share of the budget, best first."""
    cursors = [0] * len(rankings)
    active = True
    while active:
        active = False
        for which, ranking in enumerate(rankings):
            while cursors[which] < len(ranking):
                cursors[which] += 1
                if take(ranking[cursors[which] - 1]):
                    active = True
                    break


def _merge(text: str, pages: Sequence[PageSpan], units: Sequence[Span], chosen: set[int]) -> list[Excerpt]:
    """Adjacent chosen units become one excerpt, so a clause running across them stays whole."""
    excerpts: list[Excerpt] = []
    for index in sorted(chosen):
        start, end = units[index]
        if excerpts and index - 1 in chosen:
            last = excerpts.pop()
            start = last.start
        excerpts.append(
            Excerpt(start, end, page_at(tuple(pages), start), page_at(tuple(pages), end - 1), text[start:end])
        )
    return excerpts


def select_candidates(
    text: str,
    pages: Sequence[PageSpan],
    group: CallGroup,
    budget_tokens: int,
    count_tokens: TokenCounter,
    retrieved: Mapping[str, Sequence[Span]] | None = None,
) -> CandidateSet:
    """The excerpts one call group sends to the model, at most `budget_tokens` of text."""
    whole_tokens = count_tokens(text) + EXCERPT_OVERHEAD_TOKENS
    if whole_tokens <= budget_tokens:
        excerpt = Excerpt(0, len(text), page_at(tuple(pages), 0), page_at(tuple(pages), max(len(text) - 1, 0)), text)
        return CandidateSet(group.id, (excerpt,), whole_tokens, True)
    units = units_of(text)
    costs: dict[int, int] = {}

    def cost(index: int) -> int:
        if index not in costs:
            start, end = units[index]
            costs[index] = count_tokens(text[start:end]) + EXCERPT_OVERHEAD_TOKENS
        return costs[index]

    retrieved = retrieved or {}
    rankings = [
        fuse([cue_ranking(c, text, units), span_ranking(retrieved.get(c.name, ()), units)]) for c in group.categories
    ]
    chosen = _take_turns(rankings, cost, budget_tokens, _front_units(units, group.front_chars))
    excerpts = _merge(text, pages, units, chosen)
    return CandidateSet(group.id, tuple(excerpts), sum(cost(i) for i in chosen), False)
