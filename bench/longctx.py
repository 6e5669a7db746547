"""Time to first token of a first and a follow-up question over the same ~6K-token document,
with the embedded model (SmolLM2-135M through llama-cpp-python).

Quire's prompts put the document block first, byte-identical from one question to the next,
so the follow-up reuses the KV cache of the long prefix and evaluates only the new question.
The baseline is the first question, measured in the same run on a cold cache; the target is
a follow-up at <= 10% of it. Writes bench/results/longctx.json; exit 1 when the target is missed.

    python bench/longctx.py [--tokens 6000]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rag  # noqa: E402,F401  (offline switches first)
from rag.llm.llamacpp import LlamaCppBackend  # noqa: E402
from rag.prompts import answer_messages  # noqa: E402
from rag.types import Passage  # noqa: E402

TARGET_RATIO = 0.10
CLAUSES = (
    "{n}.1 The Supplier shall deliver the Products listed in Schedule {n} to the Customer's warehouse within "
    "{d} days of each purchase order, packed to protect them in transit.",
    "{n}.2 The Customer shall pay each undisputed invoice within {d} days of receipt by bank transfer to the "
    "account the Supplier names in writing; late amounts bear interest at {r} percent a year.",
    "{n}.3 Either party may terminate this Agreement on {d} days' written notice if the other party commits "
    "a material breach and fails to cure it within that period.",
    "{n}.4 Neither party's aggregate liability under this Agreement shall exceed the fees paid in the {r} "
    "months before the event giving rise to the claim, except for breach of confidentiality.",
)
QUESTIONS = (
    "How many days does the Customer have to pay an invoice?",
    "Who may terminate, and on what notice?",
)


def contract(backend: LlamaCppBackend, target_tokens: int) -> list[Passage]:
    """A generated contract of about `target_tokens`, one passage per page of eight clauses."""
    passages: list[Passage] = []
    article = 0
    while backend.count_messages(answer_messages(QUESTIONS[0], passages)) < target_tokens:
        lines = []
        for _ in range(2):
            article += 1
            lines.append(f"ARTICLE {article}")
            lines += [c.format(n=article, d=10 + article % 50, r=article % 12 + 1) for c in CLAUSES]
        text = "\n".join(lines)
        page = len(passages) + 1
        passages.append(Passage("bench", "supply-agreement.txt", page, page, 0, len(text), text, 1.0))
    return passages


def time_to_first_token(backend: LlamaCppBackend, question: str, passages: list[Passage]) -> float:
    started = time.perf_counter()
    for _ in backend.stream_chat(answer_messages(question, passages), max_tokens=8):
        return time.perf_counter() - started
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=6000, help="document size in prompt tokens")
    args = parser.parse_args()
    backend = LlamaCppBackend(None, num_ctx=8192)
    passages = contract(backend, args.tokens)
    prompt_tokens = [backend.count_messages(answer_messages(q, passages)) for q in QUESTIONS]
    first = time_to_first_token(backend, QUESTIONS[0], passages)
    second = time_to_first_token(backend, QUESTIONS[1], passages)
    ratio = second / first
    result = {
        "model": backend.model,
        "num_ctx": backend.num_ctx,
        "document_pages": len(passages),
        "prompt_tokens": prompt_tokens,
        "first_question_ttft_s": round(first, 3),
        "follow_up_ttft_s": round(second, 3),
        "ratio": round(ratio, 4),
        "target_ratio": TARGET_RATIO,
        "passed": ratio <= TARGET_RATIO,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    out = ROOT / "bench" / "results" / "longctx.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"follow-up / first question time to first token: {ratio:.3f} (target <= {TARGET_RATIO})")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
