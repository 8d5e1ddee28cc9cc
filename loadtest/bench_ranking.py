"""The feed benchmark: a seeded world, the trained ranker against its baselines, a model switch, feed latency.

Stages (each with a progress bar and its start and duration in the JSON's ``timeline``):

1. ``clubhub seed`` a world of ~5,000 users with latent tastes whose ~1M interactions go through the real
   pipeline (stream → consumer → MongoDB, Redis signals and the analytics store's Parquet), in a data
   directory of its own (kept: a second run skips this);
2. the stores: which MongoDB served (embedded or external) and its measured insert and scan rates, so a
   reader can tell the embedded server's limits from the product's;
3. ``clubhub train-ranker`` on Ray (Ray Data features, Ray Train LightGBM), and the hosts' turnout model:
   training time, NDCG@1..20, recall@20, discovery NDCG@10 and NDCG@10 over reels against popularity and
   recency on the held-out last eighth of the log, the turnout model's MAE against the naive baseline;
4. the model switch: the interaction consumer adds what was sealed since the training's watermark and marks
   the version ready (seconds);
5. feed latency through ``Ranker`` actors (``feed_load.measure_feed_serving``): one client and 8 concurrent
   ones, one and two ranker actors, and the popularity fallback (no model) as the baseline in the same run.

Writes ``results/bench_ranking.json`` and ``results/bench_ranking.png`` (NDCG@k per method) and ends
with one line of JSON (``ndcg10_vs_popularity``, ``feed_p99_ms``, …). Stops every process it started
(the embedded services, the local Ray instance) and says so (``left_behind``).

    python loadtest/bench_ranking.py [--users 5000] [--clubs 250] [--events 2000] [--requests 500]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

CLUBHUB = str(Path(sys.executable).with_name("clubhub"))
# The world's layout changed with the analytics store (v2: an older cached world would lack its Parquet),
# then with reels (v3: the world posts and watches reels).
DATA_DIR = ROOT / ".clubhub-bench" / "ranking-v3"


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


class Timeline:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.stages: list[dict] = []

    def stage(self, name: str):
        timeline = self

        class _Stage:
            def __enter__(self):
                self.start = time.perf_counter()
                log(f"[{self.start - timeline.t0:7.1f} s] {name}")
                return self

            def __exit__(self, *exc):
                end = time.perf_counter()
                timeline.stages.append(
                    {
                        "stage": name,
                        "start_s": round(self.start - timeline.t0, 1),
                        "seconds": round(end - self.start, 1),
                    }
                )
                log(f"[{end - timeline.t0:7.1f} s] {name}: {end - self.start:.1f} s")

        return _Stage()


def run_cli(args: list[str], env: dict, bar_pattern: str | None = None, desc: str = "") -> str:
    """``clubhub ARGS``; lines matching ``bar_pattern`` (``done/total``) drive a progress bar, the others
    are shown as they come."""
    from tqdm import tqdm

    proc = subprocess.Popen(
        [CLUBHUB, *args],
        env={**env, "PYTHONUNBUFFERED": "1"},  # its stage lines as they come, not at its exit
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    bar = None
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        m = re.search(bar_pattern, line) if bar_pattern else None
        if m:
            done, total = int(m.group(1)), int(m.group(2))
            if bar is None:
                bar = tqdm(
                    total=total, desc=desc, unit="row", unit_scale=True, mininterval=1.0, file=sys.stderr
                )
            bar.update(done - bar.n)
        elif not line.startswith('{"ts"') and line.strip():
            log("   " + line.rstrip())
    code = proc.wait()
    if bar is not None:
        bar.close()
    out = "".join(lines)
    if code != 0:
        raise SystemExit(f"clubhub {' '.join(args)} failed:\n{out[-4000:]}")
    return out


async def store_rates(settings, urls: dict, rows: int = 5000) -> dict:
    """Which MongoDB served, and its insert and scan rates measured on a scratch collection (dropped)."""
    from storage.mongo import connect_mongo, database_name

    external = bool(settings.mongo_url)
    client = connect_mongo(urls["mongo"], socket_timeout_ms=120_000)
    db = client[database_name(urls["mongo"], settings.mongo_db)]
    scratch = db[f"bench_rates_{os.getpid()}"]
    try:
        docs = [
            {
                "_id": i,
                "user_id": i % 97,
                "item_type": "event",
                "item_id": i % 13,
                "kind": "click",
                "ts": float(i),
            }
            for i in range(rows)
        ]
        t0 = time.perf_counter()
        for lo in range(0, rows, 1000):
            await scratch.insert_many(docs[lo : lo + 1000], ordered=False)
        insert_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        n = 0
        async for _ in scratch.find({}, batch_size=1000):
            n += 1
        scan_s = time.perf_counter() - t1
    finally:
        await scratch.drop()
        await client.close()
    return {
        "mongo": "external" if external else "embedded (nx-27017, SQLite underneath)",
        "insert_docs_per_s": round(rows / insert_s),
        "scan_docs_per_s": round(n / scan_s),
        "analytics": "s3" if settings.s3_url else "local Parquet under the data dir",
    }


async def switch_model(config: dict, version: int, timeout_s: float = 600) -> dict:
    """The interaction consumer (the gateway's, in an actor of its own here) switches to ``version``."""
    import ray

    from actors.interactions import InteractionConsumer

    consumer = InteractionConsumer.options(name="bench-consumer", num_cpus=0).remote(config)
    try:
        t0 = time.perf_counter()
        while True:
            await consumer.start.remote()
            stats = await consumer.stats.remote()
            if stats["model"] == version:
                return {
                    **stats["switched"].get(version, {}),
                    "wall_seconds": round(time.perf_counter() - t0, 2),
                }
            if time.perf_counter() - t0 > timeout_s:
                raise SystemExit(
                    f"the consumer did not switch to v{version} within {timeout_s:.0f} s: {stats}"
                )
            await asyncio.sleep(0.5)
    finally:
        ray.kill(consumer)


async def measure(settings, config: dict, version: int, requests: int, seed: int, timeline: Timeline) -> dict:
    from feed_load import measure_feed_serving
    from tqdm import tqdm

    from actors import runtime
    from storage.stores import Stores

    stores = await Stores.open(
        settings,
        {"postgres": config["postgres_url"], "mongo": config["mongo_url"], "redis": config["redis_url"]},
    )
    users = await _user_ids(stores)
    await stores.close()
    runtime.start_ray(settings)
    out: dict = {}
    try:
        with timeline.stage("4. model switch (the consumer adds what was sealed since training)"):
            out["switch"] = await switch_model(config, version)
            log(f"   switched to v{version}: {out['switch']}")
        # Baselines in the same run: no model (popularity), the model on LightGBM's own booster rather
        # than compiled to machine code (ranking.compiled), and one Ray call per feed rather than the
        # gateway's batched calls (actors.client.ShardBatcher).
        runs = [
            ("popularity_fallback", False, 1, False, True),
            ("ranker_lightgbm", True, 1, False, True),
            ("ranker_unbatched", True, 1, True, False),
            ("ranker", True, 1, True, True),
            ("ranker_2_actors", True, 2, True, True),
        ]
        with timeline.stage(
            f"5. feed latency ({requests} feeds of one client, {3 * requests} of 8, per configuration)"
        ):
            for name, with_model, rankers, compiled, batched in tqdm(
                runs, desc="feed configurations", file=sys.stderr
            ):
                r = await measure_feed_serving(
                    {**config, "use_model": with_model, "compile_model": compiled},
                    users,
                    requests=requests,
                    rankers=rankers,
                    seed=seed,
                    use_model=with_model,
                    batched=batched,
                )
                r.pop("actor_stats", None)
                out[name] = r
                log(
                    f"   {name:<20} p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms; 8 concurrent clients: "
                    f"{r['feeds_per_s_concurrency_8']:.0f} feeds/s, p99 {r['p99_ms_concurrency_8']:.1f} ms"
                )
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


def left_behind(data_dir: str, grace_s: float = 30.0) -> list[str]:
    """Processes of this run still alive after the stop (children, or servers naming its data dir)."""
    import psutil

    deadline = time.monotonic() + grace_s
    while True:
        me = psutil.Process()
        alive = [p for p in me.children(recursive=True) if p.is_running()]
        for p in psutil.process_iter(["cmdline"]):
            try:
                if p.pid != me.pid and any(data_dir in part for part in (p.info["cmdline"] or [])):
                    alive.append(p)
            except psutil.Error:
                pass
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(1)
    names = []
    for p in {p.pid: p for p in alive}.values():
        try:
            names.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            p.kill()
        except psutil.Error:
            pass
    return names


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
    parser.add_argument(
        "--requests", type=int, default=500, help="feeds of one client per configuration (8 clients: 3x)"
    )
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_")}
    env["CLUBHUB_DATA_DIR"] = args.data_dir
    os.environ.update(env)
    from actors.config import ActorConfig
    from storage.services import Services
    from storage.settings import Settings

    settings = Settings(data_dir=args.data_dir)
    RESULTS.mkdir(exist_ok=True)
    timeline = Timeline()
    services = Services(settings)
    try:
        with timeline.stage(
            f"1. seeding {args.users} users, {args.clubs} clubs, {args.events} events (cached in {args.data_dir})"
        ):
            seeded = run_cli(
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
                bar_pattern=r"^\s+(\d+)/(\d+) interactions",
                desc="interactions through the pipeline",
            )
        services.up()
        urls = services.urls()
        with timeline.stage("2. the stores' measured rates"):
            stores = asyncio.run(store_rates(settings, urls))
            log(f"   {stores}")
        with timeline.stage(
            "3. training on Ray (features with Ray Data, LightGBM with Ray Train) and turnout"
        ):
            out = run_cli(["train-ranker", "--json", "--progress"], env)
        # The metrics' JSON; Ray's workers log into the same output, even on the same line.
        metrics = json.JSONDecoder().raw_decode(out[out.rfind('{"version"') :])[0]
        config = ActorConfig.from_settings(settings, urls)
        latency = asyncio.run(
            measure(
                settings,
                dataclasses.asdict(config),
                metrics["version"],
                args.requests,
                args.seed,
                timeline,
            )
        )
    finally:
        services.down()
    behind = left_behind(args.data_dir)
    wall = round(time.perf_counter() - timeline.t0, 1)

    result = {
        "world": {
            "users": args.users,
            "clubs": args.clubs,
            "events": args.events,
            "days": args.days,
            "interactions": metrics["interactions"],
            "seeded_now": "already seeded" not in seeded,
        },
        "stores": stores,
        "training": {
            k: metrics[k]
            for k in (
                "version",
                "train_seconds",
                "best_iteration",
                "queries_train",
                "rows_train",
                "queries_test",
                "workers",
                "stages",
            )
        },
        "ndcg10": {m: metrics[f"ndcg10_{m}"] for m in ("ranker", "popularity", "recency")},
        "recall20": {m: metrics[f"recall20_{m}"] for m in ("ranker", "popularity", "recency")},
        "discovery_ndcg10": {
            m: metrics[f"discovery_ndcg10_{m}"] for m in ("ranker", "popularity", "recency")
        },
        "reels_ndcg10": {m: metrics.get(f"reels_ndcg10_{m}") for m in ("ranker", "popularity", "recency")},
        "reels_queries": metrics.get("reels_queries", 0),
        "ndcg_at_k": {m: metrics[f"ndcg_at_k_{m}"] for m in ("ranker", "popularity", "recency")},
        "turnout": metrics.get("turnout"),
        "model_switch": latency.pop("switch"),
        "feed_latency": latency,
        "timeline": timeline.stages,
        "wall_seconds": wall,
        "left_behind": behind,
    }
    ranker, fallback, two = latency["ranker"], latency["popularity_fallback"], latency["ranker_2_actors"]
    summary = {
        "ndcg10_vs_popularity": round(metrics["ndcg10_ranker"] / max(metrics["ndcg10_popularity"], 1e-9), 3),
        "discovery_ndcg10_vs_popularity": round(
            metrics["discovery_ndcg10_ranker"] / max(metrics["discovery_ndcg10_popularity"], 1e-9), 3
        ),
        "ndcg10_vs_recency": round(metrics["ndcg10_ranker"] / max(metrics["ndcg10_recency"], 1e-9), 3),
        "reels_ndcg10_vs_popularity": (
            round(metrics["reels_ndcg10_ranker"] / max(metrics["reels_ndcg10_popularity"], 1e-9), 3)
            if "reels_ndcg10_ranker" in metrics
            else None
        ),
        "recall20_vs_popularity": round(
            metrics["recall20_ranker"] / max(metrics["recall20_popularity"], 1e-9), 3
        ),
        "feed_p50_ms": ranker["p50_ms"],
        "feed_p99_ms": ranker["p99_ms"],
        "feeds_per_s_concurrency_8": ranker["feeds_per_s_concurrency_8"],
        "feed_p99_ms_concurrency_8": ranker["p99_ms_concurrency_8"],
        "two_rankers_vs_one_feeds_per_s": round(
            two["feeds_per_s_concurrency_8"] / max(ranker["feeds_per_s_concurrency_8"], 1e-9), 3
        ),
        "feed_p99_vs_popularity_fallback": round(ranker["p99_ms"] / max(fallback["p99_ms"], 1e-9), 3),
        "compiled_vs_lightgbm_feeds_per_s_concurrency_8": round(
            ranker["feeds_per_s_concurrency_8"]
            / max(latency["ranker_lightgbm"]["feeds_per_s_concurrency_8"], 1e-9),
            3,
        ),
        "batched_vs_unbatched_feeds_per_s_concurrency_8": round(
            ranker["feeds_per_s_concurrency_8"]
            / max(latency["ranker_unbatched"]["feeds_per_s_concurrency_8"], 1e-9),
            3,
        ),
        "model_switch_seconds": result["model_switch"].get("seconds"),
        "train_seconds": metrics["train_seconds"],
        "turnout_mae_vs_naive": (metrics.get("turnout") or {}).get("ratio"),
        "interactions": metrics["interactions"],
        "wall_seconds": wall,
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
    if "reels_ndcg10_ranker" in metrics:
        print(
            f"NDCG@10 over reels ({metrics['reels_queries']} queries): ranker "
            f"{metrics['reels_ndcg10_ranker']:.4f}  popularity {metrics['reels_ndcg10_popularity']:.4f}  "
            f"recency {metrics['reels_ndcg10_recency']:.4f} → {summary['reels_ndcg10_vs_popularity']}× popularity"
        )
    else:
        print("NDCG@10 over reels: no held-out query watched a reel")
    print(
        f"recall@20 ranker {metrics['recall20_ranker']:.4f}  popularity {metrics['recall20_popularity']:.4f}"
    )
    print(
        f"training {metrics['train_seconds']} s; model switch {summary['model_switch_seconds']} s; feed p50 "
        f"{summary['feed_p50_ms']} ms, p99 {summary['feed_p99_ms']} ms (popularity fallback p99 {fallback['p99_ms']} ms); "
        f"8 clients {summary['feeds_per_s_concurrency_8']} feeds/s at p99 {summary['feed_p99_ms_concurrency_8']} ms; "
        f"2 rankers x{summary['two_rankers_vs_one_feeds_per_s']}"
    )
    print(f"whole run {wall} s; left behind: {behind or 'nothing'}")
    print(json.dumps(summary))
    return 1 if behind else 0


if __name__ == "__main__":
    sys.exit(main())
