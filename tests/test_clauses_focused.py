"""The locator-led choice of candidate text (`rag.clauses.focused`) on small generated contracts."""

from __future__ import annotations

from rag.clauses.categories import load_catalogue
from rag.clauses.focused import FocusParams, fuse_pieces, merge_spans, select_focused, widen
from rag.clauses.review import ClauseDocument, plan_group
from rag.tokens import llama3_token_count
from rag.types import PageSpan

FILLER = "The parties shall meet quarterly to discuss the schedule of deliveries. " * 6
CLAUSE = "This Agreement shall be governed by the laws of the State of Delaware."


def long_contract() -> tuple[str, tuple[int, int]]:
    """Forty filler paragraphs with the governing-law clause in the middle, and the clause's span."""
    paragraphs = [FILLER.strip() for _ in range(40)]
    paragraphs[20] = f"{FILLER.strip()} {CLAUSE}"
    text = "\n\n".join(paragraphs)
    start = text.index(CLAUSE)
    return text, (start, start + len(CLAUSE))


def boilerplate_group():  # type: ignore[no-untyped-def]
    return next(g for g in load_catalogue().groups if g.id == "boilerplate")


def test_widen_stops_at_sentence_and_line_ends() -> None:
    text = "First sentence. Second one here. Third.\nNext line."
    start = text.index("Second")
    assert widen(text, start + 2, start + 10, 100) == (start, text.index("here.") + 5)
    assert widen(text, 5, 9, 0) == (5, 9)


def test_touching_spans_merge_and_fusion_adds_up() -> None:
    assert merge_spans([(10, 20), (0, 5), (5, 8), (18, 30)]) == [(0, 8), (10, 30)]
    assert fuse_pieces([([(0, 1), (2, 3)], 1.0), ([(2, 3)], 1.0)])[0] == (2, 3)


def test_located_clause_is_sent_within_a_small_budget() -> None:
    text, (start, end) = long_contract()
    pages = (PageSpan(1, 0, len(text)),)
    located = {"Governing Law": [(start, end, 0.9)]}
    chosen = select_focused(text, pages, boilerplate_group(), 300, llama3_token_count, {}, located)
    assert not chosen.whole_document
    assert chosen.covers(start, end)
    assert chosen.tokens <= 300
    assert chosen.tokens == sum(llama3_token_count(e.text) + 12 for e in chosen.excerpts)


def test_short_contract_is_sent_whole() -> None:
    text = f"{FILLER}\n\n{CLAUSE}"
    chosen = select_focused(text, (PageSpan(1, 0, len(text)),), boilerplate_group(), 2000, llama3_token_count, {}, {})
    assert chosen.whole_document and chosen.covers(0, len(text))


def test_plan_group_uses_the_locator_when_given_its_candidates() -> None:
    text, (start, end) = long_contract()
    doc = ClauseDocument("d", "d.txt", text, (PageSpan(1, 0, len(text)),))
    group = boilerplate_group()
    located = {"Governing Law": [(start, end, 0.9)]}
    focused = plan_group(doc, group, 900, llama3_token_count, None, located)
    assert focused.covers(start, end)
    assert focused.tokens < plan_group(doc, group, 8000, llama3_token_count, None).tokens
    assert FocusParams().margin_chars > 0


def test_only_what_the_categories_need_is_sent() -> None:
    """A roomy budget is not filled: a span scored below `min_score` stays out, the located clause goes in."""
    text, (start, end) = long_contract()
    pages = (PageSpan(1, 0, len(text)),)
    unlikely = text.index("The parties", 200)
    located = {"Governing Law": [(start, end, 0.9), (unlikely, unlikely + 60, 0.001)]}
    one_unit = FocusParams(units_per_category=1)  # the second unit would be the one holding the unlikely span
    chosen = select_focused(text, pages, boilerplate_group(), 8000, llama3_token_count, {}, located, one_unit)
    assert chosen.covers(start, end)
    assert not chosen.covers(unlikely, unlikely + 60)
    assert not chosen.whole_document and chosen.tokens < llama3_token_count(text) / 2
