"""``Browser``: a member reading rather than chatting."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from locust import between, task

from .common import ClubHubUser, weight_of

FEED_TYPES = {"event", "club", "room"}  # what `POST /interactions` takes
QUERIES = ["chess", "running", "books", "jazz", "coding", "film", "yoga", "hiking"]


def interaction(item: dict, kind: str, **extra) -> dict:
    # A client-made id, as the web client sends: a re-sent batch is not counted twice.
    return {
        "item_type": item["type"],
        "item_id": item["id"],
        "kind": kind,
        "interaction_id": uuid.uuid4().hex,
        **extra,
    }


class Browser(ClubHubUser):
    """Scrolls the feed and logs what it saw (impressions), opened (a click) and how long it stayed (dwell) in
    one ``/interactions`` batch, as the web client does; looks at events and RSVPs to upcoming ones of its
    clubs (and sometimes cancels); searches clubs; reads room history and unread counts. REST only."""

    weight = weight_of("Browser", 2)
    wait_time = between(1.0, 3.0)

    @task(5)
    def feed(self) -> None:
        items = self.client.get("/api/v1/feed?limit=20", name="/feed").json()["items"]
        seen = [i for i in items[:10] if i["type"] in FEED_TYPES]
        if not seen:
            return
        batch = [interaction(i, "impression") for i in seen]
        opened = random.choice(seen)
        batch.append(interaction(opened, "click"))
        batch.append(interaction(opened, "dwell", dwell_ms=random.randint(500, 30_000)))
        self.client.post("/api/v1/interactions", json=batch, name="/interactions")

    @task(3)
    def events(self) -> None:
        listed = self.client.get("/api/v1/events?upcoming=true", name="/events").json()["events"]
        if not listed:
            return
        event = random.choice(listed)
        self.client.get(f"/api/v1/events/{event['id']}", name="/events/{id}")
        # RSVPs need membership, and an event still ahead (one that has begun may end before the RSVP lands).
        mine = {c["id"] for c in self.clubs}
        now = datetime.now(UTC)
        upcoming = [
            e
            for e in listed
            if e["club_id"] in mine
            and e["status"] == "scheduled"
            and datetime.fromisoformat(e["starts_at"]) > now
        ]
        if upcoming:
            event = random.choice(upcoming)
            if event.get("my_rsvp") and random.random() < 0.3:
                self.client.delete(f"/api/v1/events/{event['id']}/rsvp", name="/events/{id}/rsvp")
            else:
                self.client.post(f"/api/v1/events/{event['id']}/rsvp", name="/events/{id}/rsvp")

    @task(2)
    def search(self) -> None:
        self.client.get(f"/api/v1/clubs?q={random.choice(QUERIES)}&limit=20", name="/clubs?q=")

    @task(2)
    def history(self) -> None:
        if not self.clubs:
            return
        rooms = self.rooms_of(random.choice(self.clubs)["id"])
        if rooms:
            room_id = random.choice(rooms)["id"]
            self.client.get(f"/api/v1/rooms/{room_id}/messages?limit=50", name="/rooms/{id}/messages")

    @task(1)
    def unread(self) -> None:
        self.client.get("/api/v1/me/unread", name="/me/unread")
