"""``ChatMember``: a member chatting in the rooms of their clubs."""

from __future__ import annotations

import random
import time
import uuid
from collections import deque

import gevent
from locust import between, task

from .common import ClubHubUser, Socket, env_float, record_ms, sent_at_us, stamped, weight_of

# Messages per second each ChatMember sends (Poisson arrivals), and how many of its clubs it chats in.
SEND_RATE = env_float("LOADTEST_SEND_RATE", 0.2)
CLUBS_PER_MEMBER = int(env_float("LOADTEST_CLUBS_PER_MEMBER", 3))
LINES = ["hi all", "see you tonight", "who's in?", "great session!", "running late", "count me in"]
EMOJI = ["👍", "🎉", "❤️", "😂"]


class ChatMember(ClubHubUser):
    """Joins the general room (the first) of up to ``LOADTEST_CLUBS_PER_MEMBER`` of its clubs over Socket.IO
    and sends ``LOADTEST_SEND_RATE`` messages a second into them, each stamped with the sender's clock; between
    sends it reads history (socket and REST), marks rooms read, reacts and edits its own messages.

    Reported: ``message:send`` (the durable ack), ``deliver`` (for every message another simulated member
    sent, from the sender's clock to this member's receipt: one machine, or clocks kept in step) and
    ``order`` failures (see ``Socket``). Messages that reach a member only in a rejoin's ``missed`` are
    checked but not timed: they measure how long the member was away, not the system.
    """

    weight = weight_of("ChatMember", 4)
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        super().on_start()
        self.recent: dict[int, deque] = {}  # room -> seqs of recent messages of others (to react to)
        self.mine: deque = deque(maxlen=20)  # (room, seq) of own messages (to edit)
        self.socket = Socket(self.host, self.token, on_message=self._received)
        self.socket.ensure()
        for club in random.sample(self.clubs, min(CLUBS_PER_MEMBER, len(self.clubs))):
            rooms = self.rooms_of(club["id"])
            if rooms:
                # Known before the join, so the first messages after its ack are timed too.
                self.recent[rooms[0]["id"]] = deque(maxlen=20)
                if not self.socket.join(rooms[0]["id"]):
                    del self.recent[rooms[0]["id"]]
        # Sending runs on its own greenlet so the rate holds whatever the other tasks cost.
        self.sender = gevent.spawn(self._send_loop) if SEND_RATE > 0 and self.recent else None

    def on_stop(self) -> None:
        if getattr(self, "sender", None) is not None:
            self.sender.kill()
        if getattr(self, "socket", None) is not None:
            self.socket.shutdown()
        super().on_stop()

    def on_token(self, token: str) -> None:
        self.socket.refresh(token)

    def _received(self, m: dict) -> None:
        if (m.get("author") or {}).get("id") == self.user_id or m["room_id"] not in self.recent:
            return
        self.recent[m["room_id"]].append(m["seq"])
        sent = sent_at_us(m.get("text") or "")
        if sent is not None:
            record_ms("deliver", max(0.0, time.time_ns() / 1000 - sent) / 1000)

    def _send_loop(self) -> None:
        while True:
            gevent.sleep(random.expovariate(SEND_RATE))
            self.send()

    def send(self) -> None:
        room_id = random.choice(list(self.recent))
        ack = self.socket.call(
            "message:send",
            {"room_id": room_id, "client_id": uuid.uuid4().hex, "text": stamped(random.choice(LINES))},
        )
        if ack is not None:
            self.mine.append((room_id, ack["seq"]))

    @task(3)
    def history(self) -> None:
        if not self.recent:
            return
        room_id = random.choice(list(self.recent))
        if random.random() < 0.5:
            self.socket.call("message:history", {"room_id": room_id, "limit": 50})
        else:
            self.client.get(f"/api/v1/rooms/{room_id}/messages?limit=50", name="/rooms/{id}/messages")
        last = self.socket.last_seq.get(room_id)
        if last:
            self.socket.call("read", {"room_id": room_id, "seq": last})

    @task(2)
    def react(self) -> None:
        rooms = [r for r, seqs in self.recent.items() if seqs]
        if not rooms:
            return
        room_id = random.choice(rooms)
        seq = random.choice(self.recent[room_id])
        emoji = random.choice(EMOJI)
        self.socket.call("reaction:add", {"room_id": room_id, "seq": seq, "emoji": emoji})
        if random.random() < 0.3:
            self.socket.call("reaction:remove", {"room_id": room_id, "seq": seq, "emoji": emoji})

    @task(1)
    def edit(self) -> None:
        if self.mine:
            room_id, seq = random.choice(self.mine)
            self.socket.call(
                "message:edit", {"room_id": room_id, "seq": seq, "text": "(edited) " + random.choice(LINES)}
            )

    @task(1)
    def unread(self) -> None:
        self.client.get("/api/v1/me/unread", name="/me/unread")
