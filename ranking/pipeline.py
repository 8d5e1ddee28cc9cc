"""The feed's offline pipeline on Ray: Ray tasks read the analytics store, Ray Data builds the training
queries, Ray Train's ``LightGBMTrainer`` fits the ranker.

- ``read_log``: Parquet seals -> ``Log`` (``dataset.encode`` per few files, in parallel Ray tasks).
- ``query_dataset``: the queries of one time cut. The point-in-time ``Snapshot`` is built once and put in
  the object store; users are split into chunks and each chunk's candidates and feature rows are built by a
  Ray Data task (``dataset.Snapshot.inputs`` + ``features.feature_matrix``, the code serving shares) —
  the part of training that grows with users and interactions, spread over the cluster's CPUs.
- ``fit``: LightGBM lambdarank in Ray Train workers. Each worker takes the queries whose id falls to its
  rank (a query's rows never split across workers, which lambdarank needs) and, with more than one worker,
  trains data-parallel over LightGBM's own network; every worker evaluates the whole validation set, so
  early stopping decides the same everywhere.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dataset import Items, Log, Snapshot, columns, encode, item_codes, labels, to_log
from .features import FEATURES, feature_matrix
from .signals import decay_factor

FEATURE_COLUMNS = [f"f{i:02d}" for i in range(len(FEATURES))]
USERS_PER_TASK = 250
QID_STRIDE = 1 << 32  # qid = cut index * QID_STRIDE + user id: unique over the cuts of one training


@dataclass
class Timing:
    rows: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def quiet() -> None:
    """No Ray Data progress bars or execution banners: the job prints its own stage lines (bars garble
    a log, and every Ray Train worker would draw its own)."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def _read_encode(url: str, files: list[str], lookup: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    from storage.analytics import AnalyticsStore

    return encode(columns(AnalyticsStore(url).read(files)), *lookup)


def read_log(store, files: list[str], items: Items) -> tuple[Log, Timing]:
    """Every interaction of ``files`` (Parquet on the store's filesystem), read and encoded by Ray tasks,
    a few files each, in parallel over the cluster.

    Not ``ray.data.read_parquet``: on Ray 2.60 here it merged the 143 files of the benchmark's 974k rows
    into one block and spent 230-630 s deserializing it (pyarrow reads them in 0.8 s)."""
    import ray

    t0 = time.perf_counter()
    if not files:
        return to_log([]), Timing()
    lookup = ray.put(item_codes(items))
    cpus = max(int(ray.cluster_resources().get("CPU", 1)), 1)
    per_task = max(1, -(-len(files) // (4 * cpus)))
    task = ray.remote(num_cpus=1)(_read_encode)
    refs = [
        task.remote(store.url, files[lo : lo + per_task], lookup) for lo in range(0, len(files), per_task)
    ]
    log = to_log(ray.get(refs))
    return log, Timing(len(log.ts), time.perf_counter() - t0)


_SNAPSHOTS: dict[Any, Any] = {}  # per worker process: the snapshot a task's chunk reads, by object id


def _build_chunk(batch: dict, ref: list) -> dict[str, np.ndarray]:
    """One chunk of users -> their queries' rows (features, grade, qid, the baselines' scores, room flag)."""
    import ray

    key = ref[0].hex()
    if key not in _SNAPSHOTS:
        _SNAPSHOTS.clear()  # one cut at a time: bounded to one snapshot per worker
        _SNAPSHOTS[key] = ray.get(ref[0])
    snap, truth, negatives, cut, seed = _SNAPSHOTS[key]
    xs, ys, qids, pops, recs = [], [], [], [], []
    part = int(batch["part"][0])
    rng = np.random.default_rng([seed, cut, part])
    for u in batch["users"][0]:
        u = int(u)
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
        qids.append(np.full(len(cand), cut * QID_STRIDE + u, dtype=np.int64))
        pops.append(x.item_pop * decay_factor(snap.t))
        recs.append(snap.items.created_at[cand])
    if not xs:
        empty = np.zeros(0)
        return {
            **{c: empty for c in FEATURE_COLUMNS},
            "y": empty,
            "qid": empty.astype(np.int64),
            "pop": empty,
            "rec": empty,
        }
    x = np.vstack(xs)
    out = {c: x[:, i] for i, c in enumerate(FEATURE_COLUMNS)}
    out.update(
        y=np.concatenate(ys).astype(np.float64),
        qid=np.concatenate(qids),
        pop=np.concatenate(pops),
        rec=np.concatenate(recs),
    )
    return out


def query_dataset(
    items: Items,
    log: Log,
    cut: int,
    cutoff: float,
    end: float,
    vecs: np.ndarray,
    seed: int,
    negatives: int | None,
    max_queries: int | None,
):
    """The queries cut at ``cutoff`` and labelled by [cutoff, end), as a materialized Ray Dataset."""
    import ray
    import ray.data

    snap = Snapshot(items, log, cutoff, vecs)
    truth = labels(log, items, cutoff, end)
    users = sorted(truth)
    if max_queries and len(users) > max_queries:
        rng = np.random.default_rng([seed, cut])
        users = sorted(rng.choice(users, max_queries, replace=False).tolist())
    ref = ray.put((snap, truth, negatives, cut, seed))
    chunks = [
        {"part": k, "users": np.array(users[lo : lo + USERS_PER_TASK], dtype=np.int64)}
        for k, lo in enumerate(range(0, len(users), USERS_PER_TASK))
    ]
    if not chunks:
        chunks = [{"part": 0, "users": np.zeros(0, dtype=np.int64)}]
    build: Any = _build_chunk
    ds = ray.data.from_items(chunks, override_num_blocks=len(chunks)).map_batches(
        build, fn_kwargs={"ref": [ref]}, batch_size=1
    )
    return ds.materialize()


def to_arrays(ds) -> dict[str, np.ndarray]:
    """A (small) query dataset on the driver, rows grouped by query in their order."""
    df = ds.to_pandas()
    df = df.sort_values("qid", kind="stable")
    return {c: df[c].to_numpy() for c in df.columns}


def groups_of(qid: np.ndarray) -> list[int]:
    """Sizes of runs of equal qids (rows sorted by qid)."""
    if len(qid) == 0:
        return []
    edges = np.flatnonzero(np.diff(qid)) + 1
    return np.diff(np.concatenate([[0], edges, [len(qid)]])).tolist()


def _train_worker(config: dict) -> None:
    import lightgbm as lgb
    import ray.train
    from ray.train import Checkpoint

    quiet()
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()

    def frame(name: str, mine: bool):
        df = ray.train.get_dataset_shard(name).materialize().to_pandas()
        if mine and world > 1:
            # Whole queries per worker. (Ray Data hands over Arrow-backed columns, which pandas cannot
            # take a modulo of: numpy's.)
            df = df[df["qid"].to_numpy(dtype=np.int64) % world == rank]
        return df.sort_values("qid", kind="stable")

    tr, va = frame("train", True), frame("valid", False)
    params = dict(config["params"])
    if world > 1:
        params.update(
            tree_learner="data_parallel", pre_partition=True, **ray.train.lightgbm.get_network_params()
        )
    train_set = lgb.Dataset(
        tr[FEATURE_COLUMNS].to_numpy(),
        tr["y"].to_numpy(),
        group=groups_of(tr["qid"].to_numpy()),
        feature_name=FEATURES,
        free_raw_data=True,
    )
    valid_set = lgb.Dataset(
        va[FEATURE_COLUMNS].to_numpy(),
        va["y"].to_numpy(),
        group=groups_of(va["qid"].to_numpy()),
        reference=train_set,
    )
    t0 = time.perf_counter()
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config["rounds"],
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(config["patience"], first_metric_only=True, verbose=False)],
    )
    seconds = time.perf_counter() - t0
    best = int(booster.best_iteration or booster.current_iteration())
    metrics = {"best_iteration": best, "train_seconds": seconds, "rows": len(tr), "rank": rank}
    if rank == 0:
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "model.txt"), "w") as f:
                f.write(booster.model_to_string(num_iteration=best))
            ray.train.report(metrics, checkpoint=Checkpoint.from_directory(d))
    else:
        ray.train.report(metrics)


