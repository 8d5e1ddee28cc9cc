"""A reproducible world of clubs whose members have latent tastes — what ``clubhub seed`` writes and the
ranker learns from.

Every user has a taste over topics (a Dirichlet draw, mixed with their social circle's), a preferred time
of day and a circle of friends who tend to share a home club. Each day users open the app a few times:
they are shown a handful of items (half picked by popularity, half at random), click what appeals to
them — by topic, by the time an event starts, by how many friends are going, by membership — read some,
RSVP to events, join clubs, talk in their rooms and attend the events they RSVPed to. None of the latent
variables is stored: a ranker has to recover them from the interactions alone. Same seed, same world.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TOPICS = [
    ("Chess", "openings, blitz nights and endgame puzzles"), ("Running", "easy long runs and track Tuesdays"),
    ("Books", "one novel a month and strong opinions"), ("Photography", "street walks and darkroom tips"),
    ("Jazz", "standards, jam sessions and record swaps"), ("Coding", "side projects, code review, hack nights"),
    ("Cooking", "seasonal recipes and shared dinners"), ("Hiking", "weekend trails and map nerdery"),
    ("Film", "screenings and long arguments after"), ("Board Games", "euro games and lost friendships"),
    ("Languages", "conversation tables in six languages"), ("Yoga", "morning flows and slow evenings"),
]
SUFFIXES = ["Club", "Circle", "Society", "Collective", "Guild", "Meetup", "Crew", "Lab"]
EVENT_KINDS = ["Meetup", "Workshop", "Night", "Session", "Social", "Talk", "Jam", "Open Day"]
HOUR_BUCKETS = 6
DAY = 86400.0


@dataclass
class World:
    now: float
    start: float
    users: list[dict] = field(default_factory=list)       # name, email, hour
    clubs: list[dict] = field(default_factory=list)       # name, description, topic, owner, created_at
    rooms: list[dict] = field(default_factory=list)       # club, name, created_at
    events: list[dict] = field(default_factory=list)      # club, title, host, starts_at, ends_at, created_at
    memberships: list[tuple] = field(default_factory=list)  # (user, club, ts)
    rsvps: list[tuple] = field(default_factory=list)        # (user, event, ts)
    messages: list[tuple] = field(default_factory=list)     # (room, user, text, ts)
    # (user, item_type, item index, kind, dwell_ms or None, ts), indexes into users/clubs/rooms/events
    interactions: list[tuple] = field(default_factory=list)


def build(users: int, clubs: int, events: int, seed: int = 1, days: int = 30, sessions_per_day: float = 0.6,
          now: float | None = None) -> World:
    rng = np.random.default_rng(seed)
    now = float(now if now is not None else math.floor(__import__("time").time() / 3600) * 3600)
    start = now - days * DAY
    w = World(now=now, start=start)
    T = len(TOPICS)

    # -- people: circles of friends share a taste and a home club ------------------------------------
    n_circles = max(1, users // 10)
    circle_taste = rng.dirichlet(np.full(T, 0.3), n_circles)
    circle = rng.integers(0, n_circles, users)
    taste = 0.5 * circle_taste[circle] + 0.5 * rng.dirichlet(np.full(T, 0.3), users)
    hour_p = np.array([0.02, 0.08, 0.2, 0.2, 0.3, 0.2])  # most people prefer afternoons and evenings (UTC)
    user_hour = rng.choice(HOUR_BUCKETS, users, p=hour_p)
    activity = rng.gamma(2.0, sessions_per_day / 2.0, users)
    for u in range(users):
        w.users.append({"name": f"Member {u + 1}", "email": user_email(u, seed),
                        "hour": int(user_hour[u])})
    members_of_circle: list[list[int]] = [[] for _ in range(n_circles)]
    for u in range(users):
        members_of_circle[circle[u]].append(u)

    # -- clubs, rooms, events --------------------------------------------------------------------------
    club_topic = rng.permutation(np.arange(clubs) % T)
    quality = rng.lognormal(0.0, 0.6, clubs)
    club_hour = rng.choice(HOUR_BUCKETS, clubs, p=hour_p)
    used: dict[str, int] = {}
    for c in range(clubs):
        topic, blurb = TOPICS[club_topic[c]]
        base = f"{topic} {SUFFIXES[int(rng.integers(len(SUFFIXES)))]}"
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base} {used[base]}"
        w.clubs.append({"name": name, "description": f"{topic}: {blurb}.", "topic": int(club_topic[c]),
                        "owner": int(rng.integers(users)), "created_at": start - float(rng.uniform(5, 90)) * DAY})
        w.rooms.append({"club": c, "name": "general", "created_at": w.clubs[c]["created_at"]})
        w.rooms.append({"club": c, "name": topic.lower().replace(" ", "-"), "created_at": w.clubs[c]["created_at"]})
    club_p = quality / quality.sum()
    for e in range(events):
        c = int(rng.choice(clubs, p=club_p))
        day = float(rng.uniform(1, days + 10))
        bucket = int(club_hour[c]) if rng.random() < 0.7 else int(rng.integers(HOUR_BUCKETS))
        starts = math.floor((start + day * DAY) / DAY) * DAY + bucket * 4 * 3600 + float(rng.integers(0, 4)) * 3600
        # Announced 2–12 days ahead, never after "now": the world has no rows from the future.
        created = min(max(starts - float(rng.uniform(2, 12)) * DAY, start - 5 * DAY), now - 3600)
        topic = TOPICS[club_topic[c]][0]
        w.events.append({"club": c, "title": f"{topic} {EVENT_KINDS[int(rng.integers(len(EVENT_KINDS)))]} #{e + 1}",
                         "host": w.clubs[c]["owner"], "starts_at": starts,
                         "ends_at": starts + float(rng.integers(1, 4)) * 3600, "created_at": created})

    # -- who starts where: owners, circles' home clubs, a club or two of one's taste ---------------------
    member: list[set[int]] = [set() for _ in range(users)]
    club_members: list[set[int]] = [set() for _ in range(clubs)]

    def join(u: int, c: int, ts: float) -> None:
        if c not in member[u]:
            member[u].add(c)
            club_members[c].add(u)
            w.memberships.append((u, c, ts))
            w.interactions.append((u, "club", c, "join", None, ts))

    topic_clubs = [np.flatnonzero(club_topic == t) for t in range(T)]
    for c in range(clubs):
        join(w.clubs[c]["owner"], c, w.clubs[c]["created_at"])
    circle_home = []
    for k in range(n_circles):
        t = int(rng.choice(T, p=circle_taste[k]))
        options = topic_clubs[t] if len(topic_clubs[t]) else np.arange(clubs)
        circle_home.append(int(rng.choice(options)))
    for u in range(users):
        if rng.random() < 0.7:
            join(u, circle_home[circle[u]], start - float(rng.uniform(0, 5)) * DAY)
        for _ in range(int(rng.integers(0, 2))):
            t = int(rng.choice(T, p=taste[u]))
            if len(topic_clubs[t]):
                p = quality[topic_clubs[t]] / quality[topic_clubs[t]].sum()
                join(u, int(rng.choice(topic_clubs[t], p=p)), start - float(rng.uniform(0, 5)) * DAY)

    # -- days of use -----------------------------------------------------------------------------------------
    ev_created = np.array([e["created_at"] for e in w.events])
    ev_starts = np.array([e["starts_at"] for e in w.events])
    ev_bucket = ((ev_starts % DAY) // (4 * 3600)).astype(int)
    ev_club = np.array([e["club"] for e in w.events])
    going: list[set[int]] = [set() for _ in range(events)]
    rsvped: list[set[int]] = [set() for _ in range(users)]
    pop = np.ones(events + clubs)  # exposure follows popularity: what is clicked is shown more
    rooms_of = [[2 * c, 2 * c + 1] for c in range(clubs)]

    def sigmoid(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-x))

    for d in range(days):
        day0 = start + d * DAY
        sessions = rng.poisson(activity)
        for u in np.flatnonzero(sessions):
            for _ in range(int(sessions[u])):
                pref = w.users[u]["hour"] if rng.random() < 0.6 else int(rng.integers(HOUR_BUCKETS))
                ts = day0 + pref * 4 * 3600 + float(rng.uniform(0, 4 * 3600))
                if ts >= now:
                    continue
                upcoming = np.flatnonzero((ev_created <= ts) & (ev_starts > ts))
                pool = np.concatenate([upcoming, events + np.arange(clubs)])  # events, then clubs
                if len(pool) == 0:
                    continue
                weights = pop[pool] / pop[pool].sum()
                shown = set(rng.choice(pool, min(4, len(pool)), replace=False, p=weights).tolist())
                shown |= set(rng.choice(pool, min(4, len(pool)), replace=False).tolist())
                friends = set(members_of_circle[circle[u]]) - {u}
                for j in sorted(shown):
                    t_i = ts + float(rng.uniform(0, 600))
                    if j < events:
                        c, kind = int(ev_club[j]), "event"
                    else:
                        c, kind = j - events, "club"
                    ref = j if kind == "event" else c
                    w.interactions.append((u, kind, ref, "impression", None, t_i))
                    logit = -3.2 + 1.6 * math.log(taste[u, club_topic[c]] * T + 0.05) + 0.8 * (c in member[u]) \
                        + 0.25 * math.log(pop[j])
                    if kind == "event":
                        logit += 1.4 * (ev_bucket[j] == w.users[u]["hour"]) + 0.9 * min(len(going[j] & friends), 3)
                    if rng.random() >= sigmoid(logit):
                        continue
                    w.interactions.append((u, kind, ref, "click", None, t_i + 1))
                    pop[j] += 1
                    if rng.random() < 0.7:
                        dwell = int(min(rng.lognormal(9.5 + 0.3 * logit, 0.6), 600_000))
                        w.interactions.append((u, kind, ref, "dwell", dwell, t_i + 2 + dwell / 1000))
                    if kind == "event" and u not in going[j] and rng.random() < sigmoid(logit - 0.5):
                        going[j].add(u)
                        rsvped[u].add(j)
                        pop[j] += 3
                        w.rsvps.append((u, j, t_i + 5))
                        w.interactions.append((u, "event", j, "rsvp", None, t_i + 5))
                    elif kind == "club" and c not in member[u] and rng.random() < sigmoid(logit - 1.0):
                        pop[j] += 3
                        join(u, c, t_i + 5)
                # Rooms of one's clubs: drop in, sometimes say something.
                if member[u] and rng.random() < 0.4:
                    c = int(rng.choice(sorted(member[u])))
                    r = rooms_of[c][int(rng.integers(2))]
                    t_r = ts + float(rng.uniform(600, 1200))
                    w.interactions.append((u, "room", r, "join", None, t_r))
                    if rng.random() < 0.5:
                        w.messages.append((r, u, _chat_line(rng, TOPICS[club_topic[c]][0]), t_r + 30))
                        w.interactions.append((u, "room", r, "message", None, t_r + 30))
    # Live attendance: most of those going to an event that has started turn up.
    for j in range(events):
        if ev_starts[j] < now:
            for u in sorted(going[j]):
                if rng.random() < 0.7:
                    w.interactions.append((u, "event", j, "attend", None, float(ev_starts[j]) + 60))
    # A visit late in the last hour can run past "now": the world has nothing from the future.
    w.interactions = sorted((i for i in w.interactions if i[5] < now), key=lambda i: i[5])
    w.memberships = [m for m in w.memberships if m[2] < now]
    w.rsvps = [r for r in w.rsvps if r[2] < now]
    w.messages = sorted((m for m in w.messages if m[3] < now), key=lambda m: m[3])
    return w


def user_email(index: int, seed: int) -> str:
    return f"member{index + 1}.s{seed}@demo.clubhub.example"


_LINES = ["anyone up for {t} this week?", "loved the last {t} session", "new here — hi all!",
          "who is bringing snacks?", "great {t} tips in the pinned thread", "see you at the next one",
          "did anyone take photos?", "I can host next time", "{t} is the best part of my week"]


def _chat_line(rng: np.random.Generator, topic: str) -> str:
    return _LINES[int(rng.integers(len(_LINES)))].format(t=topic.lower())
