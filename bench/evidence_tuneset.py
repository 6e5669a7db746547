"""Build a LegalBench-RAG-style tuning set from the CUAD training split (deterministic).

Why: small-budget evidence selection (rag/retrieval/evidence.py) must be tuned on something other than the
dev queries in ../shared/data/legalbench_rag_queries.json, which stay the held-out test. This
script picks a fixed fold of the 410 cuad_train contracts (ordered by sha1 of their names, first
`--contracts`), copies their texts into OUT/contracts/ (the corpus a `quire eval retrieval` run
indexes, like the 30 dev contracts) and writes OUT/queries.json with one question per labelled
CUAD category: "Consider the <title> between <party A> and <party B>; <category question>"
with gold = that category's labelled spans. The contracts not in the fold are what
rag/retrieval/evidence_train.py learns its cue words from (`--list-rest` prints them).

    python bench/evidence_tuneset.py --out /tmp/evidence-tune
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from rag.retrieval.evidence_train import QUESTIONS, fold_order

DEFAULT_TRAIN = Path("/work/shared/data/cuad_train")

MAX_SPANS = 5  # LegalBench-RAG questions cite a few spans, not a category spread over a whole contract
MAX_GOLD_CHARS = 3000
PARTY_NOISE = re.compile(r"[\"“”]|\b(?:referred|party|parties|herein|each|collectively)\b", re.IGNORECASE)


def title(rows_clauses: dict) -> str:
    spans = rows_clauses.get("Document Name", {}).get("spans", [])
    text = min((s for s in spans), key=lambda s: s["start"])["text"] if spans else "Agreement"
    text = " ".join(text.split()).rstrip(' ("“,.;:')
    if text.isupper():
        text = text.title()
    return text if re.search(r"agreement|contract", text, re.IGNORECASE) else text


def parties(rows_clauses: dict) -> list[str]:
    """The two longest distinct party names (defined short names and "Party" phrases left out)."""
    spans = rows_clauses.get("Parties", {}).get("spans", [])
    names = [(s["start"], " ".join(s["text"].split()).strip(" ,.;")) for s in spans]
    names = [(o, n) for o, n in names if 2 < len(n) <= 90 and not PARTY_NOISE.search(n)]
    chosen: list[tuple[int, str]] = []
    for offset, name in sorted(names, key=lambda x: (-len(x[1]), x[0])):
        low = name.lower()
        if any(low in c.lower() or c.lower() in low for _, c in chosen):
            continue
        chosen.append((offset, name))
        if len(chosen) == 2:
            break
    return [n for _, n in sorted(chosen)]


def question_head(clauses: dict) -> str:
    names = parties(clauses)
    between = f" between {names[0]} and {names[1]}" if len(names) == 2 else (f" of {names[0]}" if names else "")
    name = title(clauses)
    article = "" if name.lower().startswith("the ") else "the "
    return f"Consider {article}{name}{between}"


def build(train: Path, out: Path, contracts: int) -> dict:
    rows = fold_order([json.loads(line) for line in (train / "cuad_labels.jsonl").open(encoding="utf-8")])
    fold = rows[:contracts]
    (out / "contracts").mkdir(parents=True, exist_ok=True)
    tests = []
    for row in fold:
        source = train / row["txt"]
        shutil.copyfile(source, out / "contracts" / source.name)
        head = question_head(row["clauses"])
        for category, question in QUESTIONS.items():
            spans = row["clauses"].get(category, {}).get("spans", [])
            if not spans or len(spans) > MAX_SPANS or sum(s["end"] - s["start"] for s in spans) > MAX_GOLD_CHARS:
                continue
            tests.append(
                {
                    "query_id": f"tune-{len(tests)}",
                    "category": category,
                    "query": f"{head}; {question}",
                    "snippets": [
                        {"contract": row["contract"], "txt": f"contracts/{source.name}", "span": [s["start"], s["end"]]}
                        for s in sorted(spans, key=lambda s: s["start"])
                    ],
                }
            )
    (out / "queries.json").write_text(json.dumps({"tests": tests}, indent=1), encoding="utf-8")
    return {"contracts": len(fold), "queries": len(tests), "rest": [r["contract"] for r in rows[contracts:]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    parser.add_argument("--out", type=Path, default=Path("/tmp/evidence-tune"))
    parser.add_argument("--contracts", type=int, default=70)
    args = parser.parse_args()
    summary = build(args.train, args.out, args.contracts)
    print(f"{summary['contracts']} contracts, {summary['queries']} queries -> {args.out}")


if __name__ == "__main__":
    main()
