"""``clubhub train-ranker``: a time-split data set from stored interactions, a LightGBM lambdarank model,
its evaluation next to popularity and recency baselines, and a new model version in the registry.

Time split by eighths of the log (cutoffs at its 37.5, 50, 62.5, 75 and 87.5 % quantiles of time): the test
queries are cut at the last cutoff and labelled by what users did after it; validation (early stopping) is
cut one window earlier; training queries at the three cutoffs before that, each labelled by the window
that follows it. Every cutoff gets its own item embeddings and signals from the
interactions before it only, so no query sees its own future.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import registry, signals
from .dataset import Items, Log, Snapshot, item_embeddings, labels, load_items, load_log
from .features import FEATURES, feature_matrix

log = logging.getLogger(__name__)

KS = list(range(1, 21))
PARAMS: dict[str, Any] = dict(
    objective="lambdarank",
    n_estimators=400,
    learning_rate=0.05,
    num_leaves=31,
    min_child_samples=20,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.9,
    verbose=-1,
)
NEGATIVES_PER_QUERY = 100


class NotEnoughData(Exception):
    pass


@dataclass
class QuerySet:
    x: np.ndarray
    y: np.ndarray
    groups: list[int]
    popularity: np.ndarray  # the popularity baseline's score per row
    recency: np.ndarray  # the recency baseline's score per row
    users: int = 0


@dataclass
class Report:
    version: int
    rows_train: int
    queries_train: int
    queries_test: int
    interactions: int
    train_seconds: float
    best_iteration: int
    ndcg: dict = field(default_factory=dict)  # method -> [NDCG@1..20]
    recall20: dict = field(default_factory=dict)
    # The same, over events and clubs only: discovery, without the rooms of one's own clubs (which a
    # user's own history predicts easily and popularity cannot).
    discovery_ndcg10: dict = field(default_factory=dict)
    discovery_queries: int = 0

    def metrics(self) -> dict:
        out: dict[str, Any] = {
            "interactions": self.interactions,
            "queries_train": self.queries_train,
            "queries_test": self.queries_test,
            "rows_train": self.rows_train,
            "train_seconds": round(self.train_seconds, 2),
            "best_iteration": self.best_iteration,
        }
        for m, v in self.ndcg.items():
            out[f"ndcg10_{m}"] = round(v[9], 4)
            out[f"ndcg_at_k_{m}"] = [round(x, 4) for x in v]
        for m, v in self.recall20.items():
            out[f"recall20_{m}"] = round(v, 4)
        for m, v in self.discovery_ndcg10.items():
            out[f"discovery_ndcg10_{m}"] = round(v, 4)
        out["discovery_queries"] = self.discovery_queries
        return out

    def table(self) -> str:
        lines = [
            f"model v{self.version}: {self.queries_train} training queries ({self.rows_train} rows), "
            f"{self.queries_test} held-out queries, {self.interactions} interactions, "
            f"trained in {self.train_seconds:.1f} s (best iteration {self.best_iteration})",
            f"{'method':<12}{'NDCG@10':>10}{'recall@20':>12}{'NDCG@10 events+clubs':>22}",
        ]
        for m in self.ndcg:
            lines.append(
                f"{m:<12}{self.ndcg[m][9]:>10.4f}{self.recall20[m]:>12.4f}"
                f"{self.discovery_ndcg10.get(m, float('nan')):>22.4f}"
            )
        return "\n".join(lines)


def build_queries(
    items: Items,
    lg: Log,
    cutoff: float,
    end: float,
    vecs: np.ndarray,
    rng: np.random.Generator,
    negatives: int | None,
    max_queries: int | None,
) -> QuerySet:
    snap = Snapshot(items, lg, cutoff, vecs)
    truth = labels(lg, items, cutoff, end)
    users = sorted(truth)
    if max_queries and len(users) > max_queries:
        users = sorted(rng.choice(users, max_queries, replace=False).tolist())
    xs, ys, groups, pops, recs = [], [], [], [], []
    for u in users:
        cand = snap.candidates(u)
        if len(cand) < 2:
            continue
        y = np.array([truth[u].get(int(j), 0) for j in cand])
        if not y.any():
            continue
        if negatives is not None:
            neg = np.flatnonzero(y == 0)
            keep = np.concatenate([np.flatnonzero(y > 0), rng.permutation(neg)[:negatives]])
            cand, y = cand[keep], y[keep]
        x = snap.inputs(u, cand)
        xs.append(feature_matrix(x))
        ys.append(y)
        groups.append(len(cand))
        pops.append(x.item_pop * signals.decay_factor(cutoff))
        recs.append(items.created_at[cand])
    if not groups:
        return QuerySet(np.zeros((0, len(FEATURES))), np.zeros(0), [], np.zeros(0), np.zeros(0))
    return QuerySet(
        np.vstack(xs), np.concatenate(ys), groups, np.concatenate(pops), np.concatenate(recs), len(groups)
    )


def _without_rooms(q: QuerySet) -> tuple[np.ndarray, list[int]]:
    """Rows of events and clubs only, in queries that still have a positive."""
    keep = np.zeros(len(q.y), dtype=bool)
    groups, start = [], 0
    not_room = q.x[:, FEATURES.index("is_room")] == 0
    for g in q.groups:
        rows = np.arange(start, start + g)[not_room[start : start + g]]
        start += g
        if len(rows) >= 2 and q.y[rows].any():
            keep[rows] = True
            groups.append(len(rows))
    return keep, groups


def ndcg_at(scores: np.ndarray, y: np.ndarray, groups: list[int], ks: list[int]) -> list[float]:
    """Mean NDCG@k over queries (gain 2^rel − 1, log2 discount; ties broken by row order)."""
    out = np.zeros(len(ks))
    start = 0
    disc = 1.0 / np.log2(np.arange(2, max(ks) + 2))
    for g in groups:
        s, r = scores[start : start + g], y[start : start + g]
        start += g
        ranked = r[np.argsort(-s, kind="stable")]
        ideal = np.sort(r)[::-1]
        gains, igains = (2.0**ranked - 1), (2.0**ideal - 1)
        for i, k in enumerate(ks):
            idcg = float(igains[:k] @ disc[: min(k, g)]) if g >= k else float(igains @ disc[:g])
            dcg = float(gains[:k] @ disc[: min(k, g)]) if g >= k else float(gains @ disc[:g])
            out[i] += dcg / idcg if idcg > 0 else 0.0
    return (out / max(len(groups), 1)).tolist()


def recall_at(scores: np.ndarray, y: np.ndarray, groups: list[int], k: int = 20) -> float:
    total, start = 0.0, 0
    for g in groups:
        s, r = scores[start : start + g], y[start : start + g]
        start += g
        top = np.argsort(-s, kind="stable")[:k]
        total += float((r[top] > 0).sum()) / max(int((r > 0).sum()), 1)
    return total / max(len(groups), 1)


async def train(
    mongo_db, now: float | None = None, seed: int = 0, max_queries: int | None = 4000, progress=print
) -> Report:
    import lightgbm as lgb

    t0 = time.perf_counter()
    items = await load_items()
    lg = await load_log(mongo_db, items)
    if len(lg.ts) < 100:
        raise NotEnoughData(f"only {len(lg.ts)} stored interactions; at least 100 are needed")
    progress(f"loaded {items.n} items and {len(lg.ts)} interactions in {time.perf_counter() - t0:.1f} s")
    end = float(lg.ts[-1]) + 1e-3
    cuts = [float(q) for q in np.quantile(lg.ts, [0.375, 0.5, 0.625, 0.75, 0.875])]
    test_cut, valid_cut = cuts[4], cuts[3]
    rng = np.random.default_rng(seed)

    def at(cutoff: float, until: float, negatives, limit) -> QuerySet:
        vecs, _ = item_embeddings(items, lg, cutoff, seed=seed)
        return build_queries(items, lg, cutoff, until, vecs, rng, negatives, limit)

    t1 = time.perf_counter()
    parts = [at(cuts[i], cuts[i + 1], NEGATIVES_PER_QUERY, max_queries) for i in range(3)]
    tr = QuerySet(
        np.vstack([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        [g for p in parts for g in p.groups],
        np.zeros(0),
        np.zeros(0),
        sum(p.users for p in parts),
    )
    va = at(valid_cut, test_cut, None, max_queries)  # judged like the test: every candidate
    te = at(test_cut, end, None, max_queries)
    if not tr.groups or not va.groups or not te.groups:
        raise NotEnoughData(
            "the log has too few users with engagement in some time window to train and evaluate"
        )
    progress(
        f"built {len(tr.groups)} training, {len(va.groups)} validation and {len(te.groups)} test queries "
        f"in {time.perf_counter() - t1:.1f} s"
    )

    t2 = time.perf_counter()
    model = lgb.LGBMRanker(random_state=seed, n_jobs=0, **PARAMS)
    model.fit(
        tr.x,
        tr.y,
        group=tr.groups,
        eval_X=(va.x,),
        eval_y=(va.y,),
        eval_group=[va.groups],
        eval_at=[10],
        feature_name=FEATURES,
        callbacks=[lgb.early_stopping(50, first_metric_only=True, verbose=False)],
    )
    train_seconds = time.perf_counter() - t2
    booster = model.booster_
    best = int(model.best_iteration_ or booster.current_iteration())

    scores: dict[str, np.ndarray] = {
        "ranker": np.asarray(booster.predict(te.x, num_iteration=best)),
        "popularity": te.popularity,
        "recency": te.recency,
    }
    version = await registry.next_version(mongo_db)
    report = Report(version, len(tr.y), len(tr.groups), len(te.groups), len(lg.ts), train_seconds, best)
    for m, s in scores.items():
        report.ndcg[m] = ndcg_at(s, te.y, te.groups, KS)
        report.recall20[m] = recall_at(s, te.y, te.groups, 20)
    keep, groups = _without_rooms(te)
    report.discovery_queries = len(groups)
    for m, s in scores.items():
        report.discovery_ndcg10[m] = ndcg_at(s[keep], te.y[keep], groups, [10])[0]

    # What serves from now on: item embeddings from the whole log. Users' embeddings in their space are
    # rebuilt by the interaction consumer (actors/interactions.py), in step with the interactions it stores.
    vecs, has = item_embeddings(items, lg, end, seed=seed)
    keys = [items.keys[j] for j in np.flatnonzero(has)]
    metrics = report.metrics()
    await registry.save(
        mongo_db,
        version,
        booster.model_to_string(num_iteration=best),
        FEATURES,
        metrics,
        {k: v for k, v in PARAMS.items()},
        keys,
        vecs[has],
    )
    return report
