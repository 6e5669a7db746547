"""Contract text cut into sentences, with offsets: the units evidence is chosen from.

Contracts break the usual rules: "Inc." and "Section 3.2" end no sentence, a heading stands alone
on its line, a list item follows a semicolon, and a plain-text dump separates sections by runs of
spaces. Offsets index the text given, so a unit is always the document's own characters.
"""

from __future__ import annotations

import re

# Where a sentence (or a clause of one) ends: a full stop, question or exclamation mark before a
# capital, digit, quote or bracket; a semicolon or colon before a list item; a blank line; a wide
# gap (plain-text dumps of contracts separate sections by runs of spaces).
_BOUNDARY = re.compile(
    r"(?<=[.!?])[\"”')\]]*\s+(?=[\"“(\[]?[A-Z0-9])"
    r"|(?<=[;:])\s+(?=\(?[a-zA-Z0-9]{1,4}[.)]\s|\(?[ivx]{1,4}\)\s|and\s|or\s|[A-Z])"
    r"|\n\s*\n"
    r"|\s{3,}"
)
# A full stop after these is no sentence end ("Acme Inc. shall", "Section 3.2 of the U.S. Code").
_ABBREVIATIONS = frozenset(
    "inc ltd co corp no nos sec secs art arts mr mrs ms dr st vs etc llc l.l.c n.a s.a b.v u.s e.g i.e "
    "jr sr p.c l.p plc ag gmbh pty s.r.l para paras cl ex exh sch approx dept fig".split()
)
SHORT_UNIT = 40  # a heading ("12.1 Governing Law.") or a stub joins the sentence after it
LONG_UNIT = 700  # a run-on sentence is cut at its semicolons / commas to keep units readable


def _is_abbreviation(text: str, stop: int) -> bool:
    """Whether the full stop at text[stop] ends an abbreviation or a number like "3." in "3.2"."""
    word = re.search(r"([A-Za-z.]+)\.$", text[max(0, stop - 12) : stop + 1])
    if word is None:
        return False
    token = word.group(1).lower().strip(".")
    return token in _ABBREVIATIONS or len(token) == 1


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) offsets of the sentences of `text`, whitespace trimmed, in order; headings
    and stubs shorter than SHORT_UNIT join the next sentence, run-ons are cut at semicolons."""
    cuts = [0]
    for match in _BOUNDARY.finditer(text):
        stop = match.start() - 1
        while stop > 0 and text[stop] in "\"”')]":
            stop -= 1
        if stop >= 0 and text[stop] == "." and _is_abbreviation(text, stop):
            continue
        cuts.append(match.end())
    cuts.append(len(text))
    spans = [_trim(text, a, b) for a, b in zip(cuts, cuts[1:], strict=False)]
    spans = [s for s in spans if s[1] > s[0]]
    spans = [piece for span in spans for piece in _cut_long(text, *span)]
    return _join_short(spans)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A unit longer than LONG_UNIT, cut after semicolons (else commas) near even intervals."""
    if end - start <= LONG_UNIT:
        return [(start, end)]
    pieces, begin = [], start
    for separator in (";", ","):
        marks = [m.end() for m in re.finditer(re.escape(separator) + r"\s", text[start:end])]
        if marks:
            break
    for mark in marks:
        if start + mark - begin >= LONG_UNIT // 2 and end - (start + mark) >= SHORT_UNIT:
            pieces.append(_trim(text, begin, start + mark))
            begin = start + mark
    pieces.append(_trim(text, begin, end))
    return [p for p in pieces if p[1] > p[0]]


def _join_short(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    joined: list[tuple[int, int]] = []
    pending: int | None = None
    for start, end in spans:
        begin = start if pending is None else pending
        if end - begin < SHORT_UNIT:
            pending = begin
            continue
        joined.append((begin, end))
        pending = None
    if pending is not None:
        if joined:
            joined[-1] = (joined[-1][0], spans[-1][1])
        else:
            joined.append((pending, spans[-1][1]))
    return joined
