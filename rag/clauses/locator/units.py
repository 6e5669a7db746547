"""Candidate unit generation: text -> (start, end, kind) spans at several granularities.

Why several granularities: CUAD gold spans range from 5-character party names to
multi-sentence clauses; a single segmentation can match at most ~65% of them under
the Jaccard>=0.5 rule, so we over-generate candidates and let a classifier choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Unit kinds (index order is part of the artifact's feature layout; append only).
KINDS: tuple[str, ...] = (
    "sentence",
    "clause",
    "paragraph",
    "section",
    "window2",
    "window3",
    "title",
    "capphrase",
    "quoted",
    "date",
    "line",
    "subphrase",
)
KIND_INDEX: dict[str, int] = {k: i for i, k in enumerate(KINDS)}

HEAD_REGION = 6000
SUBPHRASE_REGION = 4000  # contiguous sub-phrases of capitalised runs (party names)
SUBPHRASE_WORDS = 6
_CONNECT = {
    "of",
    "and",
    "the",
    "de",
    "du",
    "for",
    "in",
    "on",
    "der",
    "und",
    "&",
}  # entity-like candidates are only generated near the top
MAX_UNIT_CHARS = 4000  # longer candidates are never gold-sized and cost time


@dataclass(frozen=True)
class Unit:
    """A candidate span; `kind` is one of KINDS."""

    start: int
    end: int
    kind: str


_ABBREV = {
    "inc",
    "ltd",
    "co",
    "corp",
    "no",
    "nos",
    "sec",
    "secs",
    "art",
    "u.s",
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "jr",
    "sr",
    "vs",
    "v",
    "e.g",
    "i.e",
    "etc",
    "u.k",
    "n.v",
    "s.a",
    "l.p",
    "l.l.c",
    "b.v",
    "p.c",
    "a.g",
    "plc",
    "llc",
    "para",
    "ch",
    "pp",
    "approx",
    "fig",
    "ref",
    "s.a.r.l",
    "n.a",
    "ave",
    "blvd",
    "rd",
    "dept",
    "est",
    "int'l",
    "intl",
}
_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*\s+")
_HARD = re.compile(r"\n\s*|\s{3,}")
_HEADING = re.compile(
    r"(?:(?:ARTICLE|Article|SECTION|Section)\s+[0-9IVXLC]+[.:]?|\d{1,2}(?:\.\d{1,3})*\.?\s+(?=[A-Z(])|\([a-z0-9]{1,4}\)\s)"
)
_TOPSECTION = re.compile(r"(?:(?:ARTICLE|Article|SECTION|Section)\s+[0-9IVXLC]+|\d{1,2}\.(?:0+)?\s+(?=[A-Z]))")
_CLAUSE_SPLIT = re.compile(r";\s+|:\s+(?=\S)|\s\(([a-z]|[ivx]{1,4}|\d{1,2})\)\s")
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?)"
_ORD = r"(?:\s?(?:s\s?t|n\s?d|r\s?d|t\s?h))?"
_DATE = re.compile(
    r"(?:(?:\d{1,2}|first|second|third|fourth|fifth|tenth|fifteenth|twentieth|thirtieth|[a-z]+-first)"
    + _ORD
    + r"\s+day\s+of\s+"
    + _MONTH
    + r",?\s+(?:\d{4}|____)"
    r"|(?:this\s+)?_*\s*day\s+of\s+(?:" + _MONTH + r"|_+)?\s*,?\s*\d{4}"
    r"|\[?_{2,}\]?\s*(?:\d{1,2}\s*)?,?\s*\d{4}"
    r"|" + _MONTH + r"\s+\d{1,2}" + _ORD + r",?\s+\d{4}"
    r"|" + _MONTH + r"\s+(?:__+|\[\s*\]|\s{2,})\s*,?\s*\d{4}"
    r"|\d{1,2}" + _ORD + r"\s+" + _MONTH + r",?\s+\d{4}"
    r"|" + _MONTH + r",?\s+\d{4}"
    r"|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2})",
    re.IGNORECASE,
)
_CAPWORD = r"(?:[A-Z0-9][\w.&'’\-]*|&)"
_CAPPHRASE = re.compile(
    _CAPWORD
    + r"(?:(?:\s+|\s*,\s*(?=(?:Inc|INC|LLC|L\.L\.C|Ltd|LTD|Corp|CORP|N\.V|S\.A|L\.P|LP|PLC|plc|GmbH|AG|B\.V|Limited|LIMITED)\b))"
    r"(?:" + _CAPWORD + r"|of|and|the|de|du|for|in|on|der|und)){0,12}"
)
_QUOTED = re.compile(r"[\"“”]([^\"“”\n]{1,60})[\"“”]")
_TITLE_LINE = re.compile(r"[^\n]{3,200}")


def _sentence_bounds(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Split text[lo:hi] at sentence-final punctuation, skipping common abbreviations."""
    out: list[tuple[int, int]] = []
    s = lo
    for m in _BOUNDARY.finditer(text, lo, hi):
        nxt = text[m.end() : m.end() + 1]
        if nxt and not (nxt.isupper() or nxt.isdigit() or nxt in '("“['):
            continue
        w = re.search(r"([\w.'’]+)[.!?][\"'”’)\]]*\s+$", text[max(lo, m.start() - 12) : m.end()])
        if w:
            word = w.group(1).lower().rstrip(".")
            if word in _ABBREV or (len(word) == 1 and word.isalpha()):
                continue
        e = m.start() + 1
        while e < m.end() and not text[e].isspace():
            e += 1
        if e > s:
            out.append((s, e))
        s = m.end()
    if s < hi:
        out.append((s, hi))
    return out


