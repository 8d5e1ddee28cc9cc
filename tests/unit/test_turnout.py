"""The turnout model (ranking/turnout.py) on interaction logs built here: it learns a pattern the naive
"same as the club's last event" baseline cannot see, its intervals are ordered, and no example sees past its
own cutoff."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ranking import signals, turnout
from ranking.dataset import KINDS, Items, Log, items_from_rows
from ranking.features import TYPES
from ranking.world import build

DAY = 86400.0
NOW = 1_780_000_000.0


def make_items(clubs: list[dict], events: list[dict]) -> Items:
    """clubs: {created_at}; events: {club, created_at, starts_at, ends_at} (club = index into clubs)."""
    rows = [("club", c, c, x["created_at"], math.nan, math.inf) for c, x in enumerate(clubs)]
    rows += [
        ("event", e, x["club"], x["created_at"], x["starts_at"], x["ends_at"]) for e, x in enumerate(events)
    ]
    return items_from_rows(
        [(*r, True) for r in rows],
        {c: True for c in range(len(clubs))},
        {c: f"Club {c}" for c in range(len(clubs))},
    )


def make_log(items: Items, rows: list[tuple[int, str, int, str, float]]) -> Log:
    """rows: (user, item type, item id, kind, ts)."""
    rows = sorted(rows, key=lambda r: r[4])
    return Log(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([items.index[signals.item_key(r[1], r[2])] for r in rows], dtype=np.int64),
        np.array([KINDS.index(r[3]) for r in rows], dtype=np.int64),
        np.array([signals.weight(r[3], None) for r in rows]),
        np.array([r[4] for r in rows], dtype=np.float64),
    )


def synthetic(seed: int = 3, n_clubs: int = 16, days: int = 80) -> tuple[Items, Log]:
    """Clubs of very different pull; an event's turnout is the club's pull times a factor of its start hour,
    with Poisson noise, and its RSVPs arrive over the days between announcement and start (most of them
    early). The last event of a club says little (noise, and the hour factor); the RSVPs so far, the club's
    mean and the hour say a lot."""
    rng = np.random.default_rng(seed)
    start = NOW - days * DAY
    clubs = [{"created_at": start - 30 * DAY} for _ in range(n_clubs)]
    pull = rng.lognormal(2.0, 0.7, n_clubs)
    events: list[dict] = []
    log_rows: list[tuple[int, str, int, str, float]] = []
    user = iter(range(1, 10**9))
    for c in range(n_clubs):
        for _ in range(int(pull[c] * 3) + 5):
            log_rows.append((next(user), "club", c, "join", start - float(rng.uniform(0, 30)) * DAY))
        for k in range(int(days / 5)):
            starts = start + (k * 5 + float(rng.uniform(0, 5)) + 10) * DAY
            starts = math.floor(starts / 3600) * 3600
            announced = starts - float(rng.uniform(8, 12)) * DAY
            e = len(events)
            events.append(
                {"club": c, "created_at": announced, "starts_at": starts, "ends_at": starts + 2 * 3600}
            )
            hour_factor = 1.8 if signals.hour_bucket(starts) >= 3 else 0.5
            n = int(rng.poisson(pull[c] * hour_factor))
            for _ in range(n):
                # Front-loaded arrivals: the count a few days ahead says much of the final one.
                ts = announced + (starts - announced) * float(rng.beta(1.2, 2.5))
                u = next(user)
                log_rows.append((u, "event", e, "impression", ts - 60))
                log_rows.append((u, "event", e, "rsvp", ts))
                if rng.random() < 0.3:
                    log_rows.append((u, "event", e, "rsvp", ts + 600))  # a second RSVP counts once
    events = [e for e in events if e["starts_at"] < NOW + 10 * DAY]
    items = make_items(clubs, events)
    known = {e for e in range(len(events))}
    log_rows = [r for r in log_rows if r[4] < NOW and (r[1] != "event" or r[2] in known)]
    return items, make_log(items, log_rows)


@pytest.fixture(scope="module")
def fitted():
    items, log = synthetic()
    model, report = turnout.fit(items, log, NOW, seed=0)
    return items, log, model, report


def test_beats_the_naive_baseline_with_calibrated_intervals(fitted):
    _, _, _, report = fitted
    assert report["events_test"] >= 20 and report["examples_test"] >= 60, report
    assert report["mae_model"] < 0.7 * report["mae_naive"], report
    assert report["mae_model"] < report["mae_naive_floor"], report
    assert report["ratio"] == pytest.approx(report["mae_model"] / report["mae_naive"], abs=1e-2)
    assert 0.6 <= report["coverage"] <= 1.0, report
    assert set(report["by_lead"]) == set(turnout.LEADS)
    # Closer to the start, more of the turnout is already in: the error shrinks.
    assert report["by_lead"]["3h"]["mae_model"] <= report["by_lead"]["7d"]["mae_model"], report


def test_predictions_are_ordered_integers_floored_and_capped(fitted):
    items, log, model, _ = fitted
    h = turnout._History(items, log)
    events = np.flatnonzero(items.type_code == TYPES.index("event"))
    facts = [h.facts(int(j), float(items.starts_at[j]) - DAY) for j in events[:200]]
    for f, p in zip(facts, model.predict(facts), strict=True):
        assert all(isinstance(p[k], int) for k in ("estimate", "low", "high"))
        assert f.rsvps <= p["low"] <= p["estimate"] <= p["high"], (f, p)
    f = facts[0]
    busy = turnout.Facts(**{**f.__dict__, "rsvps": 50, "going": 40, "capacity": 45})
    (p,) = model.predict([busy])
    assert p == {"estimate": 50, "low": 50, "high": 50}  # past the capacity already: no lower than the RSVPs
    capped = turnout.Facts(**{**f.__dict__, "rsvps": 3, "going": 3, "capacity": 4})
    (p,) = model.predict([capped])
    assert 3 <= p["low"] <= p["estimate"] <= p["high"] <= 4
    assert turnout.at_least({"estimate": 5, "low": 2, "high": 9}, 7) == {"estimate": 7, "low": 7, "high": 9}
    assert turnout.at_least({"estimate": 5, "low": 2, "high": 6}, 8) == {"estimate": 8, "low": 8, "high": 8}


def test_no_example_sees_past_its_cutoff(fitted):
    """An example at lead time L is cut at starts_at − L, and its facts are the same whether the log holds
    what came after the cutoff or not."""
    items, log, _, _ = fitted
    h = turnout._History(items, log)
    events = np.flatnonzero((items.type_code == TYPES.index("event")) & (items.ends_at < NOW))
    ex = turnout._examples(h, events, np.random.default_rng(0), random_lead=False)
    for f, lead, j in zip(ex.facts, ex.lead, ex.event.tolist(), strict=True):
        assert f.now == pytest.approx(items.starts_at[j] - turnout.LEADS[lead])
    rng = np.random.default_rng(1)
    for i in rng.choice(len(ex.facts), 40, replace=False).tolist():
        f, j = ex.facts[i], int(ex.event[i])
        m = log.ts < f.now
        before = Log(log.user[m], log.item[m], log.kind[m], log.weight[m], log.ts[m])
        assert turnout._History(items, before).facts(j, f.now) == f
        # and the label is the final count, which the cutoff does not know
        assert ex.y[i] == h.final(j) >= f.rsvps


def test_features_are_the_same_matrix_for_the_same_facts():
    f = turnout.Facts(
        now=NOW,
        starts_at=NOW + 2 * DAY + 3600,
        ends_at=NOW + 2 * DAY + 3 * 3600,
        created_at=NOW - 3 * DAY,
        rsvps=6,
        rsvps_1d=2,
        club_recent=[4, 8],
        club_ended_events=7,
        club_members=30,
        club_joins_7d=3,
        club_rsvps_7d=11,
        club_upcoming_7d=1,
    )
    row = dict(zip(turnout.FEATURES, turnout.feature_rows([f])[0], strict=True))
    assert row["rsvps"] == 6 and row["rsvps_per_day"] == pytest.approx(2.0)
    assert row["lead_h"] == pytest.approx(49.0) and row["age_h"] == pytest.approx(72.0)
    assert row["club_last"] == 8 and row["club_mean"] == 6 and row["duration_h"] == 2
    empty = turnout.Facts(**{**f.__dict__, "club_recent": []})
    assert np.isnan(turnout.feature_rows([empty])[0][turnout.FEATURES.index("club_last")])


def test_too_little_history_says_so():
    items, log = synthetic(n_clubs=1, days=20)
    with pytest.raises(turnout.NotEnoughData):
        turnout.fit(items, log, NOW)


def world_items_log(w) -> tuple[Items, Log]:
    """The seeded world's items and interactions as ``ranking.dataset`` loads them (without a database)."""
    clubs = [{"created_at": c["created_at"]} for c in w.clubs]
    events = [
        {
            "club": e["club"],
            "created_at": e["created_at"],
            "starts_at": e["starts_at"],
            "ends_at": e["ends_at"],
        }
        for e in w.events
    ]
    items = make_items(clubs, events)
    rows = [(u, t, ref, kind, ts) for u, t, ref, kind, _, ts in w.interactions if t in ("club", "event")]
    return items, make_log(items, rows)


def test_the_seeded_world_turnout_beats_the_naive_baseline():
    """The world ``clubhub seed`` writes (small): the model learns its turnouts better than the naive guess."""
    w = build(600, 30, 300, seed=7, days=30)
    items, log = world_items_log(w)
    _, report = turnout.fit(items, log, w.now, seed=0)
    print(turnout.report_table(report))
    assert report["events_test"] >= 30, report
    assert report["mae_model"] < report["mae_naive"], report
    assert report["mae_model"] < report["mae_naive_floor"], report
    assert report["coverage"] >= 0.6, report
