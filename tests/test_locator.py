"""The clause locator: the shipped artifact loads offline and finds clauses; training on a tiny
generated corpus learns a planted clause, twice to the same bytes; bad input gives findings, never a crash."""

from __future__ import annotations

import hashlib
import json
import random
import socket
from pathlib import Path

import pytest

from rag.clauses.categories import load_catalogue
from rag.clauses.located import review_with_locator
from rag.clauses.locator import ARTIFACT, Locator, default_locator
from rag.clauses.locator.training import train
from rag.clauses.review import ClauseDocument
from rag.summaries.key_terms import key_term_summary
from rag.summaries.summary import Coverage
from rag.types import PageSpan
from tests.conftest import CONTRACT_TEXT, SHARED_DATA, requires_shared_data, run_cli

FILLER = [
    "The Supplier shall deliver the Products to the locations designated by the Buyer.",
    "Payment shall be made within thirty days after receipt of a correct invoice.",
    "Each party shall comply with all applicable laws in performing this Agreement.",
    "The Buyer may inspect the Products upon delivery and reject defective units.",
    "Notices shall be in writing and delivered by hand or by registered mail.",
    "Neither party shall be liable for delays caused by events beyond its control.",
    "This Agreement constitutes the entire agreement between the parties hereto.",
    "Any amendment must be signed by authorised representatives of both parties.",
]
PLANT = "The Distributor shall not zorblax or quintify any competing widget business in the Territory."
CATEGORIES_CSV = (
    "Category (incl. context and answer),Description,Answer Format,Group\n"
    "Category: Non-Compete,Description: x,Answer Format: Yes/No,Group: 2\n"
)


def planted_corpus(root: Path, documents: int = 20) -> Path:
    """Generated contracts, each with the planted Non-Compete sentence somewhere and its label."""
    shuffle = random.Random(0)
    folder = root / "train"
    (folder / "contracts").mkdir(parents=True)
    (root / "cuad_categories.csv").write_text(CATEGORIES_CSV, encoding="utf-8")
    lines = []
    for number in range(documents):
        sentences = shuffle.sample(FILLER, len(FILLER))
        at = shuffle.randrange(1, len(sentences))
        text = f"SUPPLY AGREEMENT {number}\n\n{number}. General. " + " ".join(sentences[:at])
        text += f" {PLANT} " + " ".join(sentences[at:]) + "\n"
        start = text.index(PLANT)
        name = f"doc{number:02d}"
        (folder / "contracts" / f"{name}.txt").write_text(text, encoding="utf-8")
        span = {"start": start, "end": start + len(PLANT), "text": PLANT}
        lines.append(json.dumps({"contract": name, "txt": f"contracts/{name}.txt",
                                 "clauses": {"Non-Compete": {"spans": [span], "answer": "Yes"}}}))  # fmt: skip
    (folder / "cuad_labels.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def digests(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


def test_training_learns_a_planted_clause_and_is_deterministic(tmp_path: Path) -> None:
    folder = planted_corpus(tmp_path)
    for out in ("first", "second"):
        train(folder, tmp_path / out, validation_fraction=0.3, log=lambda *_: None)
    assert digests(tmp_path / "first") == digests(tmp_path / "second")
    locator = Locator.load(tmp_path / "first")
    document = "TEST AGREEMENT\n\n" + " ".join(FILLER[:3]) + f" {PLANT} " + " ".join(FILLER[3:])
    found = locator.locate(document)["Non-Compete"]
    start = document.index(PLANT)
    assert found and (found[0].start, found[0].end, found[0].status) == (start, start + len(PLANT), "present")


def test_the_shipped_locator_is_small_and_loads_without_a_network(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sum(f.stat().st_size for f in ARTIFACT.iterdir()) <= 20 * 2**20
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail(f"the locator opened a connection: {a}"))
    locator = Locator.load(ARTIFACT)
    assert len(locator.categories) == 41
    governing = locator.locate(CONTRACT_TEXT)["Governing Law"]
    assert governing and "laws of the State of New York" in CONTRACT_TEXT[governing[0].start : governing[0].end]


@pytest.mark.parametrize("text", ["", "   \n\n  ", "-----", "12 34 56", "\x00\x01 ÿ"])
def test_text_without_clauses_gives_findings_not_a_crash(text: str) -> None:
    document = ClauseDocument("d" * 64, "blank.txt", text, (PageSpan(1, 0, len(text), "text"),))
    report = review_with_locator(document, load_catalogue(), default_locator())
    assert len(report.findings) == 41
    assert all(f.engine == "locator" and f.status in ("absent", "needs_review", "present") for f in report.findings)


def test_locator_review_quotes_are_verbatim_with_pages_and_feed_a_key_term_sheet() -> None:
    half = len(CONTRACT_TEXT) // 2
    pages = (PageSpan(1, 0, half), PageSpan(2, half, len(CONTRACT_TEXT)))
    document = ClauseDocument("e" * 64, "msa.txt", CONTRACT_TEXT, pages)
    report = review_with_locator(document, load_catalogue(), default_locator())
    law = report.finding("Governing Law")
    assert law.status == "present" and law.value == "New York" and law.score is not None
    for finding in report.findings:
        for quote in finding.quotes:
            assert CONTRACT_TEXT[quote.start : quote.end] == quote.text
            assert quote.page == (1 if quote.start < half else 2)
    sheet = key_term_summary(report, Coverage((1, 2), 2, (1, 2), ()))
    assert sheet.mode == "key-terms" and sheet.calls == 0
    assert "**Governing Law:** New York:" in sheet.markdown and "(p. 2)" in sheet.markdown
    assert "not written by a language model" in sheet.markdown


@requires_shared_data()
def test_eval_clauses_with_the_locator_reports_cuad_measures_and_a_plot(tmp_path: Path) -> None:
    plot = tmp_path / "pr.png"
    done = run_cli(
        "eval", "clauses", str(SHARED_DATA / "cuad_labels.jsonl"), "--engine", "locator", "--limit", "3",
        "--pr-plot", str(plot), "--json", data_dir=tmp_path / "d",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["engine"] == "locator" and result["contracts"] == 3 and result["backend"]
    assert 0 < result["overall"]["span_precision"] <= 1 and 0 < result["overall"]["span_recall"] <= 1
    curve = result["curve"]
    assert 0 < curve["aupr"] <= 1 and curve["published"]["aupr"] == 0.478
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_train_clauses_says_what_folder_it_needs(tmp_path: Path) -> None:
    done = run_cli("train", "clauses", str(tmp_path), data_dir=tmp_path / "d")
    assert done.returncode == 1 and "cuad_labels.jsonl" in done.stderr and "cuad_train" in done.stderr
