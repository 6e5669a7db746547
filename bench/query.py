"""Query latency of `Retriever.retrieve` (no LLM) at 10k, 100k and 1M chunks, embedded or server Chroma.

The dev contracts (the shared CUAD `.txt` files, else generated contracts) are ingested once;
then copies are stored under new ids, reusing their vectors, until the store holds each target
number of chunks. Each size is timed for the full retriever and, as the baseline in the same
run, for a bare dense Chroma query of the same questions. Each size also reports the peak memory
(this process; with `--store server` the `chroma run` process too) and the disk the store takes.
Writes bench/results/query.json (or query-server.json) and prints the table for BENCHMARKS.md.

    python bench/query.py [--sizes 10000,100000,1000000] [--store embedded|server] [--repeats 3] [--data-dir SCRATCH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401  (offline switches first)
from rag.retrieval.retrieve import Retriever  # noqa: E402
from rag.service import Quire  # noqa: E402
from rag.settings import Settings, StoreSettings  # noqa: E402
from rag.types import Chunk, ParsedDocument  # noqa: E402

SHARED = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data"))
BUDGET = 16_000
UPSERT_BATCH = 5000


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
    """Store copies of the originals under new ids until `target` chunks; returns seconds taken.

    Each copy goes in as `Store.add_document` writes one (registry row 'writing', vectors, 'ready'),
    but the vectors of many copies share one Chroma upsert: at a million chunks the per-document
    calls, not the index, were the cost."""
    began = time.perf_counter()
    registry, collection = service.store.registry, service.store._collection
    total = registry.counts()["chunks"]
    pending: list[tuple[str, list[Chunk], list[list[float]]]] = []
    copy = 0
    while total < target:
        copy += 1
        for doc, chunks, vectors in originals:
            new_id = hashlib.sha256(f"{doc.doc_id}:{copy}".encode()).hexdigest()
            if registry.status(new_id) == "ready":
                continue  # made by an earlier size or run
            clone_chunks = [replace(c, doc_id=new_id) for c in chunks]
            registry.begin(replace(doc, doc_id=new_id, name=f"copy{copy}-{doc.name}"), clone_chunks)
            pending.append((new_id, clone_chunks, vectors))
            total += len(chunks)
            if sum(len(p[1]) for p in pending) >= UPSERT_BATCH or total >= target:
                flush(collection, registry, pending)
            if total >= target:
                break
    flush(collection, registry, pending)
    service.store.keyword.invalidate()
    return time.perf_counter() - began


def flush(collection, registry, pending: list[tuple[str, list[Chunk], list[list[float]]]]) -> None:
    """One upsert for the pending copies' vectors, then their registry rows turn 'ready'."""
    if not pending:
        return
    chunks = [c for _, cs, _ in pending for c in cs]
    collection.upsert(
        ids=[f"{c.doc_id}:{c.index}" for c in chunks],
        embeddings=[v for _, _, vs in pending for v in vs],
        metadatas=[{"doc_id": c.doc_id, "idx": c.index} for c in chunks],
    )
    for doc_id, _, _ in pending:
        registry.commit(doc_id, [])
    pending.clear()


def after_one_more_contract(service: Quire, retriever: Retriever, original: Path, question: str, size: int) -> dict:
    """Ingest one new contract into the grown store, as an upload does, and time the first
    question after it: the keyword index takes the contract into its delta, the router one card
    (each timed on its own, then the question with both up to date)."""
    scratch = Path(tempfile.mkdtemp(prefix="quire-added-"))
    added = scratch / f"added-{size}-{original.name}"
    added.write_text(
        original.read_text(encoding="utf-8") + f"\n\nAmendment No. {size}-{time.time_ns()}.\n", encoding="utf-8"
    )
    began = time.perf_counter()
    service.ingest([added])
    ingest_s = time.perf_counter() - began
    seconds = {"added_ingest_s": ingest_s}
    for step, call in [
        ("keyword_update_s", service.store.keyword.prepare),
        ("router_update_s", retriever.router.prepare),
        ("first_question_after_add_s", lambda: retriever.retrieve(question, BUDGET)),
        ("next_question_s", lambda: retriever.retrieve(question, BUDGET)),
    ]:
        began = time.perf_counter()
        call()
        seconds[step] = time.perf_counter() - began
    return {step: round(s, 3) for step, s in seconds.items()}


