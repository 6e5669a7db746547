"""Training the clause locator on CUAD-style labels (scikit-learn here only; inference never needs it).

`quire train clauses DIR` runs `train`: units per contract, sparse features, one linear model per
category, then Platt calibration, span caps and thresholds chosen on a validation fold. Inputs are
read in sorted order and every random draw is seeded, so training twice writes identical files.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.clauses.locator.corpus import Document, is_validation, jaccard, load_categories, load_documents
from rag.clauses.locator.features import Featurizer, build_vocabulary
from rag.clauses.locator.metrics import MATCH_JACCARD, PR, Scored, build_curve, match_flags
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


def _op_points(cands: list[list[Scored]], golds: list[tuple]) -> tuple[list[tuple], int]:
    """All (max_spans, threshold, n_pred, n_pred_matched, n_gold_matched) operating points of
    one category on the validation lists (plus the 'emit nothing' point), and the gold count.
    Lists are best-first, so a gold span's best score in a k-prefix is that of its first match."""
    per = []
    for lst, g in zip(cands, golds, strict=False):
        sc = np.array([x[2] for x in lst], dtype=np.float64)
        fl = np.zeros(len(lst), bool)
        first = np.full(len(g), 10**9)
        for a, (s, e, _) in enumerate(lst):
            for j, gg in enumerate(g):
                if jaccard((s, e), gg) >= MATCH_JACCARD:
                    fl[a] = True
                    first[j] = min(first[j], a)
        per.append((sc, fl, first))
    n_gold = sum(len(g) for g in golds)
    pts = [(1, 1.01, 0, 0, 0)]
    for k in K_GRID:
        sc = np.concatenate([x[0][:k] for x in per] + [np.zeros(0)])
        fl = np.concatenate([x[1][:k] for x in per] + [np.zeros(0, bool)])
        gb = np.concatenate(
            [
                np.where(
                    x[2] < min(k, len(x[0])),
                    x[0][np.minimum(x[2], max(len(x[0]) - 1, 0))] if len(x[0]) else -np.inf,
                    -np.inf,
                )
                for x in per
            ]
            + [np.zeros(0)]
        )
        if not len(sc):
            continue
        order = np.argsort(-sc, kind="stable")
        s2 = sc[order]
        tp = np.cumsum(fl[order])
        n = np.arange(1, len(s2) + 1)
        last = np.r_[s2[1:] != s2[:-1], True]
        gm = np.searchsorted(-np.sort(gb)[::-1], -s2[last], side="right")
        pts += [
            (k, float(t), int(x), int(y), int(z)) for t, x, y, z in zip(s2[last], n[last], tp[last], gm, strict=False)
        ]
    return pts, n_gold


def _best_f(pts: list[tuple], n_gold: int, beta: float = 1.0) -> tuple:
    """Operating point with the highest F_beta (ties: smaller max_spans)."""
    b2 = beta * beta

    def f(p):
        pr = p[3] / p[2] if p[2] else 0.0
        rc = p[4] / n_gold if n_gold else 0.0
        return (1 + b2) * pr * rc / (b2 * pr + rc) if pr + rc else 0.0

    return max(pts, key=lambda p: (f(p), -p[0]))


def _pooled_choice(points: dict[str, tuple[list[tuple], int]], target_precision: float) -> dict[str, tuple]:
    """Per-category operating points maximising pooled recall subject to pooled precision
    >= target_precision (Lagrangian relaxation: for each multiplier every category picks the
    point maximising matched_gold + lam * (matched_pred - target * n_pred); the feasible
    multiplier with the most matched gold wins). Why: per-category F1 maxima leave the
    pooled operating point wherever they happen to sum; this places it deliberately."""
    best = None
    for lam in np.exp(np.linspace(np.log(0.02), np.log(100.0), 300)):
        ch = {
            c: max(pts, key=lambda p: (p[4] + lam * (p[3] - target_precision * p[2]), -p[2], -p[0]))
            for c, (pts, _) in points.items()
        }
        n_pred = sum(p[2] for p in ch.values())
        tp = sum(p[3] for p in ch.values())
        gm = sum(p[4] for p in ch.values())
        if n_pred and tp >= target_precision * n_pred and (best is None or gm > best[0]):
            best = (gm, ch)
    if best is None:
        return {c: _best_f(pts, ng) for c, (pts, ng) in points.items()}
    return best[1]


