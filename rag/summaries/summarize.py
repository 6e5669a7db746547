"""Whole-document summaries with coverage: stuff the document when it fits the window, else
map-reduce over groups of consecutive sections, and say which pages and sections fed it.

The model writes the words; Quire owns the shape. It asks for a fixed list of key terms,
builds the Markdown itself, and shows a phrase in quotation marks only when those words are
found in the stored document (rag.verify) -- a tiny or careless model cannot invent a quote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.answer.answer import whole_document_passages
from rag.errors import ContextOverflow, DocumentNotFound
from rag.llm.base import LLMBackend, Message
from rag.prompts import sources_first_messages
from rag.rules import Found, find_effective_date, find_parties
from rag.settings import SummarizeSettings
from rag.store.registry import Registry
from rag.summaries.summary import Coverage, Mode, Quote, Summary
from rag.types import Passage, page_at
from rag.verify import NormalizedText, locate_quote

KEY_TERMS = ("Parties", "Dates", "Term and renewal", "Termination", "Payment", "Liability")
NOT_STATED = "not stated in what the model reported"
FORMAT = "Headline: <one or two sentences on what the contract is>\n" + "\n".join(
    f"{term}: <...>" for term in KEY_TERMS
)
SUMMARY_TASK = (
    "Summarise this contract for a lawyer. Reply in exactly this format, one line per item, and quote "
    f"key words of the contract in double quotes:\n{FORMAT}"
)
MAP_TASK = (
    "These passages are one part of a longer contract. Write notes on this part only, in exactly "
    "this format, quoting key words in double quotes (write 'none' for an item this part does not "
    f"cover):\n{FORMAT}"
)
REDUCE_TASK = (
    "The sources are notes on consecutive parts of one contract, each labelled with its pages. Combine "
    "them into one summary of the whole contract, keeping page references like (pages 3-5). Reply in "
    f"exactly this format, one line per item:\n{FORMAT}"
)
HEADING = re.compile(
    r"^[ \t]*((?:ARTICLE|Article|SECTION|Section|SCHEDULE|Schedule|EXHIBIT|Exhibit|ANNEX|Annex)[ \t]+"
    r"[0-9IVXLC]+[A-Z]?\b[^\n]{0,60}|\d{1,2}\.[ \t]+[A-Z][A-Z &,\-]{3,60})[ \t]*$",
    re.MULTILINE,
)
QUOTED = re.compile(r"[\"\u201c]([^\"\u201c\u201d\n]{3,300})[\"\u201d]")
ITEM = re.compile(
    r"^[\s*\-#>]*(headline|parties|dates|term and renewal|termination|payment|liability)\W*?:[\s*_]*(.*)$",
    re.I,
)
PLACEHOLDER = re.compile(r"<[^<>\n]*>")  # the format's own "<...>" echoed back by a small model: no content


@dataclass(frozen=True)
class Note:
    """What one call said about a run of pages."""

    text: str
    first_page: int
    last_page: int
    sections: tuple[str, ...] = field(default_factory=tuple)

    def as_passage(self, name: str) -> Passage:
        """The note as a reduce source: labelled with its pages, and its sections named first."""
        where = f"Sections: {'; '.join(self.sections)}\n" if self.sections else ""
        return Passage("", name, self.first_page, self.last_page, 0, 0, where + self.text, 0.0)


def headings(text: str) -> list[str]:
    return [" ".join(m.group(1).split())[:70] for m in HEADING.finditer(text)]


# --- planning -------------------------------------------------------------------------------
def group_passages(passages: Sequence[Passage], fits: Callable[[Sequence[Passage]], bool]) -> list[list[Passage]]:
    """Consecutive passages packed into groups that each fit one call; one passage alone must fit."""
    groups: list[list[Passage]] = []
    for passage in passages:
        if groups and fits([*groups[-1], passage]):
            groups[-1].append(passage)
            continue
        if not fits([passage]):
            raise ContextOverflow(
                f"one passage of pages {passage.page_start}-{passage.page_end} does not fit a call: "
                "raise QUIRE_LLM__NUM_CTX or lower QUIRE_SUMMARIZE__MAP_REPLY_TOKENS"
            )
        groups.append([passage])
    return groups


def notes_in(group: Sequence[Passage], notes: Sequence[Note]) -> list[Note]:
    """The notes a group of reduce sources came from (matched by their page span)."""
    spans = {(p.page_start, p.page_end) for p in group}
    return [n for n in notes if (n.first_page, n.last_page) in spans]


def section_groups(units: Sequence[Passage], fits: Callable[[Sequence[Passage]], bool]) -> list[list[Passage]]:
    """Whole sections packed into groups that fit one call, so a map call sees clauses with their
    context; a section too long for one call is split between its passages."""
    runs: list[list[Passage]] = []
    for unit in units:
        if not runs or headings(unit.text):
            runs.append([])
        runs[-1].append(unit)
    groups: list[list[Passage]] = []
    for run in runs:
        if groups and fits([*groups[-1], *run]):
            groups[-1].extend(run)
        elif fits(run):
            groups.append(list(run))
        else:
            groups.extend(group_passages(run, fits))
    return groups


class Summarizer:
    """Summarise one stored document with one backend; every call is checked to fit the window."""

    def __init__(self, backend: LLMBackend, registry: Registry, settings: SummarizeSettings):
        self.backend = backend
        self.registry = registry
        self.settings = settings
        self.calls = 0

    def _fits(self, task: str, reply_tokens: int, limit: int | None = None) -> Callable[[Sequence[Passage]], bool]:
        window = self.backend.num_ctx - reply_tokens

        def fits(passages: Sequence[Passage]) -> bool:
            if limit is not None and sum(self.backend.count_tokens(p.text) for p in passages) > limit:
                return False
            return self.backend.count_messages(sources_first_messages(passages, task)) <= window

        return fits

    def _call(self, passages: Sequence[Passage], task: str, reply_tokens: int) -> str:
        self.calls += 1
        messages: list[Message] = sources_first_messages(passages, task)
        return self.backend.complete(messages, max_tokens=reply_tokens).text

    def summarize(self, doc_id: str) -> Summary:
        info = self.registry.info(doc_id)
        if info is None:
            raise DocumentNotFound(f"no document {doc_id}: see `quire docs`")
        text = self.registry.text(doc_id)
        pages = whole_document_passages(self.registry, [doc_id])
        if not pages:
            raise DocumentNotFound(f"{info.name} has no text to summarise (scanned without OCR?)")
        reply = self.settings.reply_tokens
        if self._fits(SUMMARY_TASK, reply)(pages):
            raw, mode, fed = self._call(pages, SUMMARY_TASK, reply), "whole-document", pages
        else:
            raw, fed = self._map_reduce(info.name, self._units(doc_id, info.name, text))
            mode = "map-reduce"
        text_pages = tuple(p.page_start for p in pages)
        coverage = Coverage(
            pages=tuple(sorted({n for p in fed for n in range(p.page_start, p.page_end + 1)} & set(text_pages))),
            total_pages=info.pages,
            text_pages=text_pages,
            sections=tuple(dict.fromkeys(h for p in fed for h in headings(p.text))),
        )
        return self._finish(doc_id, info.name, text, raw, mode, coverage)

    def _units(self, doc_id: str, name: str, text: str) -> list[Passage]:
        """The stored chunks (they cover the whole text, in order) as passages with their pages."""
        return [
            Passage(doc_id, name, c.page_start, c.page_end, c.start, c.end, text[c.start : c.end], 1.0)
            for c in self.registry.chunks(doc_id)
        ]

    def _map_reduce(self, name: str, units: list[Passage]) -> tuple[str, list[Passage]]:
        notes_reply = self.settings.map_reply_tokens
        parts = section_groups(units, self._fits(MAP_TASK, notes_reply, self.settings.map_tokens))
        notes = [
            Note(
                self._call(part, MAP_TASK, notes_reply),
                part[0].page_start,
                part[-1].page_end,
                tuple(h for p in part for h in headings(p.text)),
            )
            for part in parts
        ]
        return self._reduce(name, notes), units

    def _reduce(self, name: str, notes: list[Note]) -> str:
        """Combine notes in as few calls as fit; notes that do not fit together are combined in rounds."""
        final_fits = self._fits(REDUCE_TASK, self.settings.reply_tokens)
        while True:
            passages = [n.as_passage(name) for n in notes]
            if final_fits(passages):
                return self._call(passages, REDUCE_TASK, self.settings.reply_tokens)
            groups = group_passages(passages, self._fits(REDUCE_TASK, self.settings.map_reply_tokens))
            if len(groups) == len(notes):
                raise ContextOverflow(
                    "the notes of this document do not fit one call even two at a time: raise QUIRE_LLM__NUM_CTX"
                )
            notes = [
                Note(
                    self._call(group, REDUCE_TASK, self.settings.map_reply_tokens),
                    group[0].page_start,
                    group[-1].page_end,
                    tuple(dict.fromkeys(h for n in notes_in(group, notes) for h in n.sections)),
                )
                for group in groups
            ]

    def _finish(self, doc_id: str, name: str, text: str, raw: str, mode: Mode, coverage: Coverage) -> Summary:
        document = NormalizedText.of(text)
        page_map = self.registry.pages(doc_id)
        quotes: list[Quote] = []

        def shown(value: str) -> str:
            return QUOTED.sub(lambda m: _verified_or_plain(m.group(1), document, page_map, text, quotes), value)

        headline, terms = parse_items(raw)
        headline = shown(headline)
        from_rules = rule_key_terms(text, page_map, quotes, missing=[t for t in KEY_TERMS if t not in terms])
        key_terms = tuple(
            (term, shown(terms[term]) if term in terms else from_rules.get(term, NOT_STATED)) for term in KEY_TERMS
        )
        markdown = render_markdown(name, headline, key_terms, coverage, mode, self.backend)
        return Summary(
            doc_id=doc_id,
            name=name,
            markdown=markdown,
            mode=mode,
            coverage=coverage,
            headline=headline,
            key_terms=key_terms,
            quotes=tuple(quotes),
            calls=self.calls,
            backend=self.backend.name,
            model=self.backend.model,
            num_ctx=self.backend.num_ctx,
        )


def _verified_or_plain(phrase: str, document: NormalizedText, page_map: Any, text: str, found: list[Quote]) -> str:
    """A phrase in quotation marks with its page when the document has those words; else plain text."""
    span = locate_quote(phrase, document)
    if span is None:
        return phrase.strip()
    page = page_at(page_map, span[0])
    found.append(Quote(text[span[0] : span[1]], page, span[0], span[1]))
    return shown_quote(phrase.strip(), page)


def shown_quote(words: str, page: int) -> str:
    """How a summary shows words found in the document: in quotation marks, with their page, on one line
    (a line break of the page inside a quote would end a Markdown list item, or start a heading)."""
    return f"\u201c{' '.join(words.split())}\u201d (p. {page})"


def rule_key_terms(text: str, page_map: Any, found: list[Quote], missing: Sequence[str]) -> dict[str, str]:
    """Parties and date from the rule-based extractors, for those of the key terms the model left
    out: the contract's own words, verbatim with their page (a small model often reports neither).
    Only what is shown joins `found`, the summary's verified quotes."""

    def quoted(hits: Sequence[Found]) -> str:
        quotes = [Quote(h.text, page_at(page_map, h.start), h.start, h.end) for h in hits]
        found.extend(quotes)
        shown = "; ".join(dict.fromkeys(shown_quote(q.text, q.page) for q in quotes))
        return f"{shown} _(found by the rule-based extractors; the model reported none)_"

    terms = {}
    parties = find_parties(text) if "Parties" in missing else []
    if parties:
        terms["Parties"] = quoted(parties)
    dated = find_effective_date(text) if "Dates" in missing else None
    if dated:
        terms["Dates"] = quoted([dated])
    return terms


