"""Reels in the ranker, without services: what a reel interaction adds and how it is graded, the reel
feature and reason, a model trained before reels serving on, and the seeded world's reels learned better
than popularity orders them (the pipeline's own functions, LightGBM in this process instead of Ray)."""

from __future__ import annotations

import math

import lightgbm as lgb
import numpy as np

from ranking import signals
from ranking.dataset import KINDS, Items, Log, Snapshot, item_embeddings, items_from_rows, labels, reel_grades
from ranking.features import FEATURES, HOUR_BUCKETS, TYPES, Inputs, feature_matrix, sayings
from ranking.registry import Embeddings, RankerModel
from ranking.train import _only_reels, ndcg_at, query_set
from ranking.world import World, build

DAY = 86400.0


def test_a_reel_interaction_adds_by_how_long_it_was_watched():
    t = signals.EPOCH + DAY
    assert signals.weight("watch", None, 10_000) == 0.5  # 20 s watched: a click
    assert signals.weight("watch", None, 10 * 60_000) == signals.WATCH_CAP
    assert signals.weight("complete", None, 5_000) == 2.0
    assert signals.weight("skip", None, 500) == 0.0
    assert signals.increments(7, "reel", 3, "skip", None, t, 2, None, None, watch_ms=500) == []
    incs = signals.increments(7, "reel", 3, "watch", None, t, 2, None, None, watch_ms=40_000)
    fields = {(h, f) for h, f, _ in incs}
    assert ("clubhub:popularity", "reel:3") in fields or any(f == "reel:3" for _, f in fields)
    assert any(f == "club:2" for _, f in fields)  # the reel's club gains the user's affinity too
    assert all(math.isclose(w, signals.anchored(2.0, t)) for _, _, w in incs)


def test_reels_are_graded_by_the_watched_fraction():
    k = np.array([KINDS.index(x) for x in ("watch", "watch", "watch", "skip", "skip", "complete", "play")])
    watch = np.array([9_000, 4_000, 2_000, 500, 8_500, 3_000, np.nan], dtype=np.float64)
    duration = np.full(len(k), 10_000.0)
    assert reel_grades(k, watch, duration).tolist() == [2, 1, 0, 0, 2, 2, 0]
    # An unknown duration: judged by time watched alone (20 s a look, 40 s a strong one).
    unknown = np.full(len(k), np.nan)
    assert reel_grades(k, watch, unknown).tolist() == [0, 0, 0, 0, 0, 2, 0]
    long = np.array([45_000.0, 25_000.0])
    watch_k = np.array([KINDS.index("watch")] * 2)
    assert reel_grades(watch_k, long, np.full(2, np.nan)).tolist() == [2, 1]


def _reel_items() -> Items:
    rows = [
        ("club", 1, 1, 0.0, math.nan, math.inf, True),
        ("event", 5, 1, 0.0, 10 * DAY, 10 * DAY + 3600, True),
        ("reel", 9, 1, 0.0, math.nan, math.inf, True, 10_000.0),
        ("reel", 10, 1, 0.0, math.nan, math.inf, True, 60_000.0),
    ]
    return items_from_rows(rows, {1: True}, {1: "Jazz Circle"})


def test_labels_take_the_best_viewing_of_each_reel():
    items = _reel_items()
    r9, r10, ev = items.index["reel:9"], items.index["reel:10"], items.index["event:5"]
    rows = [  # (user, item, kind, watch_ms, ts)
        (1, r9, "play", math.nan, 1.0),
        (1, r9, "skip", 400.0, 2.0),
        (1, r9, "watch", 8_500.0, 3.0),  # watched again, nearly to the end: 2
        (1, r10, "watch", 20_000.0, 4.0),  # a third of a minute-long reel: 1
        (2, r10, "skip", 3_000.0, 5.0),  # swiped away: nothing
        (2, ev, "click", math.nan, 6.0),
    ]
    kinds = np.array([KINDS.index(r[2]) for r in rows])
    log = Log(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        kinds,
        np.array([signals.weight(r[2], None, None if math.isnan(r[3]) else int(r[3])) for r in rows]),
        np.array([r[4] for r in rows]),
        np.array([r[3] for r in rows]),
    )
    assert labels(log, items, 0.0, 10.0) == {1: {r9: 2, r10: 1}, 2: {ev: 1}}


