"""Feed serving latency and throughput through ``Ranker`` actors, the way the gateway calls them.

``measure_feed_serving`` creates ``rankers`` Ranker actors, sends each user's feeds to the actor the
gateway would pick (jump hash of the user id, as ``actors.client`` does), and measures a sequential pass
(one client: p50/p90/p99/max, feeds/s) and a concurrent pass (``concurrency`` clients: feeds/s, p99).
The caller has Ray initialized; the actors are killed at the end.

Against a seeded data dir (a copy of ``.clubhub-bench/ranking``, say), starting its services if needed:

    CLUBHUB_DATA_DIR=/tmp/feedworld python loadtest/feed_load.py [--requests 600] [--rankers 1 2] [--popularity]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def measure_feed_serving(
    config: dict,
    user_ids: list[int],
    requests: int = 600,
    concurrency: int = 8,
    concurrent_requests: int | None = None,
    rankers: int = 1,
    seed: int = 0,
    use_model: bool = True,
    env: dict[str, str] | None = None,
    batched: bool = True,
) -> dict:
    """``env``: environment variables for the ranker actors (an A/B of a knob in one run). ``batched``: feeds
    go as the gateway sends them, through a ``ShardBatcher`` per ranker (concurrent requests coalesced into
    one Ray call); False: one Ray call per feed."""
    import ray

    from actors.client import FEED_BATCH_MAX, ShardBatcher
    from actors.hashing import jump_hash
    from actors.ranker import Ranker

    rng = random.Random(seed)
    users = [rng.choice(user_ids) for _ in range(requests)]
    # The concurrent phase's p99 needs more samples than one client's: by default three times as many.
    conc_users = [rng.choice(user_ids) for _ in range(concurrent_requests or 3 * requests)]
    tag = uuid.uuid4().hex[:6]
    actors = [
        Ranker.options(
            name=f"feed-load-{tag}-{i}", num_cpus=0, runtime_env={"env_vars": env} if env else None
        ).remote({**config, "use_model": use_model})
        for i in range(rankers)
    ]

    def actor_of(user_id: int):
        return actors[jump_hash(user_id, len(actors))]

    batchers = [
        ShardBatcher(a, flush_ms=0, max_items=FEED_BATCH_MAX, method="feeds", unavailable="feed unavailable")
        for a in actors
    ]

    async def one_feed(user_id: int) -> dict:
        if batched:
            return await batchers[jump_hash(user_id, len(actors))].submit({"user_id": user_id, "limit": 20})
        return await actor_of(user_id).feed.remote(user_id, 20)

    try:
        await asyncio.gather(*(a.start.remote() for a in actors))
        version = None
        if use_model:
            # A ranker serves a version only once its user embeddings are ready: wait for it, bounded.
            deadline = time.perf_counter() + 60
            while True:
                versions = [s["version"] for s in await asyncio.gather(*(a.stats.remote() for a in actors))]
                if all(v is not None for v in versions) and len(set(versions)) == 1:
                    version = versions[0]
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(
                        f"rankers serve no model (versions {versions}): user embeddings ready?"
                    )
                await asyncio.sleep(0.5)
        compiled = False
        if use_model and config.get("compile_model", True):
            # The rankers compile the model in the background (ranking.compiled) and serve LightGBM's
            # booster meanwhile: measure the compiled one, waiting a bounded time for it.
            deadline = time.perf_counter() + 240
            while not compiled and time.perf_counter() < deadline:
                stats = await asyncio.gather(*(a.stats.remote() for a in actors))
                compiled = all(s.get("compiled_version") == version for s in stats)
                if not compiled:
                    await asyncio.sleep(0.5)
            if not compiled:
                log("the rankers did not compile the model within 240 s: measuring LightGBM's booster")
        pids = [s.get("pid") for s in await asyncio.gather(*(a.stats.remote() for a in actors))]
        log(f"ranker actor pids: {pids}")
        # Warm-up: connections, caches, the booster's first calls, on every actor.
        for u in users[: 30 * rankers]:
            await one_feed(u)

        lat: list[float] = []
        cands: list[int] = []
        t0 = time.perf_counter()
        for u in users:
            s = time.perf_counter()
            body = await one_feed(u)
            lat.append((time.perf_counter() - s) * 1000)
            cands.append(body["candidates"])
            if body["model"] != version:
                raise RuntimeError(f"feed served by model {body['model']}, expected {version}")
        wall = time.perf_counter() - t0

        queue = list(conc_users)
        conc_lat: list[float] = []

        async def client() -> None:
            while queue:
                u = queue.pop()
                s = time.perf_counter()
                await one_feed(u)
                conc_lat.append((time.perf_counter() - s) * 1000)

        t1 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        conc_wall = time.perf_counter() - t1
        stats = await asyncio.gather(*(a.stats.remote() for a in actors))
    finally:
        for a in actors:
            ray.kill(a)
    return {
        "rankers": rankers,
        "model": version,
        "compiled": compiled,
        "batched": batched,
        "requests": requests,
        "p50_ms": round(percentile(lat, 50), 2),
        "p90_ms": round(percentile(lat, 90), 2),
        "p99_ms": round(percentile(lat, 99), 2),
        "max_ms": round(max(lat), 2),
        "feeds_per_s_sequential": round(len(users) / wall, 1),
        "concurrency": concurrency,
        "concurrent_requests": len(conc_users),
        f"feeds_per_s_concurrency_{concurrency}": round(len(conc_users) / conc_wall, 1),
        f"p50_ms_concurrency_{concurrency}": round(percentile(conc_lat, 50), 2),
        f"p99_ms_concurrency_{concurrency}": round(percentile(conc_lat, 99), 2),
        "mean_candidates": round(statistics.fmean(cands), 1),
        "min_candidates": min(cands),
        "served_per_actor": [s["served"] for s in stats],
        "actor_stats": stats,
    }


async def _ensure_user_embeddings(config: dict, version: int) -> None:
    """The interaction consumer rebuilds every user's embedding for a new model; rankers serve it after."""
    import ray

    from actors.interactions import InteractionConsumer
    from storage import keys
    from storage.redis import connect_redis

    redis = connect_redis(config["redis_url"])
    try:
        if await redis.exists(keys.user_embedding_ready(version)):
            return
    finally:
        await redis.aclose()
    log(f"user embeddings for v{version} missing: rebuilding them with the interaction consumer")
    consumer = InteractionConsumer.options(
        name=f"feed-load-consumer-{uuid.uuid4().hex[:6]}", num_cpus=0
    ).remote(config)
    try:
        t0 = time.perf_counter()
        while True:
            await consumer.start.remote()
            if (await consumer.stats.remote())["model"] == version:
                return
            if time.perf_counter() - t0 > 600:
                raise SystemExit("the interaction consumer did not rebuild user embeddings within 10 minutes")
            await asyncio.sleep(1)
    finally:
        ray.kill(consumer)


