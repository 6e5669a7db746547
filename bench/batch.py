"""Benchmark the overnight batch: documents/hour on the dev contracts with the embedded models, and
the share of the time spent outside the LLM (target: overhead <= 10% of LLM time).

Baseline, measured in the same run on the same files: a plain `Quire.ingest` of the folder (no
journal, no staged outputs, no report). The batch's cost over it is its own machinery.

With `--ingest-only` the batch runs its ingest step alone (minutes instead of hours with the
demo model): the ratio to plain ingest then isolates the batch's own machinery, and the LLM share
is not measured (`llm_steps: []`, `llm_seconds: 0`).

Usage: python bench/batch.py [--folder DIR] [--limit N] [--workers N] [--ingest-only]
Writes bench/results/batch.json and the `## Batch` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.discover import iter_files  # noqa: E402
from rag.batch.journal import Journal  # noqa: E402
from rag.batch.plan import BatchPlan  # noqa: E402
from rag.batch.run import run_batch  # noqa: E402
from rag.batch.steps import plan_steps  # noqa: E402
from rag.llm.base import ChatStream, LLMBackend  # noqa: E402
from rag.service import Quire  # noqa: E402
from rag.settings import Settings  # noqa: E402

DEFAULT_FOLDER = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "contracts"
SECTION = "## Batch"
BEGIN = "<!-- table written by bench/batch.py -->"
END = "<!-- end of the table written by bench/batch.py -->"


class LLMClock:
    """Seconds spent inside the LLM backend, summed over threads."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds

    def instrument(self, backend: LLMBackend) -> None:
        """Time every call and every streamed piece (generation happens while the stream is read)."""
        stream_chat, structured = backend.stream_chat, backend.structured

        def timed_stream(messages: Any, *, max_tokens: int) -> ChatStream:
            began = time.perf_counter()
            inner = stream_chat(messages, max_tokens=max_tokens)
            self.add(time.perf_counter() - began)

            def pieces():
                iterator = iter(inner)
                while True:
                    began = time.perf_counter()
                    piece = next(iterator, None)
                    self.add(time.perf_counter() - began)
                    if piece is None:
                        return
                    yield piece

            return ChatStream(pieces(), lambda: inner.usage)

        def timed_structured(messages: Any, schema: Any, *, max_tokens: int) -> Any:
            began = time.perf_counter()
            try:
                return structured(messages, schema, max_tokens=max_tokens)
            finally:
                self.add(time.perf_counter() - began)

        backend.stream_chat = timed_stream  # type: ignore[method-assign]
        backend.structured = timed_structured  # type: ignore[method-assign]


def sample_folder(folder: Path, limit: int, into: Path) -> list[Path]:
    """The first `limit` supported files, linked (not copied) into a scratch folder."""
    into.mkdir(parents=True)
    chosen = list(iter_files([folder]))[:limit]
    for path in chosen:
        (into / path.name).symlink_to(path.resolve())
    return chosen


def service_for(data_dir: Path, shared: Quire | None = None) -> Quire:
    settings = Settings(data_dir=data_dir, llm={"backend": "llamacpp"})
    service = Quire(settings)
    if shared is not None:  # one loaded embedding model for both runs: load time is not batch overhead
        service.__dict__["embedder"] = shared.embedder
    return service


