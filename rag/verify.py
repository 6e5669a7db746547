"""Find a quote in the stored document text, ignoring differences of whitespace and case.

A quote is shown as a quote only when it is found here; the match gives exact offsets into
the document text, so the citation's page comes from where the words really are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = re.compile(r"\s+")
_QUOTE_CHARS = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2013": "-", "\u2014": "-"})
MIN_QUOTE_CHARS = 12


@dataclass(frozen=True)
class NormalizedText:
    """Text with whitespace runs collapsed to one space and case folded, mapped back to the original."""

    text: str
    offsets: tuple[int, ...]  # offsets[i] = index in the original of normalized character i

    @classmethod
    def of(cls, original: str) -> NormalizedText:
        chars: list[str] = []
        offsets: list[int] = []
        for match in re.finditer(r"\s+|\S", original):
            piece = match.group()
            if piece.isspace():
                if chars and chars[-1] != " ":
                    chars.append(" ")
                    offsets.append(match.start())
            else:
                chars.append(piece.translate(_QUOTE_CHARS).lower())
                offsets.append(match.start())
        return cls("".join(chars), tuple(offsets))


def normalize(text: str) -> str:
    return _SPACE.sub(" ", text.translate(_QUOTE_CHARS)).strip().lower()


def locate_quote(quote: str, document: NormalizedText, start_hint: int = 0) -> tuple[int, int] | None:
    """[start, end) of `quote` in the original document text, or None when it is not there verbatim."""
    needle = normalize(quote).strip(" .,;:\"'")
    if len(needle) < MIN_QUOTE_CHARS:
        return None
    position = document.text.find(needle, _normalized_index(document, start_hint))
    if position < 0:
        position = document.text.find(needle)
    if position < 0:
        return None
    last = position + len(needle) - 1
    return document.offsets[position], document.offsets[last] + 1


def _normalized_index(document: NormalizedText, original_offset: int) -> int:
    """First normalized index at or after an original offset (binary search)."""
    low, high = 0, len(document.offsets)
    while low < high:
        mid = (low + high) // 2
        if document.offsets[mid] < original_offset:
            low = mid + 1
        else:
            high = mid
    return low
