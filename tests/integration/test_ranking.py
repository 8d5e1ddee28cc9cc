"""The learned feed on a seeded world of its own (its own PostgreSQL and MongoDB databases and Redis
database on the session's servers, its own analytics store): `clubhub seed` and `clubhub train-ranker`
(on the session's Ray cluster) as a person runs them, the model against its baselines, train/serve feature
parity, online user embeddings, model switches that add only what came after training (and survive being
killed midway), serving and hot reload."""

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import numpy as np
import pytest
import ray
from support.wait import wait_for

from actors.fanout import append_interactions
from actors.interactions import InteractionConsumer, user_sums
from actors.ranker import Ranker
from actors.runtime import NAMESPACE
from ranking import registry, signals
from ranking.features import FEATURES
from ranking.parity import run_compare
from storage import keys
from storage.analytics import AnalyticsStore
from storage.mongo import connect_mongo
from storage.postgres import connect_kwargs, drop_database
from storage.redis import connect_redis

CLUBHUB = str(Path(sys.executable).with_name("clubhub"))


def _with_path(url: str, path: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + path, p.query, p.fragment))


class World:
    def __init__(self, services, tmp: Path, ray_address: str) -> None:
        self.name = f"world_{uuid.uuid4().hex[:8]}"
        self.ray_address = ray_address
        urls = services.urls()
        self.store = AnalyticsStore(str(tmp / "analytics"))  # where `clubhub` puts it in that data dir
        self.config = {
            "postgres_url": _with_path(urls["postgres"], self.name),
            "mongo_url": _with_path(urls["mongo"], self.name),
            "mongo_db": self.name,
            "redis_url": _with_path(urls["redis"], "3"),
            "ranker_reload_s": 0.3,
            "analytics_url": self.store.url,
            "analytics_seal_s": 0.5,
            "model_cache_dir": str(tmp / "model-cache"),
        }
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CLUBHUB_")}
        self.env.update(
            CLUBHUB_DATA_DIR=str(tmp),
            CLUBHUB_POSTGRES_URL=self.config["postgres_url"],
            CLUBHUB_MONGO_URL=self.config["mongo_url"],
            CLUBHUB_REDIS_URL=self.config["redis_url"],
            CLUBHUB_S3_EMBEDDED="false",  # seeding and training store no media
        )
        self.mongo = connect_mongo(self.config["mongo_url"])[self.name]
        self.redis = connect_redis(self.config["redis_url"])

    async def clubhub(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            CLUBHUB, *args, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 900)  # training on Ray on a busy 2-core machine
        text = out.decode()
        assert proc.returncode == 0, text[-3000:]
        return text

    async def train(self, *args: str) -> dict:
        out = await self.clubhub("train-ranker", "--json", "--ray-address", self.ray_address, *args)
        # The metrics' JSON; Ray's workers log into the same output, even on the same line.
        start = out.rfind('{"version"')
        assert start >= 0, out[-3000:]
        return json.JSONDecoder().raw_decode(out[start:])[0]

    async def user_ids(self, n: int) -> list[int]:
        conn = await asyncpg.connect(**connect_kwargs(self.config["postgres_url"]))
        try:
            return [r[0] for r in await conn.fetch("SELECT id FROM users ORDER BY id LIMIT $1", n)]
        finally:
            await conn.close()


@pytest.fixture(scope="module")
async def world(services, ray_cluster, tmp_path_factory):
    w = World(services, tmp_path_factory.mktemp("world"), ray_cluster)
    await w.redis.flushdb()
    seeded = await w.clubhub(
        "seed", "--users", "240", "--clubs", "20", "--events", "100", "--days", "21", "--seed", "7"
    )
    assert "seeded 240 users" in seeded
    w.report = await w.train()
    yield w
    await w.redis.flushdb()
    await w.redis.aclose()
    await w.mongo.client.drop_database(w.name)
    await drop_database(w.config["postgres_url"], w.name)


@pytest.fixture(scope="module")
async def consumer(world):
    """The world's interaction consumer: it rebuilds users' embeddings for each new model version."""
    actor = InteractionConsumer.options(
        name=f"consumer-{world.name}", namespace=NAMESPACE, num_cpus=0
    ).remote(world.config)
    await actor.start.remote()
    yield actor
    ray.kill(actor)


async def embeddings_ready(world, version=None):
    version = version or await registry.latest_version(world.mongo)

    async def ready():
        return await world.redis.exists(keys.user_embedding_ready(version))

    await wait_for(ready, timeout=60)
    return version


@pytest.fixture(scope="module")
async def ranker(world, consumer):
    actor = Ranker.options(
        name=f"ranker-{world.name}", namespace=NAMESPACE, num_cpus=0, max_concurrency=1000
    ).remote(world.config)
    await actor.start.remote()
    yield actor
    ray.kill(actor)


