"""``LiveHost`` and ``Audience``: the two sides of an event's live session."""

from __future__ import annotations

import itertools
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from locust import between, task

from .common import ClubHubUser, Socket, env_float, weight_of

# Sessions the hosts start carry this title, and audiences attend only those: a seeded world's events are
# never live, and in a shared test session another test's leftover session is not ours to load.
TITLE = "[loadtest] live session"
# How long a host keeps a session live before ending it (and starting the next).
SESSION_S = env_float("LOADTEST_LIVE_SESSION_S", 120)
# Refusals a participant cannot avoid: the host ended the session (`conflict`, then `not_found`) or closed
# the poll between the state the participant saw and its action reaching the session.
RACES = ("conflict", "not_found")


class LiveView:
    """The session as a participant sees it: the ``live:join`` state, kept current by ``live:update`` deltas
    (the same rules as the web client and tests/support/chat.py's ``LiveView``). A gap in ``version`` makes it
    ``stale``: the contract's answer is to send ``live:join`` again."""

    def __init__(self) -> None:
        self.state: dict | None = None
        self.stale = False

    def reset(self, state: dict | None) -> None:
        self.state, self.stale = state, False

    def apply(self, update: dict) -> None:
        s = self.state
        changes = update.get("changes") or ([update["change"]] if update.get("change") else [])
        if s is None or not changes or update["version"] <= s["version"]:
            return  # not joined yet, or already part of the state
        base = update["version"] - len(changes)
        if base > s["version"]:
            self.stale = True
            return
        for offset, change in enumerate(changes, start=1):
            if base + offset > s["version"]:
                self._change(s, change)
                s["version"] = base + offset

    @staticmethod
    def _change(s: dict, c: dict) -> None:
        kind = c["kind"]
        if kind == "presence":
            s["present"], s["audience_count"] = c["present"], c["audience_count"]
            if not c["online"] and c["user_id"] in s["hands"]:
                s["hands"].remove(c["user_id"])
        elif kind == "hand":
            if c["raised"] and c["user_id"] not in s["hands"]:
                s["hands"].append(c["user_id"])
            elif not c["raised"] and c["user_id"] in s["hands"]:
                s["hands"].remove(c["user_id"])
        elif kind == "role":
            speakers = set(s["speakers"]) - {c["user_id"]}
            if c["role"] == "speaker":
                speakers.add(c["user_id"])
                if c["user_id"] in s["hands"]:
                    s["hands"].remove(c["user_id"])
            s["speakers"], s["audience_count"] = sorted(speakers), c["audience_count"]
        elif kind == "question":
            q = c["question"]
            rest = [x for x in s["questions"] if x["question_id"] != q["question_id"]]
            s["questions"] = sorted(rest + [q], key=lambda x: (-x["votes"], x["question_id"]))
        elif kind == "poll":
            p = c["poll"]
            rest = [x for x in s["polls"] if x["poll_id"] != p["poll_id"]]
            s["polls"] = sorted(rest + [p], key=lambda x: x["poll_id"])
        elif kind == "pin":
            s["pinned"] = c["pinned"]
        elif kind == "status":
            s["status"] = c["status"]


class LiveParticipant(ClubHubUser):
    """A member in at most one live session at a time (``event_id``), seen through a ``LiveView``."""

    abstract = True
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        super().on_start()
        self.event_id: int | None = None
        self.view = LiveView()
        self.socket = Socket(
            self.host,
            self.token,
            handlers={"live:update": self._update, "live:removed": self._removed},
            on_resume=self._resume,
        )
        self.socket.ensure()

    def on_stop(self) -> None:
        if getattr(self, "socket", None) is not None:
            self.socket.shutdown()
        super().on_stop()

    def on_token(self, token: str) -> None:
        self.socket.refresh(token)

    def _update(self, update: dict) -> None:
        if update.get("event_id") == self.event_id:
            self.view.apply(update)

    def _removed(self, data: dict) -> None:
        if data.get("event_id") == self.event_id:
            self.leave_session()

    def _resume(self) -> None:
        # Back in the session after a reconnect (unless it ended while the socket was away).
        if self.event_id is not None and not self.join_live(expected=RACES):
            self.leave_session()

    def leave_session(self) -> None:
        self.event_id = None
        self.view.reset(None)

    def join_live(self, expected: tuple[str, ...] = ()) -> bool:
        """``live:join``, timed to the whole state's arrival (``live:state``); the view is reset in the ack's
        packet order, so no update is applied to the wrong state."""

        def joined(ack: dict) -> None:
            if ack.get("ok"):
                self.view.reset(ack["state"])

        ack = self.socket.call(
            "live:join", {"event_id": self.event_id}, name="live:state", expected=expected, on_ack=joined
        )
        return bool(ack and ack.get("ok"))

    def still_live(self) -> dict | None:
        """The state of the live session this participant is in (re-joining first after a gap), or None.
        Actions take this snapshot: the view may be reset while a call waits (``live:removed``)."""
        if self.event_id is None:
            return None
        if (self.view.stale or self.view.state is None) and not self.join_live(expected=RACES):
            self.leave_session()  # ended meanwhile
            return None
        state = self.view.state
        if state is None or state["status"] != "live":
            self.leave_session()
            return None
        return state


