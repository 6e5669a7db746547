"""Cut a contract into chunks along its own structure, keeping exact offsets, pages and section path.

Why structure: a clause split in the middle is retrieved half, and a chunk that mixes the end
of "Termination" with the start of "Governing Law" matches neither question well. So headings
(ARTICLE, Section, `12.3(b)(ii)`, Schedule, Exhibit, defined terms) are found first and a new
chunk starts at a major heading once the current one has some substance; within the size bound
pieces are packed together, and only an over-long clause is cut (paragraph, sentence, space).
`text[chunk.start:chunk.end] == chunk.text` always holds, and chunks never overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rag.types import Chunk, ParsedDocument, page_at

PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
SENTENCE_END = re.compile(r"[.;:!?][\"')\]]?\s")
ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$", re.IGNORECASE)

# Where a heading may begin: at a line start, or (for text that lost its line breaks) right
# after the end of a sentence.
_LEAD = r"(?:^|(?<=[.;:]\s)|(?<=[.;:]\s\s))[ \t]*"
_TITLE = r"[ \t]*[.:\-\u2013\u2014]?[ \t]*(?P<title>[^\n]{0,80})"
TOP_HEADING = re.compile(
    _LEAD + r"(?P<label>(?:SCHEDULE|Schedule|EXHIBIT|Exhibit|APPENDIX|Appendix|ANNEX|Annex|ATTACHMENT|Attachment)"
    r"(?:[ \t]+[A-Z0-9][A-Z0-9.\-]*)?)(?=[\s.:]|$)" + _TITLE,
    re.MULTILINE,
)
ARTICLE_HEADING = re.compile(
    _LEAD + r"(?P<label>(?:ARTICLE|Article|PART|Part)[ \t]+(?:[IVXLC]+|\d+|[A-Z])\b\.?)" + _TITLE,
    re.MULTILINE,
)
SECTION_HEADING = re.compile(
    _LEAD + r"(?P<label>(?:SECTION|Section|§)[ \t]*(?P<num>\d+(?:\.\d+)*)[a-z]?\.?(?:\([a-zA-Z0-9]+\))*)" + _TITLE,
    re.MULTILINE,
)
NUMBERED_HEADING = re.compile(
    _LEAD + r"(?P<label>(?P<num>\d{1,3}(?:\.\d{1,3})*)(?:\.(?=\s)|(?=\s)|(?=\()))"
    r"(?P<subs>(?:\([a-zA-Z0-9]{1,5}\))*)"
    r"[ \t]+(?=[A-Z(\"“])" + _TITLE,
    re.MULTILINE,
)
ITEM_HEADING = re.compile(
    r"(?:^|(?<=[.;:]\s))[ \t]*(?P<label>\((?P<item>[a-zA-Z0-9]{1,5})\))[ \t]+(?=\S)", re.MULTILINE
)
DEFINITION = re.compile(
    r"^[ \t]*(?P<label>[\"“][A-Z][^\"”\n]{0,60}[\"”])[ \t]*(?:shall[ \t]+)?"
    r"(?:means|mean|has[ \t]+the[ \t]+meaning|shall[ \t]+have[ \t]+the[ \t]+meaning|includes)\b",
    re.MULTILINE,
)
TITLE_WORDS = 6
TITLE_JOINERS = {"of", "and", "or", "the", "to", "for", "in", "on", "by", "&"}

TOP, ARTICLE, SECTION, ITEM, TERM = 0, 1, 2, 8, 10
MAJOR_LEVEL = 4  # headings at this level or above start a new chunk once the current one has substance


@dataclass(frozen=True)
class Heading:
    """A recognised heading: where it starts, how deep it sits, and the label shown in the section path."""

    start: int
    level: int
    label: str


def _title(match: re.Match[str]) -> str:
    """A heading's short title ("GOVERNING LAW"): its leading capitalised words, up to the first stop."""
    title = re.split(r"(?<=[a-zA-Z)])[.:;,]\s|\.$", match.group("title") or "", maxsplit=1)[0]
    words: list[str] = []
    for word in title.split()[:TITLE_WORDS]:
        if not (word[0].isupper() or word[0].isdigit() or word.lower() in TITLE_JOINERS):
            break
        words.append(word)
    while words and words[-1].lower() in TITLE_JOINERS:
        words.pop()
    return " ".join(words).strip(" .:-")


def _labelled(match: re.Match[str], label: str) -> str:
    title = _title(match)
    return f"{label} {title}".strip() if title else label


def _number_depth(number: str) -> int:
    return len([part for part in number.split(".") if part])


def _item_level(item: str) -> int:
    """(a) sits above (i): roman numerals are one level deeper than letters and digits."""
    return ITEM + 1 if ROMAN.match(item) and item.lower() not in ("c", "l") else ITEM


