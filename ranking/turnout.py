"""Predicted turnout: how many will be going to an upcoming event, with an interval, for its host.

Learned from the interactions the feed learns from (``ranking.dataset``: ``Items`` and the ``Log``). The
target is an event's final count of people who RSVPed (the log's distinct ``rsvp`` users of the event: the
seeded world writes exactly those as ``going`` rows, with no cancellations; the log records no cancellation,
so on a live site it counts those who ever RSVPed). Each past event is an example at a few lead times before
its start (``LEADS``, plus one random lead per event for training), with what was known then only — the
interactions before ``starts_at − lead``:

* ``rsvps``, ``rsvps_1d``: RSVPs so far, and in the last day (velocity); ``rsvps_per_day`` since announced
* ``lead_h``, ``age_h``, ``duration_h``, ``start_bucket``, ``weekday``
* the club's recent turnouts: the last ended event's and the mean of the last five, how many have ended
* the club's size and activity: members, joins and RSVPs to its events in the last 7 days, its other events
  starting within 7 days

``Facts`` carries those raw counts: training builds it from the log (``fit``), serving from PostgreSQL
(``serving_facts``), and ``feature_rows`` turns both into the same matrix. Three LightGBM models predict the
RSVPs still to come: an L1 (median) point model and 0.1 / 0.9 quantile models, the interval then widened or
narrowed by split-conformal calibration (CQR, of the integer interval as served) on the events just before
the held-out ones, for 80 % coverage. The report (``fit``'s second value) is measured on the latest past events, held out by time:
mean absolute error of the served integer estimate against the actual count, next to the naive "same as the
club's last event" baseline, and the interval's coverage.

Models are versioned in MongoDB (``turnout_models``, newest wins); ``predict_going`` serves one event with a
per-process cache.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pymongo import DESCENDING

from . import signals
from .features import TYPES

if TYPE_CHECKING:  # LightGBM and the data set are loaded where a model is fitted or used
    import lightgbm as lgb

    from .dataset import Items, Log

MODELS = "turnout_models"
HOUR = 3600.0
DAY = 86400.0
LEADS = {"7d": 7 * DAY, "3d": 3 * DAY, "1d": DAY, "3h": 3 * HOUR}
RECENT = 5  # the club's last ended events averaged
WARMUP = 3 * DAY  # examples cut earlier than this after the log's first interaction see too little history
QUANTILES = (0.1, 0.9)
COVERAGE = QUANTILES[1] - QUANTILES[0]
HOLDOUT = 0.2  # the latest past events, by start, held out for the report
CALIBRATION = 0.2  # of the rest, the latest, for the interval's conformal calibration
PARAMS: dict[str, Any] = dict(
    n_estimators=300,
    learning_rate=0.05,
    num_leaves=15,
    min_child_samples=20,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.9,
    n_jobs=1,
    verbose=-1,
)
FEATURES = [
    "rsvps",
    "rsvps_1d",
    "rsvps_per_day",
    "lead_h",
    "age_h",
    "duration_h",
    "start_bucket",
    "weekday",
    "club_last",
    "club_mean",
    "club_ended_events",
    "club_members",
    "club_joins_7d",
    "club_rsvps_7d",
    "club_upcoming_7d",
]

RELOAD_CHECK_S = 5.0  # a newer model version is looked for at most this often per process
PREDICTION_TTL_S = 30.0
MAX_CACHED = 10_000


class NotEnoughData(Exception):
    pass


@dataclass
class Facts:
    """What is known about one event at ``now``: the raw inputs of its features."""

    now: float
    starts_at: float
    ends_at: float
    created_at: float
    rsvps: int  # RSVPs so far (not cancelled)
    rsvps_1d: int  # ... of them in the last day
    club_recent: list[int]  # final counts of the club's last ended events, oldest first (at most RECENT)
    club_ended_events: int
    club_members: int
    club_joins_7d: int
    club_rsvps_7d: int  # RSVPs to any of the club's events in the last 7 days
    club_upcoming_7d: int  # the club's other events starting in the next 7 days
    going: int = 0  # serving: RSVPs with status going now (the floor of every figure)
    capacity: int | None = None  # serving: no more can be going (the ceiling)


def feature_rows(facts: list[Facts]) -> np.ndarray:
    """The model's matrix (rows in ``FEATURES`` order), the same for training and serving."""
    out = np.zeros((len(facts), len(FEATURES)))
    for i, f in enumerate(facts):
        age_d = max(f.now - f.created_at, HOUR) / DAY
        out[i] = (
            f.rsvps,
            f.rsvps_1d,
            f.rsvps / age_d,
            (f.starts_at - f.now) / HOUR,
            (f.now - f.created_at) / HOUR,
            (f.ends_at - f.starts_at) / HOUR,
            signals.hour_bucket(f.starts_at),
            datetime.fromtimestamp(f.starts_at, UTC).weekday(),
            f.club_recent[-1] if f.club_recent else math.nan,
            float(np.mean(f.club_recent)) if f.club_recent else math.nan,
            f.club_ended_events,
            f.club_members,
            f.club_joins_7d,
            f.club_rsvps_7d,
            f.club_upcoming_7d,
        )
    return out


