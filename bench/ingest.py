"""Ingestion speed: Quire's pipeline against llama-index defaults, in the same run, on the dev contracts.

Each side runs in its own process (clean peak memory, no shared caches), with the model loaded
before the clock starts:
- quire:    `Quire.ingest` (parse ahead in a thread, clause-aware chunks, batched bf16/fp32
            embeddings, Chroma + registry), then the *ceiling*: one pure batched encode of the
            very same chunk texts with the same embedder, no parsing or storing.
- baseline: SimpleDirectoryReader + SentenceSplitter(1024, 200) + HuggingFaceEmbedding (same
            model folder) + ChromaVectorStore, through VectorStoreIndex.from_documents.

Quality guard: `coverage` = share of the document characters the embedder actually sees (a chunk
longer than the model's 256-token window is truncated, and what is cut is never retrievable).

    python bench/ingest.py [--limit N]      # writes bench/results/ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import rag  # noqa: E402,F401  (offline switches first)

SHARED = Path(os.environ.get("QUIRE_SHARED_DATA", REPO.parent / "shared" / "data"))
RESULTS = REPO / "bench" / "results" / "ingest.json"


def contracts(limit: int) -> list[Path]:
    files = sorted((SHARED / "contracts").glob("*.pdf"))[:limit]
    if not files:
        sys.exit(f"no contracts under {SHARED / 'contracts'}: set QUIRE_SHARED_DATA")
    return files


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seen_chars(tokenizer, texts: list[str], max_tokens: int) -> int:
    """Characters of each text inside the model's window (the rest is truncated away)."""
    seen = 0
    for text in texts:
        enc = tokenizer(text, truncation=True, max_length=max_tokens, return_offsets_mapping=True)
        ends = [end for _, end in enc["offset_mapping"] if end]
        seen += min(len(text), ends[-1]) if ends else 0
        if len(enc["input_ids"]) < max_tokens:
            seen += len(text) - (ends[-1] if ends else 0)  # nothing was cut: count trailing spaces too
    return seen


def run_quire(files: list[Path], workdir: Path) -> dict:
    from rag.service import Quire
    from rag.settings import Settings

    service = Quire(Settings(data_dir=workdir / "quire"))
    embedder = service.embedder  # load before the clock
    service.store.vector_count()
    began = time.perf_counter()
    report = service.ingest(files)
    seconds = time.perf_counter() - began
    chunks = service.store.registry.chunks()
    texts = [c.text for c in chunks]
    began = time.perf_counter()
    embedder.embed(texts)
    ceiling = time.perf_counter() - began
    total_chars = sum(len(service.store.registry.text(d.doc_id)) for d in service.documents())
    tokenizer = embedder._model.tokenizer
    window = embedder._model.max_seq_length
    return {
        "files": len(report.documents),
        "failed": len(report.failed),
        "pages": sum(d.pages for d in report.documents),
        "chunks": len(texts),
        "seconds": seconds,
        "ceiling_seconds": ceiling,
        "precision": embedder.precision,
        "coverage": seen_chars(tokenizer, texts, window) / max(total_chars, 1),
        "mean_chunk_chars": sum(map(len, texts)) / max(len(texts), 1),
        "peak_mb": peak_mb(),
    }


def run_baseline(files: list[Path], workdir: Path) -> dict:
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rag.store.embed import packaged_model_path

    LlamaSettings.llm = None
    embed_model = HuggingFaceEmbedding(model_name=str(packaged_model_path()), device="cpu")
    client = chromadb.PersistentClient(str(workdir / "baseline"), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("baseline")
    splitter = SentenceSplitter(chunk_size=1024, chunk_overlap=200)
    began = time.perf_counter()
    documents = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    VectorStoreIndex.from_documents(
        documents, storage_context=storage, embed_model=embed_model, transformations=[splitter]
    )
    seconds = time.perf_counter() - began
    nodes = splitter.get_nodes_from_documents(documents)
    tokenizer = embed_model._model.tokenizer
    window = embed_model._model.max_seq_length
    texts = [n.get_content() for n in nodes]
    return {
        "files": len(files),
        "pages": len(documents),
        "chunks": collection.count(),
        "seconds": seconds,
        "coverage": seen_chars(tokenizer, texts, window) / max(sum(len(d.text) for d in documents), 1),
        "mean_chunk_chars": sum(map(len, texts)) / max(len(texts), 1),
        "peak_mb": peak_mb(),
    }


def run_part(part: str, limit: int) -> dict:
    """Run one side in a fresh process and return what it measured."""
    done = subprocess.run(
        [sys.executable, __file__, "--part", part, "--limit", str(limit)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if done.returncode != 0:
        sys.exit(f"{part} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(name: str, r: dict) -> str:
    cells = [
        name,
        r["pages"],
        r["chunks"],
        f"{r['seconds']:.1f}",
        f"{r['pages'] / r['seconds']:.2f}",
        f"{r['chunks'] / r['seconds']:.2f}",
        f"{r['coverage']:.1%}",
        f"{r['mean_chunk_chars']:.0f}",
        f"{r['peak_mb']:.0f}",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(quire: dict, baseline: dict) -> str:
    pages_ratio = (quire["pages"] / quire["seconds"]) / (baseline["pages"] / baseline["seconds"])
    chunks_ratio = (quire["chunks"] / quire["seconds"]) / (baseline["chunks"] / baseline["seconds"])
    ceiling = quire["chunks"] / quire["ceiling_seconds"]
    header = [
        "pipeline",
        "pages",
        "chunks",
        "seconds",
        "pages/s",
        "chunks/s",
        "coverage",
        "mean chunk chars",
        "peak MB",
    ]
    return "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
            _row("llama-index defaults", baseline),
            _row(f"Quire ({quire['precision']})", quire),
            f"| ceiling: pure encode, same chunks | | {quire['chunks']} | {quire['ceiling_seconds']:.1f}"
            f" | | {ceiling:.2f} | | | |",
            "",
            f"pages/s ratio Quire / llama-index: **{pages_ratio:.2f}x** (chunks/s {chunks_ratio:.2f}x); "
            f"the pipeline runs at **{quire['chunks'] / quire['seconds'] / ceiling:.0%}** of the ceiling.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30, help="How many dev contracts (default all 30).")
    parser.add_argument("--part", choices=["quire", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        with tempfile.TemporaryDirectory(prefix="quire-bench-") as workdir:
            runner = run_quire if args.part == "quire" else run_baseline
            print(json.dumps(runner(contracts(args.limit), Path(workdir))))
        return
    baseline = run_part("baseline", args.limit)
    quire = run_part("quire", args.limit)
    text = table(quire, baseline)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"quire": quire, "baseline": baseline, "table": text}, indent=2) + "\n")


if __name__ == "__main__":
    main()
