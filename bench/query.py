"""Query latency of `Retriever.retrieve` (no LLM) at 10k and 100k chunks.

The dev contracts (the shared CUAD `.txt` files, else generated contracts) are ingested once;
then copies are stored under new ids, reusing their vectors, until the store holds each target
number of chunks. Each size is timed for the full retriever and, as the baseline in the same
run, for a bare dense Chroma query of the same questions. Writes bench/results/query.json and
prints the table for BENCHMARKS.md.

    python bench/query.py [--sizes 10000,100000] [--repeats 3] [--data-dir SCRATCH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401  (offline switches first)
from rag.retrieval.retrieve import Retriever  # noqa: E402
from rag.service import Quire  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Chunk, ParsedDocument  # noqa: E402

SHARED = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data"))
BUDGET = 16_000


def corpus_files(scratch: Path) -> tuple[list[Path], list[str]]:
    """The shared contracts and their benchmark questions, else generated ones."""
    queries_file = SHARED / "legalbench_rag_queries.json"
    if queries_file.is_file():
        tests = json.loads(queries_file.read_text(encoding="utf-8"))["tests"]
        return sorted((SHARED / "contracts").glob("*.txt")), [t["query"] for t in tests]
    from tests.test_retrieval_parts import PARTIES, contract

    files = []
    for number, spec in enumerate(PARTIES * 10):
        path = scratch / f"generated-{number}.txt"
        path.write_text(contract(*spec) * 20, encoding="utf-8")
        files.append(path)
    questions = [
        "Which law governs this agreement?",
        "Can this agreement be assigned?",
        "When are invoices due?",
    ]
    return files, questions * 10


def grow(service: Quire, target: int, originals: list[tuple[ParsedDocument, list[Chunk], list[list[float]]]]) -> float:
    """Store copies of the originals under new ids until `target` chunks; returns seconds taken."""
    began = time.perf_counter()
    registry = service.store.registry
    total = registry.counts()["chunks"]
    copy = 0
    while total < target:
        copy += 1
        for doc, chunks, vectors in originals:
            new_id = hashlib.sha256(f"{doc.doc_id}:{copy}".encode()).hexdigest()
            if registry.status(new_id) == "ready":
                continue  # made by an earlier size or run
            clone = replace(doc, doc_id=new_id, name=f"copy{copy}-{doc.name}")
            clone_chunks = [replace(c, doc_id=new_id) for c in chunks]
            stream = iter(vectors)  # the copies' vectors, in chunk order, batch after batch
            service.store.add_document(clone, clone_chunks, lambda texts, s=stream: [next(s) for _ in texts])
            total += len(chunks)
            if total >= target:
                break
    return time.perf_counter() - began


def dense_query(service: Quire, embeddings: dict[str, list[float]], question: str) -> None:
    """The baseline: one Chroma query with the question's vector, as the dense-only retriever did."""
    service.store.query(embeddings[question], k=2 * BUDGET // 250)


def timings(call, questions: list[str], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        for question in questions:
            began = time.perf_counter()
            call(question)
            samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
        "n": len(samples),
    }


def write_results(results: list[dict]) -> None:
    out = ROOT / "bench" / "results" / "query.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"budget_chars": BUDGET, "results": results}, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, help="A scratch store to grow (default: a temporary one).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="quire-bench-") as scratch:
        files, questions = corpus_files(Path(scratch))
        service = Quire(Settings(data_dir=args.data_dir or Path(scratch) / "data"))
        report = service.ingest(files)
        registry = service.store.registry
        originals = []
        for info in [registry.info(r.doc_id) for r in report.documents if r.doc_id]:
            chunks = registry.chunks(info.doc_id)
            doc = ParsedDocument(
                info.doc_id,
                info.name,
                info.path,
                info.kind,
                registry.text(info.doc_id),
                registry.pages(info.doc_id),
            )
            originals.append((doc, chunks, service.store.vectors(info.doc_id, [c.index for c in chunks])))
        for size in sizes:
            grow_s = grow(service, size, originals)
            retriever = Retriever(service.store, service.embedder)
            began = time.perf_counter()
            retriever.retrieve(questions[0], BUDGET)  # builds or loads the keyword index and router cards
            first_s = time.perf_counter() - began
            # Query embeddings are made once, outside the timings, for both sides (the retriever keeps
            # them in its cache): on a shared 2-core box the model's time swings with the load, and
            # it is the same for every retriever. It is timed on its own below.
            embeddings: dict[str, list[float]] = {}
            embed = timings(lambda q, e=embeddings: e.setdefault(q, service.embedder.embed_query(q)), questions, 1)
            timings(lambda q, r=retriever: r.retrieve(q, BUDGET), questions, 1)  # warm: vectors, texts
            dense = timings(lambda q, e=embeddings: dense_query(service, e, q), questions, args.repeats)
            full = timings(lambda q, r=retriever: r.retrieve(q, BUDGET), questions, args.repeats)
            row = {
                "chunks": registry.counts()["chunks"],
                "documents": registry.counts()["documents"],
                "retrieve": full,
                "dense_baseline": dense,
                "p95_ratio_vs_dense": round(full["p95_ms"] / dense["p95_ms"], 2),
                "query_embedding": embed,
                "index_build_s": round(first_s, 1),
                "grow_s": round(grow_s, 1),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            write_results(results)  # after each size, so a long run keeps what it measured
    print("| chunks | retrieve p50 | retrieve p95 | dense p50 | dense p95 | p95 ratio | embed p50 | index build |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['chunks']:,} | {r['retrieve']['p50_ms']} ms | {r['retrieve']['p95_ms']} ms | "
            f"{r['dense_baseline']['p50_ms']} ms | {r['dense_baseline']['p95_ms']} ms | "
            f"{r['p95_ratio_vs_dense']}x | {r['query_embedding']['p50_ms']} ms | {r['index_build_s']} s |"
        )


if __name__ == "__main__":
    main()