@dataclass
class TurnoutModel:
    point: lgb.Booster
    low: lgb.Booster
    high: lgb.Booster
    offset: float  # conformal widening (or narrowing, if negative) of the quantile interval
    report: dict = field(default_factory=dict)
    version: int = 0  # set when saved or loaded

    def raw(self, facts: list[Facts]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three models' RSVPs still to come (median, low and high quantile), before calibration."""
        x = feature_rows(facts)
        mid, low, high = (np.asarray(b.predict(x)) for b in (self.point, self.low, self.high))
        return mid, low, high

    def predict(self, facts: list[Facts]) -> list[dict]:
        """``{estimate, low, high}`` per event: integers, low ≤ estimate ≤ high, none below the RSVPs so far
        nor the count going now, none above the capacity (unless already past it)."""
        if not facts:
            return []
        rsvps = np.array([f.rsvps for f in facts], dtype=np.float64)
        est, low, high = _bounds(rsvps, *self.raw(facts), self.offset)
        out = []
        for i, f in enumerate(facts):
            e, lo, hi = int(est[i]), int(low[i]), int(high[i])
            if f.capacity is not None:
                cap = max(f.capacity, f.going)
                e, lo, hi = min(e, cap), min(lo, cap), min(hi, cap)
            floor = max(f.rsvps, f.going)
            e, lo, hi = max(e, floor), max(lo, floor), max(hi, floor)
            out.append({"estimate": e, "low": min(lo, e), "high": max(hi, e)})
        return out


def _bounds(
    rsvps: np.ndarray, mid: np.ndarray, lo: np.ndarray, hi: np.ndarray, offset: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer (estimate, low, high) from the RSVPs so far and the predicted RSVPs to come, the quantile
    interval moved out by ``offset`` (in by a negative one): nested in ``offset``, as calibration needs."""
    est = np.rint(rsvps + np.maximum(mid, 0.0))
    low = np.minimum(np.rint(rsvps + np.maximum(lo - offset, 0.0)), est)
    high = np.maximum(np.rint(rsvps + np.maximum(hi + offset, 0.0)), est)
    return est, low, high


def _calibrate(rsvps: np.ndarray, raw: tuple[np.ndarray, np.ndarray, np.ndarray], y: np.ndarray) -> float:
    """Split-conformal calibration of the integer interval (conformalized quantile regression): the
    smallest offset whose interval holds ⌈(n + 1)·COVERAGE⌉ of the n calibration events' actual counts —
    on new events, at least COVERAGE of them (the events exchangeable with these)."""
    need = math.ceil((len(y) + 1) * COVERAGE)

    def covered(d: float) -> int:
        _, low, high = _bounds(rsvps, *raw, d)
        return int(((low <= y) & (y <= high)).sum())

    lo_d, hi_d = -float(np.max(raw[2]) + 1.0), float(np.max(y) + np.max(np.abs(raw[1])) + 1.0)
    if covered(lo_d) >= need:
        return lo_d
    for _ in range(50):  # covered() is monotone in d: bisect to the smallest d with enough
        d = (lo_d + hi_d) / 2
        if covered(d) >= need:
            hi_d = d
        else:
            lo_d = d
    return hi_d


def at_least(prediction: dict, going: int) -> dict:
    """A prediction (perhaps cached a moment ago) never below the count going now."""
    est = max(prediction["estimate"], going)
    return {"estimate": est, "low": max(prediction["low"], going), "high": max(prediction["high"], est)}


# -- training -------------------------------------------------------------------------------------------


class _History:
    """The log's RSVPs and club joins, indexed for point-in-time counts."""

    def __init__(self, items: Items, log: Log) -> None:
        kinds = list(signals.KIND_WEIGHT)
        self.items = items
        is_event = items.type_code == TYPES.index("event")
        is_club = items.type_code == TYPES.index("club")
        self.rsvp = self._first(log, (log.kind == kinds.index("rsvp")) & is_event[log.item])
        joins = self._first(log, (log.kind == kinds.index("join")) & is_club[log.item])
        by_club_rsvps: dict[int, list[float]] = {}
        for j, ts in self.rsvp.items():
            by_club_rsvps.setdefault(int(items.club_id[j]), []).extend(ts.tolist())
        self.club_rsvps = {c: np.sort(np.array(v)) for c, v in by_club_rsvps.items()}
        self.club_joins = {int(items.club_id[j]): ts for j, ts in joins.items()}
        events = np.flatnonzero(is_event)
        self.club_events: dict[int, np.ndarray] = {}  # club -> its event indexes, by end
        for c in np.unique(items.club_id[events]).tolist():
            ev = events[items.club_id[events] == c]
            self.club_events[c] = ev[np.argsort(items.ends_at[ev], kind="stable")]
        self.first_ts = float(log.ts[0]) if len(log.ts) else math.inf

    @staticmethod
    def _first(log: Log, mask: np.ndarray) -> dict[int, np.ndarray]:
        """item index -> sorted times of each user's first such interaction with it."""
        item, user, ts = log.item[mask], log.user[mask], log.ts[mask]
        if not len(item):
            return {}
        # The log is sorted by time: the first occurrence of a (item, user) pair is its earliest.
        pairs = np.stack([item, user], axis=1)
        _, first = np.unique(pairs, axis=0, return_index=True)
        item, ts = item[first], ts[first]
        order = np.lexsort((ts, item))
        item, ts = item[order], ts[order]
        bounds = np.flatnonzero(np.diff(item)) + 1
        return {
            int(chunk_item[0]): chunk_ts
            for chunk_item, chunk_ts in zip(np.split(item, bounds), np.split(ts, bounds), strict=True)
        }

    def count(self, j: int, t: float) -> int:
        ts = self.rsvp.get(j)
        return 0 if ts is None else int(np.searchsorted(ts, t, side="left"))

    def final(self, j: int) -> int:
        ts = self.rsvp.get(j)
        return 0 if ts is None else len(ts)

    def facts(self, j: int, t: float) -> Facts:
        it = self.items
        c = int(it.club_id[j])
        evs = self.club_events.get(c, np.zeros(0, dtype=np.int64))
        ended = evs[it.ends_at[evs] < t]
        recent = [self.count(int(k), t) for k in ended[-RECENT:]]
        soon = evs[
            (evs != j)
            & (it.created_at[evs] <= t)
            & (it.starts_at[evs] >= t)
            & (it.starts_at[evs] < t + 7 * DAY)
        ]
        joins = self.club_joins.get(c, np.zeros(0))
        club_rsvps = self.club_rsvps.get(c, np.zeros(0))

        def between(arr: np.ndarray, a: float, b: float) -> int:
            return int(np.searchsorted(arr, b, side="left") - np.searchsorted(arr, a, side="left"))

        return Facts(
            now=t,
            starts_at=float(it.starts_at[j]),
            ends_at=float(it.ends_at[j]),
            created_at=float(it.created_at[j]),
            rsvps=self.count(j, t),
            rsvps_1d=self.count(j, t) - self.count(j, t - DAY),
            club_recent=recent,
            club_ended_events=len(ended),
            club_members=int(np.searchsorted(joins, t, side="left")),
            club_joins_7d=between(joins, t - 7 * DAY, t),
            club_rsvps_7d=between(club_rsvps, t - 7 * DAY, t),
            club_upcoming_7d=len(soon),
        )


@dataclass
class _Examples:
    facts: list[Facts]
    y: np.ndarray  # final count
    lead: list[str]  # a LEADS name, or "random"
    event: np.ndarray  # item index

    def where(self, keep: np.ndarray) -> _Examples:
        idx = np.flatnonzero(keep)
        return _Examples(
            [self.facts[i] for i in idx], self.y[idx], [self.lead[i] for i in idx], self.event[idx]
        )


def _examples(h: _History, events: np.ndarray, rng: np.random.Generator, random_lead: bool) -> _Examples:
    it = h.items
    facts, ys, leads, evs = [], [], [], []
    for j in events.tolist():
        s = float(it.starts_at[j])
        cuts = list(LEADS.items())
        if random_lead:
            cuts.append(("random", float(rng.uniform(HOUR, 10 * DAY))))
        for name, lead in cuts:
            t = s - lead
            if t < it.created_at[j] or t < h.first_ts + WARMUP:
                continue  # not announced yet, or too early in the log to know the club
            facts.append(h.facts(j, t))
            ys.append(h.final(j))
            leads.append(name)
            evs.append(j)
    return _Examples(facts, np.array(ys, dtype=np.float64), leads, np.array(evs, dtype=np.int64))


def _naive(h: _History, ex: _Examples) -> np.ndarray:
    """Same as the club's last ended event; a club with none yet: the mean of every event ended by then."""
    it = h.items
    events = np.flatnonzero(it.type_code == TYPES.index("event"))
    out = np.zeros(len(ex.facts))
    for i, f in enumerate(ex.facts):
        if f.club_recent:
            out[i] = f.club_recent[-1]
        else:
            ended = events[it.ends_at[events] < f.now]
            out[i] = float(np.mean([h.count(int(k), f.now) for k in ended])) if len(ended) else 0.0
    return out


def _fit_boosters(x: np.ndarray, r: np.ndarray, seed: int) -> tuple[Any, Any, Any]:
    import lightgbm as lgb

    def one(**kw: Any) -> lgb.Booster:
        m = lgb.LGBMRegressor(random_state=seed, **PARAMS, **kw)
        m.fit(x, r, feature_name=FEATURES)
        return m.booster_

    return (
        one(objective="l1"),
        one(objective="quantile", alpha=QUANTILES[0]),
        one(objective="quantile", alpha=QUANTILES[1]),
    )


def fit(items: Items, log: Log, now: float, seed: int = 0) -> tuple[TurnoutModel, dict]:
    """A turnout model from the events that ended before ``now``, and its report on the latest of them,
    held out by time (events starting after the split; the model learns from events ended before it)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    h = _History(items, log)
    ev = np.flatnonzero(
        (items.type_code == TYPES.index("event")) & (items.ends_at < now) & (items.starts_at < now)
    )
    if len(ev) < 20:
        raise NotEnoughData(f"only {len(ev)} past events; at least 20 are needed")
    starts = items.starts_at[ev]
    split = float(np.quantile(starts, 1 - HOLDOUT))
    test_ev = ev[starts >= split]
    before = ev[items.ends_at[ev] < split]
    cal_split = float(np.quantile(items.starts_at[before], 1 - CALIBRATION)) if len(before) else split
    fit_ev = before[items.ends_at[before] < cal_split]
    cal_ev = before[items.starts_at[before] >= cal_split]
    train, cal = _examples(h, fit_ev, rng, True), _examples(h, cal_ev, rng, False)
    test = _examples(h, test_ev, rng, False)
    if len(train.y) < 50 or len(cal.y) < 10 or len(test.y) < 10:
        raise NotEnoughData(
            f"too few examples: {len(train.y)} to learn from, {len(cal.y)} to calibrate, {len(test.y)} to test"
        )

    remaining = np.maximum(train.y - np.array([f.rsvps for f in train.facts]), 0.0)
    point, low, high = _fit_boosters(feature_rows(train.facts), remaining, seed)
    model = TurnoutModel(point, low, high, 0.0)
    rsvps_cal = np.array([f.rsvps for f in cal.facts], dtype=np.float64)
    offset = _calibrate(rsvps_cal, model.raw(cal.facts), cal.y)
    model.offset = offset
    fit_seconds = time.perf_counter() - t0

    preds = model.predict(test.facts)
    est = np.array([p["estimate"] for p in preds], dtype=np.float64)
    lo = np.array([p["low"] for p in preds])
    hi = np.array([p["high"] for p in preds])
    naive = _naive(h, test)
    so_far = np.array([f.rsvps for f in test.facts], dtype=np.float64)
    inside = (lo <= test.y) & (test.y <= hi)

    def figures(m: np.ndarray) -> dict:
        mae, mae_naive = (
            float(np.mean(np.abs(est[m] - test.y[m]))),
            float(np.mean(np.abs(naive[m] - test.y[m]))),
        )
        return {
            "examples": int(m.sum()),
            "mae_model": round(mae, 3),
            "mae_naive": round(mae_naive, 3),
            "ratio": round(mae / mae_naive, 3) if mae_naive > 0 else None,
            "coverage": round(float(inside[m].mean()), 3),
        }

    all_rows = np.ones(len(test.y), dtype=bool)
    report = {
        "events_train": len(fit_ev),
        "events_calibration": len(cal_ev),
        "events_test": len(test_ev),
        "examples_train": len(train.y),
        "examples_test": len(test.y),
        **figures(all_rows),
        # The naive baseline never below the RSVPs already in: a fairer, stronger baseline.
        "mae_naive_floor": round(float(np.mean(np.abs(np.maximum(naive, so_far) - test.y))), 3),
        "mae_rsvps_so_far": round(float(np.mean(np.abs(so_far - test.y))), 3),
        "mean_going": round(float(test.y.mean()), 3),
        "nominal_coverage": round(COVERAGE, 2),
        "mean_width": round(float(np.mean(hi - lo)), 3),
        "interval_offset": round(offset, 3),
        "by_lead": {name: figures(np.array(test.lead) == name) for name in LEADS},
        "fit_seconds": round(fit_seconds, 2),
        "now": now,
        "features": FEATURES,
    }
    model.report = report
    return model, report


def report_table(report: dict) -> str:
    lines = [
        f"turnout v{report.get('version', '?')}: {report['events_test']} held-out events "
        f"({report['examples_test']} predictions), learned from {report['events_train']} "
        f"(+{report['events_calibration']} to calibrate) in {report['fit_seconds']:.1f} s; "
        f"mean going {report['mean_going']:.1f}",
        f"{'lead':<6}{'n':>6}{'MAE model':>11}{'MAE naive':>11}{'ratio':>7}{'coverage':>10}",
    ]
    rows = [("all", report)] + list(report["by_lead"].items())
    for name, r in rows:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "-"
        lines.append(
            f"{name:<6}{r['examples']:>6}{r['mae_model']:>11.2f}{r['mae_naive']:>11.2f}{ratio:>7}"
            f"{r['coverage']:>10.2f}"
        )
    lines.append(
        f"interval [low, high]: {report['nominal_coverage']:.0%} nominal, mean width {report['mean_width']:.1f}; "
        f"naive never below the RSVPs so far: MAE {report['mae_naive_floor']:.2f}"
    )
    return "\n".join(lines)


# -- storage ---------------------------------------------------------------------------------------------


async def latest_version(db) -> int | None:
    doc = await db[MODELS].find_one({}, sort=[("_id", DESCENDING)], projection={"_id": 1})
    return int(doc["_id"]) if doc else None


async def save(db, model: TurnoutModel, report: dict) -> int:
    """Stores the model as a new version (the boosters as text); returns the version."""
    version = (await latest_version(db) or 0) + 1
    report = {**report, "version": version}
    await db[MODELS].insert_one(
        {
            "_id": version,
            "created_at": time.time(),
            "features": FEATURES,
            "point": model.point.model_to_string(),
            "low": model.low.model_to_string(),
            "high": model.high.model_to_string(),
            "offset": model.offset,
            "report": report,
        }
    )
    model.version, model.report = version, report
    return version


async def load(db, version: int) -> TurnoutModel | None:
    import lightgbm as lgb

    doc = await db[MODELS].find_one({"_id": version})
    if doc is None:
        return None
    if list(doc.get("features") or []) != FEATURES:
        return None  # made by another version of this module: not servable until retrained

    def parse() -> tuple:
        return tuple(lgb.Booster(model_str=doc[k]) for k in ("point", "low", "high"))

    point, low, high = await asyncio.to_thread(parse)
    return TurnoutModel(
        point, low, high, float(doc["offset"]), dict(doc.get("report") or {}), int(doc["_id"])
    )


async def load_latest(db) -> TurnoutModel | None:
    version = await latest_version(db)
    return None if version is None else await load(db, version)


async def train_and_save(items: Items, log: Log, db, now: float, seed: int = 0) -> dict:
    """Fits a model on the events ended before ``now``, stores it as the newest version; its report."""
    model, report = await asyncio.to_thread(fit, items, log, now, seed)
    await save(db, model, report)
    return model.report


# -- serving ----------------------------------------------------------------------------------------------

_FACTS_SQL = """
WITH e AS (SELECT id, club_id, starts_at, ends_at, created_at, capacity, status FROM events WHERE id = $1),
recent AS (
    SELECT x.ends_at,
           (SELECT count(*) FROM rsvps r WHERE r.event_id = x.id AND r.status <> 'cancelled') AS n
    FROM events x, e WHERE x.club_id = e.club_id AND x.ends_at < $2
    ORDER BY x.ends_at DESC LIMIT 5
)
SELECT e.club_id, e.starts_at, e.ends_at, e.created_at, e.capacity, e.status,
    (SELECT count(*) FROM rsvps r WHERE r.event_id = e.id AND r.status <> 'cancelled') AS rsvps,
    (SELECT count(*) FROM rsvps r WHERE r.event_id = e.id AND r.status = 'going') AS going,
    (SELECT count(*) FROM rsvps r
     WHERE r.event_id = e.id AND r.status <> 'cancelled' AND r.created_at >= $2 - interval '1 day') AS rsvps_1d,
    (SELECT count(*) FROM memberships m WHERE m.club_id = e.club_id) AS members,
    (SELECT count(*) FROM memberships m
     WHERE m.club_id = e.club_id AND m.joined_at >= $2 - interval '7 days') AS joins_7d,
    (SELECT count(*) FROM rsvps r JOIN events x ON x.id = r.event_id
     WHERE x.club_id = e.club_id AND r.status <> 'cancelled' AND r.created_at >= $2 - interval '7 days')
        AS club_rsvps_7d,
    (SELECT count(*) FROM events x
     WHERE x.club_id = e.club_id AND x.id <> e.id AND x.created_at <= $2
       AND x.starts_at >= $2 AND x.starts_at < $2 + interval '7 days') AS upcoming_7d,
    (SELECT count(*) FROM events x WHERE x.club_id = e.club_id AND x.ends_at < $2) AS ended,
    (SELECT coalesce(array_agg(n ORDER BY ends_at), '{}') FROM recent) AS recent
FROM e
"""


async def serving_facts(event_id: int, now: float) -> Facts | None:
    """The event's ``Facts`` at ``now`` from PostgreSQL; None for a missing event or one not upcoming
    (started, live or ended)."""
    from tortoise import connections

    at = datetime.fromtimestamp(now, UTC)
    rows = await connections.get("default").execute_query_dict(_FACTS_SQL, [event_id, at])
    if not rows:
        return None
    r = rows[0]
    status = getattr(r["status"], "value", r["status"])
    if status != "scheduled" or r["starts_at"].timestamp() <= now:
        return None
    return Facts(
        now=now,
        starts_at=r["starts_at"].timestamp(),
        ends_at=r["ends_at"].timestamp(),
        created_at=r["created_at"].timestamp(),
        rsvps=int(r["rsvps"]),
        rsvps_1d=int(r["rsvps_1d"]),
        club_recent=[int(n) for n in r["recent"]],
        club_ended_events=int(r["ended"]),
        club_members=int(r["members"]),
        club_joins_7d=int(r["joins_7d"]),
        club_rsvps_7d=int(r["club_rsvps_7d"]),
        club_upcoming_7d=int(r["upcoming_7d"]),
        going=int(r["going"]),
        capacity=r["capacity"],
    )


class _Cache:
    """This process's model (the newest version, looked for at most every ``RELOAD_CHECK_S``) and its recent
    predictions (at most ``MAX_CACHED``, each for ``PREDICTION_TTL_S``)."""

    def __init__(self) -> None:
        self.model: TurnoutModel | None = None
        self.checked = -math.inf
        self.predictions: OrderedDict[int, tuple[float, int, dict | None]] = OrderedDict()

    async def current(self, db) -> TurnoutModel | None:
        mono = time.monotonic()
        if mono - self.checked >= RELOAD_CHECK_S:
            self.checked = mono  # first: concurrent requests do not all ask
            version = await latest_version(db)
            if version is None:
                self.model = None
            elif self.model is None or self.model.version != version:
                self.model = await load(db, version)
        return self.model

    def get(self, event_id: int, version: int) -> tuple[bool, dict | None]:
        hit = self.predictions.get(event_id)
        if hit is None or hit[0] < time.monotonic() or hit[1] != version:
            return False, None
        self.predictions.move_to_end(event_id)
        return True, hit[2]

    def put(self, event_id: int, version: int, value: dict | None) -> None:
        self.predictions[event_id] = (time.monotonic() + PREDICTION_TTL_S, version, value)
        self.predictions.move_to_end(event_id)
        while len(self.predictions) > MAX_CACHED:
            self.predictions.popitem(last=False)

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


_cache = _Cache()


def clear_cache() -> None:
    """Forget this process's model and predictions (the next request looks for the newest version)."""
    _cache.clear()


async def predict_going(event_id: int, db, now: float | None = None) -> dict | None:
    """``{estimate, low, high}`` for an upcoming event; None when no model is trained yet or the event has
    started or ended. ``db``: the MongoDB database holding ``turnout_models``."""
    model = await _cache.current(db)
    if model is None:
        return None
    hit, value = _cache.get(event_id, model.version)
    if hit:
        return value
    facts = await serving_facts(event_id, now if now is not None else time.time())
    value = model.predict([facts])[0] if facts is not None else None
    _cache.put(event_id, model.version, value)
    return value