def test_a_reel_has_its_own_type_feature_and_reason():
    now = signals.EPOCH + 100 * DAY
    n = len(TYPES)
    x = Inputs(
        now=now,
        type_code=np.arange(n),
        item_pop=np.full(n, signals.anchored(5.0, now)),
        club_pop=np.zeros(n),
        user_item_aff=np.zeros(n),
        user_club_aff=np.zeros(n),
        hour_weights=np.zeros(HOUR_BUCKETS),
        start_bucket=np.array([3, -1, -1, -1]),
        starts_at=np.array([now + 7200, math.nan, math.nan, math.nan]),
        created_at=np.full(n, now - 86400),
        member=np.zeros(n, dtype=bool),
        co_going=np.zeros(n, dtype=np.int64),
        user_vec=None,
        item_vecs=None,
        club_vecs=None,
    )
    m = feature_matrix(x)
    types = m[:, [FEATURES.index(f"is_{t}") for t in TYPES]]
    assert np.array_equal(types, np.eye(n))  # one type column per row, the reel's its own
    assert FEATURES.index("emb_sim") == 3  # the older features keep their columns
    reel_row = m[TYPES.index("reel")]
    said = sayings("reel", "Jazz Circle", False, reel_row, None, -1)
    assert said[FEATURES.index("log_item_popularity")] == "Popular with members of Jazz Circle"
    event_said = sayings("event", "Jazz Circle", False, m[0], None, 3)
    assert event_said[FEATURES.index("log_item_popularity")] == "Popular in Jazz Circle right now"


def test_a_model_trained_before_reels_scores_on_its_own_columns():
    rng = np.random.default_rng(3)
    old = FEATURES[:-1]
    x = rng.normal(size=(400, len(old)))
    y = (x[:, 3] > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1}, lgb.Dataset(x, y), num_boost_round=5
    )
    model = RankerModel(1, booster, list(old), {}, Embeddings(1, {}, np.zeros((0, 2))))
    rows = np.hstack([x, rng.normal(size=(400, 1))])  # what serving builds now: is_reel last
    assert np.array_equal(model.predict(rows), booster.predict(x, num_threads=1))
    current = RankerModel(2, booster, list(FEATURES), {}, Embeddings(2, {}, np.zeros((0, 2))))
    assert current.columns is None


# -- the seeded world, offline ----------------------------------------------------------------------------


def world_items_log(w: World) -> tuple[Items, Log]:
    """Every item and interaction of the world as ``ranking.dataset`` loads them (ids: world indexes)."""
    rows = [("club", c, c, x["created_at"], math.nan, math.inf, True) for c, x in enumerate(w.clubs)]
    rows += [("room", r, x["club"], x["created_at"], math.nan, math.inf, True) for r, x in enumerate(w.rooms)]
    rows += [
        ("event", e, x["club"], x["created_at"], x["starts_at"], x["ends_at"], True)
        for e, x in enumerate(w.events)
    ]
    rows += [
        ("reel", r, x["club"], x["created_at"], math.nan, math.inf, True, float(x["duration_ms"]))
        for r, x in enumerate(w.reels)
    ]
    items = items_from_rows(
        rows, {c: True for c in range(len(w.clubs))}, {c: x["name"] for c, x in enumerate(w.clubs)}
    )
    reel_kinds = set(signals.REEL_KINDS)
    index = [items.index[signals.item_key(t, ref)] for _, t, ref, _, _, _ in w.interactions]
    watch = [
        ms if kind in reel_kinds and ms is not None else math.nan for _, _, _, kind, ms, _ in w.interactions
    ]
    weight = [
        signals.weight(kind, ms if kind == "dwell" else None, ms if kind in reel_kinds else None)
        for _, _, _, kind, ms, _ in w.interactions
    ]
    log = Log(
        np.array([i[0] for i in w.interactions], dtype=np.int64),
        np.array(index, dtype=np.int64),
        np.array([KINDS.index(i[3]) for i in w.interactions], dtype=np.int64),
        np.array(weight, dtype=np.float64),
        np.array([i[5] for i in w.interactions], dtype=np.float64),
        np.array(watch, dtype=np.float64),
    )
    return items, log