async def test_seeding_again_adds_nothing(world):
    before = await world.mongo["interactions"].count_documents({})
    out = await world.clubhub(
        "seed", "--users", "240", "--clubs", "20", "--events", "100", "--days", "21", "--seed", "7"
    )
    assert "already seeded" in out
    assert await world.mongo["interactions"].count_documents({}) == before


async def test_trained_model_beats_the_baselines_and_is_saved_with_its_metrics(world):
    m = world.report
    assert m["ndcg10_ranker"] > 1.2 * m["ndcg10_popularity"], m
    assert m["ndcg10_ranker"] > m["ndcg10_recency"] and m["recall20_ranker"] > m["recall20_popularity"], m
    assert len(m["ndcg_at_k_ranker"]) == 20
    # Reels: watched by the same hidden tastes, ordered better than by how much they were watched.
    assert m["reels_queries"] >= 20, m
    assert m["reels_ndcg10_ranker"] > m["reels_ndcg10_popularity"], m
    docs = await registry.describe(world.mongo)
    assert docs[0]["_id"] == m["version"] and docs[0]["features"] == FEATURES
    assert docs[0]["metrics"]["ndcg10_ranker"] == m["ndcg10_ranker"]


async def test_features_served_equal_features_trained_on(world, consumer, ranker):
    await embeddings_ready(world)
    await consumer.seal_now.remote()  # training replays the analytics store: everything applied is in it
    users = await world.user_ids(25)
    compare = ray.remote(max_calls=1, num_cpus=0)(run_compare)
    report = await compare.remote(world.config, users, time.time())
    assert report["model"] is not None and report["rows"] > 500, report
    assert report["candidate_mismatches"] == 0, report
    bad = {f: d for f, d in report["max_rel_diff"].items() if d > 1e-6}
    assert not bad, bad


async def test_feed_from_the_model_scores_and_explains_each_item(world, ranker):
    users = await world.user_ids(20)
    version = await registry.latest_version(world.mongo)
    await wait_for(lambda: _serving(ranker, version))
    reasons = []
    for u in users:
        body = await ranker.feed.remote(u, 20)
        assert body["model"] == version
        scores = [i["score"] for i in body["items"]]
        assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1
        assert all(i["reason"] and "personal ranking model" not in i["reason"] for i in body["items"])
        assert {i["type"] for i in body["items"]} <= {"event", "club", "room", "reel"}
        reasons += [i["reason"] for i in body["items"]]
    assert len(set(reasons)) > 3  # the reasons say different things for different items


async def test_compiled_model_serves_the_feeds_lightgbm_serves(world, ranker):
    """The ranker compiles the model to machine code (ranking.compiled) and then serves exactly the feeds
    (items, scores, reasons) a ranker on LightGBM's own booster serves."""
    version = await registry.latest_version(world.mongo)

    async def compiled():
        return (await ranker.stats.remote())["compiled_version"] == version

    await wait_for(compiled, timeout=180, interval=0.5)
    plain = Ranker.options(name=f"ranker-lgbm-{world.name}", namespace=NAMESPACE, num_cpus=0).remote(
        {**world.config, "compile_model": False}
    )
    try:
        await plain.start.remote()
        await wait_for(lambda: _serving(plain, version))
        now = time.time()
        users = await world.user_ids(10)
        for u in users:
            want, got = await plain.feed.remote(u, 20, now), await ranker.feed.remote(u, 20, now)
            assert got["model"] == want["model"] == version
            assert got["items"] == want["items"], u
        # Batched as the gateway sends them: each request answered as if alone, in order.
        batch = await ranker.feeds.remote([{"user_id": u, "limit": 20, "now": now} for u in users], now)
        alone = [await ranker.feed.remote(u, 20, now) for u in users]
        assert [b["items"] for b in batch] == [a["items"] for a in alone]
        assert (await plain.stats.remote())["compiled_version"] is None
    finally:
        ray.kill(plain)


async def _serving(ranker, version):
    return (await ranker.stats.remote())["version"] == version


async def test_user_embedding_follows_engagement_online(world, consumer):
    version = await embeddings_ready(world)
    emb = await registry.load_embeddings(world.mongo, version)
    item = next(k for k in emb.index if k.startswith("event:"))
    user = (await world.user_ids(1))[0]
    key = keys.user_embedding(version, user)

    async def vector():
        raw = await world.redis.hgetall(key)
        return np.array([float(raw.get(str(i).encode(), 0)) for i in range(emb.vectors.shape[1])])

    before = await vector()
    ts = time.time()
    kind, item_id = item.split(":")
    await append_interactions(
        world.redis,
        [
            {
                "id": uuid.uuid4().hex,
                "user_id": user,
                "item_type": kind,
                "item_id": int(item_id),
                "kind": "click",
                "ts": repr(ts),
                "source": "client",
            }
        ],
    )

    async def moved():
        now = await vector()
        return (now,) if not np.allclose(now, before) else None

    (after,) = await wait_for(moved)
    expected = signals.anchored(1.0, ts) * emb.get(item)
    assert np.allclose(after - before, expected, rtol=1e-6, atol=1e-9)


