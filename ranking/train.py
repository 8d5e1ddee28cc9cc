"""``clubhub train-ranker``: a time-split data set from the analytics store, a LightGBM lambdarank model
trained on Ray, its evaluation next to popularity and recency baselines, and a new model version in the
registry with every user's embedding in its space.

Time split by eighths of the log (cutoffs at its 37.5, 50, 62.5, 75 and 87.5 % quantiles of time): the test
queries are cut at the last cutoff and labelled by what users did after it; validation (early stopping) is
cut one window earlier; training queries at the three cutoffs before that, each labelled by the window
that follows it. Every cutoff gets its own item embeddings and signals from the
interactions before it only, so no query sees its own future.

The job reads the seals of the analytics store up to the newest (its *watermark*), and in the same pass
computes each user's embedding in the new item space from the same interactions and writes them to Redis
in chunks; the interaction consumer then adds only what was sealed after the watermark (``actors.interactions``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from storage import keys

from . import pipeline, registry, turnout
from .dataset import Items, Log, item_embeddings, load_items
from .features import FEATURES

log = logging.getLogger(__name__)

KS = list(range(1, 21))
PARAMS: dict[str, Any] = dict(
    objective="lambdarank",
    metric="ndcg",
    eval_at=[10],
    learning_rate=0.05,
    num_leaves=31,
    min_data_in_leaf=20,
    bagging_fraction=0.8,
    bagging_freq=1,
    feature_fraction=0.9,
    verbose=-1,
)
ROUNDS = 400
PATIENCE = 50
NEGATIVES_PER_QUERY = 100
USERS_PER_WRITE = 1000  # user embeddings per Redis pipeline


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
    # Over reels only, in the held-out queries with a watched reel: how well each method orders reels.
    reels_ndcg10: dict = field(default_factory=dict)
    reels_queries: int = 0
    stages: dict = field(default_factory=dict)  # stage -> seconds (and rates)
    watermark: str | None = None
    workers: int = 1
    users_embedded: int = 0
    turnout: dict = field(default_factory=dict)  # the event-turnout model's held-out report

    def metrics(self) -> dict:
        out: dict[str, Any] = {
            "interactions": self.interactions,
            "queries_train": self.queries_train,
            "queries_test": self.queries_test,
            "rows_train": self.rows_train,
            "train_seconds": round(self.train_seconds, 2),
            "best_iteration": self.best_iteration,
            "watermark": self.watermark,
            "workers": self.workers,
            "users_embedded": self.users_embedded,
            "stages": self.stages,
            "turnout": self.turnout,
        }
        for m, v in self.ndcg.items():
            out[f"ndcg10_{m}"] = round(v[9], 4)
            out[f"ndcg_at_k_{m}"] = [round(x, 4) for x in v]
        for m, v in self.recall20.items():
            out[f"recall20_{m}"] = round(v, 4)
        for m, v in self.discovery_ndcg10.items():
            out[f"discovery_ndcg10_{m}"] = round(v, 4)
        out["discovery_queries"] = self.discovery_queries
        for m, v in self.reels_ndcg10.items():
            out[f"reels_ndcg10_{m}"] = round(v, 4)
        out["reels_queries"] = self.reels_queries
        return out

    def table(self) -> str:
        lines = [
            f"model v{self.version}: {self.queries_train} training queries ({self.rows_train} rows), "
            f"{self.queries_test} held-out queries, {self.interactions} interactions, "
            f"trained in {self.train_seconds:.1f} s (best iteration {self.best_iteration})",
            f"{'method':<12}{'NDCG@10':>10}{'recall@20':>12}{'NDCG@10 events+clubs':>22}"
            f"{'NDCG@10 reels':>15}",
        ]
        for m in self.ndcg:
            lines.append(
                f"{m:<12}{self.ndcg[m][9]:>10.4f}{self.recall20[m]:>12.4f}"
                f"{self.discovery_ndcg10.get(m, float('nan')):>22.4f}"
                f"{self.reels_ndcg10.get(m, float('nan')):>15.4f}"
            )
        lines.append(f"(reels: {self.reels_queries} held-out queries with a watched reel)")
        return "\n".join(lines)


def query_set(arrays: dict[str, np.ndarray]) -> QuerySet:
    """Rows of a query dataset (``pipeline.to_arrays``) as a ``QuerySet``."""
    x = (
        np.column_stack([arrays[c] for c in pipeline.FEATURE_COLUMNS])
        if len(arrays["y"])
        else np.zeros((0, len(FEATURES)))
    )
    groups = pipeline.groups_of(arrays["qid"])
    return QuerySet(x, arrays["y"], groups, arrays["pop"], arrays["rec"], len(groups))


def _without_rooms(q: QuerySet) -> tuple[np.ndarray, list[int]]:
    """Rows of events and clubs only, in queries that still have a positive."""
    wanted = (q.x[:, FEATURES.index("is_room")] == 0) & (q.x[:, FEATURES.index("is_reel")] == 0)
    return _subset(q, wanted)


def _only_reels(q: QuerySet) -> tuple[np.ndarray, list[int]]:
    """Rows of reels only, in queries that still have a positive (a reel watched enough to grade)."""
    return _subset(q, q.x[:, FEATURES.index("is_reel")] == 1)


def _subset(q: QuerySet, wanted: np.ndarray) -> tuple[np.ndarray, list[int]]:
    keep = np.zeros(len(q.y), dtype=bool)
    groups, start = [], 0
    for g in q.groups:
        rows = np.arange(start, start + g)[wanted[start : start + g]]
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


def user_vectors(items: Items, lg: Log, vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user ids, their embeddings): the anchored weights of everything each user did times the items'
    unit vectors — the sum the consumer adds to online, one interaction at a time (``signals.increments``)."""
    users, uidx = np.unique(lg.user, return_inverse=True)
    aff = sp.csr_matrix((lg.anchored, (uidx, lg.item)), shape=(len(users), items.n))
    out = np.asarray(aff @ vecs)
    keep = np.any(out != 0.0, axis=1)
    return users[keep], out[keep]


