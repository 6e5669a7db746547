"""Training the clause locator on CUAD-style labels (scikit-learn here only; inference never needs it).

`quire train clauses DIR` runs `train`: units per contract, sparse features, one linear model per
category, then Platt calibration, span caps and thresholds chosen on a validation fold. Inputs are
read in sorted order and every random draw is seeded, so training twice writes identical files.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rag.clauses.locator.corpus import Document, is_validation, load_categories, load_documents
from rag.clauses.locator.features import Featurizer, build_vocabulary
from rag.clauses.locator.metrics import PR, Scored, build_curve, match_flags
from rag.clauses.locator.model import (
    CANDIDATE_CAP,
    K_GRID,
    MAX_CONTEXT,
    MAX_TERMS,
    MIN_KIND_SHARE,
    NEG_RATE,
    REVIEW_FACTOR,
    SEED,
    CategoryParams,
    Locator,
    _sigmoid,
)
from rag.clauses.locator.units import KINDS, Unit, generate_units


def _labels(units: list[Unit], doc: Document, categories: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n_units, n_categories) bool: unit has Jaccard >= 0.5 with some gold span; plus a
    per-unit flag 'overlaps some gold span' used to keep boundary-teaching hard negatives."""
    st = np.array([u.start for u in units], dtype=np.int64)
    en = np.array([u.end for u in units], dtype=np.int64)
    Y = np.zeros((len(units), len(categories)), dtype=bool)
    near = np.zeros(len(units), dtype=bool)
    for ci, c in enumerate(categories):
        for s, e in doc.gold.get(c, ()):
            inter = np.minimum(en, e) - np.maximum(st, s)
            near |= inter > 0
            j = np.where(inter > 0, inter / np.maximum((en - st) + (e - s) - inter, 1), 0.0)
            Y[:, ci] |= j >= 0.5
    return Y, near


def _allowed_kinds(docs: list[Document], units: list[list[Unit]], categories: list[str]) -> dict[str, tuple[str, ...]]:
    """Kinds that provide the best-matching unit for >= MIN_KIND_SHARE of a category's gold spans."""
    counts = {c: {k: 0 for k in KINDS} for c in categories}
    for d, us in zip(docs, units, strict=False):
        st = np.array([u.start for u in us])
        en = np.array([u.end for u in us])
        for c in categories:
            for s, e in d.gold.get(c, ()):
                inter = np.minimum(en, e) - np.maximum(st, s)
                j = np.where(inter > 0, inter / ((en - st) + (e - s) - inter), 0.0)
                if len(j) and j.max() >= 0.5:
                    counts[c][us[int(j.argmax())].kind] += 1
    out = {}
    for c in categories:
        tot = sum(counts[c].values()) or 1
        ks = tuple(k for k in KINDS if counts[c][k] / tot >= MIN_KIND_SHARE and counts[c][k] >= 2)
        out[c] = ks or ("sentence",)
    return out


def _fit_linear(X, y: np.ndarray, method: str, C: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if y.sum() == 0:
        return np.zeros(X.shape[1], np.float32), -10.0
    if method == "lr":
        clf = LogisticRegression(C=C, solver="liblinear", max_iter=200, random_state=SEED)
    else:
        clf = LinearSVC(C=C, loss="squared_hinge", dual=True, max_iter=2000, random_state=SEED)
    clf.fit(X, y)
    return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0])