async def test_new_version_switches_with_only_new_interactions_and_is_hot_reloaded(world, consumer, ranker):
    users = await world.user_ids(8)
    old = await registry.latest_version(world.mongo)
    await wait_for(lambda: _serving(ranker, old))
    emb = await registry.load_embeddings(world.mongo, old)
    items = [k for k in emb.index if k.startswith(("event:", "club:"))][:5]
    history = world.store.files_until()[2]
    seen: list[int] = []
    errors: list[BaseException] = []
    done = asyncio.Event()

    async def client(u):
        while not done.is_set():
            try:
                seen.append((await ranker.feed.remote(u, 10))["model"])
            except BaseException as exc:
                errors.append(exc)

    clients = [asyncio.create_task(client(u)) for u in users[:5]]
    try:
        training = asyncio.create_task(world.train())
        clicks = await _engage_while(world, training, users, items)
        new = training.result()["version"]
        assert new == old + 1
        # Served only once the consumer has added what was sealed since training, then at once.
        await embeddings_ready(world, new)
        await wait_for(lambda: _serving(ranker, new))
        count = len(seen)
        await wait_for(lambda: _more(seen, count + 20))
    finally:
        done.set()
        await asyncio.gather(*clients)
    assert not errors, errors[:3]
    assert seen[0] == old and seen[-1] == new and set(seen) == {old, new}
    switched = (await consumer.stats.remote())["switched"][new]
    # The switch read the seals after the training's watermark, never the history before it.
    assert 0 < switched["rows"] <= clicks < history, (switched, clicks, history)
    await _vectors_match_history(world, consumer, new, users)


async def _more(seen, n):
    return len(seen) >= n


async def test_model_feed_excludes_bans_private_clubs_and_past_events(world, ranker):
    version = await embeddings_ready(world)
    await wait_for(lambda: _serving(ranker, version))
    user = (await world.user_ids(3))[2]
    body = await ranker.feed.remote(user, 100)
    assert body["model"] == version
    banned_club = next(i["club_id"] for i in body["items"] if i["type"] in ("event", "club"))
    conn = await asyncpg.connect(**connect_kwargs(world.config["postgres_url"]))
    try:
        owner = (await world.user_ids(1))[0]
        await conn.execute(
            "INSERT INTO club_bans (club_id, user_id, reason, created_by_id, created_at) "
            "VALUES ($1, $2, 'test', $3, now())",
            banned_club,
            user,
            owner,
        )
        private = await conn.fetchval(
            "INSERT INTO clubs (name, description, visibility, created_by_id, created_at) "
            "VALUES ('Hidden society', '', 'private', $1, now()) RETURNING id",
            owner,
        )
        hidden_event = await conn.fetchval(
            "INSERT INTO events (club_id, host_id, title, description, starts_at, ends_at, status, created_at) "
            "VALUES ($1, $2, 'Secret meeting', '', now() + interval '1 hour', now() + interval '2 hours', "
            "'scheduled', now()) RETURNING id",
            private,
            owner,
        )
        past = await conn.fetch("SELECT id FROM events WHERE ends_at < now()")
    finally:
        await conn.close()
    body = await ranker.feed.remote(user, 100)
    keys = {(i["type"], i["id"]) for i in body["items"]}
    assert body["items"] and not any(i["club_id"] == banned_club for i in body["items"])
    assert ("event", hidden_event) not in keys and ("club", private) not in keys
    assert past and not keys & {("event", r["id"]) for r in past}


async def test_a_failing_switch_backs_off_counts_its_cause_and_recovers(world, consumer, ranker):
    served = await embeddings_ready(world)
    broken = await registry.next_version(world.mongo)
    # A version whose training "finished" but whose item embeddings cannot be read.
    await world.mongo[registry.MODELS].insert_one(
        {"_id": broken, "status": registry.TRAINED, "trained_at": time.time(), "watermark": None, "dim": 16}
    )
    try:
        t0 = time.monotonic()

        async def failing():
            st = await consumer.stats.remote()
            return st if st["switch_failing"] and sum(st["switch_failures"].values()) >= 2 else None

        st = await wait_for(failing, timeout=30)
        await asyncio.sleep(4.0)
        st = await consumer.stats.remote()
        elapsed = time.monotonic() - t0
        # Polled every 0.3 s, a switch retried at once would have failed ~elapsed/0.3 times; backing off
        # (2, 4, 8 s ...) it fails a handful.
        failures = sum(st["switch_failures"].values())
        assert 2 <= failures <= 2 + elapsed // 2, (failures, elapsed, st)
        assert st["model"] == served and await registry.latest_version(world.mongo) == served
        status = await registry.status(world.mongo)
        assert status["served"] == served and status["newest"] == broken and status["waiting_s"] > 0
    finally:
        await world.mongo[registry.MODELS].delete_one({"_id": broken})

    async def recovered():
        return (await consumer.stats.remote())["switch_failing"] is None

    await wait_for(recovered, timeout=40)
    assert (await registry.status(world.mongo))["waiting_s"] == 0.0


