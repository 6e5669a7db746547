"""Candidate text chosen with the clause locator: a few hundred tokens per category instead of thousands.

The trained locator scores spans of every size (sentences to sections) for each category. Its
best spans, widened by a margin so a clause that runs past the scored span stays whole, are
the pieces the model reads first; the paragraph units that the keyword cues and retrieval
rank highest follow, since the locator alone misses about a quarter of the labelled clauses.
The three rankings are fused, the group's categories take turns choosing pieces while the
merged excerpts fit a budget far smaller than `select_candidates`' one, and overlapping or
touching pieces are merged, so a clause crossing two of them still reaches the model whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rag.clauses.candidates import (
    EXCERPT_OVERHEAD_TOKENS,
    RRF_K,
    CandidateSet,
    Excerpt,
    Span,
    TokenCounter,
    _cue_ranking,
    _span_ranking,
    units_of,
)
from rag.clauses.categories import CallGroup, Category
from rag.types import PageSpan, page_at

Scored = tuple[int, int, float]
Located = Mapping[str, Sequence[Scored]]  # `Locator.candidates`: per category, scored spans best first


@dataclass(frozen=True)
class FocusParams:
    """How located spans are widened and how much each ranking weighs in the fusion."""

    margin_chars: int = 300  # widening on each side of a located span, snapped to a line or sentence end
    located_weight: float = 4.0  # the widened located spans' ranking, against 1 for cues and for retrieval
    unit_weight: float = 2.0  # the ranking of units by the located spans they overlap
    located_top: int = 30  # located spans considered per category (the locator returns at most 30)
    min_score: float = 0.0  # located spans scoring below this are left to cues and retrieval
    front_chars: int = 3000  # at most this much of a group's `front_chars` opening is sent first


def _boundary_before(text: str, position: int, floor: int) -> int:
    """The start of the line or sentence at or before `position`, never before `floor`."""
    cut = max(text.rfind("\n", floor, position) + 1, text.rfind(". ", floor, position) + 2)
    return cut if cut > floor + 1 else floor


def _boundary_after(text: str, position: int, ceiling: int) -> int:
    """The end of the line or sentence at or after `position`, never past `ceiling`."""
    cuts = [c for c in (text.find("\n", position, ceiling), text.find(". ", position, ceiling)) if c >= 0]
    return min(cuts) + 1 if cuts else ceiling


def widen(text: str, start: int, end: int, margin: int) -> Span:
    """[start, end) grown by up to `margin` characters each side, ending on a line or sentence boundary."""
    if margin <= 0:
        return start, end
    floor, ceiling = max(0, start - margin), min(len(text), end + margin)
    return _boundary_before(text, start, floor), _boundary_after(text, end, ceiling)


def _unit_pieces(ranking: Sequence[int], units: Sequence[Span]) -> list[Span]:
    return [units[i] for i in ranking]


def fuse_pieces(rankings: Sequence[tuple[Sequence[Span], float]]) -> list[Span]:
    """Weighted reciprocal-rank fusion of rankings of spans; a span in several rankings adds up."""
    scores: dict[Span, float] = {}
    for ranking, weight in rankings:
        for rank, span in enumerate(ranking):
            scores[span] = scores.get(span, 0.0) + weight / (RRF_K + rank)
    return sorted(scores, key=lambda s: (-scores[s], s))


def category_pieces(
    category: Category,
    text: str,
    units: Sequence[Span],
    retrieved: Sequence[Span],
    located: Sequence[Scored],
    params: FocusParams,
) -> list[Span]:
    """One category's pieces, best first: widened located spans fused with cue and retrieval units."""
    spans = [widen(text, s, e, params.margin_chars) for s, e, score in located[: params.located_top]]
    spans = list(dict.fromkeys(s for s, (_, _, score) in zip(spans, located, strict=False) if score >= params.min_score))
    cues = _unit_pieces(_cue_ranking(category, text, units), units)
    found = _unit_pieces(_span_ranking(retrieved, units), units)
    enclosing = _unit_pieces(_span_ranking([(s, e) for s, e, _ in located[: params.located_top]], units), units)
    rankings = [(spans, params.located_weight), (enclosing, params.unit_weight), (cues, 1.0), (found, 1.0)]
    return fuse_pieces([(r, w) for r, w in rankings if w > 0])


def merge_spans(spans: Sequence[Span]) -> list[Span]:
    """Overlapping or touching spans as one, in document order."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class _Excerpts:
    """The chosen pieces, merged, and what they cost in prompt tokens (counted once per merged span)."""

    def __init__(self, text: str, count_tokens: TokenCounter, budget: int) -> None:
        self.text, self.count_tokens, self.budget = text, count_tokens, budget
        self.merged: list[Span] = []
        self.counts: dict[Span, int] = {}

    def cost_of(self, merged: Sequence[Span]) -> int:
        for span in merged:
            if span not in self.counts:
                self.counts[span] = self.count_tokens(self.text[span[0] : span[1]]) + EXCERPT_OVERHEAD_TOKENS
        return sum(self.counts[span] for span in merged)

    def holds(self, span: Span) -> bool:
        return any(s <= span[0] and span[1] <= e for s, e in self.merged)

    def add(self, span: Span) -> bool:
        """Take `span` when the merged excerpts still fit the budget; whether it was taken."""
        if self.holds(span):
            return False
        merged = merge_spans([*self.merged, span])
        if self.cost_of(merged) > self.budget:
            return False
        self.merged = merged
        return True

    @property
    def tokens(self) -> int:
        return self.cost_of(self.merged)


def _take_turns(rankings: Sequence[Sequence[Span]], excerpts: _Excerpts) -> None:
    """Categories choose pieces in turn (their next best that still fits) until none fits."""
    cursors = [0] * len(rankings)
    active = True
    while active:
        active = False
        for which, ranking in enumerate(rankings):
            while cursors[which] < len(ranking):
                cursors[which] += 1
                if excerpts.add(ranking[cursors[which] - 1]):
                    active = True
                    break


def _excerpt(text: str, pages: Sequence[PageSpan], span: Span) -> Excerpt:
    start, end = span
    return Excerpt(start, end, page_at(tuple(pages), start), page_at(tuple(pages), max(end - 1, start)), text[start:end])


def select_focused(
    text: str,
    pages: Sequence[PageSpan],
    group: CallGroup,
    budget_tokens: int,
    count_tokens: TokenCounter,
    retrieved: Mapping[str, Sequence[Span]],
    located: Located,
    params: FocusParams = FocusParams(),
) -> CandidateSet:
    """The excerpts one call group sends, at most `budget_tokens`: the located spans first, then cue
    and retrieval units. A document that fits the budget is sent whole, as `select_candidates` does."""
    whole_tokens = count_tokens(text) + EXCERPT_OVERHEAD_TOKENS
    if whole_tokens <= budget_tokens:
        return CandidateSet(group.id, (_excerpt(text, pages, (0, len(text))),), whole_tokens, True)
    units = units_of(text)
    rankings = [
        category_pieces(c, text, units, retrieved.get(c.name, ()), located.get(c.name, ()), params)
        for c in group.categories
    ]
    excerpts = _Excerpts(text, count_tokens, budget_tokens)
    if group.front_chars and params.front_chars:
        excerpts.add((0, min(len(text), group.front_chars, params.front_chars)))
    _take_turns(rankings, excerpts)
    chosen = tuple(_excerpt(text, pages, span) for span in excerpts.merged)
    return CandidateSet(group.id, chosen, excerpts.tokens, False)