def run(folder: Path, limit: int, workers: int, ingest_only: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="quire-bench-batch-") as scratch:
        tmp = Path(scratch)
        files = sample_folder(folder, limit, tmp / "in")
        baseline_service = service_for(tmp / "baseline")
        baseline_service.embedder.embed(["warm up"])
        baseline_service.store  # noqa: B018 - open Chroma before the clock starts, as the batch's warm-up does
        began = time.perf_counter()
        baseline = baseline_service.ingest([tmp / "in"])
        baseline_s = time.perf_counter() - began

        service = service_for(tmp / "batch", shared=baseline_service)
        llm_steps = [] if ingest_only else ["summarize", "review"]
        service.store  # noqa: B018
        clock = LLMClock()
        if llm_steps:
            clock.instrument(service.backend_choice().backend)
        plan = BatchPlan(tmp / "in", tmp / "out", plan_steps("summarize" in llm_steps, "review" in llm_steps),
                         workers=workers)  # fmt: skip
        outcome = run_batch(service, plan, threading.Event())
        journal = Journal(tmp / "out", readonly=True)
        step_s = {name: sum(r.seconds or 0 for r in journal.steps() if r.step == name) for name in plan.step_names}
        journal.close()
    ingested = sum(1 for d in baseline.documents if d.status != "failed")
    result = {
        "folder": folder.name,
        "files": len(files),
        "ingested": ingested,
        "workers": workers,
        "llm_steps": llm_steps,
        "baseline_ingest_s": round(baseline_s, 2),
        "batch_s": round(outcome.seconds, 2),
        "batch_vs_plain_ingest": round(outcome.seconds / baseline_s, 3),
        "step_s": {k: round(v, 2) for k, v in step_s.items()},
        "outside_steps_share": round((outcome.seconds - sum(step_s.values())) / max(sum(step_s.values()), 1e-9), 4),
        "llm_s": round(clock.seconds, 2),
        "overhead_vs_llm": round((outcome.seconds - clock.seconds) / clock.seconds, 3) if clock.seconds else None,
        "documents_per_hour": round(outcome.processed / outcome.seconds * 3600, 1),
        "failed": outcome.failed,
    }
    return result


def write_results(result: dict[str, Any]) -> None:
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "batch.json").write_text(json.dumps(result, indent=2) + "\n")
    steps = "ingest" + "".join(f" + {s}" for s in result["llm_steps"])
    overhead = (
        f"{result['overhead_vs_llm']:.1%} of LLM time"
        if result["overhead_vs_llm"] is not None
        else "no step called a language model (ingest only, or the clause locator and key-term sheets decided)"
    )
    table = "\n".join([
        BEGIN,
        f"`python bench/batch.py --limit {result['files']} --workers {result['workers']}"
        f"{'' if result['llm_steps'] else ' --ingest-only'}` on the first "
        f"{result['files']} dev contracts, embedded models, steps {steps}. Noisy shared 2-core machine: "
        "read the ratios, not the absolute times.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| documents/hour (batch) | {result['documents_per_hour']} |",
        f"| plain `Quire.ingest` of the same files (baseline) | {result['baseline_ingest_s']} s |",
        f"| batch | {result['batch_s']} s |",
        f"| batch / plain ingest of the same files (target <= 3x with summaries and clauses) | "
        f"{result['batch_vs_plain_ingest']}x |",
        f"| time outside any step / time in steps | {result['outside_steps_share']:.1%} |",
        f"| LLM time | {result['llm_s']} s |",
        f"| overhead (time not in the LLM) / LLM time, target <= 10% | {overhead} |",
        END,
    ])  # fmt: skip
    bench_md = ROOT / "BENCHMARKS.md"
    bench_md.write_text(with_table(bench_md.read_text() if bench_md.exists() else "# Benchmarks\n", table))


def with_table(text: str, table: str) -> str:
    """BENCHMARKS.md with this script's table replaced (between its markers), or placed under the section
    heading: the notes written by hand around it stay."""
    if BEGIN in text and END in text:
        return text[: text.index(BEGIN)] + table + text[text.index(END) + len(END) :]
    if SECTION in text:
        at = text.index(SECTION) + len(SECTION)
        return text[:at] + "\n\n" + table + text[at:]
    return text.rstrip("\n") + f"\n\n{SECTION}\n\n{table}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--limit", type=int, default=6, help="how many files of the folder (sorted) to process")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--ingest-only", action="store_true", help="run the ingest step alone (no LLM)")
    args = parser.parse_args()
    if not args.folder.is_dir():
        print(f"no contracts at {args.folder}: set QUIRE_SHARED_DATA or pass --folder", file=sys.stderr)
        raise SystemExit(1)
    result = run(args.folder, args.limit, args.workers, args.ingest_only)
    print(json.dumps(result, indent=2))
    write_results(result)


if __name__ == "__main__":
    main()
