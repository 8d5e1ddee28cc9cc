"""Versioned ranker models in MongoDB (collection ``ranker_models``): the LightGBM booster as text, its
feature list, its evaluation, and the item embeddings it was trained with — one document per version, so
every process of a cluster (ranker actors, the interaction consumer) finds the same model by asking the
database for the highest version.

A version moves through ``status``: ``writing`` (saved by the training job, which is still writing every
user's embedding to Redis), ``trained`` (all written; ``watermark`` names the last analytics seal the job
read), ``ready`` (the interaction consumer added the seals after the watermark, so the users' embeddings
are current: ranker actors serve it). Documents from before these states have no ``status`` and count as
ready. A version left ``writing`` by a failed job is never served."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pymongo import DESCENDING

from .features import FEATURES

if TYPE_CHECKING:  # imported where a model is loaded: LightGBM is heavy and only the rankers need it
    import lightgbm as lgb

MODELS = "ranker_models"
WRITING, TRAINED, READY = "writing", "trained", "ready"
_SERVABLE = {"status": {"$nin": [WRITING, TRAINED]}}
_SWITCHABLE = {"status": {"$ne": WRITING}}


@dataclass
class Embeddings:
    version: int
    index: dict[str, int]  # item key -> row
    vectors: np.ndarray  # (n_items, d) unit rows, float64

    def rows(self, keys: list[str]) -> np.ndarray:
        out = np.zeros((len(keys), self.vectors.shape[1]))
        for i, k in enumerate(keys):
            j = self.index.get(k)
            if j is not None:
                out[i] = self.vectors[j]
        return out

    def get(self, key: str) -> np.ndarray | None:
        j = self.index.get(key)
        return None if j is None else self.vectors[j]


@dataclass
class RankerModel:
    version: int
    booster: lgb.Booster
    features: list[str]
    metrics: dict
    embeddings: Embeddings
    text: str = ""  # the booster as LightGBM's model text (what ``ranking.compiled`` compiles)
    compiled: Any = None  # the same trees as machine code, once compiled and checked (ranking.compiled)
    # The columns of ``FEATURES`` this model was trained on, when not all of them in order (a model saved
    # before a feature was added keeps serving until the next training).
    columns: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.features and list(self.features) != FEATURES and set(self.features) <= set(FEATURES):
            self.columns = np.array([FEATURES.index(f) for f in self.features], dtype=np.int64)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Scores on one thread: a feed predicts a few hundred rows, where OpenMP's fork/join and spinning
        cost more than they save, and on a shared 2-core machine its threads fight the event loop and the
        stores (560 rows: 8.5 ms with the default threads, 1.9 ms with one, measured on a busy machine).
        Feeds run in parallel on more ranker actors instead (CLUBHUB_RANKERS)."""
        if self.columns is not None:
            rows = rows[:, self.columns]
        compiled = self.compiled
        if compiled is not None:
            return np.asarray(compiled.predict(np.ascontiguousarray(rows, dtype=np.float64), n_jobs=1))
        return np.asarray(self.booster.predict(rows, num_threads=1))


def _embeddings(doc: dict) -> Embeddings:
    vecs = np.frombuffer(doc["item_emb"], dtype=np.float32).reshape(len(doc["item_keys"]), doc["dim"])
    return Embeddings(doc["_id"], {k: i for i, k in enumerate(doc["item_keys"])}, vecs.astype(np.float64))


async def latest_version(db, ready: bool = True) -> int | None:
    """The newest version the rankers may serve; with ``ready=False`` the newest whose training finished
    (what the interaction consumer switches to next)."""
    doc = await db[MODELS].find_one(
        _SERVABLE if ready else _SWITCHABLE, sort=[("_id", DESCENDING)], projection={"_id": 1}
    )
    return int(doc["_id"]) if doc else None


async def next_version(db) -> int:
    doc = await db[MODELS].find_one({}, sort=[("_id", DESCENDING)], projection={"_id": 1})
    return (int(doc["_id"]) if doc else 0) + 1


async def meta(db, version: int) -> dict | None:
    return await db[MODELS].find_one(
        {"_id": version}, projection={"status": 1, "watermark": 1, "created_at": 1, "trained_at": 1}
    )


async def mark(db, version: int, status: str, **fields) -> None:
    await db[MODELS].update_one(
        {"_id": version}, {"$set": {"status": status, f"{status}_at": time.time(), **fields}}
    )


async def status(db) -> dict:
    """The served version, the newest trained one and how long that one has waited to be served."""
    served = await latest_version(db)
    newest = await db[MODELS].find_one(
        _SWITCHABLE, sort=[("_id", DESCENDING)], projection={"status": 1, "trained_at": 1, "created_at": 1}
    )
    out: dict = {"served": served, "newest": int(newest["_id"]) if newest else None, "waiting_s": 0.0}
    if newest is not None and newest.get("status", READY) != READY:
        since = newest.get("trained_at") or newest.get("created_at") or time.time()
        out["waiting_s"] = round(max(time.time() - since, 0.0), 1)
    return out


async def save(
    db,
    version: int,
    booster_text: str,
    features: list[str],
    metrics: dict,
    params: dict,
    item_keys: list[str],
    item_emb: np.ndarray,
    watermark: str | None = None,
    extra: dict | None = None,
) -> None:
    """Saved as ``writing``: the job then writes users' embeddings and marks it ``trained``."""
    await db[MODELS].insert_one(
        {
            "_id": version,
            "status": WRITING,
            "watermark": watermark,
            "created_at": time.time(),
            **(extra or {}),
            "features": features,
            "metrics": metrics,
            "params": params,
            "model": booster_text,
            "item_keys": item_keys,
            "dim": int(item_emb.shape[1]),
            "item_emb": np.ascontiguousarray(item_emb, dtype=np.float32).tobytes(),
        }
    )


async def load_embeddings(db, version: int) -> Embeddings | None:
    doc = await db[MODELS].find_one({"_id": version}, projection={"item_keys": 1, "item_emb": 1, "dim": 1})
    return _embeddings(doc) if doc else None


async def load(db, version: int) -> RankerModel | None:
    import asyncio

    import lightgbm as lgb

    doc = await db[MODELS].find_one({"_id": version})
    if doc is None:
        return None
    # Parsing a large booster takes a while: off the event loop, so requests keep being served.
    booster = await asyncio.to_thread(lambda: lgb.Booster(model_str=doc["model"]))
    return RankerModel(
        int(doc["_id"]),
        booster,
        list(doc["features"]),
        dict(doc.get("metrics") or {}),
        _embeddings(doc),
        text=doc["model"],
    )


async def describe(db) -> list[dict]:
    cursor = (
        db[MODELS]
        .find({}, projection={"features": 1, "metrics": 1, "created_at": 1, "status": 1, "watermark": 1})
        .sort("_id", DESCENDING)
    )
    return [d async for d in cursor]
