"""Summarise every contract of the shared evaluation set with the embedded model and check that
each summary covers every page with text, at the default window and at a small forced one
(which must switch to map-reduce). Writes bench/results/summaries.json.

    python bench/summaries.py [--num-ctx 8192 2048] [--limit 3] [--max-bytes 200000] [--out FILE]
                              [--resume]

Shortest contracts first; `make bench` runs the first 3; `--limit 0` runs all of them
(hours with the demo model); `--resume` keeps the rows already in `--out` that passed and runs
only the rest, so a run cut short (a session's end, a reboot) goes on where it stopped.

`--max-bytes` skips the very long contracts (one runs to 1.3 MB of text: about 45 minutes of
map calls for the 135M demo model on 2 cores); they are listed as skipped, never as passed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401  (offline switches first)
from rag.service import Quire  # noqa: E402
from rag.settings import Settings  # noqa: E402

CONTRACTS = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "contracts"


def save(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def passed_rows(out: Path) -> list[dict]:
    """The rows of an earlier run that passed: a resumed run keeps them and does not redo them."""
    if not out.exists():
        return []
    return [row for row in json.loads(out.read_text(encoding="utf-8")) if row["status"] == "ok"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=Path, default=CONTRACTS)
    parser.add_argument("--num-ctx", type=int, nargs="+", default=[8192, 2048])
    parser.add_argument("--limit", type=int, default=3, help="only the first N contracts (0: all)")
    parser.add_argument("--max-bytes", type=int, default=200_000, help="skip longer texts (0: none)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "summaries.json")
    parser.add_argument("--resume", action="store_true", help="keep the passed rows already in --out")
    args = parser.parse_args()
    files = sorted(args.contracts.glob("*.txt"), key=lambda f: f.stat().st_size)[: args.limit or None]
    if not files:
        print(f"skipped: no contracts under {args.contracts} (the shared evaluation data is not here)")
        return 0
    rows = passed_rows(args.out) if args.resume else []
    done = {(row["contract"], row["num_ctx"]) for row in rows}
    todo = [f for f in files if any((f.name, n) not in done for n in args.num_ctx)]
    with tempfile.TemporaryDirectory() as data_dir:
        base = Settings(data_dir=Path(data_dir), llm={"backend": "llamacpp"}, summarize={"engine": "model"})
        Quire(base).ingest([f for f in todo if not args.max_bytes or f.stat().st_size <= args.max_bytes])
        for num_ctx in args.num_ctx:
            quire = Quire(base.model_copy(update={"llm": base.llm.model_copy(update={"num_ctx": num_ctx})}))
            for path in todo:
                if (path.name, num_ctx) in done:
                    continue
                row = {"contract": path.name, "num_ctx": num_ctx}
                if args.max_bytes and path.stat().st_size > args.max_bytes:
                    rows.append({**row, "status": "skipped (too long for this run)"})
                    continue
                started = time.perf_counter()
                try:
                    summary = quire.summarize(path.name)
                except Exception as error:  # noqa: BLE001 - a benchmark records every failure
                    rows.append({**row, "status": f"failed: {error}"})
                    continue
                rows.append(
                    {
                        **row,
                        "status": "ok" if summary.coverage.complete else "incomplete coverage",
                        "mode": summary.mode,
                        "calls": summary.calls,
                        "pages": summary.coverage.total_pages,
                        "verified_quotes": len(summary.quotes),
                        "seconds": round(time.perf_counter() - started, 1),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
                save(rows, args.out)  # after every contract: a long run stopped early keeps what it measured
    save(rows, args.out)
    failed = [r for r in rows if r["status"] not in ("ok",) and not r["status"].startswith("skipped")]
    print(f"{len(rows) - len(failed)} of {len(rows)} runs ok or skipped; {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
