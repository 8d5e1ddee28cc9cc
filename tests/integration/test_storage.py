"""Each store round-trips data against the real session services."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError
from tortoise.exceptions import IntegrityError

from storage import mongo, postgres
from storage.models import (
    Achievement,
    Club,
    Event,
    Membership,
    Role,
    Room,
    Rsvp,
    RsvpStatus,
    User,
    UserAchievement,
    Visibility,
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def mongo_db(services):
    """A fresh MongoDB database per test, with the project's indexes, on a client of its own: the
    gateway's client may still hold connections to a server instance a fault test restarted (the first
    use of each fails with AutoReconnect, which test_chat_faults covers), and these tests are about the
    storage layer, not about that."""
    client = mongo.connect_mongo(services.urls()["mongo"])
    name = unique("t").replace("-", "_")
    db = client[name]
    try:
        await mongo.ensure_indexes(db)
        yield db
        await client.drop_database(name)
    finally:
        await client.close()


async def test_postgres_models_round_trip(gateway):
    owner = await User.create(email=f"{unique('owner')}@example.org", password_hash="h", display_name="Owner")
    member = await User.create(email=f"{unique('member')}@example.org", password_hash="h", display_name="Mem")
    club = await Club.create(
        name="Chess", description="Openings and endgames", visibility=Visibility.private, created_by=owner
    )
    await Membership.create(club=club, user=owner, role=Role.owner)
    await Membership.create(club=club, user=member)
    room = await Room.create(club=club, name="general", slow_mode_s=5)
    start = datetime.now(UTC) + timedelta(days=1)
    event = await Event.create(
        club=club,
        host=owner,
        title="Blitz night",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=10,
        room=room,
    )
    await Rsvp.create(event=event, user=member, status=RsvpStatus.going)
    badge, _ = await Achievement.get_or_create(
        code="founded_club", defaults={"title": "Founder", "description": "Founded a club"}
    )
    await UserAchievement.create(user=owner, achievement=badge)

    fetched = await Club.get(id=club.id).prefetch_related("memberships__user", "rooms", "events__rsvps")
    assert fetched.visibility is Visibility.private
    roles = {m.user.display_name: m.role for m in fetched.memberships}
    assert roles == {"Owner": Role.owner, "Mem": Role.member}
    assert [r.slow_mode_s for r in fetched.rooms] == [5]
    (ev,) = fetched.events
    assert ev.starts_at == start and ev.capacity == 10 and [r.status for r in ev.rsvps] == [RsvpStatus.going]
    assert await UserAchievement.filter(user=owner, achievement_id="founded_club").count() == 1


async def test_postgres_constraints_hold(gateway):
    email = f"{unique('dup')}@example.org"
    user = await User.create(email=email, password_hash="h", display_name="A")
    with pytest.raises(IntegrityError):
        await User.create(email=email, password_hash="h", display_name="B")
    club = await Club.create(name="Runners", created_by=user)
    await Membership.create(club=club, user=user, role=Role.owner)
    with pytest.raises(IntegrityError):
        await Membership.create(club=club, user=user)


async def test_migrations_are_recorded_and_idempotent(gateway, services):
    from aerich.models import Aerich

    versions = [a.version for a in await Aerich.filter(app="models")]
    assert any(v.startswith("0_") and v.endswith("_init.py") for v in versions)
    url = services.urls()["postgres"]
    # A second gateway starting against the same database applies nothing.
    assert await postgres.init_postgres(url, gateway.backends.settings.postgres_db) == []


async def test_mongo_round_trip(mongo_db):
    docs = [{"room_id": 7, "seq": s, "client_id": f"c{s}", "text": f"hello {s}"} for s in (1, 2, 3)]
    result = await mongo_db[mongo.MESSAGES].insert_many(docs)
    assert len(result.inserted_ids) == 3
    found = await mongo_db[mongo.MESSAGES].find({"room_id": 7, "seq": {"$gt": 1}}).sort("seq", 1).to_list()
    assert [d["text"] for d in found] == ["hello 2", "hello 3"]
    await mongo_db[mongo.AUDIT_LOG].insert_one({"club_id": 1, "action": "ban", "ts": 1})
    assert await mongo_db[mongo.AUDIT_LOG].count_documents({"club_id": 1}) == 1


async def test_unique_index_rejects_duplicate_room_seq(mongo_db):
    messages = mongo_db[mongo.MESSAGES]
    await messages.insert_one({"room_id": 1, "seq": 1, "client_id": "a", "text": "first"})
    with pytest.raises(DuplicateKeyError):
        await messages.insert_one({"room_id": 1, "seq": 1, "client_id": "b", "text": "second"})
    # The same seq in another room is fine.
    await messages.insert_one({"room_id": 2, "seq": 1, "client_id": "a", "text": "other room"})
    with pytest.raises(BulkWriteError):
        await messages.insert_many(
            [{"room_id": 1, "seq": 2, "client_id": "c"}, {"room_id": 1, "seq": 2, "client_id": "d"}]
        )
    texts = [d.get("text") for d in await messages.find({"room_id": 1}).sort("seq", 1).to_list()]
    assert texts[0] == "first" and await messages.count_documents({"room_id": 1, "seq": 1}) == 1


async def test_unique_index_rejects_duplicate_client_id(mongo_db):
    messages = mongo_db[mongo.MESSAGES]
    await messages.insert_one({"room_id": 1, "seq": 1, "client_id": "same"})
    with pytest.raises(DuplicateKeyError):
        await messages.insert_one({"room_id": 1, "seq": 2, "client_id": "same"})


async def test_redis_round_trip(gateway):
    r = gateway.backends.stores.redis
    key = unique("test:key")
    await r.set(key, "value", ex=60)
    assert await r.get(key) == b"value"
    assert 0 < await r.ttl(key) <= 60
    async with r.pipeline(transaction=True) as pipe:
        await pipe.incr(key + ":n").incr(key + ":n").execute()
    assert int(await r.get(key + ":n")) == 2


async def test_gateways_starting_together_on_a_fresh_server_create_the_database_once(services):
    """Several gateways (workers, pods) starting at once all find no database and all create it: the losers of
    that race must take the database as made, not die on pg_database's unique index."""
    url = services.urls()["postgres"]
    name = f"race_{uuid.uuid4().hex[:8]}"
    try:
        await asyncio.gather(*(postgres.ensure_database(url, name) for _ in range(8)))
        conn = await asyncpg.connect(**postgres.connect_kwargs(url, name), timeout=10)
        assert await conn.fetchval("SELECT current_database()") == name
        await conn.close()
    finally:
        await postgres.drop_database(url, name)
