"""A reproducible world of clubs whose members have latent tastes — what ``clubhub seed`` writes and the
ranker learns from.

Every user has a taste over topics (a Dirichlet draw, mixed with their social circle's), a preferred time
of day and a circle of friends who tend to share a home club. Each day users open the app a few times:
they are shown a handful of items (half picked by popularity, half at random), click what appeals to
them — by topic, by the time an event starts, by how many friends are going, by membership — read some,
RSVP to events, join clubs, talk in their rooms and attend the events they RSVPed to. Members post short
videos (reels) to their clubs; in some visits a user is shown a couple of the newest reels (at random),
each plays, and how much of it is watched — swiped away early,
left part-way or watched to the end — follows the same hidden tastes, membership and the reel's own
appeal. None of the latent variables is stored: a ranker has to recover them from the interactions alone.
Same seed, same world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TOPICS = [
    ("Chess", "openings, blitz nights and endgame puzzles"),
    ("Running", "easy long runs and track Tuesdays"),
    ("Books", "one novel a month and strong opinions"),
    ("Photography", "street walks and darkroom tips"),
    ("Jazz", "standards, jam sessions and record swaps"),
    ("Coding", "side projects, code review, hack nights"),
    ("Cooking", "seasonal recipes and shared dinners"),
    ("Hiking", "weekend trails and map nerdery"),
    ("Film", "screenings and long arguments after"),
    ("Board Games", "euro games and lost friendships"),
    ("Languages", "conversation tables in six languages"),
    ("Yoga", "morning flows and slow evenings"),
]
SUFFIXES = ["Club", "Circle", "Society", "Collective", "Guild", "Meetup", "Crew", "Lab"]
EVENT_KINDS = ["Meetup", "Workshop", "Night", "Session", "Social", "Talk", "Jam", "Open Day"]
HOUR_BUCKETS = 6
DAY = 86400.0
REELS_PER_CLUB = 4.0  # on average, over the world's days
REEL_VISIT_P = 0.4  # share of visits that scroll reels
REELS_SHOWN = 2
REEL_POOL = 100  # the newest reels a visit picks from (as the feed's candidates: ``MAX_REELS``)
REEL_CAPTIONS = [
    "a minute of {t}",
    "last night's {t}, best bits",
    "{t}: one tip in 30 seconds",
    "behind the scenes at our {t} night",
    "first try at {t}",
    "why we love {t}",
]


@dataclass
class World:
    now: float
    start: float
    users: list[dict] = field(default_factory=list)  # name, email, hour
    clubs: list[dict] = field(default_factory=list)  # name, description, topic, owner, created_at
    rooms: list[dict] = field(default_factory=list)  # club, name, created_at
    events: list[dict] = field(default_factory=list)  # club, title, host, starts_at, ends_at, created_at
    memberships: list[tuple] = field(default_factory=list)  # (user, club, ts)
    rsvps: list[tuple] = field(default_factory=list)  # (user, event, ts)
    messages: list[tuple] = field(default_factory=list)  # (room, user, text, ts)
    # club, author, caption, created_at, duration_ms, width, height
    reels: list[dict] = field(default_factory=list)
    # (user, item_type, item index, kind, ms or None, ts), indexes into users/clubs/rooms/events/reels;
    # ms is dwell_ms for a dwell and watch_ms for a reel's watch, complete or skip
    interactions: list[tuple] = field(default_factory=list)


def build(
    users: int,
    clubs: int,
    events: int,
    seed: int = 1,
    days: int = 30,
    sessions_per_day: float = 0.6,
    now: float | None = None,
) -> World:
    rng = np.random.default_rng(seed)
    now = float(now if now is not None else math.floor(__import__("time").time() / 3600) * 3600)
    # The phases draw from one generator in a fixed order: reordering them (or their draws) is a new world.
    sim = _Simulation(rng, World(now=now, start=now - days * DAY), users, clubs, events, seed)
    sim.people(sessions_per_day)
    sim.clubs_and_rooms()
    sim.schedule_events(days)
    sim.first_memberships()
    sim.post_reels(days)
    sim.prepare_days()
    for d in range(days):
        sim.day(d)
    sim.attendance()
    return _without_future(sim.w)


HOUR_P = np.array([0.02, 0.08, 0.2, 0.2, 0.3, 0.2])  # most people prefer afternoons and evenings (UTC)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Simulation:
    """The state ``build`` grows, phase by phase (the latent variables live here and are never stored)."""

    def __init__(
        self, rng: np.random.Generator, w: World, users: int, clubs: int, events: int, seed: int
    ) -> None:
        self.rng, self.w, self.seed = rng, w, seed
        self.n_users, self.n_clubs, self.n_events = users, clubs, events
        self.member: list[set[int]] = [set() for _ in range(users)]
        self.club_members: list[set[int]] = [set() for _ in range(clubs)]
        # Reels draw from a generator of their own: the rest of the world (events, clubs, their
        # interactions) is the same as before reels existed, draw for draw.
        self.rr = np.random.default_rng([seed, 21])

    # -- people: circles of friends share a taste and a home club ------------------------------------
    def people(self, sessions_per_day: float) -> None:
        rng, users, T = self.rng, self.n_users, len(TOPICS)
        self.n_circles = max(1, users // 10)
        self.circle_taste = rng.dirichlet(np.full(T, 0.3), self.n_circles)
        self.circle = rng.integers(0, self.n_circles, users)
        self.taste = 0.5 * self.circle_taste[self.circle] + 0.5 * rng.dirichlet(np.full(T, 0.3), users)
        user_hour = rng.choice(HOUR_BUCKETS, users, p=HOUR_P)
        self.activity = rng.gamma(2.0, sessions_per_day / 2.0, users)
        for u in range(users):
            self.w.users.append(
                {"name": f"Member {u + 1}", "email": user_email(u, self.seed), "hour": int(user_hour[u])}
            )
        self.members_of_circle: list[list[int]] = [[] for _ in range(self.n_circles)]
        for u in range(users):
            self.members_of_circle[self.circle[u]].append(u)

    # -- clubs, rooms, events --------------------------------------------------------------------------
    def clubs_and_rooms(self) -> None:
        rng, w, clubs = self.rng, self.w, self.n_clubs
        self.club_topic = rng.permutation(np.arange(clubs) % len(TOPICS))
        self.quality = rng.lognormal(0.0, 0.6, clubs)
        self.club_hour = rng.choice(HOUR_BUCKETS, clubs, p=HOUR_P)
        used: dict[str, int] = {}
        for c in range(clubs):
            topic, blurb = TOPICS[self.club_topic[c]]
            base = f"{topic} {SUFFIXES[int(rng.integers(len(SUFFIXES)))]}"
            used[base] = used.get(base, 0) + 1
            name = base if used[base] == 1 else f"{base} {used[base]}"
            w.clubs.append(
                {
                    "name": name,
                    "description": f"{topic}: {blurb}.",
                    "topic": int(self.club_topic[c]),
                    "owner": int(rng.integers(self.n_users)),
                    "created_at": w.start - float(rng.uniform(5, 90)) * DAY,
                }
            )
            w.rooms.append({"club": c, "name": "general", "created_at": w.clubs[c]["created_at"]})
            w.rooms.append(
                {"club": c, "name": topic.lower().replace(" ", "-"), "created_at": w.clubs[c]["created_at"]}
            )

    def schedule_events(self, days: int) -> None:
        rng, w, start, now = self.rng, self.w, self.w.start, self.w.now
        club_p = self.quality / self.quality.sum()
        for e in range(self.n_events):
            c = int(rng.choice(self.n_clubs, p=club_p))
            day = float(rng.uniform(1, days + 10))
            bucket = int(self.club_hour[c]) if rng.random() < 0.7 else int(rng.integers(HOUR_BUCKETS))
            starts = (
                math.floor((start + day * DAY) / DAY) * DAY
                + bucket * 4 * 3600
                + float(rng.integers(0, 4)) * 3600
            )
            # Announced 2–12 days ahead, never after "now": the world has no rows from the future.
            created = min(max(starts - float(rng.uniform(2, 12)) * DAY, start - 5 * DAY), now - 3600)
            topic = TOPICS[self.club_topic[c]][0]
            w.events.append(
                {
                    "club": c,
                    "title": f"{topic} {EVENT_KINDS[int(rng.integers(len(EVENT_KINDS)))]} #{e + 1}",
                    "host": w.clubs[c]["owner"],
                    "starts_at": starts,
                    "ends_at": starts + float(rng.integers(1, 4)) * 3600,
                    "created_at": created,
                }
            )

    # -- who starts where: owners, circles' home clubs, a club or two of one's taste ---------------------
    def join(self, u: int, c: int, ts: float) -> None:
        if c not in self.member[u]:
            self.member[u].add(c)
            self.club_members[c].add(u)
            self.w.memberships.append((u, c, ts))
            self.w.interactions.append((u, "club", c, "join", None, ts))

    def first_memberships(self) -> None:
        rng, w, clubs, T, start = self.rng, self.w, self.n_clubs, len(TOPICS), self.w.start
        topic_clubs = [np.flatnonzero(self.club_topic == t) for t in range(T)]
        for c in range(clubs):
            self.join(w.clubs[c]["owner"], c, w.clubs[c]["created_at"])
        circle_home = []
        for k in range(self.n_circles):
            t = int(rng.choice(T, p=self.circle_taste[k]))
            options = topic_clubs[t] if len(topic_clubs[t]) else np.arange(clubs)
            circle_home.append(int(rng.choice(options)))
        for u in range(self.n_users):
            if rng.random() < 0.7:
                self.join(u, circle_home[self.circle[u]], start - float(rng.uniform(0, 5)) * DAY)
            for _ in range(int(rng.integers(0, 2))):
                t = int(rng.choice(T, p=self.taste[u]))
                if len(topic_clubs[t]):
                    p = self.quality[topic_clubs[t]] / self.quality[topic_clubs[t]].sum()
                    self.join(u, int(rng.choice(topic_clubs[t], p=p)), start - float(rng.uniform(0, 5)) * DAY)

    # -- days of use -----------------------------------------------------------------------------------------
    def prepare_days(self) -> None:
        w = self.w
        self.ev_created = np.array([e["created_at"] for e in w.events])
        self.ev_starts = np.array([e["starts_at"] for e in w.events])
        self.ev_bucket = ((self.ev_starts % DAY) // (4 * 3600)).astype(int)
        self.ev_club = np.array([e["club"] for e in w.events])
        self.going: list[set[int]] = [set() for _ in range(self.n_events)]
        self.rsvped: list[set[int]] = [set() for _ in range(self.n_users)]
        self.pop = np.ones(
            self.n_events + self.n_clubs
        )  # exposure follows popularity: what is clicked is shown more
        self.rooms_of = [[2 * c, 2 * c + 1] for c in range(self.n_clubs)]

    def day(self, d: int) -> None:
        day0 = self.w.start + d * DAY
        sessions = self.rng.poisson(self.activity)
        for u in np.flatnonzero(sessions).tolist():
            for _ in range(int(sessions[u])):
                self.session(u, day0)

    def session(self, u: int, day0: float) -> None:
        rng, events = self.rng, self.n_events
        pref = self.w.users[u]["hour"] if rng.random() < 0.6 else int(rng.integers(HOUR_BUCKETS))
        ts = day0 + pref * 4 * 3600 + float(rng.uniform(0, 4 * 3600))
        if ts >= self.w.now:
            return
        upcoming = np.flatnonzero((self.ev_created <= ts) & (self.ev_starts > ts))
        pool = np.concatenate([upcoming, events + np.arange(self.n_clubs)])  # events, then clubs
        if len(pool) == 0:
            return
        weights = self.pop[pool] / self.pop[pool].sum()
        shown = set(rng.choice(pool, min(4, len(pool)), replace=False, p=weights).tolist())
        shown |= set(rng.choice(pool, min(4, len(pool)), replace=False).tolist())
        friends = set(self.members_of_circle[self.circle[u]]) - {u}
        for j in sorted(shown):
            self.impression(u, j, ts, friends)
        self.room_visit(u, ts)
        self.reel_visit(u, ts)

    def impression(self, u: int, j: int, ts: float, friends: set[int]) -> None:
        """One shown item: maybe a click, a read, an RSVP or a join."""
        rng, w, events = self.rng, self.w, self.n_events
        t_i = ts + float(rng.uniform(0, 600))
        if j < events:
            c, kind = int(self.ev_club[j]), "event"
        else:
            c, kind = j - events, "club"
        ref = j if kind == "event" else c
        w.interactions.append((u, kind, ref, "impression", None, t_i))
        logit = (
            -3.2
            + 1.6 * math.log(self.taste[u, self.club_topic[c]] * len(TOPICS) + 0.05)
            + 0.8 * (c in self.member[u])
            + 0.25 * math.log(self.pop[j])
        )
        if kind == "event":
            logit += 1.4 * (self.ev_bucket[j] == w.users[u]["hour"]) + 0.9 * min(
                len(self.going[j] & friends), 3
            )
        if rng.random() >= _sigmoid(logit):
            return
        w.interactions.append((u, kind, ref, "click", None, t_i + 1))
        self.pop[j] += 1
        if rng.random() < 0.7:
            dwell = int(min(rng.lognormal(9.5 + 0.3 * logit, 0.6), 600_000))
            w.interactions.append((u, kind, ref, "dwell", dwell, t_i + 2 + dwell / 1000))
        if kind == "event" and u not in self.going[j] and rng.random() < _sigmoid(logit - 0.5):
            self.going[j].add(u)
            self.rsvped[u].add(j)
            self.pop[j] += 3
            w.rsvps.append((u, j, t_i + 5))
            w.interactions.append((u, "event", j, "rsvp", None, t_i + 5))
        elif kind == "club" and c not in self.member[u] and rng.random() < _sigmoid(logit - 1.0):
            self.pop[j] += 3
            self.join(u, c, t_i + 5)

    def room_visit(self, u: int, ts: float) -> None:
        """Rooms of one's clubs: drop in, sometimes say something."""
        rng, w = self.rng, self.w
        if self.member[u] and rng.random() < 0.4:
            c = int(rng.choice(sorted(self.member[u])))
            r = self.rooms_of[c][int(rng.integers(2))]
            t_r = ts + float(rng.uniform(600, 1200))
            w.interactions.append((u, "room", r, "join", None, t_r))
            if rng.random() < 0.5:
                w.messages.append((r, u, _chat_line(rng, TOPICS[self.club_topic[c]][0]), t_r + 30))
                w.interactions.append((u, "room", r, "message", None, t_r + 30))

    # -- reels -------------------------------------------------------------------------------------------------
    def post_reels(self, days: int) -> None:
        """Reels over the world's days, by members of each club; each with an appeal of its own."""
        rr, w = self.rr, self.w
        for c in range(self.n_clubs):
            authors = sorted(self.club_members[c]) or [w.clubs[c]["owner"]]
            topic = TOPICS[self.club_topic[c]][0].lower()
            for _ in range(int(rr.poisson(REELS_PER_CLUB * self.quality[c] / self.quality.mean()))):
                portrait = rr.random() < 0.8
                w.reels.append(
                    {
                        "club": c,
                        "author": int(authors[int(rr.integers(len(authors)))]),
                        "caption": REEL_CAPTIONS[int(rr.integers(len(REEL_CAPTIONS)))].format(t=topic),
                        "created_at": min(w.start + float(rr.uniform(-3, days)) * DAY, w.now - 3600),
                        "duration_ms": int(rr.integers(6, 61)) * 1000,
                        "width": 720 if portrait else 1280,
                        "height": 1280 if portrait else 720,
                    }
                )
        w.reels.sort(key=lambda r: r["created_at"])
        self.reel_created = np.array([r["created_at"] for r in w.reels])
        self.reel_club = np.array([r["club"] for r in w.reels], dtype=np.int64)
        self.reel_appeal = rr.lognormal(0.0, 0.5, len(w.reels))
        self.reel_pop = np.ones(len(w.reels))

    def reel_visit(self, u: int, ts: float) -> None:
        """A few of the newest reels: each plays, then is skipped, left part-way or watched to the end."""
        rr, w = self.rr, self.w
        if not len(w.reels) or rr.random() >= REEL_VISIT_P:
            return
        ts += float(rr.uniform(0, 300))
        newest = np.flatnonzero(self.reel_created <= ts)[-REEL_POOL:]
        if len(newest) == 0:
            return
        # At random among the newest (a reels tab exploring), not by popularity: with popularity-led
        # exposure most viewings are of already-popular reels, and on small worlds (the tests' 240 users)
        # who watched what says more about exposure than about taste.
        shown = {int(newest[int(rr.integers(len(newest)))]) for _ in range(REELS_SHOWN)}
        for j in sorted(shown):
            c = int(self.reel_club[j])
            duration = w.reels[j]["duration_ms"]
            t_i = ts + float(rr.uniform(0, 120))
            w.interactions.append((u, "reel", j, "play", None, t_i))
            logit = (
                -1.6
                + 2.2 * math.log(self.taste[u, self.club_topic[c]] * len(TOPICS) + 0.05)
                + 0.8 * (c in self.member[u])
                + 0.8 * math.log(self.reel_appeal[j])
                + 0.15 * math.log(self.reel_pop[j])
                + float(rr.normal(0.0, 0.5))
            )
            # How much of it plays (past 1: it was watched to the end, perhaps looped).
            fraction = 1.25 * _sigmoid(logit)
            watched = int(min(fraction, 1.0) * duration)
            if fraction >= 1.0:
                kind, watched = "complete", int(fraction * duration)
                self.reel_pop[j] += 2
            elif fraction < 0.2:
                kind = "skip"
            else:
                kind = "watch"
                self.reel_pop[j] += fraction
            w.interactions.append((u, "reel", j, kind, watched, t_i + watched / 1000))

    def attendance(self) -> None:
        """Live attendance: most of those going to an event that has started turn up."""
        for j in range(self.n_events):
            if self.ev_starts[j] < self.w.now:
                for u in sorted(self.going[j]):
                    if self.rng.random() < 0.7:
                        self.w.interactions.append(
                            (u, "event", j, "attend", None, float(self.ev_starts[j]) + 60)
                        )


def _without_future(w: World) -> World:
    """A visit late in the last hour can run past "now": the world has nothing from the future."""
    now = w.now
    w.interactions = sorted((i for i in w.interactions if i[5] < now), key=lambda i: i[5])
    w.memberships = [m for m in w.memberships if m[2] < now]
    w.rsvps = [r for r in w.rsvps if r[2] < now]
    w.messages = sorted((m for m in w.messages if m[3] < now), key=lambda m: m[3])
    return w


def user_email(index: int, seed: int) -> str:
    return f"member{index + 1}.s{seed}@demo.clubhub.example"


_LINES = [
    "anyone up for {t} this week?",
    "loved the last {t} session",
    "new here — hi all!",
    "who is bringing snacks?",
    "great {t} tips in the pinned thread",
    "see you at the next one",
    "did anyone take photos?",
    "I can host next time",
    "{t} is the best part of my week",
]


def _chat_line(rng: np.random.Generator, topic: str) -> str:
    return _LINES[int(rng.integers(len(_LINES)))].format(t=topic.lower())
