"""The thin end-to-end path through real parts: real Chroma on disk, the packaged embedding model,
the embedded SmolLM2 model, verified citations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.service import Quire
from rag.settings import Settings
from tests.conftest import CONTRACTS, requires_shared_data

pytestmark = pytest.mark.slow


@pytest.fixture
def quire(settings: Settings) -> Quire:
    return Quire(settings)


def test_ingest_is_idempotent_and_rm_removes_everything(quire: Quire, contract_txt: Path, contract_pdf: Path) -> None:
    first = quire.ingest([contract_txt.parent])
    assert [d.status for d in first.documents] == ["ingested", "ingested"]
    assert quire.store.vector_count() == sum(d.chunks for d in first.documents) > 0
    again = quire.ingest([contract_txt.parent])
    assert [d.status for d in again.documents] == ["unchanged", "unchanged"]
    assert quire.store.vector_count() == sum(d.chunks for d in first.documents)
    quire.remove(["msa.txt", "msa.pdf"])
    assert quire.documents() == []
    assert quire.store.vector_count() == 0
    assert quire.store.registry.counts() == {"documents": 0, "chunks": 0}


def test_txt_offsets_index_the_file_exactly(quire: Quire, contract_txt: Path) -> None:
    quire.ingest([contract_txt])
    file_text = contract_txt.read_text(encoding="utf-8")
    passages = quire.retrieve("How long is the term and how does it renew?", budget_chars=2000)
    assert passages
    for p in passages:
        assert file_text[p.start : p.end] == p.text


def test_changed_file_replaces_old_version(quire: Quire, contract_txt: Path) -> None:
    quire.ingest([contract_txt])
    contract_txt.write_text(contract_txt.read_text() + "\nARTICLE 5. NOTICES\n\n5.1 Notices go by e-mail.\n")
    report = quire.ingest([contract_txt])
    assert report.documents[0].status == "ingested"
    assert len(quire.documents()) == 1
    assert quire.store.vector_count() == quire.documents()[0].chunks


def test_ask_cites_the_governing_law_page(quire: Quire, contract_pdf: Path) -> None:
    quire.ingest([contract_pdf])
    answer = quire.ask("Which law governs this agreement?")
    assert answer.backend == "llamacpp" and answer.model
    verified = [c for c in answer.citations if c.verified]
    assert verified, answer
    doc_id = verified[0].doc_id
    text = quire.store.registry.text(doc_id)
    pages = {p.number: p for p in quire.store.registry.pages(doc_id)}
    for citation in verified:
        page = pages[citation.page]
        assert page.start <= citation.start < citation.end <= page.end
        assert text[citation.start : citation.end] == citation.quote
    assert any(c.page == 3 and "governed" in c.quote for c in verified)


@requires_shared_data()
def test_real_contract_governing_law(quire: Quire) -> None:
    pdf = CONTRACTS / "CANOPETROLEUM_INC_12_13_2007-EX-10.1-Sponsorship_Agreement.pdf"
    quire.ingest([pdf])
    answer = quire.ask("Which law governs this agreement?")
    verified = [c for c in answer.citations if c.verified]
    assert verified
    text = quire.store.registry.text(verified[0].doc_id)
    pages = {p.number: p for p in quire.store.registry.pages(verified[0].doc_id)}
    law = [c for c in verified if re.search(r"governed by|laws of", c.quote, re.I)]
    assert law, [c.quote for c in verified]
    page = pages[law[0].page]
    assert law[0].quote in text[page.start : page.end]