def _queries(items: Items, log: Log, cutoff: float, end: float, negatives: int | None, seed: int) -> dict:
    """``ranking.pipeline._build_chunk`` for every user at once, in this process."""
    vecs, _ = item_embeddings(items, log, cutoff, seed=seed)
    snap = Snapshot(items, log, cutoff, vecs)
    truth = labels(log, items, cutoff, end)
    rng = np.random.default_rng(seed)
    xs, ys, qids, pops = [], [], [], []
    for u in sorted(truth):
        cand = snap.candidates(u)
        y = np.array([truth[u].get(int(j), 0) for j in cand])
        if len(cand) < 2 or not y.any():
            continue
        if negatives is not None:
            keep = np.concatenate(
                [np.flatnonzero(y > 0), rng.permutation(np.flatnonzero(y == 0))[:negatives]]
            )
            cand, y = cand[keep], y[keep]
        x = snap.inputs(u, cand)
        xs.append(feature_matrix(x))
        ys.append(y)
        qids.append(np.full(len(cand), u))
        pops.append(x.item_pop * signals.decay_factor(snap.t))
    x = np.vstack(xs)
    out = {f"f{i:02d}": x[:, i] for i in range(len(FEATURES))}
    out.update(y=np.concatenate(ys).astype(float), qid=np.concatenate(qids), pop=np.concatenate(pops))
    out["rec"] = np.zeros(len(out["y"]))
    return out


def test_the_seeded_world_reels_are_ranked_better_than_by_popularity():
    """The world ``clubhub seed`` writes (small): trained on three time cuts as ``clubhub train-ranker``
    does, the model orders the held-out reels better than their popularity does (NDCG@10 over reels)."""
    w = build(400, 24, 150, seed=7, days=24)
    assert len(w.reels) >= 40
    items, log = world_items_log(w)
    cuts = [float(q) for q in np.quantile(log.ts, [0.375, 0.5, 0.625, 0.75, 0.875])]
    end = float(log.ts[-1]) + 1e-3
    parts = [_queries(items, log, cuts[i], cuts[i + 1], 100, i) for i in range(3)]
    train = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    test = query_set(_queries(items, log, cuts[4], end, None, 4))
    tr = query_set(train)
    booster = lgb.train(
        {"objective": "lambdarank", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 20, "seed": 0},
        lgb.Dataset(tr.x, tr.y, group=tr.groups),
        num_boost_round=120,
    )
    keep, groups = _only_reels(test)
    assert len(groups) >= 30, len(groups)
    model = ndcg_at(booster.predict(test.x[keep]), test.y[keep], groups, [10])[0]
    popularity = ndcg_at(test.popularity[keep], test.y[keep], groups, [10])[0]
    print(f"reels NDCG@10 over {len(groups)} queries: model {model:.3f}, popularity {popularity:.3f}")
    assert model > popularity * 1.2, (model, popularity)


def test_a_feed_page_keeps_slots_for_the_best_reels_in_score_order():
    from ranking.serve import top_order

    scores = np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    ids = np.arange(1, 10)
    reels = np.array([False, False, False, False, False, True, False, True, True])
    # Without the mask: the five best, reels or not.
    assert top_order(scores, ids, 5).tolist() == [0, 1, 2, 3, 4]
    # Two slots: the two best reels (5, 7) take the places of the lowest others (3, 4), score order kept.
    assert top_order(scores, ids, 5, reels, reel_slots=2).tolist() == [0, 1, 2, 5, 7]
    # A reel already on the page counts; there are only three reels, so at most three slots fill.
    assert top_order(scores, ids, 6, reels, reel_slots=5).tolist() == [0, 1, 2, 5, 7, 8]
    # No reels at all, or a page no longer than the slots: unchanged.
    assert top_order(scores, ids, 5, np.zeros(9, dtype=bool)).tolist() == [0, 1, 2, 3, 4]
    assert top_order(scores, ids, 2, reels, reel_slots=3).tolist() == [0, 1]
