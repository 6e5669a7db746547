"""Fast tests of the retrieval parts on generated documents (no models): fusion, the keyword
index and how it keeps in step with the registry, routing, and passage assembly."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ingest.chunk import chunk_document
from ingest.extract import join_pages
from rag.retrieval.passages import DocText, Hit, assemble, clause_span
from rag.retrieval.retrieve import reciprocal_rank_fusion
from rag.retrieval.routing import DocumentRouter, content_query
from rag.store.keyword import KeywordIndex, tokenize
from rag.store.registry import Registry
from rag.types import ParsedDocument

HOSTING_QUESTION = (
    "Consider the Hosting Agreement between Bluebell Networks Inc. and Quarry Hill Bank; which law governs?"
)
PARTIES = [
    ("Distributor Agreement", "Northwind Traders Ltd.", "Kestrel Optics GmbH", "Texas"),
    ("Hosting Agreement", "Bluebell Networks Inc.", "Quarry Hill Bank", "Ohio"),
    ("Supply Agreement", "Marigold Foods Corp.", "Atlas Freight Co.", "Delaware"),
]


def contract(title: str, first: str, second: str, state: str) -> str:
    """A small contract with numbered clauses; the governing-law clause names `state`."""
    body = [
        f"{title.upper()}\n\nThis {title} is made between {first} and {second}.",
        "1. Definitions. Products means the goods listed in Exhibit A. Territory means North America.",
        f"2. Term. This Agreement starts on the Effective Date and lasts five years. {first} may renew it.",
        "3. Payment. Invoices are payable within thirty days of receipt. Late amounts bear interest at one "
        "percent per month until paid in full.",
        f"4. Governing Law. This Agreement shall be governed by the laws of the State of {state}, without "
        "regard to its conflict of laws rules.",
        "5. Assignment. Neither party may assign this Agreement without the written consent of the other.",
    ]
    return "\n\n".join(body) + "\n"


def ingest_generated(registry: Registry, tmp_path: Path, max_chars: int = 200) -> list[ParsedDocument]:
    return [store_generated(registry, number, spec, max_chars) for number, spec in enumerate(PARTIES)]


def store_generated(
    registry: Registry, number: int, spec: tuple[str, str, str, str], max_chars: int = 200
) -> ParsedDocument:
    """One generated contract, stored as ingest stores it (no vectors: the keyword side reads the registry)."""
    text, pages = join_pages([contract(*spec)])
    doc = ParsedDocument(f"{number:064d}", f"{spec[0].replace(' ', '_')}.txt", "", "text", text, pages)
    registry.begin(doc, chunk_document(doc, max_chars))
    registry.commit(doc.doc_id, [])
    return doc


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry.sqlite3")


def test_fusion_rewards_agreement_between_rankings() -> None:
    dense = [("a", 0), ("b", 0), ("c", 0)]
    keyword = [("c", 0), ("d", 0), ("a", 0)]
    fused = [key for key, _ in reciprocal_rank_fusion([dense, keyword])]
    assert fused[:2] == [("a", 0), ("c", 0)]  # in both lists
    assert set(fused) == {("a", 0), ("b", 0), ("c", 0), ("d", 0)}
    assert [k for k, _ in reciprocal_rank_fusion([dense, keyword], weights=[0.0, 1.0])][0] == ("c", 0)


def test_tokenize_stems_and_drops_function_words() -> None:
    assert tokenize("The Agreement is governed by") == tokenize("agreements governing")
    assert "not" in tokenize("shall not assign")


def test_keyword_index_finds_exact_words_and_follows_the_registry(registry: Registry, tmp_path: Path) -> None:
    docs = ingest_generated(registry, tmp_path)
    index = KeywordIndex(registry, tmp_path)
    hits = index.search("Which law governs this agreement?", k=3)
    assert hits and "governed by the laws" in registry.chunk(hits[0].doc_id, hits[0].index).text
    texas = index.search("laws of the State of Texas", k=1)[0]
    assert texas.doc_id == docs[0].doc_id
    assert (tmp_path / "keyword").is_dir()  # persisted
    # A second index (another process) loads what is on disk and agrees.
    again = KeywordIndex(registry, tmp_path).search("laws of the State of Texas", k=1)[0]
    assert (again.doc_id, again.index) == (texas.doc_id, texas.index)
    # Scoping keeps only the chosen document.
    scoped = index.search("governed by the laws", k=5, doc_ids=[docs[2].doc_id])
    assert {h.doc_id for h in scoped} == {docs[2].doc_id}
    # The registry changes behind the index's back: it notices and rebuilds.
    registry.delete(docs[0].doc_id)
    assert all(h.doc_id != docs[0].doc_id for h in index.search("State of Texas", k=5))
    index.invalidate()
    assert not (tmp_path / "keyword").exists()
    assert index.search("nothing matches zzzz", k=5) == []


def test_preparing_the_keyword_index_builds_it_before_any_question(registry: Registry, tmp_path: Path) -> None:
    docs = ingest_generated(registry, tmp_path)
    KeywordIndex(registry, tmp_path).prepare()
    rows = json.loads((tmp_path / "keyword" / "rows.json").read_text())
    assert rows["version"] == registry.version()
    assert {doc_id for doc_id, _ in rows["rows"]} == {d.doc_id for d in docs}


def test_a_new_document_is_searched_without_rebuilding_the_index(registry: Registry, tmp_path: Path) -> None:
    """One contract added to a large store must not make the next question rebuild BM25 over every
    chunk: it goes into a delta, scored exactly as a full rebuild would score it."""
    ingest_generated(registry, tmp_path)
    index = KeywordIndex(registry, tmp_path)
    index.prepare()
    built_version = json.loads((tmp_path / "keyword" / "meta.json").read_text())["version"]
    new = store_generated(registry, 7, ("Licence Agreement", "Zephyr Mills Inc.", "Orchid Labs LLC", "Vermont"))
    question = "Which law governs the Licence Agreement with Zephyr Mills? State of Vermont"
    hits = index.search(question, k=4)
    assert hits[0].doc_id == new.doc_id and "Vermont" in registry.chunk(new.doc_id, hits[0].index).text
    assert json.loads((tmp_path / "keyword" / "meta.json").read_text())["version"] == built_version, "not rebuilt"
    # Words every contract shares still rank chunks of the new one beside the built ones.
    assert new.doc_id in {h.doc_id for h in index.search("Invoices are payable within thirty days", k=4)}
    # The same scores as an index built over all four documents at once.
    rebuilt = KeywordIndex(registry, tmp_path / "rebuilt").search(question, k=50)
    expected = {(h.doc_id, h.index): h.score for h in rebuilt if h.doc_id == new.doc_id}
    got = {(h.doc_id, h.index): h.score for h in index.search(question, k=50) if h.doc_id == new.doc_id}
    assert got.keys() == expected.keys() and all(got[key] == pytest.approx(expected[key], rel=1e-4) for key in got)
    # Another process loads the built index from disk and makes the same delta.
    again = KeywordIndex(registry, tmp_path).search(question, k=4)
    assert [(h.doc_id, h.index) for h in again] == [(h.doc_id, h.index) for h in hits]
    # Scoping reaches the delta's rows too.
    assert {h.doc_id for h in index.search("governed by the laws", k=5, doc_ids=[new.doc_id])} == {new.doc_id}


def test_the_index_is_rebuilt_once_the_delta_outgrows_it(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_generated(registry, tmp_path)
    index = KeywordIndex(registry, tmp_path)
    index.prepare()
    monkeypatch.setattr("rag.store.keyword.DELTA_MIN_CHUNKS", 0)
    monkeypatch.setattr("rag.store.keyword_delta.DELTA_SHARE", 0.0)
    new = store_generated(registry, 7, ("Licence Agreement", "Zephyr Mills Inc.", "Orchid Labs LLC", "Vermont"))
    assert index.search("State of Vermont", k=1)[0].doc_id == new.doc_id
    saved = json.loads((tmp_path / "keyword" / "rows.json").read_text())
    assert saved["version"] == registry.version() and new.doc_id in {d for d, _ in saved["rows"]}


def test_registry_version_follows_writes_from_anywhere(registry: Registry, tmp_path: Path) -> None:
    """The version is cached between writes; a write through this connection, another thread's
    or another connection's (another process) must still change it."""
    docs = ingest_generated(registry, tmp_path)
    seen = {registry.version()}
    assert registry.version() in seen  # nothing changed: the same digest
    Registry(registry.path).delete(docs[0].doc_id)  # another connection, as another process would
    seen.add(registry.version())
    writer = threading.Thread(target=registry.delete, args=(docs[1].doc_id,))  # another thread, its own connection
    writer.start()
    writer.join()
    seen.add(registry.version())
    registry.delete(docs[2].doc_id)  # this thread's own connection
    seen.add(registry.version())
    assert len(seen) == 4
    assert registry.version() == Registry(registry.path).version()  # a fresh reader computes the same