def fit(
    train_ds,
    valid_ds,
    params: dict,
    rounds: int,
    patience: int,
    workers: int,
    store,
    name: str,
) -> tuple[str, int, float, float]:
    """Train with Ray Train's LightGBMTrainer; returns (booster text, best iteration, seconds in all,
    seconds in LightGBM itself on rank 0)."""
    import ray
    from ray.train import DataConfig, RunConfig, ScalingConfig
    from ray.train.lightgbm import LightGBMTrainer

    # A worker per CPU the cluster has to spare, one each; on a cluster without a free CPU, none asked.
    cpus = float(ray.cluster_resources().get("CPU", 0))
    per_worker = 1.0 if cpus >= workers else 0.0
    params = {**params, "num_threads": max(int(cpus // max(workers, 1)), 1)}
    trainer = LightGBMTrainer(
        _train_worker,
        train_loop_config={"params": params, "rounds": rounds, "patience": patience},
        scaling_config=ScalingConfig(num_workers=workers, resources_per_worker={"CPU": per_worker}),
        datasets={"train": train_ds, "valid": valid_ds},
        # Unsplit: each worker picks whole queries itself (Ray's split would cut them).
        dataset_config=DataConfig(datasets_to_split=[]),
        run_config=RunConfig(
            name=name,
            storage_path=posixpath.join(posixpath.dirname(store.root), "train-runs"),
            storage_filesystem=store.fs,
        ),
    )
    t0 = time.perf_counter()
    result = trainer.fit()
    seconds = time.perf_counter() - t0
    if result.checkpoint is None:
        raise RuntimeError(f"training produced no model: {result.error}")
    with result.checkpoint.as_directory() as d, open(os.path.join(d, "model.txt")) as f:
        text = f.read()
    metrics = result.metrics or {}
    return text, int(metrics.get("best_iteration", 0)), seconds, float(metrics.get("train_seconds", 0.0))
