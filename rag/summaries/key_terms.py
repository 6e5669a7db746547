"""A key-term sheet from a clause review: the summary Quire gives when no capable model answers.

The built-in demo model cannot judge a contract, so its prose must not stand as a summary. The sheet
lists the terms a reader looks for first (parties, dates, term and renewal, termination, governing
law, assignment, liability, exclusivity, non-compete), then every other clause found, each with the
contract's own words and page: every quote is a located span of the stored text, verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.clauses.report import ClauseFinding, ClauseReport
from rag.store.registry import Registry
from rag.summaries.summarize import shown_quote
from rag.summaries.summary import Coverage, Quote, Summary

SHEET_TERMS = (
    "Document Name",
    "Parties",
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Renewal Term",
    "Notice Period to Terminate Renewal",
    "Termination for Convenience",
    "Governing Law",
    "Anti-Assignment",
    "Cap on Liability",
    "Uncapped Liability",
    "Exclusivity",
    "Non-Compete",
)
QUOTE_CHARS = 300  # a long clause is cut on the sheet; its full words are in the clause table
NOT_FOUND = "not found"


def _shown(finding: ClauseFinding) -> str:
    """A finding's value (when it has one) and its quotes, each marked with its page; the same words
    found twice are shown once."""
    distinct = list({" ".join(q.text.split()): q for q in finding.quotes[::-1]}.values())[::-1]
    quotes = "; ".join(_quoted(q.text, q.page) for q in distinct[:2])
    parts = [f"{finding.value}:" if finding.value and finding.value != "Yes" else "", quotes]
    if finding.status == "needs_review":
        parts.append("_(unsure: check it)_")
    return " ".join(p for p in parts if p)


def _quoted(text: str, page: int) -> str:
    """The quote in quotation marks; a long clause is cut at a word, and the mark of the cut stands
    outside the quotation marks, which hold the document's own words only."""
    words = " ".join(text.split())
    if len(words) <= QUOTE_CHARS:
        return shown_quote(words, page)
    return f"\u201c{words[:QUOTE_CHARS].rsplit(' ', 1)[0]}\u201d [\u2026] (p. {page})"


def sheet_rows(report: ClauseReport) -> list[tuple[str, str]]:
    """(term, shown text) for the sheet's terms, then for every other category found."""
    found = {f.category: f for f in report.findings if f.quotes}
    rows = [(term, _shown(found[term]) if term in found else NOT_FOUND) for term in SHEET_TERMS]
    rows += [(f.category, _shown(f)) for f in report.findings if f.quotes and f.category not in SHEET_TERMS]
    return rows


def _headline(report: ClauseReport) -> str:
    by_name = {f.category: f for f in report.findings if f.quotes}
    title = by_name["Document Name"].value if "Document Name" in by_name else "This contract"
    parties = by_name["Parties"].value if "Parties" in by_name else ""
    between = f" between {parties}" if parties else ""
    return f"{title}{between}: {len(by_name)} of {len(report.findings)} clause categories found."


def render_sheet(name: str, headline: str, rows: Sequence[tuple[str, str]], coverage: Coverage, model: str) -> str:
    lines = [f"# {name}", "", headline, "", "## Key terms", ""]
    lines += [f"- **{term}:** {value}" for term, value in rows]
    lines += [
        "",
        f"**Coverage:** {coverage.line}.",
        "",
        f"_A key-term sheet found by the clause locator ({model}), not written by a language model: every "
        "quote is the document's own words at the page shown. Connect Ollama for a written summary._",
    ]
    return "\n".join(lines) + "\n"


def whole_coverage(registry: Registry, doc_id: str) -> Coverage:
    """The locator reads every character of the document: every page with text is covered."""
    pages = registry.pages(doc_id)
    text_pages = tuple(p.number for p in pages if p.quality != "empty")
    return Coverage(pages=text_pages, total_pages=len(pages), text_pages=text_pages, sections=())


def key_term_summary(report: ClauseReport, coverage: Coverage) -> Summary:
    """The sheet as a `Summary`, so the CLI, the web app and the batch show it like any summary."""
    rows = sheet_rows(report)
    headline = _headline(report)
    quotes = tuple(Quote(q.text, q.page, q.start, q.end) for f in report.findings for q in f.quotes)
    return Summary(
        doc_id=report.doc_id,
        name=report.name,
        markdown=render_sheet(report.name, headline, rows, coverage, report.model),
        mode="key-terms",
        coverage=coverage,
        headline=headline,
        key_terms=tuple(rows),
        quotes=quotes,
        calls=0,
        backend=report.backend,
        model=report.model,
        num_ctx=0,
    )
