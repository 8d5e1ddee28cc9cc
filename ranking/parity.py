"""Train/serve parity: the feature matrix serving builds from Redis and PostgreSQL for a user's
candidates, next to the one training builds by replaying the stored interactions up to the same moment.

Used by the tests (and handy after a change to ``signals`` or ``features``): any difference means the model
is served features it was not trained on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from . import registry
from .candidates import candidates_for
from .dataset import Snapshot, load_items, load_log
from .features import FEATURES, feature_matrix
from .serve import serving_inputs


async def compare(redis, mongo_db, store, user_ids: list[int], now: float) -> dict:
    """``store``: the analytics store, everything applied sealed into it (the consumer's ``seal_now``)."""
    version = await registry.latest_version(mongo_db)
    model = await registry.load(mongo_db, version) if version else None
    items = await load_items()
    log = load_log(store, items)
    vecs = None
    if model is not None:
        emb = model.embeddings
        vecs = np.zeros((items.n, emb.vectors.shape[1]))
        for key, j in emb.index.items():
            if key in items.index:
                vecs[items.index[key]] = emb.vectors[j]
    snap = Snapshot(items, log, now, vecs)
    worst = np.zeros(len(FEATURES))
    rows = 0
    candidate_mismatches = 0
    for u in user_ids:
        cs = await candidates_for(u, datetime.fromtimestamp(now, UTC), redis)
        if not cs.candidates:
            continue
        served, _ = await serving_inputs(redis, u, cs.candidates, cs.my_clubs, model, now)
        idx = np.array([items.index[c.key] for c in cs.candidates])
        replayed = snap.inputs(u, idx)
        a, b = feature_matrix(served), feature_matrix(replayed)
        scale = np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
        worst = np.maximum(worst, (np.abs(a - b) / scale).max(axis=0))
        rows += len(idx)
        if set(idx.tolist()) != set(snap.candidates(u).tolist()):
            candidate_mismatches += 1
    return {
        "model": version,
        "rows": rows,
        "users": len(user_ids),
        "candidate_mismatches": candidate_mismatches,
        "max_rel_diff": dict(zip(FEATURES, worst.round(9).tolist(), strict=True)),
    }


def run_compare(config: dict, user_ids: list[int], now: float) -> dict:
    """``compare`` in a process of its own (a Ray task with ``max_calls=1`` in the tests): it connects
    Tortoise to the given database for the whole process."""
    import asyncio

    async def main() -> dict:
        from storage import mongo as mongo_store
        from storage.analytics import AnalyticsStore
        from storage.postgres import close_postgres, init_tortoise, tortoise_config
        from storage.redis import connect_redis

        await init_tortoise(tortoise_config(config["postgres_url"]))
        redis = connect_redis(config["redis_url"])
        client = mongo_store.connect_mongo(config["mongo_url"])
        try:
            store = AnalyticsStore(config["analytics_url"])
            return await compare(redis, client[config["mongo_db"]], store, user_ids, now)
        finally:
            await redis.aclose()
            await client.close()
            await close_postgres()

    return asyncio.run(main())