async def write_user_vectors(redis, version: int, users: np.ndarray, vecs: np.ndarray, progress=None) -> int:
    """In chunks of USERS_PER_WRITE, each chunk retried with back-off; rewriting a chunk is harmless."""
    for lo in range(0, len(users), USERS_PER_WRITE):
        for attempt in range(5):
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for u, vec in zip(
                        users[lo : lo + USERS_PER_WRITE], vecs[lo : lo + USERS_PER_WRITE], strict=True
                    ):
                        key = keys.user_embedding(version, int(u))
                        pipe.delete(key)
                        pipe.hset(key, mapping={str(i): repr(float(x)) for i, x in enumerate(vec)})
                    await pipe.execute()
                break
            except Exception:
                if attempt == 4:
                    raise
                await asyncio.sleep(2**attempt)
        if progress is not None:
            progress(min(USERS_PER_WRITE, len(users) - lo))
    return len(users)


async def train(
    store,
    mongo_db,
    redis,
    now: float | None = None,
    seed: int = 0,
    max_queries: int | None = 4000,
    workers: int = 1,
    progress=print,
    bars: bool = False,
) -> Report:
    """Ray must be initialized (``clubhub train-ranker`` starts or joins it)."""
    import lightgbm as lgb

    stages: dict[str, Any] = {}
    t0 = time.perf_counter()
    items = await load_items()
    files, watermark, _ = await asyncio.to_thread(store.files_until)
    lg, read = await asyncio.to_thread(pipeline.read_log, store, files, items)
    stages["read"] = {"seconds": round(read.seconds, 2), "rows": read.rows, "rows_per_s": round(read.rate)}
    if len(lg.ts) < 100:
        raise NotEnoughData(f"only {len(lg.ts)} interactions in the analytics store; at least 100 are needed")
    progress(
        f"read {items.n} items and {len(lg.ts)} interactions ({len(files)} Parquet files up to seal "
        f"{watermark}) in {time.perf_counter() - t0:.1f} s ({read.rate:,.0f} rows/s)"
    )
    end = float(lg.ts[-1]) + 1e-3
    cuts = [float(q) for q in np.quantile(lg.ts, [0.375, 0.5, 0.625, 0.75, 0.875])]
    test_cut, valid_cut = cuts[4], cuts[3]

    def at(cut: int, cutoff: float, until: float, negatives, limit):
        vecs, _ = item_embeddings(items, lg, cutoff, seed=seed)
        return pipeline.query_dataset(items, lg, cut, cutoff, until, vecs, seed, negatives, limit)

    t1 = time.perf_counter()

    def build():
        parts = [at(i, cuts[i], cuts[i + 1], NEGATIVES_PER_QUERY, max_queries) for i in range(3)]
        tr = parts[0].union(*parts[1:]).materialize()
        va = at(3, valid_cut, test_cut, None, max_queries)  # judged like the test: every candidate
        te = at(4, test_cut, end, None, max_queries)
        return tr, va, te

    tr_ds, va_ds, te_ds = await asyncio.to_thread(build)
    te = query_set(await asyncio.to_thread(pipeline.to_arrays, te_ds))
    counts = [await asyncio.to_thread(d.count) for d in (tr_ds, va_ds)]
    build_s = time.perf_counter() - t1
    built = counts[0] + counts[1] + len(te.y)
    stages["features"] = {"seconds": round(build_s, 2), "rows": built, "rows_per_s": round(built / build_s)}
    if not counts[0] or not counts[1] or not te.groups:
        raise NotEnoughData(
            "the log has too few users with engagement in some time window to train and evaluate"
        )
    progress(
        f"built {counts[0]} training rows, {counts[1]} validation rows and {len(te.groups)} test queries "
        f"in {build_s:.1f} s ({built / build_s:,.0f} rows/s)"
    )

    version = await registry.next_version(mongo_db)
    text, best, fit_s, lgb_s = await asyncio.to_thread(
        pipeline.fit,
        tr_ds,
        va_ds,
        {**PARAMS, "seed": seed},
        ROUNDS,
        PATIENCE,
        workers,
        store,
        f"ranker-v{version}-{int(time.time())}",
    )
    stages["train"] = {"seconds": round(fit_s, 2), "lightgbm_seconds": round(lgb_s, 2), "workers": workers}
    progress(
        f"trained on {workers} Ray Train worker(s) in {fit_s:.1f} s, {lgb_s:.1f} s of it in LightGBM "
        f"(best iteration {best})"
    )
    booster = lgb.Booster(model_str=text)
    train_queries = len(
        pipeline.groups_of(np.sort((await asyncio.to_thread(tr_ds.to_pandas))["qid"].to_numpy()))
    )

    scores: dict[str, np.ndarray] = {
        "ranker": np.asarray(booster.predict(te.x)),
        "popularity": te.popularity,
        "recency": te.recency,
    }
    report = Report(version, counts[0], train_queries, len(te.groups), len(lg.ts), fit_s, best)
    report.watermark, report.workers = watermark, workers
    for m, s in scores.items():
        report.ndcg[m] = ndcg_at(s, te.y, te.groups, KS)
        report.recall20[m] = recall_at(s, te.y, te.groups, 20)
    keep, groups = _without_rooms(te)
    report.discovery_queries = len(groups)
    for m, s in scores.items():
        report.discovery_ndcg10[m] = ndcg_at(s[keep], te.y[keep], groups, [10])[0]
    keep, groups = _only_reels(te)
    report.reels_queries = len(groups)
    if groups:
        for m, s in scores.items():
            report.reels_ndcg10[m] = ndcg_at(s[keep], te.y[keep], groups, [10])[0]

    # What serves from now on: item embeddings from the whole log, and every user's embedding in their
    # space from the same interactions; the consumer adds what was sealed after ``watermark``.
    t3 = time.perf_counter()
    vecs, has = item_embeddings(items, lg, end, seed=seed)
    # The registry keeps item vectors as float32: the users' embeddings are summed from exactly those, as
    # the consumer's online additions will be.
    vecs = vecs.astype(np.float32).astype(np.float64)
    users, uvecs = user_vectors(items, lg, vecs)
    metrics = report.metrics()
    await registry.save(
        mongo_db,
        version,
        text,
        FEATURES,
        metrics,
        {k: v for k, v in PARAMS.items()},
        [items.keys[j] for j in np.flatnonzero(has)],
        vecs[has],
        watermark=watermark,
    )
    bar = None
    if bars:
        from tqdm import tqdm

        bar = tqdm(total=len(users), desc="user embeddings", unit="user", mininterval=1.0)
    try:
        report.users_embedded = await write_user_vectors(
            redis, version, users, uvecs, bar.update if bar else None
        )
    finally:
        if bar is not None:
            bar.close()
    await registry.mark(
        mongo_db, version, registry.TRAINED, metrics={**metrics, "users_embedded": report.users_embedded}
    )
    stages["user_embeddings"] = {
        "seconds": round(time.perf_counter() - t3, 2),
        "users": report.users_embedded,
    }
    progress(
        f"wrote {report.users_embedded} users' embeddings for v{version} in {stages['user_embeddings']['seconds']} s"
    )
    # The hosts' turnout model learns from the same log, in the same job.
    t4 = time.perf_counter()
    try:
        report.turnout = await turnout.train_and_save(items, lg, mongo_db, now=now or end, seed=seed)
        progress(turnout.report_table(report.turnout))
    except turnout.NotEnoughData as exc:
        report.turnout = {"skipped": str(exc)}
        progress(f"turnout model not trained: {exc}")
    stages["turnout"] = {"seconds": round(time.perf_counter() - t4, 2)}
    report.stages = stages
    return report