def parse_items(raw: str) -> tuple[str, dict[str, str]]:
    """The headline and key terms from a reply in the asked format; lenient with what small models do."""
    items: dict[str, str] = {}
    for line in raw.splitlines():
        match = ITEM.match(line)
        value = match.group(2).strip() if match else ""
        if match and value and not PLACEHOLDER.fullmatch(value):
            key = next(t for t in ("Headline", *KEY_TERMS) if t.lower() == match.group(1).lower())
            items.setdefault(key, value)
    prose = (line.strip(" #*-") for line in raw.splitlines() if line.strip() and not ITEM.match(line))
    headline = items.pop("Headline", "") or next((p for p in prose if not PLACEHOLDER.fullmatch(p)), "")
    return headline or "The model gave no headline.", items


def render_markdown(
    name: str,
    headline: str,
    key_terms: Sequence[tuple[str, str]],
    coverage: Coverage,
    mode: Mode,
    backend: LLMBackend,
) -> str:
    how = "the whole document in one call" if mode == "whole-document" else "map-reduce over section groups"
    lines = [f"# {name}", "", headline, "", "## Key terms", ""]
    lines += [f"- **{term}:** {value}" for term, value in key_terms]
    lines += [
        "",
        f"**Coverage:** {coverage.line}.",
        "",
        f"_Summarised from {how} by {backend.name}:{backend.model} (num_ctx {backend.num_ctx}). "
        "Only phrases found verbatim in the document are shown in quotation marks._",
    ]
    return "\n".join(lines) + "\n"


def summarize_document(backend: LLMBackend, registry: Registry, doc_id: str, settings: SummarizeSettings) -> Summary:
    return Summarizer(backend, registry, settings).summarize(doc_id)
