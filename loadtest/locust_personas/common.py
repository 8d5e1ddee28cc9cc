"""What every persona shares: settings from the environment, accounts and login, Locust statistics for
Socket.IO calls, and a Socket.IO connection that resumes after a drop and checks the chat guarantees.

(The package is not called ``locust``: Locust puts the locustfile's directory first on ``sys.path``, and a
``loadtest/locust/`` package would hide the Locust library itself.)
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import gevent
import socketio
from locust import HttpUser, events
from socketio.exceptions import SocketIOError

# -- settings ------------------------------------------------------------------------------------------

SEED = int(os.environ.get("CLUBHUB_LOCUST_SEED", "1"))
PASSWORD = os.environ.get("CLUBHUB_LOCUST_PASSWORD", "clubhub-demo")
# A JSON list of {email, password?, token?}: accounts made by a harness instead of `clubhub seed`'s (the smoke
# test hands over access tokens it already holds: logins are rate-limited per client address). A given token
# is used as is, without refreshing: for runs shorter than its lifetime.
ACCOUNTS_FILE = os.environ.get("LOADTEST_ACCOUNTS")
# Distributed runs: every worker takes the accounts whose index is its worker index modulo this.
WORKERS = max(1, int(os.environ.get("LOADTEST_WORKERS", "1")))
# Seconds a Socket.IO ack may take before the call counts as failed (generous: the machine may be busy).
ACK_TIMEOUT_S = float(os.environ.get("LOADTEST_ACK_TIMEOUT_S", "30"))
# Every socket drops its connection this often (seconds, 0: never) and resumes, to exercise `since_seq`.
DROP_EVERY_S = float(os.environ.get("LOADTEST_DROP_EVERY_S", "0"))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def weight_of(persona: str, default: int) -> int:
    """A persona's Locust weight: ``LOADTEST_WEIGHT_<PERSONA>`` (e.g. ``LOADTEST_WEIGHT_CHATMEMBER=5``), else
    the default. Locust's own ``--config-users`` and the class names on its command line work too."""
    return int(os.environ.get(f"LOADTEST_WEIGHT_{persona.upper()}", default))


# -- statistics ----------------------------------------------------------------------------------------


def record(
    name: str, started: float, exc: BaseException | None = None, request_type: str = "socketio"
) -> None:
    """One entry in Locust's table; ``started`` is a ``time.perf_counter()`` reading."""
    events.request.fire(
        request_type=request_type,
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=0,
        exception=exc,
        context={},
    )


def record_ms(name: str, ms: float, exc: BaseException | None = None) -> None:
    events.request.fire(
        request_type="socketio", name=name, response_time=ms, response_length=0, exception=exc, context={}
    )


class Refused(Exception):
    """A Socket.IO call answered ``{ok: false}`` (or not at all)."""


class OrderViolation(Exception):
    """A socket saw a gap or a duplicate in a room's ``seq``: the chat guarantees were broken."""


def stamped(text: str) -> str:
    """A chat text carrying the sender's wall clock (microseconds) before a ``|``, as the chat benchmark
    writes it: receivers subtract it from their own clock (the gateway reads it too, for its
    ``client_to_gateway`` stage)."""
    return f"{time.time_ns() // 1000}|{text}"


def sent_at_us(text: str) -> int | None:
    head = text.partition("|")[0]
    return int(head) if head.isdigit() else None


# -- accounts ------------------------------------------------------------------------------------------

_next_account = itertools.count()
_accounts: list[dict] | None = None


def member_email(index: int) -> str:
    # The accounts `clubhub seed --seed SEED` makes (ranking/world.py: user_email).
    return f"member{index + 1}.s{SEED}@demo.clubhub.example"


def next_account(environment) -> dict:
    """The next account of this Locust process: from ``LOADTEST_ACCOUNTS`` when set, else the seeded world's.
    Each simulated user gets an account of its own: two users on one account would share its rate limits, and
    neither would time the other's messages as another member's."""
    global _accounts
    index = next(_next_account) * WORKERS + getattr(environment.runner, "worker_index", 0) % WORKERS
    if ACCOUNTS_FILE:
        if _accounts is None:
            _accounts = json.loads(Path(ACCOUNTS_FILE).read_text())
        if index >= len(_accounts):
            raise RuntimeError(f"{ACCOUNTS_FILE} has {len(_accounts)} accounts; user {index + 1} has none")
        return _accounts[index]
    return {"email": member_email(index), "password": PASSWORD}


