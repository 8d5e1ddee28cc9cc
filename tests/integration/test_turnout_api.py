"""Predicted turnout through the REST API: the host of an upcoming event sees ``predicted_going`` once a turnout
model is stored, a member who is not the host never does, and an event already past gets none."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from support.members import Api, client_session, make_member

from ranking import signals, turnout
from ranking.dataset import KINDS, Items, Log
from ranking.features import TYPES

DAY = 86400.0


def synthetic(now: float, seed: int = 5) -> tuple[Items, Log]:
    """Twelve clubs of different pull, an event every few days in each, RSVPs arriving before each start."""
    rng = np.random.default_rng(seed)
    start = now - 60 * DAY
    n_clubs = 12
    pull = rng.lognormal(1.8, 0.6, n_clubs)
    rows = [("club", c, c, start - 30 * DAY, math.nan, math.inf) for c in range(n_clubs)]
    log_rows: list[tuple[int, int, str, float]] = []  # (user, item row, kind, ts)
    user = 0
    for c in range(n_clubs):
        for _ in range(int(3 * pull[c]) + 3):
            user += 1
            log_rows.append((user, c, "join", start - float(rng.uniform(0, 20)) * DAY))
        for k in range(12):
            starts = math.floor((start + (5 * k + 8 + float(rng.uniform(0, 4))) * DAY) / 3600) * 3600
            announced = starts - float(rng.uniform(7, 11)) * DAY
            j = len(rows)
            rows.append(("event", j, c, announced, starts, starts + 7200))
            for _ in range(int(rng.poisson(pull[c]))):
                user += 1
                log_rows.append(
                    (user, j, "rsvp", announced + (starts - announced) * float(rng.beta(1.2, 2.5)))
                )
    keys = [signals.item_key(t, i) for t, i, *_ in rows]
    club_id = np.array([r[2] for r in rows], dtype=np.int64)
    starts_at = np.array([r[4] for r in rows])
    items = Items(
        keys=keys,
        index={k: j for j, k in enumerate(keys)},
        type_code=np.array([TYPES.index(r[0]) for r in rows], dtype=np.int64),
        item_id=np.array([r[1] for r in rows], dtype=np.int64),
        club_id=club_id,
        club_item=club_id.copy(),
        created_at=np.array([r[3] for r in rows]),
        starts_at=starts_at,
        ends_at=np.array([r[5] for r in rows]),
        start_bucket=np.array([signals.hour_bucket(s) if not math.isnan(s) else -1 for s in starts_at]),
        public=np.ones(len(rows), dtype=bool),
        listed=np.ones(len(rows), dtype=bool),
        club_names={c: f"Club {c}" for c in range(n_clubs)},
    )
    log_rows = sorted((r for r in log_rows if r[3] < now), key=lambda r: r[3])
    log = Log(
        np.array([r[0] for r in log_rows], dtype=np.int64),
        np.array([r[1] for r in log_rows], dtype=np.int64),
        np.array([KINDS.index(r[2]) for r in log_rows], dtype=np.int64),
        np.array([signals.weight(r[2], None) for r in log_rows]),
        np.array([r[3] for r in log_rows]),
    )
    return items, log


async def test_the_host_sees_predicted_going_on_an_upcoming_event(gateway, smtp, monkeypatch):
    db = gateway.backends.stores.mongo
    await db[turnout.MODELS].delete_many({})
    turnout.clear_cache()
    monkeypatch.setattr(turnout, "RELOAD_CHECK_S", 0.2)
    host, guest, other = [await make_member(gateway.url, smtp, name) for name in ("Host", "Guest", "Other")]
    async with client_session(gateway.url) as http:
        h, g, o = Api(http, host), Api(http, guest), Api(http, other)
        _, club = await h.call("POST", "/clubs", {"name": "Turnout", "description": "who comes"}, expect=201)
        for member in (g, o):
            await member.call("POST", f"/clubs/{club['id']}/join", expect=200)
        await h.call(
            "PATCH", f"/clubs/{club['id']}/members/{other.user_id}", {"role": "moderator"}, expect=200
        )

        async def event(starts: datetime) -> int:
            _, ev = await h.call(
                "POST",
                f"/clubs/{club['id']}/events",
                {
                    "title": "Meetup",
                    "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=2)).isoformat(),
                },
                expect=201,
            )
            return ev["id"]

        upcoming = await event(datetime.now(UTC) + timedelta(days=2))
        past = await event(datetime.now(UTC) - timedelta(days=1))
        await g.call("POST", f"/events/{upcoming}/rsvp", expect=200)

        # No model yet: the host's field is there, and null.
        _, ev = await h.call("GET", f"/events/{upcoming}", expect=200)
        assert "predicted_going" in ev and ev["predicted_going"] is None

        now = datetime.now(UTC).timestamp()
        model, report = turnout.fit(*synthetic(now), now, seed=0)
        assert report["mae_model"] < report["mae_naive"], report
        version = await turnout.save(db, model, report)
        stored = await turnout.load_latest(db)
        assert stored is not None and stored.version == version and stored.report["version"] == version
        await asyncio.sleep(0.3)  # the gateway looks for a newer version at most every RELOAD_CHECK_S

        facts = await turnout.serving_facts(upcoming, now)
        assert facts is not None
        assert (facts.rsvps, facts.going, facts.club_members, facts.club_ended_events) == (1, 1, 3, 1)
        assert facts.club_recent == [0] and facts.club_rsvps_7d == 1 and facts.rsvps_1d == 1
        assert stored.predict([facts]) == model.predict([facts])  # the stored boosters are the fitted ones

        _, ev = await h.call("GET", f"/events/{upcoming}", expect=200)
        p = ev["predicted_going"]
        assert p is not None and set(p) == {"estimate", "low", "high"}, ev
        assert all(isinstance(p[k], int) for k in p)
        assert ev["going"] == 1 <= p["low"] <= p["estimate"] <= p["high"], p

        # Neither a plain member nor a moderator who did not create the event sees it.
        for someone in (g, o):
            _, theirs = await someone.call("GET", f"/events/{upcoming}", expect=200)
            assert "predicted_going" not in theirs and theirs["going"] == 1
        # A past event: nothing to predict.
        _, done = await h.call("GET", f"/events/{past}", expect=200)
        assert done["predicted_going"] is None
        # A list never carries it (one prediction per card would be a model call each).
        _, listing = await h.call("GET", "/events", params={"club_id": str(club["id"])}, expect=200)
        assert all("predicted_going" not in e for e in listing["events"])
    await db[turnout.MODELS].delete_many({})
    turnout.clear_cache()


async def test_the_openapi_document_shows_predicted_going(http):
    resp = await http.get("/api/v1/openapi.json")
    doc = await resp.json()
    schemas = doc["components"]["schemas"]
    ref = schemas["EventOut"]["properties"]["predicted_going"]
    assert any(o.get("$ref", "").endswith("/PredictedGoing") for o in ref.get("anyOf", [ref])), ref
    assert set(schemas["PredictedGoing"]["properties"]) == {"estimate", "low", "high"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    yield
    turnout.clear_cache()