def _fit_platt(margins: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """1-D logistic fit of matched-ness on margin (Newton steps, light L2 for stability)."""
    if len(y) == 0 or y.sum() == 0:
        return 1.0, -8.0
    a, b = 1.0, 0.0
    for _ in range(100):
        p = _sigmoid(a * margins + b)
        g = np.array([np.sum((p - y) * margins) + 1e-2 * a, np.sum(p - y)])
        w = p * (1 - p) + 1e-9
        H = np.array(
            [[np.sum(w * margins * margins) + 1e-2, np.sum(w * margins)], [np.sum(w * margins), np.sum(w) + 1e-6]]
        )
        step = np.linalg.solve(H, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def _choose_threshold(cands: list[list[Scored]], golds: list[tuple], beta: float = 1.0) -> tuple[int, float, PR]:
    """Per-category (max_spans, threshold) maximising F_beta on validation candidate lists."""
    best = (1, 1.01, PR(0, 0, sum(len(g) for g in golds), 0))
    best_f = -1.0
    for k in K_GRID:
        curve = build_curve([c[:k] for c in cands], golds)
        prec, rec, thr = curve.sweep()
        if len(thr) == 0:
            continue
        b2 = beta * beta
        f = np.where(prec + rec > 0, (1 + b2) * prec * rec / np.maximum(b2 * prec + rec, 1e-12), 0)
        i = int(np.argmax(f))
        if f[i] > best_f + 1e-9:
            best_f = float(f[i])
            best = (k, float(thr[i]), curve.at(float(thr[i])))
    return best


def calibrate_and_tune(
    loc: Locator, va: list[Document], beta: float = 1.0
) -> tuple[dict[str, CategoryParams], dict[str, dict]]:
    """Platt-calibrate each category's NMS survivors on the validation fold, then pick
    (max_spans, threshold) maximising F_beta per category. Platt parameters in `loc`
    are replaced (the raw margin is recovered from the current calibration)."""
    raw = [loc.candidates(d.text) for d in va]
    params: dict[str, CategoryParams] = {}
    per_cat: dict[str, dict] = {}
    for c in loc.categories:
        old = loc.params[c]
        lists = [
            [(s, e, (np.log(max(x, 1e-300) / max(1 - x, 1e-300)) - old.platt_b) / old.platt_a) for s, e, x in rc[c]]
            for rc in raw
        ]
        golds = [d.gold.get(c, ()) for d in va]
        ms, ys = [], []
        for lst, g in zip(lists, golds, strict=False):
            f, _ = match_flags(lst, g)
            ms += [m for _, _, m in lst]
            ys += f
        a, bb = _fit_platt(np.array(ms), np.array(ys, dtype=float))
        cal = [[(s, e, float(_sigmoid(a * m + bb))) for s, e, m in lst] for lst in lists]
        k, thr, pr = _choose_threshold(cal, golds, beta)
        params[c] = CategoryParams(old.kinds, a, bb, thr, REVIEW_FACTOR * thr, k)
        per_cat[c] = {"k": k, "threshold": thr, "P": pr.precision, "R": pr.recall, "n_gold": pr.n_gold}
    return params, per_cat


def _training_matrix(tr, tr_units, feat, categories):
    """Sparse rows of every positive, boundary-teaching and sampled negative unit, their labels and kinds."""
    rng = np.random.RandomState(SEED)
    Xs, Ys, Ks = [], [], []
    for d, us in zip(tr, tr_units, strict=False):
        Y, near = _labels(us, d, categories)
        keep = Y.any(axis=1) | near | (rng.random_sample(len(us)) < NEG_RATE)
        idx = np.flatnonzero(keep)
        sel = [us[i] for i in idx]
        Xs.append(feat.transform(d.text, sel))
        Ys.append(Y[idx])
        Ks += [u.kind for u in sel]
    import scipy.sparse as sp

    X = sp.vstack(Xs).tocsr()
    Y = np.vstack(Ys)
    Karr = np.array(Ks)
    return X, Y, Karr


def train(
    train_dir: Path,
    out: Path,
    validation_fraction: float = 0.2,
    method: str = "svm",
    C: float = 0.1,
    beta: float = 1.0,
    log=print,
) -> dict:
    """Train on cuad_train minus a hashed validation fold; calibrate/tune on that fold; save."""
    t0 = time.time()
    train_dir = Path(train_dir)
    cat_file = train_dir / "cuad_categories.csv"
    if not cat_file.exists():
        cat_file = train_dir.parent / "cuad_categories.csv"
    categories = load_categories(cat_file)
    docs = load_documents(train_dir / "cuad_labels.jsonl")
    tr = [d for d in docs if not is_validation(d.name, validation_fraction)]
    va = [d for d in docs if is_validation(d.name, validation_fraction)]
    tr_units = [generate_units(d.text) for d in tr]
    log(f"[train] {len(tr)} train / {len(va)} validation docs; units {time.time() - t0:.0f}s")
    vocab = build_vocabulary([d.text for d in tr], tr_units, MAX_TERMS, MAX_CONTEXT)
    feat = Featurizer(vocab)
    kinds = _allowed_kinds(tr, tr_units, categories)
    X, Y, Karr = _training_matrix(tr, tr_units, feat, categories)
    log(f"[train] X {X.shape} nnz {X.nnz}; features {time.time() - t0:.0f}s")
    W = np.zeros((len(categories), vocab.dim), np.float32)
    b = np.zeros(len(categories), np.float32)
    for ci, c in enumerate(categories):
        rows = np.flatnonzero(np.isin(Karr, kinds[c]))
        W[ci], b[ci] = _fit_linear(X[rows], Y[rows, ci], method, C)
    W = W.astype(np.float16).astype(np.float32)  # score exactly as the shipped float16 artifact
    log(f"[train] fitted {len(categories)} {method} models; {time.time() - t0:.0f}s")
    loc = Locator(
        vocab, W, b, categories, {c: CategoryParams(kinds[c], 1.0, 0.0, 0.5, 0.25, CANDIDATE_CAP) for c in categories}
    )
    params, per_cat = calibrate_and_tune(loc, va, beta)
    final = Locator(vocab, W, b, categories, params)
    final.save(Path(out))
    metrics = {
        "method": method,
        "C": C,
        "beta": beta,
        "n_train_docs": len(tr),
        "n_val_docs": len(va),
        "train_seconds": time.time() - t0,
        "per_category_val": per_cat,
        "X_shape": list(X.shape),
    }
    log(f"[train] done {time.time() - t0:.0f}s")
    return metrics
