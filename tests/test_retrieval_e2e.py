"""Retrieval through the real embedding model and real Chroma: hybrid search, routing, scoping,
`rm` keeping the keyword index in step, and a CI-sized LegalBench-RAG evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.service import Quire
from rag.settings import Settings
from tests.conftest import SHARED_DATA, requires_shared_data, run_cli
from tests.test_retrieval_parts import HOSTING_QUESTION, PARTIES, contract

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quire(tmp_path_factory: pytest.TempPathFactory) -> Quire:
    root = tmp_path_factory.mktemp("retrieval")
    files = []
    for title, first, second, state in PARTIES:
        path = root / "docs" / f"{title.replace(' ', '_')}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(contract(title, first, second, state), encoding="utf-8")
        files.append(path)
    service = Quire(Settings(data_dir=root / "data", ingest={"chunk_chars": 200}))
    assert not service.ingest(files).failed
    return service


def test_hybrid_finds_the_governing_law_clause(quire: Quire) -> None:
    passages = quire.retrieve("Which law governs this agreement?", budget_chars=300)
    assert "governed by the laws of the State of" in passages[0].text


def test_a_named_contract_is_searched_first(quire: Quire) -> None:
    question = HOSTING_QUESTION
    passages = quire.retrieve(question, budget_chars=400)
    assert passages[0].name == "Hosting_Agreement.txt"
    assert "State of Ohio" in passages[0].text


def test_doc_scope_always_holds(quire: Quire) -> None:
    passages = quire.retrieve(
        HOSTING_QUESTION,
        doc_refs=["Supply_Agreement.txt"],
        budget_chars=2000,
    )
    assert passages and {p.name for p in passages} == {"Supply_Agreement.txt"}
    assert len({(p.start, p.end) for p in passages}) == len(passages)


def test_rm_takes_the_document_out_of_keyword_search(quire: Quire) -> None:
    quire.remove(["Distributor_Agreement.txt"])
    assert (quire.settings.data_dir / "keyword").exists() is False
    passages = quire.retrieve("laws of the State of Texas", budget_chars=4000)
    assert passages and all(p.name != "Distributor_Agreement.txt" for p in passages)
    assert not any("Texas" in p.text for p in passages)
    assert (quire.settings.data_dir / "keyword").is_dir()  # rebuilt without it


@requires_shared_data()
def test_ci_sized_legalbench_eval_through_the_cli(tmp_path: Path) -> None:
    """Ten LegalBench-RAG queries over the small contracts (plus one it does not ask about),
    indexed by `quire eval retrieval` into a temporary store."""
    tests = json.loads((SHARED_DATA / "legalbench_rag_queries.json").read_text(encoding="utf-8"))["tests"]
    size = {p.name: p.stat().st_size for p in (SHARED_DATA / "contracts").glob("*.txt")}
    small = [t for t in tests if all(size[Path(s["txt"]).name] < 21_000 for s in t["snippets"])][:10]
    corpus = {Path(s["txt"]).name for t in small for s in t["snippets"]}
    corpus |= set(sorted(n for n in size if n not in corpus and size[n] < 21_000)[:1])  # a distractor
    (tmp_path / "contracts").mkdir()
    for name in corpus:
        (tmp_path / "contracts" / name).symlink_to(SHARED_DATA / "contracts" / name)
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps({"tests": small}), encoding="utf-8")
    result = run_cli("eval", "retrieval", str(queries), "--budget-chars", "4000,16000", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["queries"]) == 10
    assert report["overall"]["16000"]["recall"] >= 0.85
    assert report["overall"]["4000"]["recall"] >= 0.6
