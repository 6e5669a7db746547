"""Clause review: for each category, a verified quote, a searched absence, or a flag for a person.

Per call group: pick bounded candidate text (cues + retrieval), ask the model once through a
JSON schema (one repair retry), keep only quotes found verbatim in the stored text, then let
the rule-based extractors check the model. Open models tend to say "no such clause" when there
is one and to invent quotations; both end up as `needs_review`, never as a confident answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rag.clauses.candidates import CandidateSet, Span, TokenCounter, select_candidates
from rag.clauses.categories import CallGroup, Catalogue, Category
from rag.clauses.focused import Located, select_focused
from rag.clauses.prompt import MAX_QUOTES, QUOTE_CHARS, VALUE_CHARS, clause_messages, group_schema, repair_messages
from rag.clauses.report import ClauseFinding, ClauseQuote, ClauseReport
from rag.clauses.values import (
    expiration_from_term,
    normalise,
    rule_evidence,
    unsupported_figures,
    values_disagree,
)
from rag.llm.base import LLMBackend, Message
from rag.rules import Found
from rag.types import PageSpan, page_at
from rag.verify import NormalizedText, locate_quote

# The schema bounds every string, so one category's entry fits this many tokens even when a looping
# model spends a token per character ("1.1.1.1"), plus the category name, keys and punctuation:
# the reply always closes as valid JSON.
REPLY_TOKENS_PER_CATEGORY = MAX_QUOTES * QUOTE_CHARS + VALUE_CHARS + 48
CHAT_TEMPLATE_TOKENS = 16  # what `LLMBackend.count_messages` adds for a two-message chat

Retrieved = Callable[[Category], Sequence[Span]]


@dataclass(frozen=True)
class ClauseDocument:
    doc_id: str
    name: str
    text: str
    pages: tuple[PageSpan, ...]

    @property
    def unreadable_pages(self) -> list[int]:
        return [p.number for p in self.pages if p.quality == "empty"]


@dataclass(frozen=True)
class ModelAnswer:
    present: bool
    quotes: tuple[str, ...]
    value: str
    confident: bool


def reply_tokens(group: CallGroup) -> int:
    return REPLY_TOKENS_PER_CATEGORY * len(group.categories) + 32


def excerpt_budget(group: CallGroup, call_tokens: int, count_tokens: TokenCounter) -> int:
    """Tokens left for excerpts once the instructions and category list of this group are counted."""
    empty = clause_messages(group.categories, [], whole_document=True)
    overhead = sum(count_tokens(m["content"]) for m in empty) + CHAT_TEMPLATE_TOKENS
    return call_tokens - overhead


def plan_group(
    doc: ClauseDocument,
    group: CallGroup,
    call_tokens: int,
    count_tokens: TokenCounter,
    retrieved: Retrieved | None,
    located: Located | None = None,
) -> CandidateSet:
    """The candidate text of one call group: the whole prompt stays within `call_tokens`. With the
    locator's candidates (`located`) the locator leads the choice (`select_focused`)."""
    spans = {c.name: retrieved(c) for c in group.categories} if retrieved else {}
    budget = excerpt_budget(group, call_tokens, count_tokens)
    if located is not None:
        return select_focused(doc.text, doc.pages, group, budget, count_tokens, spans, located)
    return select_candidates(doc.text, doc.pages, group, budget, count_tokens, spans)


def _as_answer(raw: Any) -> ModelAnswer:
    if not isinstance(raw, dict):
        raise ValueError("a category's entry is not an object")
    quotes = raw.get("quotes") or []
    if isinstance(quotes, str):
        quotes = [quotes]
    return ModelAnswer(
        present=bool(raw.get("present")),
        quotes=tuple(str(q) for q in quotes if str(q).strip())[:MAX_QUOTES],
        value=str(raw.get("value") or ""),
        confident=str(raw.get("confidence", "high")).lower() != "low",
    )


