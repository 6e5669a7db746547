"""The `quire` command line as a user runs it: separate processes, JSON shapes, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A data dir with the generated contract (PDF + TXT) and one bad file ingested through the CLI."""
    from tests.conftest import CONTRACT_TEXT, make_pdf

    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    docs.mkdir()
    (docs / "msa.txt").write_text(CONTRACT_TEXT, encoding="utf-8")
    make_pdf(docs / "msa.pdf", [CONTRACT_TEXT[:900], CONTRACT_TEXT[900:]])
    (docs / "image.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    return root / "data", docs


def test_ingest_json_and_exit_code(cli_store: tuple[Path, Path]) -> None:
    data_dir, docs = cli_store
    result = run_cli("ingest", str(docs), "--json", data_dir=data_dir)
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    by_name = {d["name"]: d for d in report["documents"]}
    assert set(by_name) == {"msa.txt", "msa.pdf", "image.pdf"}
    assert by_name["image.pdf"]["status"] == "failed" and "PNG" in by_name["image.pdf"]["error"]
    for name in ("msa.txt", "msa.pdf"):
        assert by_name[name]["status"] in ("ingested", "unchanged")
        assert by_name[name]["chunks"] > 0 and len(by_name[name]["doc_id"]) == 64
    assert set(report["documents"][0]) == {"path", "name", "doc_id", "status", "pages", "chunks", "error"}
    assert isinstance(report["seconds"], float)


def test_docs_retrieve_ask_doctor(cli_store: tuple[Path, Path]) -> None:
    data_dir, docs = cli_store
    run_cli("ingest", str(docs / "msa.txt"), str(docs / "msa.pdf"), data_dir=data_dir)
    listing = json.loads(run_cli("docs", "--json", data_dir=data_dir).stdout)
    assert {d["name"] for d in listing} == {"msa.txt", "msa.pdf"}
    assert set(listing[0]) == {"doc_id", "name", "pages", "chunks", "ingested_at"}

    found = json.loads(
        run_cli(
            "retrieve", "governing law", "--doc", "msa.txt", "--budget-chars", "1500", "--json", data_dir=data_dir
        ).stdout
    )
    file_text = (docs / "msa.txt").read_text(encoding="utf-8")
    assert found["query"] == "governing law" and found["passages"]
    assert sum(len(p["text"]) for p in found["passages"]) <= 1500
    for p in found["passages"]:
        assert p["name"] == "msa.txt" and file_text[p["start"] : p["end"]] == p["text"]
        assert set(p) == {"doc_id", "name", "page_start", "page_end", "start", "end", "text", "score"}

    answer = json.loads(run_cli("ask", "Which law governs this agreement?", "--json", data_dir=data_dir).stdout)
    assert set(answer) >= {"answer", "citations", "mode", "context_tokens", "num_ctx", "backend", "model"}
    assert answer["backend"] == "llamacpp" and answer["mode"] in ("retrieved", "whole-document")
    assert any(c["verified"] for c in answer["citations"])

    doctor = json.loads(run_cli("doctor", "--json", data_dir=data_dir).stdout)
    assert doctor["backend"] == "llamacpp" and doctor["reachable"] is True and doctor["demo_model"] is True
    assert doctor["store"]["documents"] == 2


def test_queries_file_and_rm(cli_store: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, docs = cli_store
    run_cli("ingest", str(docs / "msa.txt"), data_dir=data_dir)
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"query_id": "a", "query": "liability cap"}\n{"query_id": "b", "query": "term"}\n')
    lines = run_cli("retrieve", "--queries", str(queries), "--json", data_dir=data_dir).stdout.splitlines()
    assert [json.loads(line)["query_id"] for line in lines] == ["a", "b"]
    removed = run_cli("rm", "msa.txt", "--json", data_dir=data_dir)
    assert removed.returncode == 0 and json.loads(removed.stdout)["removed"][0]["name"] == "msa.txt"
    missing = run_cli("rm", "msa.txt", data_dir=data_dir)
    assert missing.returncode == 1 and "quire docs" in missing.stderr
