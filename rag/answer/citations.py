"""Citations for an answer: the model's quotes, verified, plus the best supporting sentence of
each passage it cited. A quote not found in the stored text is kept only as `verified: false`
and is never displayed as a quote."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.store.registry import Registry
from rag.types import Citation, Passage, page_at
from rag.verify import NormalizedText, locate_quote

QUOTED = re.compile(r"\"([^\"\n]{12,800})\"|\u201c([^\u201d\n]{12,800})\u201d")
CITED = re.compile(r"\[(\d{1,3})\]")
SENTENCE = re.compile(r"[^.;!?]+[.;!?]*")
WORD = re.compile(r"[a-z0-9]{3,}")
STOPWORDS = frozenset(
    "the and for this that with which what who whom shall will are was were from any all such its has have "
    "under into upon been being does this agreement party parties".split()
)
MAX_EVIDENCE_CHARS = 320
MAX_EVIDENCE = 3


class CitationFinder:
    """Locates quotes in the documents behind a set of passages (texts loaded once per answer)."""

    def __init__(self, registry: Registry, passages: Sequence[Passage]):
        self.passages = list(passages)
        self._registry = registry
        self._texts: dict[str, NormalizedText] = {}
        self._names = {p.doc_id: p.name for p in passages}

    def _normalized(self, doc_id: str) -> NormalizedText:
        if doc_id not in self._texts:
            self._texts[doc_id] = NormalizedText.of(self._registry.text(doc_id))
        return self._texts[doc_id]

    def verify(self, quote: str, hint: Passage | None) -> Citation:
        """A citation for `quote`: verified with exact offsets when found, else unverified."""
        candidates = [hint] if hint else []
        candidates += [p for p in self.passages if p is not hint]
        seen: set[str] = set()
        for passage in candidates:
            if passage.doc_id in seen:
                continue
            seen.add(passage.doc_id)
            span = locate_quote(quote, self._normalized(passage.doc_id), start_hint=passage.start)
            if span:
                return self._citation(passage.doc_id, span, verified=True)
        fallback = hint or (self.passages[0] if self.passages else None)
        if fallback is None:
            return Citation("", "", 0, -1, -1, quote.strip(), False)
        return Citation(fallback.doc_id, fallback.name, fallback.page_start, -1, -1, quote.strip(), False)

    def _citation(self, doc_id: str, span: tuple[int, int], verified: bool) -> Citation:
        text = self._registry.text(doc_id)
        pages = self._registry.pages(doc_id)
        start, end = span
        return Citation(doc_id, self._names[doc_id], page_at(pages, start), start, end, text[start:end], verified)

    def evidence(self, passage: Passage, question: str, answer: str) -> Citation | None:
        """The passage sentence that shares most words with the question and answer, as a citation."""
        sentence = best_sentence(passage.text, question, answer)
        if not sentence:
            return None
        span = locate_quote(sentence, self._normalized(passage.doc_id), start_hint=passage.start)
        return self._citation(passage.doc_id, span, verified=True) if span else None


def stems(text: str) -> set[str]:
    """Crude stems (first five letters) so that "governs" meets "governed"."""
    return {w.rstrip("s")[:5] for w in WORD.findall(text.lower()) if w not in STOPWORDS}


HEADING_MINOR_WORDS = frozenset("and or of the to for in on with".split())


def _is_heading(fragment: str) -> bool:
    """A clause heading such as "Governing Law" or "11.1 Governing Law and Jurisdiction": a few
    words, each capitalised (or a minor word like "and")."""
    words = re.findall(r"[A-Za-z]+", fragment)
    return 0 < len(words) <= 8 and all(w[0].isupper() or w in HEADING_MINOR_WORDS for w in words)


def _best_scored_sentence(passage_text: str, question: str, answer: str = "") -> tuple[str, float]:
    """The sentence sharing most stems with the question (counted double) and the answer, and its score.

    The heading just before a sentence ("11. Governing Law.") counts towards it too: headings say
    what a clause is about, and they break ties such as "governed by the laws of Texas" against
    "subject to all applicable laws" or "governmental approvals" for a question about the governing law."""
    question_stems, answer_stems = stems(question), stems(answer)
    best, best_score = "", -1.0
    heading: set[str] = set()
    for match in SENTENCE.finditer(passage_text):
        sentence = match.group().strip()
        if len(sentence) < 20 or _is_heading(sentence):
            heading |= stems(sentence)
            continue
        sentence_stems = stems(sentence)
        score = (
            2 * len(sentence_stems & question_stems)
            + 2 * len(heading & question_stems)
            + len(sentence_stems & answer_stems)
            + 0.001 * min(len(sentence), 200)
        )
        heading = set()
        if score > best_score:
            best, best_score = sentence, score
    return best, best_score


def best_sentence(passage_text: str, question: str, answer: str = "") -> str:
    """The passage's sentence that best supports an answer to `question`, cut to a readable length."""
    best = _best_scored_sentence(passage_text, question, answer)[0]
    if len(best) > MAX_EVIDENCE_CHARS:
        best = best[:MAX_EVIDENCE_CHARS].rsplit(" ", 1)[0]
    return best


def best_supporting_passage(passages: Sequence[Passage], question: str) -> list[Passage]:
    """The passage whose best sentence (heading included) matches the question most; the earlier on ties."""
    if not passages:
        return []
    scored = [(_best_scored_sentence(p.text, question)[1], -rank, p) for rank, p in enumerate(passages)]
    return [max(scored, key=lambda item: item[:2])[2]]


def cited_passages(answer: str, passages: Sequence[Passage], question: str) -> list[Passage]:
    """The passages the answer cites by number, then the one that best matches the question.

    The question's best match always gets a place: a small model often cites the wrong number,
    and the user still deserves to see the clause the question is about."""
    numbers = [int(n) for n in CITED.findall(answer)]
    chosen = [passages[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(passages)]
    best = [p for p in best_supporting_passage(passages, question) if p not in chosen]
    return chosen[: MAX_EVIDENCE - len(best)] + best


def find_citations(
    registry: Registry, passages: Sequence[Passage], question: str, answer: str
) -> tuple[tuple[Citation, ...], str]:
    """Citations for an answer, and the answer text with unverified quotes no longer shown as quotes."""
    finder = CitationFinder(registry, passages)
    cited = cited_passages(answer, passages, question)
    citations: list[Citation] = []
    shown_answer = answer
    for match in QUOTED.finditer(answer):
        quote = match.group(1) or match.group(2)
        citation = finder.verify(quote, cited[0] if cited else None)
        citations.append(citation)
        if not citation.verified:
            shown_answer = shown_answer.replace(match.group(0), f"{quote} [unverified, not found in the document]")
    for passage in cited[:MAX_EVIDENCE]:
        if any(c.verified and c.doc_id == passage.doc_id and passage.start <= c.start < passage.end for c in citations):
            continue
        evidence = finder.evidence(passage, question, answer)
        if evidence:
            citations.append(evidence)
    return tuple(citations), shown_answer