def parse_group_reply(reply: dict[str, Any], categories: Sequence[Category]) -> dict[str, ModelAnswer]:
    """Each category's answer; raises ValueError when the reply lacks one or has the wrong shape."""
    missing = [c.name for c in categories if c.name not in reply]
    if missing:
        raise ValueError(f"the reply has no entry for {', '.join(missing)}")
    return {c.name: _as_answer(reply[c.name]) for c in categories}


def ask_group(
    backend: LLMBackend, categories: Sequence[Category], messages: list[Message], max_tokens: int
) -> dict[str, ModelAnswer] | str:
    """The model's answers for a group, or why it gave none after one repair retry."""
    schema = group_schema(categories)
    error = ""
    for attempt in (messages, None):
        try:
            prompt = attempt if attempt is not None else repair_messages(messages, error)
            return parse_group_reply(backend.structured(prompt, schema, max_tokens=max_tokens), categories)
        except ValueError as problem:  # invalid JSON or the wrong shape (json.JSONDecodeError is a ValueError)
            error = str(problem)
    return f"the model's reply was not valid JSON twice ({error})"


def verified_quotes(
    doc: ClauseDocument, normalized: NormalizedText, quotes: Sequence[str]
) -> tuple[list[ClauseQuote], int]:
    """Quotes found verbatim in the document (with offsets and page), and how many were not."""
    found: dict[tuple[int, int], ClauseQuote] = {}
    failed = 0
    for quote in quotes:
        span = locate_quote(quote, normalized)
        if span is None:
            failed += 1
            continue
        start, end = span
        found[span] = ClauseQuote(doc.text[start:end], page_at(doc.pages, start), start, end)
    return list(found.values()), failed


def _rule_quotes(doc: ClauseDocument, rules: Sequence[Found]) -> tuple[ClauseQuote, ...]:
    spans = {(r.start, r.end) for r in rules}
    return tuple(ClauseQuote(doc.text[s:e], page_at(doc.pages, s), s, e) for s, e in sorted(spans))


def absence_note(doc: ClauseDocument, candidates: CandidateSet) -> str:
    if candidates.whole_document:
        count = len(doc.pages)
        return f"not found: the model read the whole document ({count} page{'' if count == 1 else 's'})"
    pages = sorted({p for e in candidates.excerpts for p in range(e.page_start, e.page_end + 1)})
    return (
        f"not found: every page was searched by keyword cues and retrieval; the model read the "
        f"{len(candidates.excerpts)} most likely passages (pages {', '.join(map(str, pages))})"
    )


def decide(
    doc: ClauseDocument,
    category: Category,
    answer: ModelAnswer | str,
    quotes: list[ClauseQuote],
    failed_quotes: int,
    rules: Sequence[Found],
    candidates: CandidateSet,
) -> ClauseFinding:
    """The status of one category from the model's answer, its verified quotes and the rules."""
    name = category.name
    if isinstance(answer, str):  # no usable reply
        if rules:
            value = normalise(category, "", [r.text for r in rules], rules)
            note = f"{answer}; the rules found this"
            return ClauseFinding(name, "needs_review", _rule_quotes(doc, rules), value, note, engine="rules")
        return ClauseFinding(name, "needs_review", (), "", answer)
    if answer.present and quotes:
        value = normalise(category, answer.value, [q.text for q in quotes], rules)
        notes = []
        if failed_quotes:
            notes.append(f"{failed_quotes} more quote(s) were not found in the document and are not shown")
        if values_disagree(category, value, rules):
            notes.append(f"the rules read {rules[0].value!r} at page {page_at(doc.pages, rules[0].start)}")
        if unsupported := unsupported_figures(answer.value, [q.text for q in quotes]):
            notes.append(f"{', '.join(unsupported)} in the model's answer is not in its quotes")
        if not answer.confident:
            notes.append("the model said its confidence is low")
        status = "present" if not notes or (failed_quotes and len(notes) == 1) else "needs_review"
        return ClauseFinding(name, status, tuple(quotes), value, "; ".join(notes))
    if answer.present:
        note = "the model's quote was not found verbatim in the document, so it is not shown"
        value = normalise(category, "", [r.text for r in rules], rules) if rules else ""
        return ClauseFinding(
            name, "needs_review", _rule_quotes(doc, rules), value, note, engine="rules" if rules else "model"
        )
    if rules:
        value = normalise(category, "", [r.text for r in rules], rules)
        return ClauseFinding(
            name,
            "needs_review",
            _rule_quotes(doc, rules),
            value,
            "the model found nothing; the rules found this",
            engine="rules",
        )
    if doc.unreadable_pages:
        pages = ", ".join(map(str, doc.unreadable_pages))
        return ClauseFinding(name, "not_checked", (), "", f"pages {pages} could not be read (no text layer): OCR them")
    return ClauseFinding(name, "absent", (), "", absence_note(doc, candidates))