class LiveHost(LiveParticipant):
    """Hosts one live session after another on events it creates in a club it moderates (a club of its own
    when it moderates none): starts it (REST), joins it, then opens and closes polls, pins announcements,
    answers the top question and brings raised hands on stage, and ends it (REST) after
    ``LOADTEST_LIVE_SESSION_S``."""

    weight = weight_of("LiveHost", 1)

    def on_start(self) -> None:
        super().on_start()
        self.stage_club = self._stage_club()
        self.started = 0.0
        self.poll_opened: dict[int, float] = {}

    def on_stop(self) -> None:
        if getattr(self, "event_id", None) is not None:
            self.end_session()  # a session left live would hold its shard's memory and show as live to audiences
        super().on_stop()

    def _stage_club(self) -> int:
        for club in self.clubs:
            if club.get("my_role") in ("owner", "moderator"):
                return club["id"]
        resp = self.client.post(
            "/api/v1/clubs",
            json={
                "name": f"Load test stage {uuid.uuid4().hex[:8]}",
                "description": "Live sessions of simulated hosts",
            },
            name="/clubs",
        )
        return resp.json()["id"]

    @task
    def run_session(self) -> None:
        if self.event_id is None:
            self.start_session()
        elif (state := self.still_live()) is None:
            return
        elif time.monotonic() - self.started > SESSION_S:
            self.end_session()
        else:
            next(self.agenda)(state)

    def start_session(self) -> None:
        now = datetime.now(UTC)
        resp = self.client.post(
            f"/api/v1/clubs/{self.stage_club}/events",
            json={
                "title": f"{TITLE} of member {self.user_id}",
                "starts_at": now.isoformat(),
                "ends_at": (now + timedelta(hours=2)).isoformat(),
            },
            name="/clubs/{id}/events",
        )
        if resp.status_code != 201:
            return
        event_id = resp.json()["id"]
        resp = self.client.post(f"/api/v1/events/{event_id}/live/start", name="/events/{id}/live/start")
        if resp.status_code != 200:
            return
        self.event_id, self.started = event_id, time.monotonic()
        self.poll_opened.clear()
        # A host works through an agenda, round and round, rather than at random: every session gets a
        # poll first, then the questions, the stage and the announcements.
        self.agenda = itertools.cycle([self.poll, self.answer, self.stage, self.pin])
        self.join_live()

    def end_session(self) -> None:
        event_id = self.event_id
        self.leave_session()
        self.client.post(f"/api/v1/events/{event_id}/live/end", name="/events/{id}/live/end")

    def poll(self, state: dict) -> None:
        open_polls = [p["poll_id"] for p in state["polls"] if not p["closed"]]
        if open_polls:
            poll_id = open_polls[0]
            if time.monotonic() - self.poll_opened.get(poll_id, 0.0) > 5.0:  # votes had time to come in
                self.socket.call("live:close_poll", {"event_id": state["event_id"], "poll_id": poll_id})
        elif len(state["polls"]) < 40:  # a session holds at most 50
            ack = self.socket.call(
                "live:poll",
                {
                    "event_id": state["event_id"],
                    "question": "Next topic?",
                    "options": ["scaling", "storage", "ranking"],
                },
            )
            if ack is not None:
                self.poll_opened[ack["poll_id"]] = time.monotonic()

    def pin(self, state: dict) -> None:
        text = f"Slides at example.org/talk/{random.randint(1, 99)}"
        self.socket.call("live:pin", {"event_id": state["event_id"], "text": text})

    def answer(self, state: dict) -> None:
        open_questions = [q for q in state["questions"] if not q["answered"]]
        if open_questions:
            question_id = open_questions[0]["question_id"]  # the most upvoted first
            self.socket.call("live:answer", {"event_id": state["event_id"], "question_id": question_id})

    def stage(self, state: dict) -> None:
        # `not_found`: the member left the session between the state and the promotion.
        if state["hands"]:
            self.socket.call(
                "live:promote",
                {"event_id": state["event_id"], "user_id": state["hands"][0], "role": "speaker"},
                expected=("not_found",),
            )
        if len(state["speakers"]) > 1:
            self.socket.call(
                "live:promote",
                {"event_id": state["event_id"], "user_id": state["speakers"][0], "role": "audience"},
                expected=("not_found",),
            )


