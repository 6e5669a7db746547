"""Learn the category cue models of rag/retrieval/evidence.py from the CUAD training split (deterministic).

Why learned and not hand-picked: hand-written cue words end up fitted to whatever questions their
author looked at; lawyer labels of 340 contracts say which words mark each kind of clause. For
every CUAD category, each sentence of each training contract is labelled "inside a labelled span
of that category" or not; word stems and stem pairs are the features; candidates are the words
with the highest smoothed log-odds inside vs outside the spans, and an L2 logistic regression over
them gives the weights. The contracts of the tuning fold (bench/evidence_tuneset.py: the first
TUNING_FOLD in sha1 order) are left out, so that tuning measures cues that never saw them.

    python -m rag.retrieval.evidence_train --train ../shared/data/cuad_train --out rag/data/evidence_cues.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np

from rag.retrieval.evidence import CUES_FILE, features
from rag.retrieval.sentences import split_sentences

TUNING_FOLD = 70  # contracts held out of cue learning for tuning (bench/evidence_tuneset.py)
CANDIDATES = 250  # candidate features per category, by log-odds
KEPT = 200  # features kept per category in the shipped file
NEGATIVES = 40_000  # negative sentences per category fit (all positives are used)
MIN_SUPPORT = 3  # a cue must occur in positive sentences of at least this many contracts
SKIPPED = ("Document Name", "Parties", "Agreement Date", "Effective Date")  # answered from the opening
CATEGORIES_TOML = Path(__file__).parent / "data" / "cuad_categories.toml"

# One question per category, in the LegalBench-RAG style ("Consider the <title> between <A> and
# <B>; <question>"): used for the category prototypes here and for the tuning set's questions.
QUESTIONS: dict[str, str] = {
    "Expiration Date": "What is the expiration date of this contract?",
    "Renewal Term": "What is the renewal term for this contract?",
    "Notice Period to Terminate Renewal": "What is the notice period required to terminate the renewal?",
    "Governing Law": "What is the governing law for this contract?",
    "Most Favored Nation": "Is there a most favored nation clause in this contract?",
    "Non-Compete": "Is there a non-compete clause in this contract?",
    "Exclusivity": "Does this contract include an exclusivity agreement?",
    "No-Solicit of Customers": "Is there a clause preventing the solicitation of customers in this contract?",
    "Competitive Restriction Exception": "Are there any exceptions to competitive restrictions in this contract?",
    "No-Solicit of Employees": "Is there a clause preventing the solicitation of employees in this contract?",
    "Non-Disparagement": "Is there a non-disparagement clause in this contract?",
    "Termination for Convenience": "Can this contract be terminated for convenience, and under what conditions?",
    "Rofr/Rofo/Rofn": "Does this contract include any right of first refusal, right of first offer, or right of "
    "first negotiation?",
    "Change of Control": "Does a change of control of a party affect this contract?",
    "Anti-Assignment": "Is there an anti-assignment clause in this contract?",
    "Revenue/Profit Sharing": "Does this contract include any revenue or profit-sharing arrangements?",
    "Price Restrictions": "Are there any restrictions on raising or reducing prices in this contract?",
    "Minimum Commitment": "Is there a minimum commitment required under this contract?",
    "Volume Restriction": "Does this contract include any volume restrictions?",
    "IP Ownership Assignment": "How is intellectual property ownership assigned in this contract?",
    "Joint IP Ownership": "Does this contract provide for joint intellectual property ownership?",
    "License Grant": "What licenses are granted under this contract?",
    "Non-Transferable License": "Are the licenses granted under this contract non-transferable?",
    "Affiliate License-Licensor": "Do the licensor's affiliates grant any licenses under this contract?",
    "Affiliate License-Licensee": "Does the licensee's affiliates have any licensing rights under this contract?",
    "Unlimited/All-You-Can-Eat-License": "Is there an unlimited or all-you-can-eat license under this contract?",
    "Irrevocable or Perpetual License": "Are any of the licenses granted under this contract irrevocable or perpetual?",
    "Source Code Escrow": "Is there a source code escrow arrangement in this contract?",
    "Post-Termination Services": "Are there any services to be provided after the termination of this contract?",
    "Audit Rights": "What are the audit rights under this contract?",
    "Uncapped Liability": "Is there uncapped liability under this contract?",
    "Cap on Liability": "Is there a cap on liability under this contract?",
    "Liquidated Damages": "Does this contract provide for liquidated damages or a termination fee?",
    "Warranty Duration": "What is the duration of the warranty under this contract?",
    "Insurance": "What are the insurance requirements under this contract?",
    "Covenant Not to Sue": "Is there a covenant not to sue included in this contract?",
    "Third Party Beneficiary": "Are there any third-party beneficiaries designated in this contract?",
}


def fold_order(rows: list[dict]) -> list[dict]:
    """Contracts in a fixed pseudo-random order (sha1 of the name), independent of file order."""
    return sorted(rows, key=lambda r: hashlib.sha1(r["contract"].encode()).hexdigest())


def load_rows(train: Path) -> list[dict]:
    with (train / "cuad_labels.jsonl").open(encoding="utf-8") as lines:
        return fold_order([json.loads(line) for line in lines])


def labelled_sentences(train: Path, rows: list[dict], categories: list[str]):
    """(features, labels, contract index) per sentence of each contract: a sentence is a positive
    of a category when half of it, or half of a labelled span, lies inside that span."""
    feats: list[set[str]] = []
    labels: list[set[int]] = []
    owner: list[int] = []
    for n, row in enumerate(rows):
        text = (train / row["txt"]).read_text(encoding="utf-8")
        spans = {
            j: [(s["start"], s["end"]) for s in row["clauses"].get(c, {}).get("spans", [])]
            for j, c in enumerate(categories)
        }
        for start, end in split_sentences(text):
            inside = set()
            for j, ranges in spans.items():
                for a, b in ranges:
                    overlap = min(end, b) - max(start, a)
                    if overlap > 0 and (overlap >= 0.5 * (end - start) or overlap >= 0.5 * (b - a)):
                        inside.add(j)
                        break
            feats.append(features(text[start:end]))
            labels.append(inside)
            owner.append(n)
    return feats, labels, owner


def candidates(feats, labels, owner, j: int) -> list[str]:
    """Features most over-represented in the category's sentences (smoothed log-odds), seen in
    positives of at least MIN_SUPPORT contracts."""
    pos, neg, support = Counter(), Counter(), {}
    n_pos = n_neg = 0
    for f, lab, o in zip(feats, labels, owner, strict=True):
        if j in lab:
            n_pos += 1
            pos.update(f)
            for w in f:
                support.setdefault(w, set()).add(o)
        else:
            n_neg += 1
            neg.update(f)
    scored = []
    for w, c in pos.items():
        if len(support[w]) < MIN_SUPPORT:
            continue
        odds = math.log((c + 0.5) / (n_pos + 1)) - math.log((neg[w] + 0.5) / (n_neg + 1))
        scored.append((odds * math.log1p(c), w))
    return [w for _, w in sorted(scored, reverse=True)[:CANDIDATES]]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 25) -> tuple[np.ndarray, float]:
    """L2 logistic regression by Newton's method, positives weighted up to half the mass (they
    are rare); deterministic, numpy only."""
    n, d = x.shape
    pos = y.sum()
    weight = np.where(y > 0, 0.5 * n / max(pos, 1), 0.5 * n / max(n - pos, 1))
    a = np.hstack([x, np.ones((n, 1), dtype=np.float64)])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a @ theta)))
        grad = a.T @ (weight * (p - y)) + reg * theta
        hess = (a * (weight * p * (1 - p))[:, None]).T @ a + np.diag(reg + 1e-6)
        delta = np.linalg.solve(hess, grad)
        theta -= delta
        if np.abs(delta).max() < 1e-4:
            break
    return theta[:-1], float(theta[-1])


def sample_rows(y: np.ndarray, negatives: int = NEGATIVES) -> np.ndarray:
    """Every positive and a fixed random sample of the negatives (the fit weights both classes
    to half the mass anyway); seeded, so the file rebuilds identically."""
    pos = np.flatnonzero(y > 0)
    neg = np.flatnonzero(y <= 0)
    if len(neg) > negatives:
        neg = np.sort(np.random.default_rng(0).choice(neg, negatives, replace=False))
    return np.sort(np.concatenate([pos, neg]))


def prototypes(categories: list[str]) -> dict[str, str]:
    """What a question about each category reads like: its name, CUAD description and question."""
    raw = tomllib.loads(CATEGORIES_TOML.read_text(encoding="utf-8"))
    described = {c["name"]: c.get("description", "") for c in raw["category"]}
    return {c: f"{c}. {described.get(c, '')} {QUESTIONS.get(c, '')}".strip() for c in categories}


def train(train_dir: Path, tuning_fold: int = TUNING_FOLD) -> dict:
    rows = load_rows(train_dir)[tuning_fold:]
    categories = [c for c in QUESTIONS if c not in SKIPPED]
    feats, labels, owner = labelled_sentences(train_dir, rows, categories)
    protos = prototypes(categories)
    out = []
    for j, category in enumerate(categories):
        vocab = candidates(feats, labels, owner, j)
        index = {w: i for i, w in enumerate(vocab)}
        y_all = np.asarray([1.0 if j in lab else 0.0 for lab in labels])
        rows_used = sample_rows(y_all)
        x = np.zeros((len(rows_used), len(vocab)), dtype=np.float64)
        for r, i in enumerate(rows_used):
            for w in feats[i]:
                if w in index:
                    x[r, index[w]] = 1.0
        y = y_all[rows_used]
        coef, bias = fit_logistic(x, y)
        kept = sorted(range(len(vocab)), key=lambda i: -abs(coef[i]))[:KEPT]
        weights = {vocab[i]: round(float(coef[i]), 4) for i in sorted(kept, key=lambda i: -coef[i])}
        out.append({"name": category, "prototype": protos[category], "bias": round(bias, 4), "weights": weights})
        print(f"{category:36s} positives {int(y.sum()):5d}  top: {', '.join(list(weights)[:8])}")
    return {
        "about": "Cue models of rag/retrieval/evidence.py, built by `python -m rag.retrieval.evidence_train` from the CUAD training "
        f"split minus its first {tuning_fold} contracts in sha1 order (the tuning fold); CUAD v1, CC BY 4.0.",
        "contracts": len(rows),
        "sentences": len(feats),
        "categories": out,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=Path("/work/shared/data/cuad_train"))
    parser.add_argument("--out", type=Path, default=CUES_FILE)
    parser.add_argument(
        "--weights", type=Path, help="JSON of tuned rag.retrieval.evidence.Weights to ship with the cues."
    )
    args = parser.parse_args()
    model = train(args.train)
    if args.weights:
        model["weights"] = json.loads(args.weights.read_text(encoding="utf-8"))
    elif args.out.is_file():  # keep the tuned weights of the file being rebuilt
        model["weights"] = json.loads(args.out.read_text(encoding="utf-8")).get("weights", {})
    args.out.write_text(json.dumps(model, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(model['categories'])} categories, {model['sentences']} sentences -> {args.out}")


if __name__ == "__main__":
    main()
