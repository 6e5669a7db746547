"""The batch through the real parts: real ingest, Chroma, the embedding model and the embedded LLM.

The kill-and-resume test here is smaller than the one in test_batch.py (each process start
loads torch and Chroma), but it kills a real `quire batch` in the middle of real work.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from rag.batch.journal import Journal
from rag.batch.plan import BatchPlan
from rag.batch.run import run_batch
from rag.batch.steps import plan_steps
from rag.service import Quire
from rag.settings import Settings
from tests.conftest import CONTRACT_TEXT, REPO_ROOT, make_pdf
from tests.test_batch import assert_complete_and_exactly_once, journal_rows, wait_for

pytestmark = pytest.mark.slow


def real_folder(root: Path) -> Path:
    folder = root / "in"
    folder.mkdir(parents=True)
    for n in range(3):
        text = CONTRACT_TEXT.replace("Acme Widgets Inc.", f"Acme Widgets {n} Inc.")
        (folder / f"msa-{n}.txt").write_text(text * (n + 2), encoding="utf-8")
    make_pdf(folder / "msa-pdf.pdf", CONTRACT_TEXT.split("ARTICLE 3."))
    (folder / "scan.pdf").write_bytes(b"\x89PNG\r\n\x1a\n not a pdf at all")
    return folder


def done_count(out: Path) -> int:
    if not (out / "journal.sqlite3").exists():
        return 0
    try:
        return journal_rows(out, "SELECT count(*) FROM events WHERE kind = 'done'")[0][0]
    except sqlite3.OperationalError:
        return 0


def test_real_ingest_batch_killed_midway_then_resumed(tmp_path: Path) -> None:
    folder = real_folder(tmp_path)
    out, data = tmp_path / "out", tmp_path / "data"
    command = [
        sys.executable,
        "-m",
        "rag",
        "--data-dir",
        str(data),
        "batch",
        str(folder),
        "--out",
        str(out),
    ]
    env = {**os.environ, "QUIRE_LLM__OLLAMA_HOST": "http://127.0.0.1:9"}
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: done_count(out) >= 1 or proc.poll() is not None, timeout=240)
    assert proc.poll() is None, f"the batch ended before it could be killed: {proc.communicate()[1]}"
    proc.send_signal(signal.SIGKILL)  # in the middle of real work: one document stored, the others not
    proc.communicate()
    assert 1 <= done_count(out) < 4
    final = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert final.returncode == 2, final.stderr
    assert_complete_and_exactly_once(out, folder, ["ingest"], broken={"scan.pdf"})
    report = (out / "index.md").read_text()
    assert "scan.pdf | ingest | this is a PNG image" in report
    with sqlite3.connect(data / "registry.sqlite3") as db:
        names = Counter(r[0] for r in db.execute("SELECT name FROM documents WHERE status = 'ready'"))
    assert names == Counter({"msa-0.txt": 1, "msa-1.txt": 1, "msa-2.txt": 1, "msa-pdf.pdf": 1})
    journal = Journal(out, readonly=True)
    ready_ids = {f.doc_id for f in journal.files() if f.doc_id}
    assert len(ready_ids) == 4
    keyword_rows = json.loads((data / "keyword" / "rows.json").read_text())["rows"]
    assert {doc_id for doc_id, _ in keyword_rows} == ready_ids, "the batch left the keyword index built"


def test_real_summaries_and_clauses_through_the_embedded_model(tmp_path: Path, settings: Settings) -> None:
    folder = real_folder(tmp_path)
    (folder / "msa-1.txt").unlink()
    (folder / "msa-2.txt").unlink()
    out = tmp_path / "out"
    plan = BatchPlan(folder, out, plan_steps(True, True), workers=2, backoff_s=0.0)
    two_groups = settings.clauses.model_copy(update={"categories": ["Governing Law", "Parties"]})
    outcome = run_batch(Quire(settings.model_copy(update={"clauses": two_groups})), plan, threading.Event())
    assert (outcome.files, outcome.failed) == (3, 1)
    for stem in ("msa-0", "msa-pdf"):
        assert (out / f"{stem}.summary.md").read_text(encoding="utf-8").strip()
        assert isinstance(json.loads((out / f"{stem}.clauses.json").read_text(encoding="utf-8")), dict)
        assert list(csv.DictReader(io.StringIO((out / f"{stem}.clauses.csv").read_text(encoding="utf-8-sig"))))
    index = (out / "index.md").read_text(encoding="utf-8")
    assert "msa-0.summary.md" in index and "scan.pdf | ingest" in index
    assert (out / "clauses.xlsx").stat().st_size > 0  # the tiny model's wording is not asserted, only wholeness