def after_add_s(row: dict) -> float:
    """The first question's wait after one new contract: both indexes catching up, then the search."""
    return round(row["keyword_update_s"] + row["router_update_s"] + row["first_question_after_add_s"], 2)


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


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory: this process (getrusage), or another one (its /proc VmHWM)."""
    if pid is None:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def disk_mb(*folders: Path) -> float:
    return round(sum(f.stat().st_size for d in folders for f in d.rglob("*") if f.is_file()) / 2**20, 1)


@contextmanager
def chroma(kind: str, scratch: Path) -> Iterator[tuple[StoreSettings, int | None, Path | None]]:
    """The store settings, the server's pid and its folder: `chroma run` on a free port for `server`."""
    if kind == "embedded":
        yield StoreSettings(), None, None
        return
    from tests.servers import chroma_binary, free_port, start_server

    port, path = free_port(), scratch / "chroma-server"
    command = [chroma_binary() or "chroma", "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    server = start_server(command, port, f"http://127.0.0.1:{port}/api/v2/heartbeat", scratch / "chroma.log")
    try:
        yield StoreSettings(mode="server", host="127.0.0.1", port=port), server.process.pid, path
    finally:
        server.stop()


def write_results(results: list[dict], kind: str) -> None:
    out = ROOT / "bench" / "results" / ("query.json" if kind == "embedded" else f"query-{kind}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"budget_chars": BUDGET, "results": results}, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--store", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--data-dir", type=Path, help="A scratch store to grow (default: a temporary one).")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="quire-bench-") as scratch,
        chroma(args.store, Path(scratch)) as (
            store_settings,
            server_pid,
            server_path,
        ),
    ):
        files, questions = corpus_files(Path(scratch))
        data_dir = args.data_dir or Path(scratch) / "data"
        service = Quire(Settings(data_dir=data_dir, store=store_settings))
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
            service.store.keyword.prepare()  # builds (or loads) the BM25 index
            keyword_s = time.perf_counter() - began
            retriever.retrieve(questions[0], BUDGET)  # and the router's cards
            first_s = time.perf_counter() - began
            # Query embeddings are made once, outside the timings, for both sides (the retriever keeps
            # them in its cache): on a shared 2-core box the model's time swings with the load, and
            # it is the same for every retriever. It is timed on its own below.
            embeddings: dict[str, list[float]] = {}
            embed = timings(lambda q, e=embeddings: e.setdefault(q, service.embedder.embed_query(q)), questions, 1)
            timings(lambda q, r=retriever: r.retrieve(q, BUDGET), questions, 1)  # warm: vectors, texts
            dense = timings(lambda q, e=embeddings: dense_query(service, e, q), questions, args.repeats)
            full = timings(lambda q, r=retriever: r.retrieve(q, BUDGET), questions, args.repeats)
            added = after_one_more_contract(service, retriever, files[0], questions[0], size)
            row = {
                "chunks": registry.counts()["chunks"],
                "documents": registry.counts()["documents"],
                "retrieve": full,
                "dense_baseline": dense,
                "p95_ratio_vs_dense": round(full["p95_ms"] / dense["p95_ms"], 2),
                "query_embedding": embed,
                "index_build_s": round(first_s, 1),
                "keyword_index_s": round(keyword_s, 1),
                "grow_s": round(grow_s, 1),
                **added,
                "store": args.store,
                "peak_rss_mb": peak_rss_mb(),
                "server_peak_rss_mb": peak_rss_mb(server_pid) if server_pid else None,
                "disk_mb": disk_mb(data_dir, *([server_path] if server_path else [])),
                "load_average": round(os.getloadavg()[0], 2),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            write_results(results, args.store)  # after each size, so a long run keeps what it measured
    print("| store | chunks | retrieve p50 | retrieve p95 | dense p50 | dense p95 | p95 ratio | embed p50 | index build "
          "| first question after one new contract | peak RSS (server) | disk |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['store']} | {r['chunks']:,} | {r['retrieve']['p50_ms']} ms | {r['retrieve']['p95_ms']} ms | "
            f"{r['dense_baseline']['p50_ms']} ms | {r['dense_baseline']['p95_ms']} ms | "
            f"{r['p95_ratio_vs_dense']}x | {r['query_embedding']['p50_ms']} ms | {r['index_build_s']} s | "
            f"{after_add_s(r)} s | {r['peak_rss_mb']:,.0f} MB ({r['server_peak_rss_mb'] or 0:,.0f} MB) | {r['disk_mb']:,.0f} MB |"
        )


if __name__ == "__main__":
    main()
