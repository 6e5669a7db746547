"""Tune rag/retrieval/evidence.py on the CUAD-train tuning fold (bench/evidence_tuneset.py), never on dev.

Indexes OUT/contracts into a reusable data dir, retrieves the large-budget passage pool once per
question, computes the sentence features once, then searches the feature weights (coordinate
ascent over a small grid) for the best mean recall at 1,000 and 2,000 characters. Prints the
baseline (whole chunks in rank order) beside the evidence cut for the same questions.

    python bench/evidence_tune.py --tune /tmp/evidence-tune --data-dir /tmp/evidence-tune/store
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from rag.eval.corpus import indexed_corpus
from rag.eval.retrieval import load_queries, score
from rag.retrieval.evidence import CueModel, Scorer, Weights, passage_units, standardise, to_evidence
from rag.settings import Settings

POOL = 16_000
BUDGETS = (1000, 2000)
GRID = {
    "cue": [0.0, 0.5, 1.0, 2.0],
    "rank": [0.25, 0.5, 1.0, 2.0],
    "bm25": [0.0, 0.5, 1.0, 2.0],
    "context_chars": [0, 40, 120],
    "candidate_passages": [8, 16, 24],
}


def prepare(service, queries, cues: CueModel, temperature: float):
    retriever = service.retriever
    retriever.settings = retriever.settings.model_copy(update={"evidence_max_chars": 0})
    scorer = Scorer(service.embedder, cues, Weights(category_temperature=temperature))
    cases = []
    feature_seconds: list[float] = []
    began = time.perf_counter()
    for q in queries:
        pool = retriever.retrieve(q.query, POOL)
        t0 = time.perf_counter()
        units = passage_units(pool)
        raw = scorer.raw_features(q.query, units) if units else {}
        feature_seconds.append(time.perf_counter() - t0)
        base = {b: score(retriever.retrieve(q.query, b), q.gold, b) for b in BUDGETS}
        base[POOL] = score(pool, q.gold, POOL)
        cases.append((q, pool, units, raw, base))
    print(
        f"prepared {len(cases)} questions in {time.perf_counter() - began:.0f} s; sentence features "
        f"median {1000 * statistics.median(feature_seconds):.0f} ms, p90 "
        f"{1000 * sorted(feature_seconds)[int(0.9 * len(feature_seconds))]:.0f} ms per question",
        flush=True,
    )
    return cases


def evaluate(cases, w: Weights, budgets=BUDGETS) -> dict[int, tuple[float, float]]:
    recalls = {b: [] for b in budgets}
    precisions = {b: [] for b in budgets}
    for q, pool, units, raw, _ in cases:
        keep = [i for i, u in enumerate(units) if u.passage < w.candidate_passages]
        for b in budgets:
            if not keep:
                s = score([], q.gold, b)
            else:
                sub_units = [units[i] for i in keep]
                total = np.zeros(len(keep), dtype=np.float32)
                for name in ("rank", "bm25", "dense", "cue"):
                    if name in raw:
                        total += getattr(w, name) * standardise(raw[name][keep])
                ev = to_evidence(sub_units, total, pool, b, w.context_chars)
                s = score([e.to_passage() for e in ev], q.gold, b)
            recalls[b].append(s.recall)
            precisions[b].append(s.precision)
    return {b: (statistics.fmean(recalls[b]), statistics.fmean(precisions[b])) for b in budgets}


def objective(result) -> float:
    return statistics.fmean(r for r, _ in result.values())


def search(cases, start: Weights, rounds: int = 1) -> Weights:
    best, best_value = start, objective(evaluate(cases, start))
    for _ in range(rounds):
        moved = False
        for name, values in GRID.items():
            for value in values:
                trial = replace(best, **{name: value})
                if trial == best:
                    continue
                v = objective(evaluate(cases, trial))
                if v > best_value + 1e-4:
                    best, best_value, moved = trial, v, True
            print(f"  {name:20s} -> {getattr(best, name)}  objective {best_value:.4f}", flush=True)
        if not moved:
            break
    return best


def baseline(cases) -> dict[int, tuple[float, float]]:
    out = {}
    for b in (*BUDGETS, POOL):
        out[b] = (
            statistics.fmean(c[4][b].recall for c in cases),
            statistics.fmean(c[4][b].precision for c in cases),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", type=Path, default=Path("/tmp/evidence-tune"))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/evidence-tune/store"))
    parser.add_argument("--temperature", type=float, default=0.05)
    parser.add_argument("--no-search", action="store_true")
    parser.add_argument("--save", type=Path, help="Write the best weights here (JSON).")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    queries, folders = load_queries(args.tune / "queries.json")
    queries = queries[: args.limit] if args.limit else queries
    cues = CueModel.load()
    files = sorted(f for folder in folders for f in folder.glob("*.txt"))
    with indexed_corpus(files, Settings(), args.data_dir) as corpus:
        service = corpus.service
        cases = prepare(service, queries, cues, args.temperature)
    print("baseline", {b: f"R {r:.1%} P {p:.1%}" for b, (r, p) in baseline(cases).items()})
    start = replace(cues.weights_default, category_temperature=args.temperature)
    print("start   ", asdict(start), {b: f"R {r:.1%} P {p:.1%}" for b, (r, p) in evaluate(cases, start).items()})
    if args.no_search:
        return
    best = search(cases, start)
    print("best    ", asdict(best), {b: f"R {r:.1%} P {p:.1%}" for b, (r, p) in evaluate(cases, best).items()})
    if args.save:
        args.save.write_text(json.dumps(asdict(best), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