# -- the simulated user --------------------------------------------------------------------------------


class ClubHubUser(HttpUser):
    """A logged-in member: ``token``, ``user_id`` and ``clubs`` (``GET /me/clubs``) after ``on_start``."""

    abstract = True

    def on_start(self) -> None:
        self.account = next_account(self.environment)
        self.refresher = None
        if self.account.get("token"):
            self.token = self.account["token"]
        else:
            self.token, expires_in = self._login()
            # Access tokens are short-lived (15 min by default) and a socket whose token expires is closed:
            # a long run refreshes them, as the web client does, with the login's refresh cookie.
            self.refresher = gevent.spawn(self._keep_token_fresh, expires_in)
        self.client.headers["Authorization"] = f"Bearer {self.token}"
        self.user_id = self.client.get("/api/v1/me", name="/me").json()["id"]
        self.refresh_clubs()

    def on_stop(self) -> None:
        if getattr(self, "refresher", None) is not None:
            self.refresher.kill()

    def _login(self) -> tuple[str, float]:
        email = self.account["email"]
        resp = self.client.post(
            "/api/v1/auth/login",
            json={"email": email, "password": self.account.get("password", PASSWORD)},
            name="/auth/login",
        )
        if resp.status_code != 200:
            raise RuntimeError(f"login of {email} failed: {resp.status_code} {resp.text[:200]}")
        body = resp.json()
        return body["access_token"], float(body["expires_in"])

    def _keep_token_fresh(self, expires_in: float) -> None:
        while True:
            gevent.sleep(max(30.0, expires_in * 0.8))
            resp = self.client.post("/api/v1/auth/refresh", name="/auth/refresh")
            if resp.status_code == 200:
                body = resp.json()
                self.token, expires_in = body["access_token"], float(body["expires_in"])
                self.client.headers["Authorization"] = f"Bearer {self.token}"
                self.on_token(self.token)

    def on_token(self, token: str) -> None:
        """A fresh access token (personas with a socket hand it on)."""

    def refresh_clubs(self) -> list[dict]:
        self.clubs = self.client.get("/api/v1/me/clubs", name="/me/clubs").json()["clubs"]
        return self.clubs

    def rooms_of(self, club_id: int) -> list[dict]:
        rooms = self.client.get(f"/api/v1/clubs/{club_id}/rooms", name="/clubs/{id}/rooms").json()["rooms"]
        return sorted(rooms, key=lambda r: r["id"])


# -- Socket.IO -----------------------------------------------------------------------------------------


