"""Document routing: a question that names a contract searches that contract first.

People ask "Consider the Distributor Agreement between Acme and Blue River; what is the term?".
Each stored document gets a card made of what names it: its file name and the opening of its
text (title, parties, date). The question is scored against the cards with BM25; a document is
routed to only when it stands clearly above the rest, so a question that names nothing is
searched everywhere, as before.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.store.keyword import tokenize
from rag.store.keyword_delta import BuiltStats, DeltaSegment, bm25s_document_frequency, outgrown, segment_scores
from rag.store.registry import Registry

HEADER_CHARS = 2000  # the opening of a contract: title, parties, date (and often a table of contents)
LEAD_RATIO = 1.5  # the routed cards must score this many times the best card left out
MAX_ROUTED = 3  # a question names at most a few documents (a contract and its amendments)
MIN_DISTINCTIVE = 2  # a question names a document with two or more of its distinctive words
SEGMENT = re.compile(r"[^;:?!\n]+")
MENTION_SHARE = 0.6  # a question segment mostly made of card words names the document...
DISTINCTIVE_SHARE = 0.1  # ...when it also holds words found on at most this share of the cards
DELTA_MIN_CARDS = 200  # new documents' cards scored beside the built ones before they are rebuilt


@dataclass(frozen=True)
class Route:
    """Where a question points: the documents it names, and the question without the naming."""

    doc_ids: tuple[str, ...]
    content_query: str


def name_words(name: str) -> str:
    """A file name as words: "PapaJohns_EX-10.1_Endorsement.pdf" -> "Papa Johns EX 10 1 Endorsement"."""
    stem = Path(name).stem
    stem = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)
    return re.sub(r"[_\-.]+", " ", stem)


class DocumentRouter:
    """Cards of all ready documents, kept in step with the registry: a document stored since the
    cards were built is scored in a delta (`keyword_delta`), a removed one makes them rebuilt."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._lock = threading.Lock()
        self._version: str | None = None
        self._doc_ids: list[str] = []
        self._card_tokens: list[list[str]] = []
        self._cards: list[set[str]] = []
        self._card_df: Counter[str] = Counter()
        self._bm25 = None  # over the first `_built` cards
        self._built = 0
        self._delta: DeltaSegment | None = None

    def prepare(self) -> None:
        """Build the cards now rather than on the next question."""
        with self._lock:
            self._current()

    def _current(self) -> None:
        version = self.registry.version()
        if version == self._version:
            return
        names = self.registry.ready_names()
        if not all(doc_id in names for doc_id in self._doc_ids):  # one went away: start again
            self._doc_ids, self._card_tokens, self._cards, self._card_df = [], [], [], Counter()
            self._bm25, self._built, self._delta = None, 0, None
        known = set(self._doc_ids)
        # A document's card never changes: only documents new since the last build are read.
        for doc_id, name in names.items():
            if doc_id not in known:
                self._add_card(doc_id, self._card(doc_id, name))
        if self._bm25 is None or outgrown(self._built, len(self._doc_ids) - self._built, DELTA_MIN_CARDS):
            self._build()
        elif len(self._doc_ids) > self._built:
            self._delta = DeltaSegment(self._card_tokens[self._built :], self._built_stats())
        self._version = version

    def _add_card(self, doc_id: str, tokens: list[str]) -> None:
        self._doc_ids.append(doc_id)
        self._card_tokens.append(tokens)
        self._cards.append(set(tokens))
        self._card_df.update(self._cards[-1])

    def _build(self) -> None:
        import bm25s

        self._bm25, self._built, self._delta = None, len(self._doc_ids), None
        if self._doc_ids:
            self._bm25 = bm25s.BM25()
            self._bm25.index([c or ["\x00"] for c in self._card_tokens], show_progress=False)

    def _built_stats(self) -> BuiltStats:
        lengths = [len(c) or 1 for c in self._card_tokens[: self._built]]
        return BuiltStats(self._built, float(np.mean(lengths)), bm25s_document_frequency(self._bm25))

    def _card(self, doc_id: str, name: str) -> list[str]:
        return tokenize(name_words(name) + " " + self.registry.text(doc_id)[:HEADER_CHARS])

    def route(self, query: str) -> Route:
        """The documents the question names (none when it names none clearly)."""
        tokens = tokenize(query)
        with self._lock:
            self._current()
            if self._bm25 is None or len(self._doc_ids) < 2 or not tokens:
                return Route((), query)
            scores = segment_scores(self._bm25, self._built, self._delta, tokens)
            chosen = self._confident(scores, set(tokens))
            doc_ids = tuple(self._doc_ids[i] for i in chosen)
            card = set().union(*(self._cards[i] for i in chosen)) if chosen else set()
            distinctive = {w for w in card if self._distinctive(w)}
        return Route(doc_ids, content_query(query, card, distinctive) if card else query)

    def _distinctive(self, word: str) -> bool:
        """A word on few cards (a party, a title word), as opposed to "agreement" or "law"."""
        return self._card_df.get(word, 0) <= max(1, int(DISTINCTIVE_SHARE * len(self._cards)))

    def _confident(self, scores: np.ndarray, tokens: set[str]) -> list[int]:
        """The top documents when they stand apart from the rest: the cut (after 1, 2 or 3
        documents, for a contract stored with its amendment) with the widest score gap wins."""
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        named = [w for w in tokens & self._cards[order[0]] if self._distinctive(w)]
        if scores[order[0]] <= 0 or len(named) < MIN_DISTINCTIVE:
            return []
        top = [float(scores[i]) for i in order[: MAX_ROUTED + 1]] + [0.0]
        cuts = range(1, min(MAX_ROUTED, len(order) - 1) + 1)  # routing to every document is none
        gaps = {c: top[c - 1] / top[c] if top[c] > 0 else float("inf") for c in cuts}
        cut = max(cuts, key=lambda c: (gaps[c], -c))
        return order[:cut] if gaps[cut] >= LEAD_RATIO else []


def content_query(query: str, card: set[str], distinctive: set[str]) -> str:
    """The question without the segments that only name the document ("Consider the X between
    A and B;"), so that party names, which fill the whole contract, do not steer the search.
    A segment names the document when most of its words are on the card and two or more of
    them are distinctive (names, titles: on few other cards)."""
    kept, dropped = [], False
    for match in SEGMENT.finditer(query):
        words = tokenize(match.group())
        on_card = sum(w in card for w in words)
        if words and on_card / len(words) >= MENTION_SHARE and len(distinctive.intersection(words)) >= MIN_DISTINCTIVE:
            dropped = True
            continue
        kept.append(match.group().strip())
    content = "; ".join(k for k in kept if k)
    return content if dropped and tokenize(content) else query