def find_headings(text: str) -> list[Heading]:
    """Every heading in the text, in order; at one offset the most significant one wins."""
    found: dict[int, Heading] = {}

    def keep(start: int, level: int, label: str) -> None:
        if start not in found or found[start].level > level:
            found[start] = Heading(start, level, " ".join(label.split()))

    for match in TOP_HEADING.finditer(text):
        keep(match.start("label"), TOP, _labelled(match, match.group("label")))
    for match in ARTICLE_HEADING.finditer(text):
        keep(match.start("label"), ARTICLE, _labelled(match, match.group("label").rstrip(".")))
    for match in SECTION_HEADING.finditer(text):
        level = SECTION + _number_depth(match.group("num"))
        keep(match.start("label"), level, _labelled(match, match.group("label").rstrip(".")))
    for match in NUMBERED_HEADING.finditer(text):
        subs = re.findall(r"\(([a-zA-Z0-9]+)\)", match.group("subs") or "")
        level = SECTION + _number_depth(match.group("num")) + len(subs) * 2
        keep(
            match.start("label"),
            min(level, ITEM - 1),
            _labelled(match, match.group("num") + match.group("subs")),
        )
    for match in ITEM_HEADING.finditer(text):
        keep(match.start("label"), _item_level(match.group("item")), match.group("label"))
    for match in DEFINITION.finditer(text):
        keep(match.start("label"), TERM, match.group("label").strip('"“”'))
    return [found[start] for start in sorted(found)]


def section_paths(headings: list[Heading]) -> list[str]:
    """The section path in force from each heading on ("ARTICLE 2 TERM > 2.1"), by a stack of levels."""
    stack: list[Heading] = []
    paths: list[str] = []
    for heading in headings:
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        paths.append(" > ".join(h.label for h in stack if h.level < ITEM or h.level == TERM))
    return paths


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut_long(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut [start, end) into pieces of at most max_chars: at a paragraph, a sentence end, else a space."""
    while end - start > max_chars:
        window = text[start : start + max_chars]
        floor = max_chars // 3
        cut = max((m.end() for m in PARAGRAPH_BREAK.finditer(window)), default=0)
        if cut < floor:
            cut = max((m.end() for m in SENTENCE_END.finditer(window)), default=0)
        if cut < floor:
            cut = window.rfind(" ", floor) + 1 or max_chars
        yield start, start + cut
        start += cut
    yield start, end


def _pieces(text: str, cuts: list[int], max_chars: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, index of the cut it begins at) for the text between structural cuts, long ones split."""
    bounds = [*cuts, len(text)]
    for number, (left, right) in enumerate(zip(bounds, bounds[1:], strict=False)):
        for para_left, para_right in _paragraphs(text, left, right):
            for piece_start, piece_end in _cut_long(text, para_left, para_right, max_chars):
                piece_start, piece_end = _strip_span(text, piece_start, piece_end)
                if piece_end > piece_start:
                    yield piece_start, piece_end, number


def _paragraphs(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    cursor = start
    for match in PARAGRAPH_BREAK.finditer(text, start, end):
        yield cursor, match.start()
        cursor = match.end()
    yield cursor, end


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    section: str


def structured_spans(text: str, max_chars: int) -> list[Span]:
    """Chunks as spans with their section path: structure first, size bound always."""
    headings = find_headings(text)
    paths = section_paths(headings)
    cuts = [0] + [h.start for h in headings if h.start > 0]
    levels = [TOP] + [h.level for h in headings if h.start > 0]
    path_at_cut = [""] + [p for h, p in zip(headings, paths, strict=True) if h.start > 0]
    if headings and headings[0].start == 0:
        path_at_cut[0] = paths[0]
    min_chars = max_chars // 4
    spans: list[Span] = []
    current: Span | None = None
    last_cut = -1
    for start, end, cut in _pieces(text, cuts, max_chars):
        major = cut != last_cut and levels[cut] < MAJOR_LEVEL
        fits = current is not None and end - current.start <= max_chars
        if current is not None and fits and not (major and current.end - current.start >= min_chars):
            current = Span(current.start, end, current.section)
        else:
            if current is not None:
                spans.append(current)
            current = Span(start, end, path_at_cut[cut])
        last_cut = cut
    if current is not None:
        spans.append(current)
    return spans


def chunk_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    """[start, end) spans of the chunks of `text` (see `structured_spans`)."""
    return [(s.start, s.end) for s in structured_spans(text, max_chars)]


def chunk_document(doc: ParsedDocument, max_chars: int) -> list[Chunk]:
    return [
        Chunk(
            doc_id=doc.doc_id,
            index=index,
            text=doc.text[span.start : span.end],
            start=span.start,
            end=span.end,
            page_start=page_at(doc.pages, span.start),
            page_end=page_at(doc.pages, span.end - 1),
            section=span.section,
        )
        for index, span in enumerate(structured_spans(doc.text, max_chars))
    ]
