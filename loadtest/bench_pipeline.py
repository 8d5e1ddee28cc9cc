"""The feed's offline pipeline at scale: Ray Data and Ray Train on 1M and 10M interactions, on one and two
Ray nodes of this machine, and a model switch's cost against the size of the history.

Synthetic interactions (users in taste groups engaging with clubs, rooms and events of the topics they like)
are written straight into an analytics store as seals of ~100k rows (what the interaction consumer writes),
so no database limits the figures. For each size and node count, a ``LocalCluster`` (a head without CPUs
and N worker nodes of ``--cpus-per-node`` CPUs each, every one a ``clubhub ray-node``) runs:

1. ``ranking.pipeline.read_log``: the Parquet seals into the training log (rows/s);
2. ``ranking.pipeline.query_dataset`` for the five time cuts training uses (feature rows/s);
3. ``ranking.pipeline.fit``: LightGBM lambdarank on N Ray Train workers (seconds).

Then the model switch: ``actors.interactions.add_tail`` (the consumer's own code) adds a fixed tail of
``--tail`` interactions sealed after the watermark to a version's user embeddings in a real Redis, at each
history size — against the rebuild the consumer did before (one pass over every interaction of the history).

Writes ``results/bench_pipeline.json`` and ``results/bench_pipeline.png``; leaves no process behind (every
node is stopped by its session, the embedded Redis by its pid).

    python loadtest/bench_pipeline.py [--sizes 1000000 10000000] [--nodes 1 2] [--big-nodes 2] [--max-queries 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

DAY = 86400.0
KINDS = ["impression", "click", "dwell", "rsvp", "join", "message"]


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def synthetic_items(n_interactions: int, seed: int):
    """Clubs, rooms and events sized to the log (about 200 interactions per user, 20 users per club)."""
    from ranking.dataset import items_from_rows

    rng = np.random.default_rng(seed)
    now = time.time()
    clubs = max(n_interactions // 4000, 20)
    rows = []
    for c in range(1, clubs + 1):
        rows.append(("club", c, c, now - 60 * DAY, np.nan, np.inf))
    rid = eid = 0
    for c in range(1, clubs + 1):
        for _ in range(3):
            rid += 1
            rows.append(("room", rid, c, now - 50 * DAY, np.nan, np.inf))
        for _ in range(8):
            eid += 1
            start = now - 30 * DAY + rng.uniform(0, 40 * DAY)
            rows.append(("event", eid, c, start - 10 * DAY, start, start + 7200))
    return items_from_rows(
        [(*r, True) for r in rows],
        {c: True for c in range(1, clubs + 1)},
        {c: f"club {c}" for c in range(1, clubs + 1)},
    )


def synthetic_log(items, n: int, seed: int, groups: int = 16):
    """``n`` interactions as a pyarrow table: users in taste groups, each group favouring a few topics."""
    import pyarrow as pa

    from ranking.features import TYPES
    from storage.analytics import SCHEMA

    rng = np.random.default_rng(seed)
    users = max(n // 200, 50)
    topics = 12
    club_topic = rng.integers(0, topics, int(items.club_id.max()) + 1)
    item_topic = club_topic[items.club_id]
    group_likes = rng.dirichlet(np.ones(topics) * 0.3, groups)  # (groups, topics)
    user_group = rng.integers(0, groups, users + 1)
    user = rng.integers(1, users + 1, n)
    g = user_group[user]
    # Per group: an item distribution (topic preference, a little popularity noise), sampled in bulk.
    item = np.empty(n, dtype=np.int64)
    pop = rng.pareto(2.0, items.n) + 1
    for k in range(groups):
        m = g == k
        p = group_likes[k][item_topic] * pop
        item[m] = rng.choice(items.n, m.sum(), p=p / p.sum())
    kind = rng.choice(["impression", "click", "dwell"], n, p=[0.62, 0.28, 0.10]).astype(object)
    t = items.type_code[item]
    commit = rng.random(n) < 0.08
    kind[commit & (t == TYPES.index("event"))] = "rsvp"
    kind[commit & (t == TYPES.index("club"))] = "join"
    kind[commit & (t == TYPES.index("room"))] = "message"
    dwell = np.where(kind == "dwell", rng.integers(2_000, 90_000, n), 0)
    now = time.time()
    ts = np.sort(now - 30 * DAY + rng.uniform(0, 30 * DAY - 60, n))
    type_names = np.array(TYPES, dtype=object)[t]
    return pa.Table.from_arrays(
        [
            pa.array([f"s{i}" for i in range(n)]),
            pa.array(user, pa.int64()),
            pa.array(type_names, pa.string()),
            pa.array(items.item_id[item], pa.int64()),
            pa.array(kind, pa.string()),
            pa.array(dwell, pa.int64(), mask=dwell == 0),
            pa.array(ts, pa.float64()),
            pa.array(np.full(n, "bench", dtype=object), pa.string()),
        ],
        schema=SCHEMA,
    )


def write_history(store, table, per_seal: int = 100_000) -> str:
    from storage.analytics import seal_id

    base = int(time.time() * 1000) - 10_000_000
    last = ""
    for k, lo in enumerate(range(0, table.num_rows, per_seal)):
        last = seal_id(f"{base + k}-0")
        store.write_table(last, table.slice(lo, per_seal))
    return last


def run_pipeline(store, items, nodes: int, cpus: int, max_queries: int, seed: int, root: Path) -> dict:
    import ray
    from support.cluster import LocalCluster

    from ranking import pipeline
    from ranking.dataset import item_embeddings
    from ranking.train import NEGATIVES_PER_QUERY, PARAMS, PATIENCE, ROUNDS

    cluster = LocalCluster(root / f"cluster-{nodes}", workers=nodes, worker_cpus=cpus, object_store_mb=1500)
    # One token for every cluster of the run: this process's Ray reads its token once.
    token = root / "auth_token"
    if not token.exists():
        token.write_text(cluster.token_path.read_text())
    cluster.token_path.write_text(token.read_text())
    out: dict = {"nodes": nodes, "cpus_per_node": cpus}
    try:
        t0 = time.perf_counter()
        cluster.start(timeout=240)
        out["cluster_start_s"] = round(time.perf_counter() - t0, 1)
        from ray._raylet import Config  # Ray reads its auth mode once: make it see the cluster's

        from actors import runtime
        from storage.settings import Settings

        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)
        Config.initialize("")
        # Joins on loopback (as a gateway does), not the machine's routable address.
        runtime.start_ray(Settings(data_dir=root / "driver", ray_address=cluster.address))
        pipeline.quiet()
        files, _, _ = store.files_until()
        lg, read = pipeline.read_log(store, files, items)
        out["read"] = {"rows": read.rows, "seconds": round(read.seconds, 2), "rows_per_s": round(read.rate)}
        log(f"     read {read.rows:,} rows in {read.seconds:.1f} s ({read.rate:,.0f} rows/s)")
        cuts = [float(q) for q in np.quantile(lg.ts, [0.375, 0.5, 0.625, 0.75, 0.875])]
        end = float(lg.ts[-1]) + 1e-3
        bounds = [*cuts, end]
        t1 = time.perf_counter()
        sets, snapshot_s = [], 0.0
        for i in range(5):
            s0 = time.perf_counter()
            vecs, _ = item_embeddings(items, lg, bounds[i], seed=seed)
            snapshot_s += time.perf_counter() - s0
            negatives = NEGATIVES_PER_QUERY if i < 3 else None
            sets.append(
                pipeline.query_dataset(
                    items, lg, i, bounds[i], bounds[i + 1], vecs, seed, negatives, max_queries
                )
            )
        rows = sum(d.count() for d in sets)
        build_s = time.perf_counter() - t1
        out["features"] = {
            "rows": rows,
            "seconds": round(build_s, 2),
            "rows_per_s": round(rows / build_s),
            "item_embedding_seconds": round(snapshot_s, 2),
        }
        log(f"     built {rows:,} feature rows in {build_s:.1f} s ({rows / build_s:,.0f} rows/s)")
        train_ds = sets[0].union(*sets[1:3]).materialize()
        _, best, fit_s, lgb_s = pipeline.fit(
            train_ds,
            sets[3],
            {**PARAMS, "seed": seed},
            ROUNDS,
            PATIENCE,
            nodes,
            store,
            f"bench-{nodes}-{int(time.time())}",
        )
        out["train"] = {
            "lightgbm_seconds": round(lgb_s, 2),
            "seconds": round(fit_s, 2),
            "workers": nodes,
            "best_iteration": best,
            "rows": train_ds.count(),
        }
        log(f"     trained on {nodes} worker(s) in {fit_s:.1f} s (best iteration {best})")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
    return out


async def switch_cost(redis, store, items, watermark: str, tail_rows: int, seed: int) -> dict:
    """The consumer's switch (``add_tail``) after a fixed tail, and the old rebuild (every interaction)."""
    from actors.interactions import add_tail, user_sums
    from ranking import registry
    from storage.analytics import seal_id

    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((items.n, 16))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    emb = registry.Embeddings(999, dict(items.index), vecs)
    tail = synthetic_log(items, tail_rows, seed + 1)
    tail_seal = seal_id(f"{int(time.time() * 1000)}-0")
    store.write_table(tail_seal, tail)
    await redis.flushdb()
    t0 = time.perf_counter()
    seals, rows = await add_tail(redis, store, 999, emb, watermark)
    switch_s = time.perf_counter() - t0
    # What a switch cost before: one pass over the history (here from Parquet, not the slower MongoDB).
    t1 = time.perf_counter()
    files, _, history = store.files_until(watermark)
    for f in files:
        user_sums(emb, store.read([f]).to_pydict())
    rebuild_s = time.perf_counter() - t1
    return {
        "tail_rows": rows,
        "tail_seals": seals,
        "switch_seconds": round(switch_s, 3),
        "history_rows": history,
        "full_rebuild_seconds": round(rebuild_s, 1),
        "rebuild_vs_switch": round(rebuild_s / max(switch_s, 1e-9), 1),
    }


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    runs = result["runs"]
    labels = [f"{r['interactions'] / 1e6:g}M, {r['nodes']} node(s)" for r in runs]
    axes[0].bar(labels, [r["features"]["rows_per_s"] for r in runs], color="#4c72b0")
    axes[0].set_ylabel("feature rows/s (Ray Data)")
    axes[0].tick_params(axis="x", rotation=20)
    ax2 = axes[0].twinx()
    ax2.plot(labels, [r["train"]["seconds"] for r in runs], "o-", color="#dd8452")
    ax2.set_ylabel("training seconds (Ray Train)")
    sw = result["switch"]
    sizes = [s["history_rows"] / 1e6 for s in sw]
    axes[1].plot(sizes, [s["switch_seconds"] for s in sw], "o-", label="switch (tail only)")
    axes[1].plot(sizes, [s["full_rebuild_seconds"] for s in sw], "s--", label="full rebuild (before)")
    axes[1].set_xlabel("history (M interactions)")
    axes[1].set_ylabel("seconds")
    axes[1].set_yscale("log")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument("--max-queries", type=int, default=2000, help="users sampled per time cut")
    parser.add_argument("--tail", type=int, default=20_000, help="interactions sealed after training")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--big-nodes",
        type=int,
        nargs="*",
        default=[2],
        help="node counts for sizes above 1M (long on 2 cores)",
    )
    args = parser.parse_args()

    from storage.analytics import AnalyticsStore
    from storage.services import Services
    from storage.settings import Settings

    root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    settings = Settings(data_dir=root / "services")
    services = Services(settings)
    result: dict = {"runs": [], "switch": [], "machine": {"cpus": os.cpu_count()}}
    RESULTS.mkdir(exist_ok=True)
    try:
        services.up()
        from storage.redis import connect_redis

        for n in args.sizes:
            log(f"{n:,} interactions")
            items = synthetic_items(n, args.seed)
            store = AnalyticsStore(str(root / f"analytics-{n}"))
            t0 = time.perf_counter()
            table = synthetic_log(items, n, args.seed)
            watermark = write_history(store, table)
            del table
            log(f"  generated and sealed in {time.perf_counter() - t0:.1f} s ({items.n} items)")
            for nodes in args.nodes if n <= 1_000_000 else args.big_nodes:
                log(f"  pipeline on {nodes} node(s) of {args.cpus_per_node} CPU")
                run = run_pipeline(store, items, nodes, args.cpus_per_node, args.max_queries, args.seed, root)
                result["runs"].append({"interactions": n, **run})

            async def switch(store=store, items=items, watermark=watermark):
                redis = connect_redis(services.urls()["redis"])
                try:
                    return await switch_cost(redis, store, items, watermark, args.tail, args.seed)
                finally:
                    await redis.aclose()

            sw = asyncio.run(switch())
            result["switch"].append(sw)
            log(
                f"  model switch after {sw['tail_rows']:,} new interactions: {sw['switch_seconds']} s; "
                f"the full rebuild over {sw['history_rows']:,}: {sw['full_rebuild_seconds']} s "
                f"(x{sw['rebuild_vs_switch']})"
            )
            shutil.rmtree(root / f"analytics-{n}", ignore_errors=True)
    finally:
        services.down()
        shutil.rmtree(root, ignore_errors=True)
    by = {(r["interactions"], r["nodes"]): r for r in result["runs"]}
    summary = {}
    for n in args.sizes:
        one, two = by.get((n, 1)), by.get((n, 2))
        if one and two:
            summary[f"{n // 1_000_000}M_features_two_vs_one_node"] = round(
                two["features"]["rows_per_s"] / one["features"]["rows_per_s"], 2
            )
            summary[f"{n // 1_000_000}M_train_two_vs_one_node"] = round(
                one["train"]["seconds"] / two["train"]["seconds"], 2
            )
    if len(result["switch"]) >= 2:
        a, b = result["switch"][0], result["switch"][-1]
        summary["switch_seconds_by_history"] = {
            str(s["history_rows"]): s["switch_seconds"] for s in result["switch"]
        }
        summary["switch_growth_vs_history_growth"] = round(
            (b["switch_seconds"] / a["switch_seconds"]) / (b["history_rows"] / a["history_rows"]), 3
        )
    result["summary"] = summary
    (RESULTS / "bench_pipeline.json").write_text(json.dumps(result, indent=2))
    if plot(result, RESULTS / "bench_pipeline.png"):
        log(f"plot: {RESULTS / 'bench_pipeline.png'}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
