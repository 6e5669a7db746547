"""Clause review through the real CLI, the real store and the real built-in model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, requires_shared_data, run_cli

pytestmark = pytest.mark.slow
CATEGORIES = "Governing Law"  # one category: one short model call per run
SLOW_MACHINE_S = 1800  # a model call takes ~30 s alone but can take minutes on a loaded CI machine


def test_clauses_cli_quotes_are_verbatim_and_portfolio_is_written(contract_txt: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_cli("ingest", str(contract_txt), data_dir=data).returncode == 0
    done = run_cli("clauses", "msa.txt", "--categories", CATEGORIES, "--json", data_dir=data, timeout=SLOW_MACHINE_S)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    source = contract_txt.read_text(encoding="utf-8")
    assert [f["category"] for f in report["findings"]] == [CATEGORIES]
    for finding in report["findings"]:
        assert finding["status"] in ("present", "absent", "not_checked", "needs_review")
        for quote in finding["quotes"]:
            assert source[quote["start"] : quote["end"]] == quote["text"]
    law = report["findings"][0]
    assert law["status"] in ("present", "needs_review") and law["value"] == "New York"
    table = run_cli(
        "clauses", "--all", "--categories", CATEGORIES, "--csv", str(tmp_path / "p.csv"),
        "--xlsx", str(tmp_path / "p.xlsx"), data_dir=data, timeout=SLOW_MACHINE_S,
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "msa.txt" in (tmp_path / "p.csv").read_text(encoding="utf-8-sig")
    assert (tmp_path / "p.xlsx").stat().st_size > 0


def test_clauses_cli_says_what_to_do_for_an_unknown_category(contract_txt: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli("ingest", str(contract_txt), data_dir=data)
    done = run_cli("clauses", "msa.txt", "--categories", "Weather", data_dir=data)
    assert done.returncode == 1 and "quire clauses --list" in done.stderr
    listed = run_cli("clauses", "--list", "--json", data_dir=data)
    assert len(json.loads(listed.stdout)) == 41, "the list that error points at holds the 41 CUAD categories"
    assert "Governing Law" in run_cli("clauses", "--list", data_dir=data).stdout
    neither = run_cli("clauses", data_dir=data)
    assert neither.returncode == 1 and "--all" in neither.stderr


@requires_shared_data()
def test_eval_clauses_on_one_labelled_contract(tmp_path: Path) -> None:
    lines = (SHARED_DATA / "cuad_labels.jsonl").read_text(encoding="utf-8").splitlines()
    labelled = [line for line in lines if json.loads(line)["clauses"][CATEGORIES]["spans"]]
    smallest = min(labelled, key=lambda line: (SHARED_DATA / json.loads(line)["txt"]).stat().st_size)
    item = json.loads(smallest)
    item["txt"] = str(SHARED_DATA / item["txt"])
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps(item) + "\n", encoding="utf-8")
    done = run_cli(
        "eval",
        "clauses",
        str(labels),
        "--limit",
        "1",
        "--categories",
        CATEGORIES,
        "--engine",
        "model",
        "--json",
        data_dir=tmp_path / "d",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["contracts"] == 1 and set(result["per_category"]) == {CATEGORIES}
    assert result["overall"]["candidate_recall"] == 1.0  # a short contract is sent whole
    assert result["max_call_tokens"] <= result["call_tokens"]
    assert {"span_precision", "span_recall", "missed_clause_rate"} <= set(result["overall"])
