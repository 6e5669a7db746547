"""Clause review by the trained clause locator alone: seconds on a laptop CPU, no language model.

Each category is `present` (the located spans, verbatim by construction, with page and offsets),
`needs_review` (spans that scored in the band below the threshold) or `absent`. Values come from
the span text and the rule extractors (`rag.clauses.values`), and a figure the rules read that the
span does not state is flagged, as it is for the model's answers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rag.clauses.categories import Catalogue, Category
from rag.clauses.locator import LOCATOR_MODEL, LocatedSpan, Locator
from rag.clauses.report import ClauseFinding, ClauseQuote, ClauseReport
from rag.clauses.review import ClauseDocument, cross_check_expiration
from rag.clauses.values import normalise, rule_evidence, values_disagree
from rag.types import page_at

LOCATOR_BACKEND = "locator"


def quotes_of(doc: ClauseDocument, spans: Sequence[LocatedSpan]) -> tuple[ClauseQuote, ...]:
    """The spans as quotes: the stored text at their offsets, so every quote is verbatim."""
    return tuple(ClauseQuote(doc.text[s.start : s.end], page_at(doc.pages, s.start), s.start, s.end) for s in spans)


def locator_finding(doc: ClauseDocument, category: Category, spans: Sequence[LocatedSpan]) -> ClauseFinding:
    """One category's finding from the spans the locator returned for it (best first)."""
    name = category.name
    if not spans:
        if doc.unreadable_pages:
            pages = ", ".join(map(str, doc.unreadable_pages))
            note = f"pages {pages} could not be read (no text layer): OCR them"
            return ClauseFinding(name, "not_checked", (), "", note, engine="locator")
        return ClauseFinding(name, "absent", (), "", "the clause locator found no such clause", engine="locator")
    confident = [s for s in spans if s.status == "present"]
    present = bool(confident)
    spans = confident or spans  # a confident row shows its confident spans; an unsure one, the best it has
    quotes = quotes_of(doc, spans)
    rules = rule_evidence(category, doc.text)
    value = normalise(category, "", [q.text for q in quotes], rules)
    notes = [] if present else ["the clause locator is unsure: check the quote"]
    if values_disagree(category, value, rules):
        notes.append(f"the rules read {rules[0].value!r} at page {page_at(doc.pages, rules[0].start)}")
    status = "present" if present and len(notes) == 0 else "needs_review"
    score = round(max(s.score for s in spans), 3)
    return ClauseFinding(name, status, quotes, value, "; ".join(notes), engine="locator", score=score)


def review_with_locator(doc: ClauseDocument, catalogue: Catalogue, locator: Locator) -> ClauseReport:
    """Every category of `catalogue` for one document. Categories the locator was not trained on
    (a firm's own) are `not_checked`: only the model can judge those."""
    began = time.perf_counter()
    located = locator.locate(doc.text)
    findings = []
    for category in catalogue.categories:
        if category.name in locator.categories:
            findings.append(locator_finding(doc, category, located.get(category.name, ())))
        else:
            note = "the clause locator does not know this category: review it with a language model"
            findings.append(ClauseFinding(category.name, "not_checked", (), "", note, engine="locator"))
    findings = cross_check_expiration(findings)
    seconds = time.perf_counter() - began
    return ClauseReport(doc.doc_id, doc.name, tuple(findings), LOCATOR_BACKEND, LOCATOR_MODEL, seconds)
