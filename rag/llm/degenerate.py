"""Spot a reply that says nothing: the same sentence again and again, or only the sources' headers.

`rag.llm.loops` stops a reply whose tail repeats one unit of up to 120 characters. Small models also
repeat whole sentences of any length, numbered like citations ("[1] No Party Deemed Drafter ...
[2] No Party Deemed Drafter ..."), or with a word changed each time: character-exact matching
misses those. Here sentences are compared on their words (citation markers, numbers, case and
punctuation dropped), and two sentences are copies when they share most of their words.

A person must never read such a reply as the answer: the answer area hides it behind a note and
the evidence stands; a summary or a batch output keeps one copy of each sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)")
WORD = re.compile(r"[^\W\d_]+")
MIN_WORDS = 4  # "Yes." twice is not a loop; a clause-length sentence is
SAME_WORDS = 0.8  # word-set Jaccard at or above which two sentences are copies of one
MIN_COPIES = 3  # a sentence this many times, or ...
MAX_REPEATED_SHARE = 0.5  # ... copies making up this share of the reply's sentences
HEADER_SHARE = 0.6  # lines that are the sources' own labels, as a share of the reply's lines


@dataclass(frozen=True)
class Verdict:
    """Whether a reply is degenerate, and why in words a person reads."""

    degenerate: bool
    reason: str = ""


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or line of `text` that has words."""
    return [(m.start(), m.end()) for m in SENTENCE.finditer(text) if WORD.search(m.group())]


def words_of(sentence: str) -> frozenset[str]:
    return frozenset(w.lower() for w in WORD.findall(sentence))


def same(a: frozenset[str], b: frozenset[str]) -> bool:
    if len(a) < MIN_WORDS or len(b) < MIN_WORDS:
        return False
    return len(a & b) / len(a | b) >= SAME_WORDS


def copy_groups(text: str) -> list[list[tuple[int, int]]]:
    """Sentences grouped with their near-copies, in order of first appearance."""
    groups: list[tuple[frozenset[str], list[tuple[int, int]]]] = []
    for span in sentences(text):
        bag = words_of(text[span[0] : span[1]])
        home = next((g for g in groups if same(g[0], bag)), None)
        if home is None:
            groups.append((bag, [span]))
        else:
            home[1].append(span)
    return [spans for _, spans in groups]


def repetition(text: str) -> str:
    """Why `text` reads as one sentence said over and over, or '' when it does not."""
    groups = copy_groups(text)
    total = sum(len(g) for g in groups)
    worst = max(groups, key=len, default=[])
    if len(worst) < 2:
        return ""
    repeated = sum(len(g) - 1 for g in groups)
    if len(worst) >= MIN_COPIES or (total >= 4 and repeated / total >= MAX_REPEATED_SHARE):
        first = " ".join(text[worst[0][0] : worst[0][1]].split())
        return f"it repeats one sentence {len(worst)} times (\u201c{first[:80]}\u201d)"
    return ""


def header_copying(text: str, headers: Sequence[str]) -> str:
    """Why `text` only echoes the sources' labels (document, page), or '' when it does more."""
    lines = [line for line in text.splitlines() if WORD.search(line)]
    if not lines or not headers:
        return ""
    labels = [words_of(h) for h in headers]
    echoed = sum(1 for line in lines if any(words_of(line) and words_of(line) <= label for label in labels))
    if echoed / len(lines) >= HEADER_SHARE:
        return "it only repeats the names and pages of the sources"
    return ""


def judge(reply: str, headers: Sequence[str] = ()) -> Verdict:
    """A reply's verdict: empty, repeating, or echoing the sources' headers is degenerate."""
    if not WORD.search(reply):
        return Verdict(True, "the model's reply is empty")
    reason = repetition(reply) or header_copying(reply, headers)
    return Verdict(bool(reason), f"the model's reply is hidden: {reason}" if reason else "")


def without_repeats(text: str) -> str:
    """`text` keeping the first copy of every sentence: for a summary or a batch output, where the
    words stay but must not say the same thing fifteen times."""
    dropped = [span for group in copy_groups(text) for span in group[1:]]
    if not dropped:
        return text
    kept, cursor = [], 0
    for start, end in sorted(dropped):
        kept.append(text[cursor:start])
        cursor = end
    kept.append(text[cursor:])
    return re.sub(r"[ \t]{2,}", " ", "".join(kept)).strip()