class Socket:
    """A member's Socket.IO connection as the web client keeps it.

    After a drop (the server's, the network's, or ``LOADTEST_DROP_EVERY_S``) the next call connects again
    and rejoins every room with ``since_seq`` (the last seq this member saw there) and ``since_rev``; the
    time that takes is the ``reconnect`` entry. Every message a room delivers, live or in a rejoin's
    ``missed``, is checked against the guarantees: seqs arrive in order, without a gap or a duplicate, from
    the join ack's ``last_seq`` on. A violation is a failure named ``order``.

    The checks rely on handlers running in the order the packets arrived: python-socketio's client starts
    one greenlet per packet, in order, and none of these handlers blocks (under Locust's gevent every
    "thread" is a greenlet). Join acks are handled the same way (an ack callback, not the return of a
    blocking call), so a message held back until the ack is never checked before it.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        on_message: Callable[[dict], None] | None = None,
        handlers: dict[str, Callable] | None = None,
        on_resume: Callable[[], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.on_message = on_message  # each live (not replayed) chat message, after its order check
        self.handlers = handlers or {}  # other server events, e.g. live:update
        self.on_resume = on_resume  # after a reconnect has rejoined the rooms (a live session rejoins here)
        self.sio: socketio.Client | None = None
        self.generation = 0  # which connection a handler belongs to: a dropped one's late packets are ignored
        self.connected_at = 0.0
        self.last_seq: dict[int, int] = {}  # room -> last seq seen, kept across connections (since_seq)
        self.last_rev: dict[int, int] = {}
        self.ready: set[int] = set()  # rooms whose join ack this connection has handled
        # One resume at a time (a gevent lock under Locust); other greenlets wait for it to finish, so none
        # sends into a room the new connection has not rejoined yet. The resuming greenlet's own calls go
        # ahead (``_resumer``).
        self._lock = threading.Lock()
        self._resumer: int | None = None
        # Simulated drops: each socket at its own rhythm, so they do not all resume at once.
        self.drop_after = DROP_EVERY_S * random.uniform(0.75, 1.25)
        self.stopped = False

    # -- connection ----------------------------------------------------------------------------------
    def connect(self) -> None:
        self.generation += 1
        gen = self.generation
        sio = socketio.Client(reconnection=False)
        sio.on("message", lambda m: self._messages(gen, m["room_id"], [m]))
        sio.on("message:batch", lambda b: self._messages(gen, b["room_id"], b["messages"]))
        sio.on("disconnect", lambda *_reason: self._dropped(gen))
        for event, handler in self.handlers.items():
            sio.on(event, handler)
        self.ready = set()
        sio.connect(self.base_url, auth={"token": self.token}, transports=["websocket"], wait_timeout=30)
        self.sio, self.connected_at = sio, time.monotonic()

    def _dropped(self, gen: int) -> None:
        """The server or the network closed the connection: resume at once, as the web client does (a
        ``close()`` of ours moved ``generation`` on first, so it resumes nothing)."""
        if gen == self.generation:
            gevent.spawn(self._resume_quietly)

    def _resume_quietly(self) -> None:
        # A moment's pause, as clients back off: a server that closed many sockets at once does not get
        # them all back in the same instant.
        gevent.sleep(random.uniform(0.1, 0.5))
        if self.stopped:
            return
        try:
            self.ensure()
        except Exception:  # recorded as a failed `reconnect`; the next call tries again
            pass

    def refresh(self, token: str) -> None:
        """A fresh access token: for the next connection, and for this one (``auth:refresh``) before the old
        token expires and the server closes it."""
        self.token = token
        if self.connected:
            self.call("auth:refresh", {"token": token})

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    def shutdown(self) -> None:
        """The user stops: close, and resume no more."""
        self.stopped = True
        self.close()

    def close(self) -> None:
        if self.sio is not None:
            sio, self.sio = self.sio, None
            self.generation += 1
            try:
                sio.disconnect()
            except Exception:  # already gone: nothing to close
                pass

    def _healthy(self) -> bool:
        due = self.drop_after and time.monotonic() - self.connected_at > self.drop_after
        return self.connected and not due and self._resumer is None

    def ensure(self) -> None:
        """Connected, resuming first when the connection dropped (or is due a simulated drop)."""
        if self._healthy() or self._resumer == threading.get_ident():
            return
        with self._lock:
            if self._healthy():
                return  # another greenlet resumed while this one waited
            first = self.sio is None and not self.last_seq
            if self.sio is not None:
                self.close()
            started = time.perf_counter()
            self._resumer = threading.get_ident()
            try:
                self.connect()
                for room_id in list(self.last_seq):
                    self._join(room_id)
                if self.on_resume is not None:
                    self.on_resume()
            except Exception as exc:
                record("reconnect", started, exc)
                raise
            finally:
                self._resumer = None
            if not first:
                record("reconnect", started)

    # -- calls ---------------------------------------------------------------------------------------
    def call(
        self,
        event: str,
        payload: dict,
        name: str | None = None,
        expected: Iterable[str] = (),
        on_ack: Callable[[dict], None] | None = None,
    ) -> dict | None:
        """A call timed to its ack, as a ``socketio`` entry (``name`` defaults to the event). A refusal whose
        code is in ``expected`` counts as an answer (a race the simulation cannot avoid, e.g. voting in a
        poll the host closed meanwhile). A call whose connection drops is sent again once on the resumed
        connection: calls carry client ids or are idempotent, so a retry never acts twice. ``on_ack`` runs in
        packet order with the events (see the class), before this returns."""
        started = time.perf_counter()
        try:
            ack = self._ask(event, payload, on_ack)
            if ack is None:
                ack = self._ask(event, payload, on_ack)
            if ack is None:
                raise Refused(f"{event}: the connection dropped twice")
            if not ack.get("ok") and ack.get("error", {}).get("code") not in expected:
                raise Refused(f"{event}: {ack.get('error')}")
        except Exception as exc:
            record(name or event, started, exc)
            return None
        record(name or event, started)
        return ack

    def _ask(self, event: str, payload: dict, on_ack: Callable[[dict], None] | None = None) -> dict | None:
        """The ack, or None when the connection dropped first (then resumed, for the caller to retry)."""
        self.ensure()
        sio, gen = self.sio, self.generation
        answered = threading.Event()
        box: dict = {}

        def callback(ack=None):
            box["ack"] = ack if isinstance(ack, dict) else {"ok": False, "error": {"message": repr(ack)}}
            if on_ack is not None and gen == self.generation:
                on_ack(box["ack"])
            answered.set()

        try:
            sio.emit(event, payload, callback=callback)
        except SocketIOError:  # dropped between the check and the emit
            self.ensure()
            return None
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while not answered.wait(0.25):
            if not sio.connected or gen != self.generation:
                self.ensure()
                return None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{event}: no ack within {ACK_TIMEOUT_S:.0f} s")
        return box["ack"]

    # -- rooms ---------------------------------------------------------------------------------------
    def join(self, room_id: int) -> bool:
        """``room:join`` (timed), resuming from what this member saw before when it was here already."""
        started = time.perf_counter()
        try:
            self.ensure()
            self._join(room_id)
        except Exception as exc:
            record("room:join", started, exc)
            return False
        record("room:join", started)
        return True

    def _join(self, room_id: int) -> None:
        for _ in range(2):
            if room_id in self.ready:
                return  # the connection dropped and its resume has joined the room already
            payload: dict = {"room_id": room_id}
            since = self.last_seq.get(room_id)
            if since is not None:
                payload.update(since_seq=since, since_rev=self.last_rev.get(room_id, 0))
            ack = self._ask(
                "room:join", payload, on_ack=lambda a, since=since: self._joined(room_id, since, a)
            )
            if ack is not None:
                if not ack.get("ok"):
                    raise Refused(f"room:join {room_id}: {ack.get('error')}")
                return
        raise Refused(f"room:join {room_id}: the connection dropped twice")

    def _joined(self, room_id: int, since: int | None, ack: dict) -> None:
        """The join ack, in packet order: the replayed messages are checked, and ``last_seq`` is where the
        live ones must continue."""
        if not ack.get("ok"):
            return
        last_seq = ack["last_seq"]
        if since is not None:
            missed = [m["seq"] for m in ack.get("missed", [])]
            if ack.get("truncated") and missed:
                since = missed[0] - 1  # more were missed than a join replays: the rest is history to page
            expected = list(range(since + 1, last_seq + 1))
            if last_seq < since:
                self._violation(f"room {room_id}: rejoined after seq {since}, but the room is at {last_seq}")
            elif missed != expected:
                self._violation(
                    f"room {room_id}: rejoined after seq {since} up to {last_seq}, "
                    f"missed held {_span(missed)} (expected {_span(expected)})"
                )
        self.last_seq[room_id] = last_seq
        self.last_rev[room_id] = max(self.last_rev.get(room_id, 0), ack.get("rev", 0))
        self.ready.add(room_id)

    def _messages(self, gen: int, room_id: int, messages: list[dict]) -> None:
        if gen != self.generation:
            return  # a dropped connection's late packet: the rejoin's `missed` accounts for it
        for m in messages:
            seq = m["seq"]
            last = self.last_seq.get(room_id)
            if room_id not in self.ready or last is None:
                self._violation(f"room {room_id}: seq {seq} arrived before the join ack")
            elif seq <= last:
                self._violation(f"room {room_id}: duplicate seq {seq} (already saw up to {last})")
                continue
            elif seq != last + 1:
                self._violation(f"room {room_id}: gap, seq {seq} after {last}")
            self.last_seq[room_id] = seq
            self.last_rev[room_id] = max(self.last_rev.get(room_id, 0), m.get("rev", 0))
            if self.on_message is not None:
                self.on_message(m)

    @staticmethod
    def _violation(text: str) -> None:
        record_ms("order", 0, OrderViolation(text))


def _span(seqs: list[int]) -> str:
    if not seqs:
        return "nothing"
    return f"{seqs[0]}..{seqs[-1]} ({len(seqs)})"


def pick(items: list, k: int) -> list:
    return random.sample(items, min(k, len(items)))