# -- model switches: only what came after training, exactly once, resumable ------------------------------


def _all_rows(world) -> dict:
    files, _, _ = world.store.files_until()
    return world.store.read(files).to_pydict()


async def _engage_while(world, task: asyncio.Task, users: list[int], items: list[str]) -> int:
    """Clicks, one every 0.2 s, until ``task`` (a training run) ends: some land before its watermark, some
    in seals after it, some after the switch."""
    n = 0
    while not task.done():
        kind, item_id = items[n % len(items)].split(":")
        await append_interactions(
            world.redis,
            [
                {
                    "id": uuid.uuid4().hex,
                    "user_id": users[n % len(users)],
                    "item_type": kind,
                    "item_id": int(item_id),
                    "kind": "click",
                    "ts": repr(time.time()),
                    "source": "client",
                }
            ],
        )
        n += 1
        await asyncio.sleep(0.2)
    return n


async def _vectors_match_history(world, consumer, version: int, users: list[int]) -> None:
    """Each user's embedding in Redis (the training's, plus the switch's tail, plus online additions) equals
    one sum over every interaction in the analytics store: nothing missed, nothing added twice."""
    await wait_for(lambda: _drained(world))
    await consumer.seal_now.remote()
    emb = await registry.load_embeddings(world.mongo, version)
    expected = user_sums(emb, _all_rows(world))
    for u in users:
        raw = await world.redis.hgetall(keys.user_embedding(version, u))
        got = np.array([float(raw.get(str(i).encode(), 0)) for i in range(emb.vectors.shape[1])])
        assert np.allclose(got, expected[u], rtol=1e-9, atol=0), (u, got, expected[u])


async def _drained(world) -> bool:
    """The consumer group has read every entry and acknowledged it."""
    last = (await world.redis.xinfo_stream(keys.INTERACTIONS_STREAM))["last-generated-id"]
    for g in await world.redis.xinfo_groups(keys.INTERACTIONS_STREAM):
        if g["name"] in (keys.INTERACTIONS_GROUP, keys.INTERACTIONS_GROUP.encode()):
            return g["pending"] == 0 and g["last-delivered-id"] == last
    return False


async def _seals_after(world, mark: bytes | None, than: int) -> bool:
    return len(world.store.seals_after(mark.decode() if mark else None)) >= than


async def test_a_switch_killed_midway_resumes_and_nothing_half_written_is_served(world, consumer, ranker):
    old = await embeddings_ready(world)
    await wait_for(lambda: _serving(ranker, old))
    users = await world.user_ids(8)
    emb = await registry.load_embeddings(world.mongo, old)
    items = [k for k in emb.index if k.startswith(("event:", "club:"))][:5]
    # A consumer whose switches pause a second between seals, so this test can kill one midway.
    ray.kill(consumer)
    slow = InteractionConsumer.options(
        name=f"consumer-{world.name}-slow", namespace=NAMESPACE, num_cpus=0
    ).remote({**world.config, "switch_seal_delay_s": 1.0})
    await slow.start.remote()
    # Trained by two Ray Train workers: LightGBM data-parallel over its own network, whole queries each.
    training = asyncio.create_task(world.train("--workers", "2"))
    await _engage_while(world, training, users, items)
    new = training.result()["version"]
    progress = keys.user_embedding_switch(new)
    await wait_for(lambda: world.redis.exists(progress), timeout=60, interval=0.05)
    ray.kill(slow)
    mark = await world.redis.get(progress)
    meta = await registry.meta(world.mongo, new)
    assert meta["status"] == registry.TRAINED and not await world.redis.exists(keys.user_embedding_ready(new))
    assert await _seals_after(world, mark, 1)  # killed with seals still to add
    # Nothing of the half-switched version is served.
    assert await registry.latest_version(world.mongo) == old
    assert (await ranker.feed.remote(users[0], 10))["model"] == old

    again = InteractionConsumer.options(
        name=f"consumer-{world.name}-again", namespace=NAMESPACE, num_cpus=0
    ).remote(world.config)
    try:
        await again.start.remote()
        await embeddings_ready(world, new)
        await wait_for(lambda: _serving(ranker, new))
        assert (await registry.meta(world.mongo, new))["status"] == registry.READY
        await _vectors_match_history(world, again, new, users)
    finally:
        ray.kill(again)