def cross_check_expiration(findings: list[ClauseFinding]) -> list[ClauseFinding]:
    """Expiration = effective date + initial term: fill a missing date, flag a contradicting one."""
    by_name = {f.category: f for f in findings}
    expiration, effective = by_name.get("Expiration Date"), by_name.get("Effective Date")
    if (
        not expiration
        or not effective
        or not expiration.quotes
        or not effective.value
        or expiration.value == "Perpetual"
    ):
        return findings
    computed = expiration_from_term(effective.value, " ".join(q.text for q in expiration.quotes))
    if not computed or computed == expiration.value:
        return findings
    if not expiration.value:
        updated = replace(expiration, value=computed, note=_join(expiration.note, "computed: effective date + term"))
    else:
        note = f"effective date {effective.value} + term gives {computed}"
        updated = replace(expiration, status="needs_review", note=_join(expiration.note, note))
    return [updated if f.category == "Expiration Date" else f for f in findings]


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def review_group(
    doc: ClauseDocument,
    normalized: NormalizedText,
    group: CallGroup,
    backend: LLMBackend,
    call_tokens: int,
    retrieved: Retrieved | None,
    located: Located | None = None,
) -> list[ClauseFinding]:
    reserve = reply_tokens(group)
    limit = min(call_tokens, backend.num_ctx - reserve)
    candidates = plan_group(doc, group, limit, backend.count_tokens, retrieved, located)
    messages = clause_messages(group.categories, candidates.excerpts, candidates.whole_document)
    answers = ask_group(backend, group.categories, messages, reserve)
    findings = []
    for category in group.categories:
        rules = rule_evidence(category, doc.text)
        answer = answers if isinstance(answers, str) else answers[category.name]
        quotes, failed = ([], 0) if isinstance(answer, str) else verified_quotes(doc, normalized, answer.quotes)
        findings.append(decide(doc, category, answer, quotes, failed, rules, candidates))
    return findings


def review_document(
    doc: ClauseDocument,
    catalogue: Catalogue,
    backend: LLMBackend,
    call_tokens: int,
    retrieved: Retrieved | None = None,
    on_group: Callable[[CallGroup], None] | None = None,
    located: Located | None = None,
) -> ClauseReport:
    """Every category of `catalogue` for one document, one model call per call group (the locator's
    candidates, when given, choose what it reads)."""
    began = time.perf_counter()
    normalized = NormalizedText.of(doc.text)
    findings: list[ClauseFinding] = []
    for group in catalogue.groups:
        if on_group:
            on_group(group)
        findings.extend(review_group(doc, normalized, group, backend, call_tokens, retrieved, located))
    findings = cross_check_expiration(findings)
    order = {name: i for i, name in enumerate(catalogue.names())}
    findings.sort(key=lambda f: order[f.category])
    return ClauseReport(doc.doc_id, doc.name, tuple(findings), backend.name, backend.model, time.perf_counter() - began)
