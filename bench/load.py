"""Load: 20 concurrent users asking questions against the dev contracts through the service layer.

Each user is a thread with its own questions; all share one `Quire` (as the web app's users
share one server process). Reports p50/p95 latency of retrieval-only requests and of full
answers, the error count, and throughput; writes bench/results/load.json.

    QUIRE_SHARED_DATA=../shared/data python bench/load.py [--users 20] [--asks-per-user 1] [--contracts N]

The machine's load average before and after the timed part is recorded too: on a shared
machine the latencies say as much about the neighbours as about Quire.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401
from rag.service import Quire  # noqa: E402
from rag.settings import Settings  # noqa: E402

CONTRACTS = Path(os.environ.get("QUIRE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "contracts"
QUESTIONS = [
    "Which law governs this agreement?",
    "How can this agreement be terminated?",
    "Is there a cap on liability?",
    "What is the term of the agreement and does it renew?",
    "Who are the parties to this agreement?",
    "Can a party assign this agreement?",
    "Is there a non-compete clause?",
    "What notice period applies?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {"n": 0}
    return {
        "n": len(latencies),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


def run(users: int, asks_per_user: int, contracts: int) -> dict:
    files = sorted(CONTRACTS.glob("*.pdf"))[:contracts]
    if not files:
        raise SystemExit(f"no contracts under {CONTRACTS}")
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), llm={"backend": "llamacpp", "max_answer_tokens": 64})
        quire = Quire(settings)
        report = quire.ingest(files)
        assert not report.failed, report.failed
        quire.backend_choice()
        lock = threading.Lock()
        retrieve_times: list[float] = []
        ask_times: list[float] = []
        errors: list[str] = []

        def user(number: int) -> None:
            for turn in range(asks_per_user):
                question = QUESTIONS[(number + turn) % len(QUESTIONS)]
                try:
                    began = time.perf_counter()
                    quire.retrieve(question)
                    middle = time.perf_counter()
                    answer = quire.ask(question)
                    ended = time.perf_counter()
                    assert any(c.verified for c in answer.citations), "no verified citation"
                    with lock:
                        retrieve_times.append(middle - began)
                        ask_times.append(ended - middle)
                except Exception as error:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(f"user {number}: {type(error).__name__}: {error}")

        load_before = os.getloadavg()
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=users) as pool:
            list(pool.map(user, range(users)))
        wall = time.perf_counter() - began
        load_after = os.getloadavg()
    return {
        "users": users,
        "asks_per_user": asks_per_user,
        "contracts": len(files),
        "errors": errors,
        "retrieve": summary(retrieve_times),
        "ask": summary(ask_times),
        "wall_s": round(wall, 1),
        "answers_per_minute": round(60 * len(ask_times) / wall, 1),
        "model": "SmolLM2-135M (embedded, one llama.cpp context shared by all users)",
        "cpus": os.cpu_count(),
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in load_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--asks-per-user", type=int, default=1)
    parser.add_argument("--contracts", type=int, default=30)
    args = parser.parse_args()
    result = run(args.users, args.asks_per_user, args.contracts)
    out = Path(__file__).resolve().parent / "results" / "load.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if result["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
