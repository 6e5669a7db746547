"""Which statement of a reply the evidence supports, and which it does not.

A reply's sentence is supported when one evidence sentence shares most of its content words (stems,
so "governs" meets "governed"); the figures it states (durations, amounts, dates) must appear there
too, because a real clause beside an invented number is the failure a person cannot see. A sentence
with no content words ("See below.") states nothing and is left out. This is word overlap, not
entailment: it tells a person where to look and which statements have nothing behind them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer.citations import CITED, stems
from rag.types import Evidence, Support

SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
FIGURE = re.compile(r"\d[\d,.]*")
MIN_CONTENT_WORDS = 3
SUPPORTED_SHARE = 0.6  # of the statement's content stems found in one evidence sentence


def figures(text: str) -> set[str]:
    return {f.strip(".,").replace(",", "") for f in FIGURE.findall(CITED.sub("", text))}


def best_support(statement: str, evidence: Sequence[Evidence]) -> Support:
    """The evidence item whose answering sentence covers most of the statement's words and all its figures."""
    wanted, numbers = stems(statement), figures(statement)
    best, best_share = None, 0.0
    for index, item in enumerate(evidence):
        if not numbers <= figures(item.text):
            continue
        share = len(wanted & stems(item.text)) / len(wanted)
        if share > best_share:
            best, best_share = index, share
    supported = best if best_share >= SUPPORTED_SHARE else None
    return Support(" ".join(statement.split()), supported, round(best_share, 2))


def supports(reply: str, evidence: Sequence[Evidence]) -> tuple[Support, ...]:
    """Every statement of `reply` (a sentence with content words), with the evidence behind it if any."""
    statements = [m.group().strip() for m in SENTENCE.finditer(reply)]
    return tuple(best_support(s, evidence) for s in statements if len(stems(s)) >= MIN_CONTENT_WORDS)
