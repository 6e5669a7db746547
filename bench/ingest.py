"""Ingestion speed: Quire's pipeline against llama-index defaults, in the same run, on the dev contracts.

Each side runs in its own process (clean peak memory, no shared caches), with the model loaded
before the clock starts:
- quire:    `Quire.ingest` (parse ahead in a thread, clause-aware chunks, batched bf16/fp32
            embeddings, Chroma + registry), then the *ceiling*: one pure batched encode of the
            very same chunk texts with the same embedder, no parsing or storing.
- baseline: SimpleDirectoryReader + SentenceSplitter(1024, 200) + HuggingFaceEmbedding (same
            model folder) + ChromaVectorStore, through VectorStoreIndex.from_documents.

Quality guard: `coverage` = share of the document characters the embedder actually sees (a chunk
longer than the model's window is truncated, and what is cut is never found by the vectors);
`chars embedded/s` = those characters per second. Each `--max-tokens` value is one more Quire
row (QUIRE_EMBED__MAX_TOKENS); the ceiling is measured for the first. `--runs N` repeats the
whole comparison, each run with its own ratio and the load average before it.

    python bench/ingest.py [--limit N] [--runs N] [--max-tokens 256,128]   # writes bench/results/ingest.json
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


def run_quire(files: list[Path], workdir: Path, max_tokens: int, ceiling: bool) -> dict:
    from rag.service import Quire
    from rag.settings import EmbedSettings, Settings

    service = Quire(Settings(data_dir=workdir / "quire", embed=EmbedSettings(max_tokens=max_tokens)))
    embedder = service.embedder  # load before the clock
    service.store.vector_count()
    began = time.perf_counter()
    report = service.ingest(files)
    seconds = time.perf_counter() - began
    chunks = service.store.registry.chunks()
    texts = [c.text for c in chunks]
    began = time.perf_counter()
    if ceiling:
        embedder.embed(texts)
    ceiling_seconds = time.perf_counter() - began if ceiling else None
    total_chars = sum(len(service.store.registry.text(d.doc_id)) for d in service.documents())
    tokenizer = embedder._model.tokenizer
    window = embedder._model.max_seq_length
    return {
        "files": len(report.documents),
        "failed": len(report.failed),
        "pages": sum(d.pages for d in report.documents),
        "chunks": len(texts),
        "seconds": seconds,
        "ceiling_seconds": ceiling_seconds,
        "precision": embedder.precision,
        "max_tokens": max_tokens,
        "chars": total_chars,
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
    total_chars = sum(len(d.text) for d in documents)
    return {
        "files": len(files),
        "pages": len(documents),
        "chunks": collection.count(),
        "seconds": seconds,
        "chars": total_chars,
        "coverage": seen_chars(tokenizer, texts, window) / max(total_chars, 1),
        "mean_chunk_chars": sum(map(len, texts)) / max(len(texts), 1),
        "peak_mb": peak_mb(),
    }


def run_part(part: str, limit: int, max_tokens: int = 256, ceiling: bool = False) -> dict:
    """Run one side in a fresh process and return what it measured (with the load average before it)."""
    load = os.getloadavg()[0]
    command = [sys.executable, __file__, "--part", part, "--limit", str(limit), "--max-tokens", str(max_tokens)]
    done = subprocess.run(command + (["--ceiling"] if ceiling else []), capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.exit(f"{part} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "load_before": round(load, 2)}


def pages_per_s(r: dict) -> float:
    return r["pages"] / r["seconds"]


def _row(name: str, r: dict, baseline: dict) -> str:
    cells = [
        name,
        r["pages"],
        r["chunks"],
        f"{r['seconds']:.1f}",
        f"{pages_per_s(r):.2f}",
        f"{pages_per_s(r) / pages_per_s(baseline):.2f}x",
        f"{r['chars'] * r['coverage'] / r['seconds']:,.0f}",
        f"{r['coverage']:.1%}",
        f"{r['mean_chunk_chars']:.0f}",
        f"{r['peak_mb']:.0f}",
        f"{r['load_before']:.2f}",
    ]
    return "| " + " | ".join(str(c) for c in cells) + " |"


HEADER = [
    "pipeline",
    "pages",
    "chunks",
    "seconds",
    "pages/s",
    "vs llama-index",
    "chars embedded/s",
    "coverage",
    "mean chunk chars",
    "peak MB",
    "load before",
]


def table(quires: list[dict], baseline: dict) -> str:
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        _row("llama-index defaults", baseline, baseline),
    ]
    lines += [_row(f"Quire ({q['precision']}, {q['max_tokens']} tokens)", q, baseline) for q in quires]
    first = quires[0]
    if first["ceiling_seconds"]:
        ceiling = first["chunks"] / first["ceiling_seconds"]
        lines.append(
            f"| ceiling: pure encode of the first Quire row's chunks | | {first['chunks']} | "
            f"{first['ceiling_seconds']:.1f} | | | | | | | |"
        )
        lines += [
            "",
            f"The first Quire row runs at **{first['chunks'] / first['seconds'] / ceiling:.0%}** of its ceiling.",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30, help="How many dev contracts (default all 30).")
    parser.add_argument("--runs", type=int, default=1, help="Repeat the whole comparison this many times.")
    parser.add_argument(
        "--max-tokens", default="256", help="Quire rows: comma-separated QUIRE_EMBED__MAX_TOKENS values."
    )
    parser.add_argument("--part", choices=["quire", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--ceiling", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    windows = [int(w) for w in args.max_tokens.split(",")]
    if args.part:
        with tempfile.TemporaryDirectory(prefix="quire-bench-") as workdir:
            files, scratch = contracts(args.limit), Path(workdir)
            measured = (
                run_baseline(files, scratch)
                if args.part == "baseline"
                else run_quire(files, scratch, windows[0], args.ceiling)
            )
            print(json.dumps(measured))
        return
    runs = []
    for run in range(args.runs):
        baseline = run_part("baseline", args.limit)
        quires = [run_part("quire", args.limit, w, ceiling=i == 0) for i, w in enumerate(windows)]
        text = table(quires, baseline)
        print(f"run {run + 1} of {args.runs}\n{text}\n", flush=True)
        runs.append({"quire": quires, "baseline": baseline, "table": text})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