def test_router_sends_a_named_contract_to_its_document(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = ingest_generated(registry, tmp_path)
    router = DocumentRouter(registry)
    route = router.route(HOSTING_QUESTION)
    assert route.doc_ids == (docs[1].doc_id,)
    assert "Bluebell" not in route.content_query and "law governs" in route.content_query
    assert router.route("Which law governs this agreement?").doc_ids == ()
    # A contract stored later gets its card, scored in a delta: the cards made before are neither
    # read nor indexed again, and the route is the one a router built from scratch finds.
    new = store_generated(registry, 7, ("Licence Agreement", "Zephyr Mills Inc.", "Orchid Labs LLC", "Vermont"))
    read = []
    original = registry.text
    monkeypatch.setattr(registry, "text", lambda doc_id: read.append(doc_id) or original(doc_id))
    built = router._bm25
    question = "Consider the Licence Agreement between Zephyr Mills and Orchid Labs; which law governs?"
    route = router.route(question)
    assert route.doc_ids == (new.doc_id,) and read == [new.doc_id] and router._bm25 is built
    assert DocumentRouter(registry).route(question) == route
    assert router.route(HOSTING_QUESTION).doc_ids == (docs[1].doc_id,)
    # A removed document's card goes: the cards are made again.
    registry.delete(docs[1].doc_id)
    assert router.route(HOSTING_QUESTION).doc_ids == ()


def test_content_query_keeps_the_question_when_nothing_names_a_document() -> None:
    card = set(tokenize("Hosting Agreement Bluebell Networks"))
    assert content_query("What is the term?", card, card) == "What is the term?"
    assert content_query("Hosting Agreement of Bluebell Networks: what is the term?", card, card) == "what is the term"


def doc_text(text: str) -> DocText:
    _, pages = join_pages([text])
    return DocText("generated.txt", text, pages)


def test_clause_span_covers_the_numbered_clause() -> None:
    text = contract(*PARTIES[0])
    start = text.index("governed by")
    span = clause_span(text, start, start + 10)
    assert span is not None
    assert text[span[0] : span[1]].startswith("4. Governing Law.") and text[span[0] : span[1]].endswith(
        "conflict of laws rules."
    )


def test_assemble_merges_never_repeats_and_fits_the_budget() -> None:
    text = "".join(f"{n}. Clause number {n} says something about topic {n}.   " for n in range(1, 60))
    doc = doc_text(text)
    hits = [
        Hit("d", 100, 160, 1.0),
        Hit("d", 150, 220, 0.9),
        Hit("d", 100, 160, 0.8),
        Hit("d", 2000, 2100, 0.7),
    ]
    for budget in (50, 150, 400, 5000):
        for expand in (False, True):
            passages = assemble(hits, lambda _: doc, budget, expand=expand)
            assert sum(len(p.text) for p in passages) <= budget
            covered = [i for p in passages for i in range(p.start, p.end)]
            assert len(covered) == len(set(covered))  # no character twice
            assert all(p.text == text[p.start : p.end] for p in passages)
    merged = assemble(hits, lambda _: doc, 5000, expand=False)
    assert (merged[0].start, merged[0].end) == (100, 220)  # overlapping hits became one passage


def test_cut_passage_takes_its_pages_from_what_it_keeps() -> None:
    text, pages = join_pages(["first page words " * 10, "second page words " * 10])
    doc = DocText("two.txt", text, pages)
    whole = assemble([Hit("d", 0, len(text), 1.0)], lambda _: doc, 10_000, expand=False)[0]
    assert (whole.page_start, whole.page_end) == (1, 2)
    cut = assemble([Hit("d", 0, len(text), 1.0)], lambda _: doc, 50, expand=False)[0]
    assert (cut.page_start, cut.page_end, len(cut.text)) == (1, 1, 50)


def test_invented_quote_in_a_model_reply_is_never_shown_as_a_quote(registry: Registry, tmp_path: Path) -> None:
    from rag.answer.citations import find_citations
    from rag.types import Passage

    docs = ingest_generated(registry, tmp_path)
    text = docs[0].text
    start = text.index("4. Governing Law.")
    passage = Passage(docs[0].doc_id, docs[0].name, 1, 1, start, len(text), text[start:], 1.0)
    reply = (
        'The agreement is governed by Texas law: "shall be governed by the laws of the State of Texas" [1]. '
        'It also says "disputes go to binding arbitration in Paris" [1].'
    )
    citations, shown = find_citations(registry, [passage], "Which law governs?", reply)
    real = [c for c in citations if c.verified and "Texas" in c.quote]
    assert real and text[real[0].start : real[0].end] == real[0].quote
    invented = [c for c in citations if "Paris" in c.quote]
    assert len(invented) == 1 and not invented[0].verified and invented[0].start == -1
    assert '"disputes go to binding arbitration in Paris"' not in shown
    assert "[unverified, not found in the document]" in shown
    assert '"shall be governed by the laws of the State of Texas"' in shown


def test_evidence_prefers_the_clause_whose_heading_answers_the_question() -> None:
    from rag.answer.citations import best_sentence

    passage = (
        "11. Governing Law. This Agreement shall be governed by and construed in accordance with the laws of "
        "the State of Texas. 21. Government Regulation. This Agreement is subject to all applicable federal, "
        "state and municipal laws, regulations and ordinances."
    )
    federal_answer = "The law governing this agreement is the Federal Trade Commission Act."
    assert "State of Texas" in best_sentence(passage, "Which law governs this agreement?", federal_answer)
    long_heading = (
        "10.4 Compliance. Each Party shall comply with all prevailing laws and obtain all governmental approvals. "
        "11.1 Governing Law and Jurisdiction. This Agreement shall be governed by the laws of the State of Nevada."
    )
    assert "Nevada" in best_sentence(long_heading, "Which law governs this agreement?")


def test_evidence_always_includes_the_passage_matching_the_question() -> None:
    from rag.answer.citations import cited_passages
    from rag.types import Passage

    taxes = Passage("d", "c.txt", 1, 1, 0, 60, "7. Taxes. The Company will add sales tax to its invoices.", 1.0)
    law = Passage(
        "d", "c.txt", 2, 2, 60, 140, "11. Governing Law. This Agreement is governed by the laws of Texas.", 0.5
    )
    chosen = cited_passages("The answer is in [1].", [taxes, law], "Which law governs this agreement?")
    assert chosen == [taxes, law]