def _calibrated_option(
    raw: list[list[Scored]], old: CategoryParams, golds: list[tuple], beta: float
) -> tuple[float, float, float, list[tuple], int]:
    """One category's NMS survivors on the validation fold, Platt-calibrated afresh (the raw margin is
    recovered from the old calibration): its best F_beta, Platt (a, b) and operating points."""
    lists = [
        [(s, e, (np.log(max(x, 1e-300) / max(1 - x, 1e-300)) - old.platt_b) / old.platt_a) for s, e, x in doc]
        for doc in raw
    ]
    ms, ys = [], []
    for lst, g in zip(lists, golds, strict=False):
        f, _ = match_flags(lst, g)
        ms += [m for _, _, m in lst]
        ys += f
    a, bb = _fit_platt(np.array(ms), np.array(ys, dtype=float))
    cal = [[(s, e, float(_sigmoid(a * m + bb))) for s, e, m in lst] for lst in lists]
    pts, ng = _op_points(cal, golds)
    bp = _best_f(pts, ng, beta)
    fb = (1 + beta**2) * bp[3] * bp[4] / (beta**2 * bp[3] * ng + bp[4] * bp[2]) if bp[3] else 0.0
    return fb, a, bb, pts, ng


def calibrate_and_tune(
    loc: Locator,
    va: list[Document],
    beta: float = 1.0,
    objective: str = "pooled",
    target_precision: float = 0.55,
    shrink: float = 10.0,
    nms_select: bool = True,
) -> tuple[dict[str, CategoryParams], dict[str, dict]]:
    """On the validation fold, per category: pick the NMS mode (containment vs IoU) with the
    higher best F_beta, Platt-calibrate its survivors, then choose (max_spans, threshold):
    objective="f1": per-category F_beta maximum (the original rule);
    objective="pooled": _pooled_choice at target_precision, then each threshold is shrunk
    toward the median chosen threshold with weight shrink/(n_gold+shrink), because a rare
    category's threshold rests on a handful of validation spans.
    Platt parameters in `loc` are replaced (raw margins recovered from its calibration)."""
    golds_by_c = {c: [d.gold.get(c, ()) for d in va] for c in loc.categories}
    chosen: dict[str, tuple] = {}
    for iou in (False, True) if nms_select else (False,):
        loc_m = Locator(
            loc.vocab, loc.W, loc.b, loc.categories, {c: replace(p, nms_iou=iou) for c, p in loc.params.items()}
        )
        raw = [loc_m.candidates(d.text) for d in va]
        for c in loc.categories:
            fb, a, bb, pts, ng = _calibrated_option([rc[c] for rc in raw], loc.params[c], golds_by_c[c], beta)
            if c not in chosen or fb > chosen[c][0] + 1e-9:
                chosen[c] = (fb, iou, a, bb, pts, ng)
    points = {c: (v[4], v[5]) for c, v in chosen.items()}
    if objective == "f1":
        pick = {c: _best_f(pts, ng, beta) for c, (pts, ng) in points.items()}
    else:
        pick = _pooled_choice(points, target_precision)
    real = [p[1] for p in pick.values() if p[1] <= 1.0]
    t_mid = float(np.median(real)) if real else 0.5
    params: dict[str, CategoryParams] = {}
    per_cat: dict[str, dict] = {}
    for c in loc.categories:
        _, iou, a, bb, pts, ng = chosen[c]
        k, thr, n_pred, tp, gm = pick[c]
        if objective != "f1" and thr <= 1.0 and shrink > 0:
            w = ng / (ng + shrink)
            thr = w * thr + (1 - w) * t_mid
        params[c] = CategoryParams(loc.params[c].kinds, a, bb, thr, REVIEW_FACTOR * thr, k, iou)
        per_cat[c] = {
            "k": k,
            "threshold": thr,
            "nms_iou": iou,
            "n_gold": ng,
            "P_before_shrink": tp / n_pred if n_pred else 0.0,
            "R_before_shrink": gm / ng if ng else 0.0,
        }
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
    objective: str = "pooled",
    target_precision: float = 0.55,
    shrink: float = 10.0,
    nms_select: bool = True,
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
    params, per_cat = calibrate_and_tune(loc, va, beta, objective, target_precision, shrink, nms_select)
    final = Locator(vocab, W, b, categories, params)
    final.save(Path(out))
    metrics = {
        "method": method,
        "C": C,
        "beta": beta,
        "objective": objective,
        "target_precision": target_precision,
        "shrink": shrink,
        "nms_select": nms_select,
        "n_train_docs": len(tr),
        "n_val_docs": len(va),
        "train_seconds": time.time() - t0,
        "per_category_val": per_cat,
        "X_shape": list(X.shape),
    }
    log(f"[train] done {time.time() - t0:.0f}s")
    return metrics
