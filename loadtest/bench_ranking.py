"""The feed benchmark: a seeded world, the trained ranker against its baselines, and feed latency.

1. ``clubhub seed`` a world of ~5,000 users with latent tastes whose ~1M interactions go through the real
   pipeline (stream → consumer → MongoDB and Redis signals), in a data directory of its own;
2. ``clubhub train-ranker``: training time and, on the held-out last eighth of the log, NDCG@1..20 and
   recall@20 of the LightGBM ranker next to the popularity and recency baselines;
3. feed latency through the ``Ranker`` actor (one Ray call per feed: candidates, signals, features,
   one batched prediction) for users with ~500 candidates, against the popularity fallback in the same
   run (the same call before any model).

Writes ``results/bench_ranking.json`` and ``results/bench_ranking.png`` (NDCG@k per method) and ends
with one line of JSON (``ndcg10_vs_popularity``, ``feed_p99_ms``, …).

    python loadtest/bench_ranking.py [--users 5000] [--clubs 250] [--events 2000] [--requests 600]

The seeded world is kept in ``--data-dir`` (default ``.clubhub-bench/ranking``): a second run reuses it
(seeding is idempotent) and trains a new model version on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))

CLUBHUB = str(Path(sys.executable).with_name("clubhub"))


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def run_cli(args: list[str], env: dict) -> str:
    t0 = time.perf_counter()
    proc = subprocess.run([CLUBHUB, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"clubhub {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith('{"ts"')]
    log("\n".join("   " + ln for ln in lines))
    log(f"   ({time.perf_counter() - t0:.1f} s)")
    return proc.stdout


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def measure_feed(settings, requests: int, seed: int) -> dict:
    import random

    import ray

    from actors import runtime
    from actors.interactions import InteractionConsumer
    from actors.ranker import Ranker
    from ranking import registry
    from storage.mongo import database_name
    from storage.services import Services
    from storage.stores import Stores

    urls = Services(settings).urls()
    config = {
        "postgres_url": urls["postgres"],
        "mongo_url": urls["mongo"],
        "mongo_db": database_name(urls["mongo"], settings.mongo_db),
        "redis_url": urls["redis"],
        "ranker_reload_s": 1.0,
    }
    stores = await Stores.open(settings, urls)
    conn_users = [u for u in await _user_ids(stores)]
    version = await registry.latest_version(stores.mongo)
    await stores.close()
    runtime.start_ray(settings)
    rng = random.Random(seed)
    users = [rng.choice(conn_users) for _ in range(requests)]
    out = {}
    try:
        # The interaction consumer rebuilds every user's embedding for the new model; rankers serve it after.
        consumer = InteractionConsumer.options(name="bench-consumer", num_cpus=0).remote(config)
        t0 = time.perf_counter()
        while True:
            await consumer.start.remote()
            stats = await consumer.stats.remote()
            if stats["model"] == version:
                break
            if time.perf_counter() - t0 > 600:
                raise SystemExit("the interaction consumer did not rebuild user embeddings within 10 minutes")
            await asyncio.sleep(1)
        out["user_embedding_rebuild"] = stats["rebuilt"][version]
        log(f"   user embeddings rebuilt for v{version}: {stats['rebuilt'][version]}")
        for name, with_model in (("popularity_fallback", False), ("ranker", True)):
            actor = Ranker.options(name=f"bench-ranker-{name}", num_cpus=0).remote(
                {**config, "use_model": with_model}
            )
            await actor.start.remote()
            for u in users[:30]:  # warm-up: connections, caches, the booster's first call
                await actor.feed.remote(u, 20)
            lat, cands = [], []
            t0 = time.perf_counter()
            for u in users:
                s = time.perf_counter()
                body = await actor.feed.remote(u, 20)
                lat.append((time.perf_counter() - s) * 1000)
                cands.append(body["candidates"])
                assert body["model"] == (version if with_model else None)
            wall = time.perf_counter() - t0
            # The same feeds from 8 concurrent clients: what one ranker actor sustains.
            queue = list(users)
            conc_lat: list[float] = []

            async def client(actor=actor, queue=queue, conc_lat=conc_lat):
                while queue:
                    u = queue.pop()
                    s = time.perf_counter()
                    await actor.feed.remote(u, 20)
                    conc_lat.append((time.perf_counter() - s) * 1000)

            t1 = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(8)))
            conc_wall = time.perf_counter() - t1
            out[name] = {
                "feeds_per_s_concurrency_8": round(len(users) / conc_wall, 1),
                "p99_ms_concurrency_8": round(percentile(conc_lat, 99), 2),
                "p50_ms": round(percentile(lat, 50), 2),
                "p90_ms": round(percentile(lat, 90), 2),
                "p99_ms": round(percentile(lat, 99), 2),
                "max_ms": round(max(lat), 2),
                "feeds_per_s_sequential": round(len(users) / wall, 1),
                "mean_candidates": round(statistics.fmean(cands), 1),
                "min_candidates": min(cands),
            }
            log(
                f"   {name:<20} p50 {out[name]['p50_ms']:6.2f} ms  p99 {out[name]['p99_ms']:6.2f} ms  "
                f"({out[name]['mean_candidates']:.0f} candidates on average, min {out[name]['min_candidates']}); "
                f"8 concurrent clients: {out[name]['feeds_per_s_concurrency_8']:.0f} feeds/s, "
                f"p99 {out[name]['p99_ms_concurrency_8']:.1f} ms"
            )
            ray.kill(actor)
        ray.kill(consumer)
    finally:
        runtime.stop_ray()
    return out


async def _user_ids(stores) -> list[int]:
    from storage.models import User

    return list(await User.filter(email__endswith="@demo.clubhub.example").values_list("id", flat=True))


def plot(metrics: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for method, style in (("ranker", "o-"), ("popularity", "s--"), ("recency", "^:")):
        ys = metrics[f"ndcg_at_k_{method}"]
        ax.plot(range(1, len(ys) + 1), ys, style, label=method, markersize=4)
    ax.set_xlabel("k")
    ax.set_ylabel("NDCG@k (held-out last eighth of the log)")
    ax.set_title(f"Feed ranking on a seeded world ({metrics['interactions']:,} interactions)")
    ax.set_xticks(range(1, 21))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--clubs", type=int, default=250)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sessions-per-day", type=float, default=0.62)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--data-dir", default=str(ROOT / ".clubhub-bench" / "ranking"))
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_")}
    env["CLUBHUB_DATA_DIR"] = args.data_dir
    os.environ.update(env)
    from storage.services import Services
    from storage.settings import Settings

    settings = Settings(data_dir=args.data_dir)
    RESULTS.mkdir(exist_ok=True)
    try:
        log(f"1. seeding {args.users} users, {args.clubs} clubs, {args.events} events into {args.data_dir}")
        t0 = time.perf_counter()
        run_cli(
            [
                "seed",
                "--users",
                str(args.users),
                "--clubs",
                str(args.clubs),
                "--events",
                str(args.events),
                "--days",
                str(args.days),
                "--sessions-per-day",
                str(args.sessions_per_day),
                "--seed",
                str(args.seed),
            ],
            env,
        )
        seed_s = time.perf_counter() - t0
        log("2. training the ranker")
        t1 = time.perf_counter()
        out = run_cli(["train-ranker", "--json"], env)
        train_wall_s = time.perf_counter() - t1
        metrics = json.loads(out.strip().splitlines()[-1])
        log(f"3. feed latency, {args.requests} feeds of 20 items each")
        latency = asyncio.run(measure_feed(settings, args.requests, args.seed))
    finally:
        Services(settings).down()

    result = {
        "world": {
            "users": args.users,
            "clubs": args.clubs,
            "events": args.events,
            "days": args.days,
            "interactions": metrics["interactions"],
            "seed_seconds": round(seed_s, 1),
        },
        "training": {
            k: metrics[k]
            for k in (
                "version",
                "train_seconds",
                "best_iteration",
                "queries_train",
                "rows_train",
                "queries_test",
            )
        }
        | {"wall_seconds": round(train_wall_s, 1)},
        "ndcg10": {m: metrics[f"ndcg10_{m}"] for m in ("ranker", "popularity", "recency")},
        "recall20": {m: metrics[f"recall20_{m}"] for m in ("ranker", "popularity", "recency")},
        "discovery_ndcg10": {
            m: metrics[f"discovery_ndcg10_{m}"] for m in ("ranker", "popularity", "recency")
        },
        "ndcg_at_k": {m: metrics[f"ndcg_at_k_{m}"] for m in ("ranker", "popularity", "recency")},
        "feed_latency": latency,
    }
    summary = {
        "ndcg10_vs_popularity": round(metrics["ndcg10_ranker"] / max(metrics["ndcg10_popularity"], 1e-9), 3),
        "discovery_ndcg10_vs_popularity": round(
            metrics["discovery_ndcg10_ranker"] / max(metrics["discovery_ndcg10_popularity"], 1e-9), 3
        ),
        "ndcg10_vs_recency": round(metrics["ndcg10_ranker"] / max(metrics["ndcg10_recency"], 1e-9), 3),
        "recall20_vs_popularity": round(
            metrics["recall20_ranker"] / max(metrics["recall20_popularity"], 1e-9), 3
        ),
        "feed_p50_ms": latency["ranker"]["p50_ms"],
        "feed_p99_ms": latency["ranker"]["p99_ms"],
        "feed_p99_vs_popularity_fallback": round(
            latency["ranker"]["p99_ms"] / max(latency["popularity_fallback"]["p99_ms"], 1e-9), 3
        ),
        "train_seconds": metrics["train_seconds"],
        "interactions": metrics["interactions"],
    }
    result["summary"] = summary
    (RESULTS / "bench_ranking.json").write_text(json.dumps(result, indent=2))
    if plot(metrics, RESULTS / "bench_ranking.png"):
        log(f"plot: {RESULTS / 'bench_ranking.png'}")
    print(
        f"NDCG@10  ranker {metrics['ndcg10_ranker']:.4f}  popularity {metrics['ndcg10_popularity']:.4f}  "
        f"recency {metrics['ndcg10_recency']:.4f}  → {summary['ndcg10_vs_popularity']}× popularity"
    )
    print(
        f"NDCG@10 over events and clubs only: ranker {metrics['discovery_ndcg10_ranker']:.4f}  popularity "
        f"{metrics['discovery_ndcg10_popularity']:.4f} → {summary['discovery_ndcg10_vs_popularity']}×"
    )
    print(
        f"recall@20 ranker {metrics['recall20_ranker']:.4f}  popularity {metrics['recall20_popularity']:.4f}"
    )
    print(
        f"training {metrics['train_seconds']} s; feed p50 {summary['feed_p50_ms']} ms, p99 {summary['feed_p99_ms']} ms "
        f"(popularity fallback p99 {latency['popularity_fallback']['p99_ms']} ms)"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