async def _main(args: argparse.Namespace) -> dict:
    from actors import runtime
    from ranking import registry
    from storage.models import User
    from storage.mongo import database_name
    from storage.services import Services
    from storage.settings import Settings
    from storage.stores import Stores

    settings = Settings()
    services = Services(settings)
    started = services.up()
    try:
        urls = services.urls()
        if not (urls["postgres"] and urls["mongo"] and urls["redis"]):
            raise SystemExit(f"services not running: {urls}")
        config = {
            "postgres_url": urls["postgres"],
            "mongo_url": urls["mongo"],
            "mongo_db": database_name(urls["mongo"], settings.mongo_db),
            "redis_url": urls["redis"],
            "ranker_reload_s": 1.0,
            "compile_model": not args.lightgbm,
            "model_cache_dir": str(settings.data_path / "model-cache"),
        }
        stores = await Stores.open(settings, urls)
        try:
            rows = await User.filter(email__endswith="@demo.clubhub.example").values_list("id")
            users = [int(r[0]) for r in rows]
            version = await registry.latest_version(stores.mongo)
        finally:
            await stores.close()
        runtime.start_ray(settings)
        try:
            if not args.popularity and version is not None:
                await _ensure_user_embeddings(config, version)
            out: dict = {"runs": []}
            variants: list[dict[str, str] | None] = [None]
            if args.ab:
                name, _, value = args.ab.partition("=")
                variants.append({name: value})
            for _ in range(args.repeat):
                for n, env in [(n, env) for n in args.rankers for env in variants]:
                    r = await measure_feed_serving(
                        config,
                        users,
                        requests=args.requests,
                        concurrency=args.concurrency,
                        rankers=n,
                        seed=args.seed,
                        use_model=not args.popularity,
                        env=env,
                        batched=not args.unbatched,
                    )
                    r["env"] = env
                    c = args.concurrency
                    log(
                        f"{n} ranker(s){' (popularity)' if args.popularity else ''}{' ' + str(env) if env else ''}: sequential p50 {r['p50_ms']} ms "
                        f"p90 {r['p90_ms']} p99 {r['p99_ms']} max {r['max_ms']} ({r['feeds_per_s_sequential']} feeds/s); "
                        f"{c} concurrent: {r[f'feeds_per_s_concurrency_{c}']} feeds/s p50 "
                        f"{r[f'p50_ms_concurrency_{c}']} p99 {r[f'p99_ms_concurrency_{c}']} ms; "
                        f"{r['mean_candidates']:.0f} candidates on average"
                    )
                    out["runs"].append(r)
            return out
        finally:
            runtime.stop_ray()
    finally:
        if started and not args.keep_services:
            services.down(started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rankers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ab", help="NAME=VALUE: also run every measurement with this env var in the actors")
    parser.add_argument("--popularity", action="store_true", help="the popularity fallback, no model")
    parser.add_argument(
        "--unbatched", action="store_true", help="one Ray call per feed (the gateway batches them)"
    )
    parser.add_argument(
        "--lightgbm", action="store_true", help="serve LightGBM's booster, not the compiled model"
    )
    parser.add_argument("--keep-services", action="store_true", help="leave services this run started up")
    args = parser.parse_args()
    if not os.environ.get("CLUBHUB_DATA_DIR"):
        raise SystemExit("set CLUBHUB_DATA_DIR to a seeded data dir (a copy of .clubhub-bench/ranking)")
    out = asyncio.run(_main(args))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
