"""``clubhub seed``: write a ``ranking.world`` into the stores.

Rows go to PostgreSQL (verified users, clubs with rooms, events, memberships, RSVPs, reels with their
videos' media rows) and MongoDB (messages), with their historical timestamps.

A seeded reel's video is a ``ready`` media row with the shape, duration and blurhash of a processed one,
but no object behind its keys: the seed runs with or without object storage (the tests run it without), and
demo videos would only weigh down every seeded world. Clients show the blurhash (a placeholder in the club's
colour) and the delivery routes answer ``not_found`` for the missing object; a reel posted through
``POST /clubs/{id}/reels`` always has its video. Interactions go through the real pipeline: appended to the
interaction stream with their ids and times, and processed by the same consumer code the Ray actor runs
(in this process, in the same consumer group), in chunks so the stream never outgrows its trim length.
Interaction ids derive from the seed, so seeding twice stores and counts nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from bson import ObjectId

from actors.config import ActorConfig
from actors.fanout import append_interactions
from actors.interactions import InteractionConsumerHost
from ranking.world import TOPICS, World, build, user_email
from storage import keys
from storage import mongo as mongo_store
from storage.models import (
    Club,
    Event,
    EventStatus,
    Media,
    MediaKind,
    MediaStatus,
    Membership,
    Reel,
    Role,
    Room,
    Rsvp,
    RsvpStatus,
    User,
    Visibility,
)

CHUNK = 20_000
REEL_KINDS = frozenset({"play", "watch", "complete", "skip"})  # the world's ms is their watch_ms


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def seed(
    stores,
    config: ActorConfig,
    users: int,
    clubs: int,
    events: int,
    seed: int = 1,
    password: str = "clubhub-demo",
    days: int = 30,
    sessions_per_day: float = 0.6,
    progress=print,
) -> dict:
    t0 = time.perf_counter()
    if await User.filter(email=user_email(0, seed)).exists():
        progress("this world (same seed) is already seeded: nothing to do")
        return {"seeded": False}
    world = build(users, clubs, events, seed=seed, days=days, sessions_per_day=sessions_per_day)
    progress(
        f"world built: {len(world.users)} users, {len(world.clubs)} clubs, {len(world.events)} events, "
        f"{len(world.reels)} reels, {len(world.interactions)} interactions ({time.perf_counter() - t0:.1f} s)"
    )
    ids = await _write_rows(world, password)
    progress(f"rows written to PostgreSQL ({time.perf_counter() - t0:.1f} s)")
    await _write_messages(stores, world, ids)
    t1 = time.perf_counter()
    n = await _stream_interactions(stores.redis, config, world, ids, seed, progress)
    rate = n / max(time.perf_counter() - t1, 1e-9)
    progress(f"{n} interactions through the pipeline ({rate:,.0f}/s)")
    return {
        "seeded": True,
        "users": len(world.users),
        "clubs": len(world.clubs),
        "events": len(world.events),
        "reels": len(world.reels),
        "interactions": n,
        "seconds": round(time.perf_counter() - t0, 1),
    }


async def _write_rows(world: World, password: str) -> dict[str, list[int]]:
    # One argon2 hash for every demo account: they share the password anyway, and 5,000 hashes would
    # take minutes.
    pw_hash = PasswordHasher().hash(password)
    now = _dt(world.now)
    await User.bulk_create(
        [
            User(
                email=u["email"],
                password_hash=pw_hash,
                display_name=u["name"],
                email_verified_at=_dt(world.start),
            )
            for u in world.users
        ],
        batch_size=1000,
    )
    by_email = dict(await User.filter(email__in=[u["email"] for u in world.users]).values_list("email", "id"))
    user_ids = [by_email[u["email"]] for u in world.users]
    club_ids = []
    for c in world.clubs:
        club = await Club.create(
            name=c["name"],
            description=c["description"],
            visibility=Visibility.public,
            created_by_id=user_ids[c["owner"]],
            created_at=_dt(c["created_at"]),
        )
        club_ids.append(club.id)
    room_ids = []
    for r in world.rooms:
        room = await Room.create(club_id=club_ids[r["club"]], name=r["name"], created_at=_dt(r["created_at"]))
        room_ids.append(room.id)
    event_ids = []
    for e in world.events:
        ends = _dt(e["ends_at"])
        event = await Event.create(
            club_id=club_ids[e["club"]],
            host_id=user_ids[e["host"]],
            title=e["title"],
            description=f"Hosted by {world.users[e['host']]['name']}.",
            starts_at=_dt(e["starts_at"]),
            ends_at=ends,
            created_at=_dt(e["created_at"]),
            status=EventStatus.ended if ends < now else EventStatus.scheduled,
        )
        event_ids.append(event.id)
    owners = {(c["owner"], i) for i, c in enumerate(world.clubs)}
    await Membership.bulk_create(
        [
            Membership(
                user_id=user_ids[u],
                club_id=club_ids[c],
                joined_at=_dt(ts),
                role=Role.owner if (u, c) in owners else Role.member,
            )
            for u, c, ts in world.memberships
        ],
        batch_size=2000,
    )
    await Rsvp.bulk_create(
        [
            Rsvp(user_id=user_ids[u], event_id=event_ids[e], status=RsvpStatus.going, created_at=_dt(ts))
            for u, e, ts in world.rsvps
        ],
        batch_size=2000,
    )
    reel_ids = await _write_reels(world, user_ids, club_ids)
    return {"user": user_ids, "club": club_ids, "room": room_ids, "event": event_ids, "reel": reel_ids}


def _topic_blurhashes() -> list[str]:
    """A blurhash per topic: a vertical gradient in a colour of its own, what a client shows for a seeded
    reel (see the module's docstring)."""
    import colorsys

    from PIL import Image

    from actors.media_processing import image_blurhash

    out = []
    for t in range(len(TOPICS)):
        top = colorsys.hsv_to_rgb(t / len(TOPICS), 0.55, 0.9)
        bottom = colorsys.hsv_to_rgb(t / len(TOPICS), 0.8, 0.35)
        img = Image.new("RGB", (9, 16))
        for y in range(16):
            a = y / 15
            rgb = tuple(int(255 * ((1 - a) * p + a * q)) for p, q in zip(top, bottom, strict=True))
            for x in range(9):
                img.putpixel((x, y), rgb)
        out.append(image_blurhash(img))
    return out


async def _write_reels(world: World, user_ids: list[int], club_ids: list[int]) -> list[int]:
    """Each reel and its video's media row (ready, keys without objects: see the module's docstring)."""
    if not world.reels:
        return []
    hashes = _topic_blurhashes()
    medias, reels = [], []
    for n, r in enumerate(world.reels):
        media_id = uuid.uuid5(uuid.NAMESPACE_URL, f"clubhub-seed-reel-{world.now}-{n}")
        at = _dt(r["created_at"])
        medias.append(
            Media(
                id=media_id,
                owner_id=user_ids[r["author"]],
                kind=MediaKind.video,
                content_type="video/mp4",
                size=r["duration_ms"] * 150,  # ~1.2 Mbit/s, as processed 720p clips weigh
                status=MediaStatus.ready,
                upload_key=f"uploads/{media_id.hex}",
                object_key=f"media/{media_id.hex}/video.mp4",
                poster_key=f"media/{media_id.hex}/poster.jpg",
                width=r["width"],
                height=r["height"],
                duration_ms=r["duration_ms"],
                blurhash=hashes[world.clubs[r["club"]]["topic"]],
                created_at=at,
            )
        )
        reels.append(
            Reel(
                club_id=club_ids[r["club"]],
                author_id=user_ids[r["author"]],
                media_id=media_id,
                caption=r["caption"],
                created_at=at,
            )
        )
    await Media.bulk_create(medias, batch_size=1000)
    await Reel.bulk_create(reels, batch_size=1000)
    by_media = dict(await Reel.filter(media_id__in=[m.id for m in medias]).values_list("media_id", "id"))
    return [by_media[m.id] for m in medias]


async def _write_messages(stores, world: World, ids: dict) -> None:
    seq: dict[int, int] = {}
    docs = []
    for r, u, text, ts in world.messages:
        room_id = ids["room"][r]
        seq[room_id] = seq.get(room_id, 0) + 1
        docs.append(
            {
                "_id": ObjectId(),
                "room_id": room_id,
                "seq": seq[room_id],
                "rev": seq[room_id],
                "author": {"id": ids["user"][u], "display_name": world.users[u]["name"]},
                "text": text,
                "ts": int(ts * 1000),
                "reactions": {},
                "client_id": f"seed-{uuid.uuid4().hex}",
            }
        )
    for lo in range(0, len(docs), 5000):
        await stores.mongo[mongo_store.MESSAGES].insert_many(docs[lo : lo + 5000], ordered=False)
    if seq:
        await stores.redis.hset(keys.ROOM_LAST_SEQ, mapping={str(k): v for k, v in seq.items()})


def _uuid5_hex(namespace: bytes, name: str) -> str:
    """``uuid.uuid5(namespace, name).hex`` without building UUID objects (a million of them cost seconds)."""
    digest = bytearray(hashlib.sha1(namespace + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


async def _stream_interactions(
    redis, config: ActorConfig, world: World, ids: dict, seed: int, progress
) -> int:
    consumer = InteractionConsumerHost(config)
    await consumer.open()
    await consumer.switch_model()  # a model already there: seeded users get embeddings in its space too
    ns = uuid.uuid5(uuid.NAMESPACE_URL, f"clubhub-seed-{seed}").bytes
    total = len(world.interactions)
    draining: asyncio.Future | None = None
    for lo in range(0, total, CHUNK):
        chunk = world.interactions[lo : lo + CHUNK]
        # The next chunk goes into the stream while the consumer drains the last one (two processes'
        # worth of work: this one's, and the MongoDB server's), one drain at a time.
        await append_interactions(
            redis,
            [
                {
                    "id": _uuid5_hex(ns, str(lo + k)),
                    "user_id": ids["user"][u],
                    "item_type": t,
                    "item_id": ids[t][ref],
                    "kind": kind,
                    "ts": repr(ts),
                    "source": "seed",
                    "dwell_ms": None if kind in REEL_KINDS else ms,
                    "watch_ms": ms if kind in REEL_KINDS else None,
                }
                for k, (u, t, ref, kind, ms, ts) in enumerate(chunk)
            ],
        )
        if draining is not None:
            await draining
            # Every chunk: the feed benchmark draws its progress bar from these lines.
            progress(f"  {lo}/{total} interactions")
        draining = asyncio.ensure_future(consumer.drain(seal=False))
    if draining is not None:
        await draining
    await consumer.drain(seal=True)  # the analytics store: a few large seals
    progress(f"  {total}/{total} interactions")
    return total
