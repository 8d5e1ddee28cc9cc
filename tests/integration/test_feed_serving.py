"""The ranker's fast feed path (``ranking.serve.FeedServer``) on a small world of its own (its own
PostgreSQL database and Redis database): the same features as the uncached reference path, and a warm
catalog never serves what the user may no longer see, nor an item's old facts."""

import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import lightgbm as lgb
import numpy as np
import pytest

from ranking.candidates import candidates_for
from ranking.features import FEATURES, feature_matrix
from ranking.registry import Embeddings, RankerModel
from ranking.serve import FeedServer, serving_inputs
from storage import keys
from storage.postgres import connect_kwargs, drop_database
from storage.redis import connect_redis

NOW = datetime.now(UTC)


def _with_path(url: str, path: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + path, p.query, p.fragment))


_MIGRATE = """
import asyncio, sys
from storage.postgres import close_postgres, init_postgres

async def main():
    await init_postgres(sys.argv[1], sys.argv[2])
    await close_postgres()

asyncio.run(main())
"""


async def _migrate(url: str, name: str) -> None:
    """In a process of its own: migrating opens Tortoise for the whole process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _MIGRATE,
        url,
        name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()[-3000:]


async def _no_reset(conn) -> None:
    return None


class World:
    """Users 1..6, public clubs A and B, private club P; ann (user 1) is in A and P."""

    async def build(self, conn) -> None:
        async def user(name):
            return await conn.fetchval(
                "INSERT INTO users (email, password_hash, display_name, bio, created_at, updated_at) "
                "VALUES ($1, 'x', $2, '', now(), now()) RETURNING id",
                f"{name}@feed.example",
                name,
            )

        async def club(name, visibility):
            return await conn.fetchval(
                "INSERT INTO clubs (name, description, visibility, created_by_id, created_at) "
                "VALUES ($1::text, 'about ' || $1::text, $2, $3, now() - interval '3 days') RETURNING id",
                name,
                visibility,
                self.owner,
            )

        async def event(club_id, title, starts_in_h):
            return await conn.fetchval(
                "INSERT INTO events (club_id, host_id, title, description, starts_at, ends_at, status, "
                "created_at) VALUES ($1, $2, $3, '', $4, $5, 'scheduled', now()) RETURNING id",
                club_id,
                self.owner,
                title,
                NOW + timedelta(hours=starts_in_h),
                NOW + timedelta(hours=starts_in_h + 2),
            )

        async def room(club_id, name):
            return await conn.fetchval(
                "INSERT INTO rooms (club_id, name, slow_mode_s, created_at) VALUES ($1, $2, 0, now()) "
                "RETURNING id",
                club_id,
                name,
            )

        async def join(club_id, user_id):
            await conn.execute(
                "INSERT INTO memberships (club_id, user_id, role, joined_at) VALUES ($1, $2, 'member', now())",
                club_id,
                user_id,
            )

        self.owner = await user("owner")
        self.ann = await user("ann")
        self.others = [await user(f"u{i}") for i in range(4)]
        self.a, self.b, self.p = (
            await club("A", "public"),
            await club("B", "public"),
            await club("P", "private"),
        )
        for c in (self.a, self.p):
            await join(c, self.ann)
        for u in self.others:
            await join(self.a, u)
        self.ev_a = await event(self.a, "A meetup", 5)
        self.ev_b = await event(self.b, "B meetup", 30)
        self.ev_p = await event(self.p, "P meetup", 50)
        self.past = await event(self.b, "B last week", -170)
        self.room_a = await room(self.a, "general")
        self.live = await room(self.a, "live-1")
        for u in self.others[:3]:
            await conn.execute(
                "INSERT INTO rsvps (event_id, user_id, status, created_at, updated_at) "
                "VALUES ($1, $2, 'going', now(), now())",
                self.ev_b,
                u,
            )


@pytest.fixture(scope="module")
async def world(services):
    name = f"feed_{uuid.uuid4().hex[:8]}"
    urls = services.urls()
    pg_url = _with_path(urls["postgres"], name)
    await _migrate(urls["postgres"], name)
    w = World()
    w.pool = await asyncpg.create_pool(**connect_kwargs(pg_url), min_size=1, max_size=2, reset=_no_reset)
    w.redis = connect_redis(_with_path(urls["redis"], "6"))
    await w.redis.flushdb()
    async with w.pool.acquire() as conn:
        await w.build(conn)
    w.model = _tiny_model(w)
    await w.redis.hset(keys.POPULARITY, mapping={f"event:{w.ev_b}": 3.0, f"club:{w.b}": 1.5})
    await w.redis.zadd(keys.TRENDING, {f"event:{w.ev_b}": 3.0, f"club:{w.b}": 1.5})
    await w.redis.hset(keys.affinity(w.ann), mapping={f"club:{w.a}": 2.0, "hour:1": 1.0, "hour:4": 3.0})
    await w.redis.hset(keys.user_embedding(w.model.version, w.ann), mapping={"0": 0.5, "1": -0.25, "2": 1.0})
    yield w
    await w.redis.flushdb()
    await w.redis.aclose()
    await w.pool.close()
    await drop_database(urls["postgres"], name)


def _tiny_model(w: World) -> RankerModel:
    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURES)))
    y = x[:, FEATURES.index("log_user_club_affinity")] + x[:, FEATURES.index("co_members_going")]
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), 10)
    item_keys = [f"event:{w.ev_a}", f"event:{w.ev_b}", f"club:{w.a}", f"club:{w.b}", f"room:{w.room_a}"]
    vecs = rng.normal(size=(len(item_keys), 3))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return RankerModel(
        7, booster, list(FEATURES), {}, Embeddings(7, {k: i for i, k in enumerate(item_keys)}, vecs)
    )


async def _feed(server: FeedServer, w: World, user_id: int, model=None) -> dict:
    items, _ = await server.feed(user_id, model, 100, time.time())
    return {(i["type"], i["id"]): i for i in items}


async def test_fast_path_builds_the_features_of_the_reference_path(world):
    w = world
    server = FeedServer(w.redis, w.pool)
    for _ in range(2):  # cold, then from the warm catalog and cached popularity
        now = time.time()
        feed, x = await server.inputs(w.ann, w.model, now)
        cs = await candidates_for(w.ann, datetime.fromtimestamp(now, UTC), w.redis, db=w.pool)
        ref, co_club = await serving_inputs(
            w.redis, w.ann, cs.candidates, cs.my_clubs, w.model, now, db=w.pool
        )
        assert [it.key for it in feed.items] == [c.key for c in cs.candidates]
        np.testing.assert_allclose(feature_matrix(x), feature_matrix(ref), rtol=0, atol=1e-12)
        assert feed.co_going == {w.ev_b: 3} and feed.co_club == co_club == {w.ev_b: w.a}
    keys_ = {it.key for it in feed.items}
    assert f"event:{w.past}" not in keys_ and f"room:{w.live}" not in keys_
    assert {f"event:{w.ev_p}", f"room:{w.room_a}", f"club:{w.b}"} <= keys_ and f"club:{w.a}" not in keys_
    items, n = await server.feed(w.ann, w.model, 3, time.time())
    assert n == len(feed.items) and len(items) == 3 and all(i["reason"] for i in items)


async def test_warm_catalog_follows_edits_and_visibility_at_once(world):
    w = world
    server = FeedServer(w.redis, w.pool, shared_ttl_s=3600)  # nothing may depend on a cache expiring
    outsider = w.others[3]
    before = await _feed(server, w, outsider)
    assert ("event", w.ev_b) in before and ("club", w.b) in before and ("event", w.ev_p) not in before
    reads = server.catalog.reads
    await _feed(server, w, outsider)
    assert server.catalog.reads == reads  # served from the catalog
    async with w.pool.acquire() as conn:
        await conn.execute(
            "UPDATE events SET title = 'B meetup, moved', starts_at = starts_at + interval '1 hour' WHERE id = $1",
            w.ev_b,
        )
        await conn.execute("UPDATE clubs SET name = 'A renamed' WHERE id = $1", w.a)
        edited = await _feed(server, w, outsider)
        assert edited[("event", w.ev_b)]["title"] == "B meetup, moved"
        assert edited[("event", w.ev_b)]["starts_at"] > before[("event", w.ev_b)]["starts_at"]
        assert edited[("event", w.ev_a)]["club_name"] == "A renamed"
        # A club turned private, an event ended, a ban, leaving a club: gone from the next feed.
        await conn.execute("UPDATE clubs SET visibility = 'private' WHERE id = $1", w.b)
        after = await _feed(server, w, outsider)
        assert not any(i["club_id"] == w.b for i in after.values())
        await conn.execute("UPDATE clubs SET visibility = 'public' WHERE id = $1", w.b)
        assert ("event", w.ev_b) in await _feed(server, w, outsider)
        await conn.execute("UPDATE events SET status = 'ended' WHERE id = $1", w.ev_b)
        assert ("event", w.ev_b) not in await _feed(server, w, outsider)
        await conn.execute("UPDATE events SET status = 'scheduled' WHERE id = $1", w.ev_b)
        await conn.execute(
            "INSERT INTO club_bans (club_id, user_id, reason, created_by_id, created_at) "
            "VALUES ($1, $2, 'test', $3, now())",
            w.b,
            outsider,
            w.owner,
        )
        assert not any(i["club_id"] == w.b for i in (await _feed(server, w, outsider)).values())
        await conn.execute("DELETE FROM club_bans WHERE club_id = $1 AND user_id = $2", w.b, outsider)
        ann = await _feed(server, w, w.ann, w.model)
        assert ("event", w.ev_p) in ann and ("room", w.room_a) in ann
        await conn.execute("DELETE FROM memberships WHERE club_id = $1 AND user_id = $2", w.p, w.ann)
        await conn.execute("DELETE FROM memberships WHERE club_id = $1 AND user_id = $2", w.a, w.ann)
        ann = await _feed(server, w, w.ann, w.model)
        assert ("event", w.ev_p) not in ann and ("room", w.room_a) not in ann and ("club", w.a) in ann
        await conn.execute(
            "INSERT INTO memberships (club_id, user_id, role, joined_at) VALUES ($1, $2, 'member', now()), "
            "($3, $2, 'member', now())",
            w.a,
            w.ann,
            w.p,
        )
        await conn.execute("UPDATE clubs SET name = 'A' WHERE id = $1", w.a)


async def test_catalog_is_bounded(world):
    w = world
    server = FeedServer(w.redis, w.pool, catalog_max=3)
    for _ in range(3):
        feed, _ = await server.inputs(w.others[3], None, time.time())
        assert len(server.catalog) <= 3 + len(feed.items) and feed.items
