"""``ranking.compiled``: a booster compiled with lleaves gives LightGBM's scores, is cached by its text, and
is refused (None: LightGBM keeps serving) when it does not match the booster it stands for."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from ranking.compiled import cache_path, compile_model, probe_rows
from ranking.registry import Embeddings, RankerModel


def _booster(seed: int) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2000, 6))
    x[:, 5] = rng.integers(0, 2, size=2000)  # a 0/1 feature, like "member"
    y = x[:, 0] * 2 + np.sin(x[:, 1]) + x[:, 5] + rng.normal(scale=0.1, size=2000)
    params = {"objective": "regression", "num_leaves": 15, "verbose": -1, "seed": seed}
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=40)


def test_compiled_model_scores_like_lightgbm_and_is_cached(tmp_path):
    booster = _booster(1)
    text = booster.model_to_string()
    compiled = compile_model(text, booster, tmp_path)
    assert compiled is not None
    assert cache_path(text, tmp_path).exists()
    rows = np.random.default_rng(7).normal(size=(500, 6))
    want = booster.predict(rows, num_threads=1)
    assert np.allclose(compiled.predict(rows, n_jobs=1), want, rtol=0, atol=1e-9)

    model = RankerModel(1, booster, [], {}, Embeddings(1, {}, np.zeros((0, 2))), text=text)
    assert np.array_equal(model.predict(rows), want)  # LightGBM until compiled
    model.compiled = compiled
    assert np.allclose(model.predict(rows), want, rtol=0, atol=1e-9)

    again = compile_model(text, booster, tmp_path)  # from the cache: same scores
    assert again is not None
    assert np.allclose(again.predict(rows, n_jobs=1), want, rtol=0, atol=1e-9)
    assert len(list(tmp_path.glob("*.o"))) == 1 and not list(tmp_path.glob("*.tmp*"))


def test_a_compiled_model_that_differs_from_the_booster_is_refused(tmp_path):
    one, other = _booster(1), _booster(2)
    assert compile_model(one.model_to_string(), other, tmp_path) is None


def test_probe_rows_reach_both_sides_of_the_splits():
    booster = _booster(3)
    rows = probe_rows(booster, rows=256)
    assert rows.shape == (256, 6)
    leaves = booster.predict(rows, pred_leaf=True)  # (rows, trees)
    reached = sum(len(set(leaves[:, t])) for t in range(leaves.shape[1]))
    assert reached >= 0.5 * sum(booster.dump_model()["tree_info"][t]["num_leaves"] for t in range(40))