def _strip(text: str, s: int, e: int) -> tuple[int, int]:
    """Trim whitespace at both ends of text[s:e]."""
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Hard-boundary blocks: newlines or runs of >=3 spaces (PDF-to-text layout breaks)."""
    out: list[tuple[int, int]] = []
    s = 0
    for m in _HARD.finditer(text):
        a, b = _strip(text, s, m.start())
        if b > a:
            out.append((a, b))
        s = m.end()
    a, b = _strip(text, s, len(text))
    if b > a:
        out.append((a, b))
    return out


def sentences(text: str, paras: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences inside each paragraph, additionally split at numbered headings."""
    out: list[tuple[int, int]] = []
    for ps, pe in paras:
        cuts = [ps] + [m.start() for m in _HEADING.finditer(text, ps, pe) if m.start() > ps] + [pe]
        for a, b in zip(cuts, cuts[1:], strict=False):
            for s, e in _sentence_bounds(text, a, b):
                s, e = _strip(text, s, e)
                if e - s >= 2:
                    out.append((s, e))
    return out


def _sections(text: str, paras: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs of paragraphs from one numbered heading to the next (two levels)."""
    out: list[tuple[int, int]] = []
    for regex in (_HEADING, _TOPSECTION):
        starts = [i for i, (s, e) in enumerate(paras) if regex.match(text, s)]
        for a, b in zip(starts, starts[1:] + [len(paras)], strict=False):
            if b - a >= 2:
                s, e = paras[a][0], paras[b - 1][1]
                if e - s <= MAX_UNIT_CHARS:
                    out.append((s, e))
    return out


def _clauses(text: str, sents: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sub-sentence pieces split at ';', ':' and enumerators like '(a)'; plus sentence tails."""
    out: list[tuple[int, int]] = []
    for s, e in sents:
        cuts = [m.start() for m in _CLAUSE_SPLIT.finditer(text, s, e)]
        if not cuts:
            continue
        pts = [s] + cuts + [e]
        for a, b in zip(pts, pts[1:], strict=False):
            a, b = _strip(text, a, b)
            if b - a >= 20:
                out.append((a, b))
        for c in cuts:  # tails and heads: "..., provided that X" style spans
            a, b = _strip(text, c, e)
            if b - a >= 20:
                out.append((a, b))
            a, b = _strip(text, s, c)
            if b - a >= 20:
                out.append((a, b))
    return out


def _entities(text: str) -> list[Unit]:
    """Short spans near the top: title lines, capitalised phrases, quoted terms, dates."""
    out: list[Unit] = []
    head = min(len(text), HEAD_REGION)
    for m in _DATE.finditer(text):
        out.append(Unit(m.start(), m.end(), "date"))
    for m in _CAPPHRASE.finditer(text, 0, head):
        s, e = m.start(), m.end()
        if e - s >= 2:
            out.append(Unit(s, e, "capphrase"))
            e2 = e - 1 if text[e - 1] in ".," else e
            if e2 != e and e2 - s >= 2:
                out.append(Unit(s, e2, "capphrase"))
    for m in _CAPPHRASE.finditer(text, 0, min(len(text), SUBPHRASE_REGION)):
        words = [w for w in re.finditer(r"\S+", m.group(0))]
        if len(words) < 2:
            continue
        for i in range(len(words)):
            if words[i].group(0).lower() in _CONNECT:
                continue
            for j in range(i, min(len(words), i + SUBPHRASE_WORDS)):
                if words[j].group(0).lower() in _CONNECT:
                    continue
                s, e = m.start() + words[i].start(), m.start() + words[j].end()
                if text[e - 1] in ",":
                    e -= 1
                out.append(Unit(s, e, "subphrase"))
    for m in _QUOTED.finditer(text, 0, head):
        out.append(Unit(m.start(1), m.end(1), "quoted"))
    for m in _TITLE_LINE.finditer(text, 0, min(len(text), 3000)):
        s, e = _strip(text, m.start(), m.end())
        if e > s:
            out.append(Unit(s, e, "line"))
    for m in re.finditer(
        r"(?:This|THIS|The|THE)\s+((?:[A-Z][\w\-&,]*\s+(?:and\s+|of\s+|to\s+|for\s+)?){0,10}?"
        r"(?:Agreement|AGREEMENT|Contract|CONTRACT|Lease|LEASE|Amendment|AMENDMENT|Plan|Addendum|ADDENDUM))",
        text[:head],
    ):
        out.append(Unit(m.start(1), m.end(1), "title"))
    return out


def generate_units(text: str) -> list[Unit]:
    """All candidate units for a document, deduplicated by (start, end), sorted.

    When the same span arises from several generators, the first kind in generation
    order wins (sentence before clause, etc.), which keeps kinds deterministic.
    """
    if not text or not text.strip():
        return []
    paras = paragraphs(text)
    sents = sentences(text, paras)
    cand: list[Unit] = []
    cand += [Unit(s, e, "sentence") for s, e in sents]
    cand += [Unit(s, e, "paragraph") for s, e in paras if e - s <= MAX_UNIT_CHARS]
    cand += [Unit(s, e, "clause") for s, e in _clauses(text, sents)]
    cand += [Unit(s, e, "section") for s, e in _sections(text, paras)]
    for w, kind in ((2, "window2"), (3, "window3")):
        for i in range(len(sents) - w + 1):
            s, e = sents[i][0], sents[i + w - 1][1]
            if e - s <= MAX_UNIT_CHARS:
                cand.append(Unit(s, e, kind))
    cand += _entities(text)
    seen: dict[tuple[int, int], Unit] = {}
    for u in cand:
        if u.end > u.start and (u.start, u.end) not in seen:
            seen[(u.start, u.end)] = u
    return sorted(seen.values(), key=lambda u: (u.start, u.end))
