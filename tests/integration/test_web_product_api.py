"""The fields issue 14's cards read (added, never renamed): ``GET /clubs`` items carry ``member_count``,
``my_role`` and ``next_event``; ``GET /events`` items their RSVP counts and the caller's RSVP; feed items
the facts a client words its reason from; a finished live session's room leaves ``GET /clubs/{id}/rooms``."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support.members import Api, client_session, make_member
from support.wait import wait_for


def iso(dt: datetime) -> str:
    return dt.isoformat()


@pytest.fixture
async def people(gateway, smtp):
    async with client_session(gateway.url) as http:
        yield [Api(http, await make_member(gateway.url, smtp, n)) for n in ("Olive", "Paul", "Vera", "Out")]


async def test_card_fields(people):
    olive, paul, vera, out = people
    tag = uuid.uuid4().hex[:8]
    _, jazz = await olive.call("POST", "/clubs", {"name": f"Jazz {tag}", "description": tag}, expect=201)
    _, chess = await olive.call("POST", "/clubs", {"name": f"Chess {tag}", "description": tag}, expect=201)
    for m in (paul, vera):
        await m.call("POST", f"/clubs/{jazz['id']}/join", expect=200)
    now = datetime.now(UTC)
    events = {}
    for title, start in (("later", now + timedelta(days=3)), ("soon", now + timedelta(hours=2))):
        _, events[title] = await olive.call(
            "POST",
            f"/clubs/{jazz['id']}/events",
            {
                "title": title,
                "starts_at": iso(start),
                "ends_at": iso(start + timedelta(hours=1)),
                "capacity": 2,
            },
            expect=201,
        )
    soon = events["soon"]["id"]
    for m in (olive, paul):
        await m.call("POST", f"/events/{soon}/rsvp", expect=200)
    _, waiting = await vera.call("POST", f"/events/{soon}/rsvp", expect=200)
    assert waiting["status"] == "waitlisted"

    # The directory: counts, the caller's role and the soonest event that has not ended.
    _, found = await vera.call("GET", "/clubs", params={"q": tag}, expect=200)
    cards = {c["id"]: c for c in found["items"]}
    assert cards[jazz["id"]]["member_count"] == 3 and cards[jazz["id"]]["my_role"] == "member"
    assert cards[jazz["id"]]["next_event"]["id"] == soon
    assert cards[jazz["id"]]["next_event"]["title"] == "soon"
    assert cards[chess["id"]]["member_count"] == 1 and cards[chess["id"]]["my_role"] is None
    assert cards[chess["id"]]["next_event"] is None
    # An event that has started and not ended (live here) comes before any later one.
    _, ended = await olive.call(
        "POST",
        f"/clubs/{jazz['id']}/events",
        {
            "title": "ended",
            "starts_at": iso(now - timedelta(minutes=5)),
            "ends_at": iso(now + timedelta(hours=1)),
        },
        expect=201,
    )
    await olive.call("POST", f"/events/{ended['id']}/live/start", expect=200)
    _, found = await out.call("GET", "/clubs", params={"q": tag}, expect=200)
    live = {c["id"]: c for c in found["items"]}[jazz["id"]]["next_event"]
    assert live["id"] == ended["id"] and live["status"] == "live"  # a live event is the next thing on
    await olive.call("POST", f"/events/{ended['id']}/live/end", expect=200)

    # The events list: counts and the caller's RSVP, no call per event.
    _, listed = await vera.call("GET", "/events", params={"club_id": jazz["id"]}, expect=200)
    by_id = {e["id"]: e for e in listed["events"]}
    assert (by_id[soon]["going"], by_id[soon]["waitlisted"]) == (2, 1)
    assert by_id[soon]["my_rsvp"]["status"] == "waitlisted"  # its place in line: GET /events/{id}
    assert by_id[events["later"]["id"]]["going"] == 0 and by_id[events["later"]["id"]]["my_rsvp"] is None
    assert "summary" not in by_id[soon]
    _, mine = await paul.call("GET", "/events", params={"club_id": jazz["id"]}, expect=200)
    assert {e["id"]: e for e in mine["events"]}[soon]["my_rsvp"]["status"] == "going"

    # The finished live session's room is gone from the room list (general stays); the others' too.
    _, rooms = await paul.call("GET", f"/clubs/{jazz['id']}/rooms", expect=200)
    assert [r["name"] for r in rooms["rooms"]] == ["general"]

    # The feed: who Vera knows going (Olive and Paul, from Jazz), her membership, club sizes.
    async def feed_has_both():
        _, feed = await vera.call("GET", "/feed", params={"limit": 100}, expect=200)
        items = {(i["type"], i["id"]): i for i in feed["items"]}
        return items if ("event", soon) in items and ("club", chess["id"]) in items else None

    items = await wait_for(feed_has_both, timeout=30, interval=0.5)
    event = items[("event", soon)]
    assert event["member"] is True and event["going"] == 2 and event["my_rsvp"] == "waitlisted"
    assert event["friends_going"] == 2 and event["friends_club"] == jazz["name"]
    club = items[("club", chess["id"])]
    assert club["member"] is False and club["member_count"] == 1 and club["friends_members"] == 1  # Olive
    assert isinstance(event["reason"], str) and event["reason"]  # the ranker's sentence is still there
