"""rag.retrieval.evidence on tiny generated text: sentence splitting, verbatim offsets, budget accounting."""

from __future__ import annotations

import numpy as np

from rag.retrieval.evidence import CueModel, Weights, category_weights, question_content, select_evidence
from rag.retrieval.sentences import split_sentences
from rag.types import Passage

DOC = (
    "1. Term. This Agreement begins on the Effective Date and lasts five years. "
    "Either party may renew it by notice.\n\n"
    "2. Payment. Acme Inc. shall pay the fees within thirty days of each invoice. "
    "Late payments bear interest.\n\n"
    "3. Governing Law. This Agreement shall be governed by the laws of the State of Texas. "
    "The courts of Austin have jurisdiction.\n\n"
    "4. Assignment. Neither party may assign this Agreement without the prior written consent of the other."
)
QUESTION = "Consider the Supply Agreement between Acme Inc. and Beta LLC; What is the governing law for this contract?"


def passages(text: str = DOC, name: str = "c.txt") -> list[Passage]:
    """The document cut into its numbered paragraphs, ranked in document order (a poor ranking)."""
    out, start = [], 0
    for block in text.split("\n\n"):
        begin = text.index(block, start)
        out.append(Passage("d1", name, 1, 1, begin, begin + len(block), block, 1.0 / (1 + len(out))))
        start = begin + len(block)
    return out


def cues() -> CueModel:
    law = {"govern": 2.0, "law": 1.5, "govern law": 1.0}
    assign = {"assign": 2.0, "consent": 1.0}
    return CueModel(("Governing Law", "Anti-Assignment"), ("law", "assign"), (law, assign), (-3.0, -3.0))


def test_sentences_are_trimmed_and_keep_abbreviations_and_headings_together() -> None:
    spans = split_sentences(DOC)
    texts = [DOC[a:b] for a, b in spans]
    assert all(t == t.strip() and t for t in texts)
    assert "Acme Inc. shall pay the fees within thirty days of each invoice." in texts[2]  # "Inc." does not end it
    assert texts[0].startswith("1. Term. This Agreement begins")  # the heading joins its sentence
    assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:], strict=False))  # in order, disjoint


def test_long_sentences_are_cut_at_semicolons() -> None:
    text = "; ".join(f"(x) the party shall do item number {i} of the list with care" for i in range(30)) + "."
    spans = split_sentences(text)
    assert len(spans) > 1 and max(b - a for a, b in spans) <= 800
    assert spans[0][0] == 0 and spans[-1][1] == len(text)


def test_evidence_is_verbatim_within_budget_and_fills_it() -> None:
    ps = passages()
    for budget in (50, 120, 300):
        pieces = select_evidence(QUESTION, ps, budget, cues=cues())
        assert sum(e.end - e.start for e in pieces) == budget  # every character of the budget used
        for e in pieces:
            assert DOC[e.start : e.end] == e.text
            assert e.start <= e.sentence_start < e.sentence_end <= e.end
        spans = sorted((e.start, e.end) for e in pieces)
        assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:], strict=False))  # no character twice


def test_the_answering_sentence_comes_first_even_from_a_low_ranked_passage() -> None:
    pieces = select_evidence(QUESTION, passages(), 100, cues=cues(), weights=Weights(rank=0.2, bm25=1.0, cue=1.0))
    assert "governed by the laws of the State of Texas" in pieces[0].text


def test_adjacent_sentences_merge_into_one_piece() -> None:
    pieces = select_evidence(QUESTION, passages(), 400, cues=cues(), weights=Weights(rank=0.0, context_chars=5))
    texts = [e.text for e in pieces]
    law = next(t for t in texts if "State of Texas" in t)
    assert "courts of Austin" in law  # the next sentence was chosen too, and joined to it


def test_nothing_for_nothing() -> None:
    assert select_evidence(QUESTION, [], 1000, cues=cues()) == []
    assert select_evidence(QUESTION, passages(), 0, cues=cues()) == []


def test_question_content_drops_the_naming_part() -> None:
    assert question_content(QUESTION) == "What is the governing law for this contract?"
    assert question_content("Which law governs?") == "Which law governs?"


def test_category_weights_are_a_distribution_peaked_on_the_nearest_prototype() -> None:
    protos = np.eye(3, dtype=np.float32)
    p = category_weights(np.asarray([0.9, 0.1, 0.0], dtype=np.float32), protos, 0.05)
    assert abs(p.sum() - 1) < 1e-6 and int(np.argmax(p)) == 0


def test_as_passage_keeps_offsets_for_scoring() -> None:
    piece = select_evidence(QUESTION, passages(), 80, cues=cues())[0]
    passage = piece.as_passage()
    assert (passage.start, passage.end, passage.text, passage.name) == (piece.start, piece.end, piece.text, "c.txt")


def test_without_an_embedder_questions_map_to_categories_by_their_words() -> None:
    from rag.retrieval.evidence import Scorer

    scorer = Scorer(None, cues())
    p = scorer.category_probabilities("What is the governing law for this contract?", None)
    assert int(np.argmax(p)) == 0
