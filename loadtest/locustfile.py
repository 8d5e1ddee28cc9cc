"""Locust scenarios: members of a seeded world using ClubHoloHub the way the web client does.

Each simulated member logs in (a `clubhub seed` account), opens a Socket.IO connection and joins a room of
one of their clubs, then keeps reading the feed (logging impressions and clicks to `/interactions` in one
batch, as the web client does), chatting over Socket.IO (`message:send` timed to its durable ack), paging
room history, checking unread counts and searching clubs.

    clubhub seed --users 500 --clubs 40 --events 200            # the accounts (password clubhub-demo)
    CLUBHUB_AUTH_RATE_LIMIT=100000 clubhub run                   # every simulated member logs in from one address
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080 --headless -u 200 -r 20 -t 2m

`CLUBHUB_LOCUST_SEED` (default 1) and `CLUBHUB_LOCUST_PASSWORD` (default clubhub-demo) name the seeded world.
Socket.IO calls appear in Locust's table as type `socketio`.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid

import socketio
from locust import HttpUser, between, events, task

SEED = int(os.environ.get("CLUBHUB_LOCUST_SEED", "1"))
PASSWORD = os.environ.get("CLUBHUB_LOCUST_PASSWORD", "clubhub-demo")
_next_member = itertools.count()


def member_email(index: int) -> str:
    # The accounts `clubhub seed --seed SEED` makes (ranking/world.py: user_email).
    return f"member{index + 1}.s{SEED}@demo.clubhub.example"


class Member(HttpUser):
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        self.sio = None
        self.room_id = None
        index = next(_next_member)
        resp = self.client.post(
            "/api/v1/auth/login",
            json={"email": member_email(index), "password": PASSWORD},
            name="/auth/login",
        )
        if resp.status_code != 200:
            raise RuntimeError(f"login of {member_email(index)} failed: {resp.status_code} {resp.text[:200]}")
        self.token = resp.json()["access_token"]
        self.client.headers["Authorization"] = f"Bearer {self.token}"
        clubs = self.client.get("/api/v1/me/clubs", name="/me/clubs").json()["clubs"]
        if clubs:
            club = random.choice(clubs)
            rooms = self.client.get(f"/api/v1/clubs/{club['id']}/rooms", name="/clubs/{id}/rooms").json()[
                "rooms"
            ]
            self.room_id = rooms[0]["id"] if rooms else None
        self.sio = socketio.Client(reconnection=False)
        self.sio.connect(self.host, auth={"token": self.token}, transports=["websocket"], wait_timeout=10)
        if self.room_id is not None:
            self._call("room:join", {"room_id": self.room_id})

    def on_stop(self) -> None:
        if self.sio is not None:
            self.sio.disconnect()

    def _call(self, event: str, payload: dict):
        """A Socket.IO call with its ack, recorded in Locust's statistics."""
        start = time.perf_counter()
        exc = None
        ack = None
        try:
            ack = self.sio.call(event, payload, timeout=10)
            if not ack or not ack.get("ok"):
                exc = RuntimeError(f"{event}: {ack}")
        except Exception as e:
            exc = e
        events.request.fire(
            request_type="socketio",
            name=event,
            response_time=(time.perf_counter() - start) * 1000,
            response_length=0,
            exception=exc,
            context={},
        )
        return ack

    @task(5)
    def read_feed(self) -> None:
        items = self.client.get("/api/v1/feed?limit=20", name="/feed").json()["items"]
        if not items:
            return
        batch = [
            {
                "item_type": i["type"],
                "item_id": i["id"],
                "kind": "impression",
                "interaction_id": uuid.uuid4().hex,
            }
            for i in items[:10]
        ]
        clicked = random.choice(items[:10])
        batch.append(
            {
                "item_type": clicked["type"],
                "item_id": clicked["id"],
                "kind": "click",
                "interaction_id": uuid.uuid4().hex,
            }
        )
        self.client.post("/api/v1/interactions", json=batch, name="/interactions")

    @task(3)
    def chat(self) -> None:
        if self.room_id is not None:
            self._call(
                "message:send",
                {
                    "room_id": self.room_id,
                    "client_id": uuid.uuid4().hex,
                    "text": random.choice(["hi all", "see you tonight", "who's in?"]),
                },
            )

    @task(2)
    def history(self) -> None:
        if self.room_id is not None:
            self.client.get(f"/api/v1/rooms/{self.room_id}/messages?limit=50", name="/rooms/{id}/messages")

    @task(1)
    def unread(self) -> None:
        self.client.get("/api/v1/me/unread", name="/me/unread")

    @task(1)
    def search(self) -> None:
        q = random.choice(["chess", "running", "books", "jazz", "coding", "film", "yoga", "hiking"])
        self.client.get(f"/api/v1/clubs?q={q}&limit=20", name="/clubs?q=")