class Audience(LiveParticipant):
    """Attends the simulated hosts' live sessions (joining the club first when it is not a member), and while
    there raises and lowers its hand, asks questions, upvotes others' questions and votes in open polls.
    ``live:state`` is the time from ``live:join`` to the whole state's arrival (also after a gap)."""

    weight = weight_of("Audience", 3)

    def on_start(self) -> None:
        super().on_start()
        self.my_questions: set[int] = set()
        self.voted: set[int] = set()

    @task
    def attend(self) -> None:
        state = self.still_live()
        if state is None:
            self.find_session()
            return
        action = random.choices([self.hand, self.ask, self.upvote, self.vote], weights=[1, 2, 3, 3])[0]
        action(state)

    def find_session(self) -> None:
        resp = self.client.get("/api/v1/events?upcoming=true", name="/events")
        live = [e for e in resp.json()["events"] if e["status"] == "live" and e["title"].startswith(TITLE)]
        if not live:
            return
        event = random.choice(live)
        if event["club_id"] not in {c["id"] for c in self.clubs}:
            self.client.post(f"/api/v1/clubs/{event['club_id']}/join", name="/clubs/{id}/join")
            self.refresh_clubs()
        self.event_id = event["id"]
        self.my_questions.clear()
        self.voted.clear()
        if not self.join_live(expected=RACES):  # ended since the list was read
            self.leave_session()

    def act(self, state: dict, event: str, payload: dict, expected: tuple[str, ...] = RACES) -> dict | None:
        ack = self.socket.call(event, {"event_id": state["event_id"], **payload}, expected=expected)
        if ack is not None and not ack.get("ok"):
            # A race lost: look again before the next action (re-join; a session that ended is left then).
            self.view.stale = True
        return ack

    def hand(self, state: dict) -> None:
        if self.user_id in state["speakers"]:
            return
        raised = self.user_id not in state["hands"]
        if raised or random.random() < 0.3:
            # `invalid`: brought on stage since the state was seen.
            self.act(state, "live:hand", {"raised": raised}, expected=(*RACES, "invalid"))

    def ask(self, state: dict) -> None:
        questions = state["questions"]
        answered = {q["question_id"] for q in questions if q["answered"]}
        # A member may have 5 open questions and a session 200: stay under both (counting one's own asks
        # from their acks, which may be ahead of the view).
        if len(self.my_questions - answered) < 5 and len(questions) < 180:
            topic = random.choice(["latency", "cost", "scale"])
            ack = self.act(state, "live:ask", {"text": f"What about {topic}?"})
            if ack and ack.get("ok"):
                self.my_questions.add(ack["question_id"])

    def upvote(self, state: dict) -> None:
        others = [q for q in state["questions"] if q["author_id"] != self.user_id]
        if others:
            self.act(state, "live:upvote", {"question_id": random.choice(others)["question_id"]})

    def vote(self, state: dict) -> None:
        polls = [p for p in state["polls"] if not p["closed"] and p["poll_id"] not in self.voted]
        if polls:
            poll = random.choice(polls)
            self.voted.add(poll["poll_id"])
            option = random.randrange(len(poll["options"]))
            self.act(state, "live:vote", {"poll_id": poll["poll_id"], "option": option})
