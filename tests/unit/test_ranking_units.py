"""Pure ranking code without services: signals arithmetic, the feature function, reasons, metrics, the
seeded world's determinism."""

import math

import numpy as np
import pytest

from ranking import signals
from ranking.features import FEATURES, HOUR_BUCKETS, Inputs, feature_matrix, reason
from ranking.train import ndcg_at, recall_at
from ranking.world import build
from storage import keys


def test_increments_are_additive_and_decay_at_read_time():
    t = signals.EPOCH + 10 * 86400
    incs = signals.increments(7, "event", 3, "click", None, t, club_id=2, start_bucket=4, emb=(5, [0.6, 0.8]))
    by = {(h, f): v for h, f, v in incs}
    w = signals.anchored(1.0, t)
    assert by[(keys.POPULARITY, "event:3")] == w
    assert by[(keys.affinity(7), "club:2")] == w and by[(keys.affinity(7), "hour:4")] == w
    assert by[(keys.user_embedding(5, 7), "1")] == pytest.approx(0.8 * w)
    # One half-life later the same click is worth half.
    assert signals.decayed(w, t + signals.HALF_LIFE_S) == pytest.approx(0.5)
    assert signals.increments(7, "club", 2, "click", None, t, 2, None, None) == [
        (keys.POPULARITY, "club:2", w),
        (keys.affinity(7), "club:2", w),
    ]
    assert signals.increments(7, "event", 3, "dwell", 0, t, 2, None, None) == []


def _inputs(n=3, **kw):
    now = signals.EPOCH + 100 * 86400
    base = dict(
        now=now,
        type_code=np.array([0, 1, 2]),
        item_pop=np.zeros(n),
        club_pop=np.zeros(n),
        user_item_aff=np.zeros(n),
        user_club_aff=np.zeros(n),
        hour_weights=np.zeros(HOUR_BUCKETS),
        start_bucket=np.array([3, -1, -1]),
        starts_at=np.array([now + 7200, math.nan, math.nan]),
        created_at=np.array([now - 86400] * 3),
        member=np.array([True, True, False]),
        co_going=np.array([2, 0, 0]),
        user_vec=None,
        item_vecs=None,
        club_vecs=None,
    )
    base.update(kw)
    return Inputs(**base)


def test_feature_matrix_values():
    now = signals.EPOCH + 100 * 86400
    hours = np.zeros(HOUR_BUCKETS)
    hours[3] = signals.anchored(3.0, now)
    hours[1] = signals.anchored(1.0, now)
    x = feature_matrix(
        _inputs(
            hour_weights=hours,
            item_pop=np.array([signals.anchored(math.e - 1, now), 0, 0]),
            user_vec=np.array([2.0, 0.0]),
            item_vecs=np.array([[1.0, 0], [0, 1.0], [0, 0]]),
            club_vecs=np.zeros((3, 2)),
        )
    )
    f = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert f["is_event"].tolist() == [1, 0, 0] and f["is_club"].tolist() == [0, 0, 1]
    assert f["emb_sim"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert f["log_item_popularity"][0] == pytest.approx(1.0)
    assert f["hour_share"].tolist() == pytest.approx([0.75, 0, 0])
    assert f["hours_to_start"].tolist() == pytest.approx([2.0, -1, -1])
    assert f["item_age_days"].tolist() == pytest.approx([1.0] * 3)
    assert f["co_members_going"].tolist() == [2, 0, 0] and f["member"].tolist() == [1, 1, 0]


def test_reason_says_what_lifted_the_item_most():
    x = feature_matrix(_inputs())
    contrib = np.zeros(len(FEATURES) + 1)
    contrib[FEATURES.index("co_members_going")] = 0.9
    contrib[FEATURES.index("member")] = 0.2
    assert (
        reason("event", "Chess Club", True, x[0], contrib, "Chess Club", 3)
        == "2 members of Chess Club are going"
    )
    contrib[FEATURES.index("co_members_going")] = -0.1
    assert reason("event", "Chess Club", True, x[0], contrib, None, 3) == "From your club Chess Club"
    assert (
        reason("club", "Jazz Circle", False, x[2], np.zeros(len(FEATURES) + 1), None, -1)
        == "A club you might like: Jazz Circle"
    )


def test_ranking_metrics():
    y = np.array([2, 0, 1, 0])
    perfect = ndcg_at(np.array([4.0, 1, 3, 0]), y, [4], [1, 2, 4])
    assert perfect == pytest.approx([1.0, 1.0, 1.0])
    worst = ndcg_at(np.array([0.0, 4, 1, 3]), y, [4], [1])
    assert worst == [0.0]
    assert recall_at(np.array([0.0, 4, 1, 3]), y, [4], k=2) == 0.0
    assert recall_at(np.array([4.0, 1, 3, 0]), y, [4], k=2) == 1.0


def test_seeded_world_is_reproducible():
    a = build(60, 6, 20, seed=3, days=7, now=1_790_000_000)
    b = build(60, 6, 20, seed=3, days=7, now=1_790_000_000)
    c = build(60, 6, 20, seed=4, days=7, now=1_790_000_000)
    assert a.interactions == b.interactions and a.clubs == b.clubs
    assert a.interactions != c.interactions
    assert all(a.start <= i[5] or i[3] == "join" for i in a.interactions)
    assert max(i[5] for i in a.interactions) < a.now
    assert all(e["created_at"] < a.now for e in a.events)
