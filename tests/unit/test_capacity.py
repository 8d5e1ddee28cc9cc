"""The capacity model (loadtest/capacity.py): its arithmetic on a small fixture, its tolerance of missing
results, and the staleness check of docs/scaling.md."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("capacity", ROOT / "loadtest" / "capacity.py")
assert _spec and _spec.loader
capacity = importlib.util.module_from_spec(_spec)
sys.modules["capacity"] = capacity  # dataclasses look their module up there
_spec.loader.exec_module(capacity)

# Round numbers, so every expected value below is worked out by hand.
ASSUME = capacity.Assumptions(
    big_room_member_share=0.2,  # 800,000 members in small rooms, 200,000 in big ones
    big_room_sender_share=1.0,  # everyone sends: 0.1 msg/s each, 80,000 + 20,000 msg/s
    gateway_memory_mb=2048.0,
    gateway_memory_for_sockets=0.5,
    utilisation=0.25,  # only used when soak.json is missing
    cores_per_actor=1.0,
    ray_node_cpus=4.0,
    bench_room_shards=4,
    feeds_per_member_per_s=0.001,  # 1,000 feeds/s
    mongo_docs_per_s_per_shard=40_000.0,
    mongo_docs_per_message=1.0,
)


def step(rate, delivered_per_s, acked, p99=10.0, extra=False, cpu=None):
    s = {
        "rate": rate,
        "sent": acked,
        "acked": acked,
        "refused": 0,
        "delivered": delivered_per_s * 4,
        "seconds": 4.0,
        "delivered_per_s": delivered_per_s,
        "p50_ms": 1.0,
        "p99_ms": p99,
    }
    if extra:
        s["extra"] = True
    if cpu is not None:
        s["server_cpu_us_per_delivery"] = cpu
    return s


def write_fixture(directory: Path, soak=True, stores=True, cpu=False, scaling=False) -> None:
    chat = {
        "config": {"shapes": {"many_rooms": {"members": 20}, "big_room": {"members": 1000}}},
        "servers": {
            "clubholohub": {
                "many_rooms": [
                    step(50, 99_999.0, 400, extra=True),  # the half-load step never counts as saturation
                    step(100, 10_000.0, 400),
                    step(160, 40_000.0, 8_000),  # the best: 40,000 delivered/s
                    step(256, 30_000.0, 600),
                ],
                "big_room": [
                    step(2, 100_000.0, 40),
                    step(4, 400_000.0, 800),  # the best, and 800 ÷ 4 s = 200 msg/s in one room
                ],
            }
        },
        "idle": {"sockets": 4000, "rss_before_kb": 49_152, "rss_after_kb": 249_152, "kb_per_socket": 50.0},
    }
    if cpu:
        chat["summary"] = {
            "many_rooms": {"cpu_us_per_delivery": {"clubholohub": 100.0}},
            "big_room": {"cpu_us_per_delivery": {"clubholohub": 10.0}},
        }
    if scaling:  # bench_chat.py --workers 2 (its JSON key `scaling`)
        chat["scaling"] = {
            "workers": {"n": 2, "many_rooms": {"ratio": 1.4}, "big_room": {"ratio": 1.1}},
        }
    (directory / "bench_chat.json").write_text(json.dumps(chat))
    if soak:
        samples = [
            {"t": 10.0, "acked_per_s": 99_999.0, "shards": [{}, {}]},  # inside the warm-up: ignored
            {"t": 200.0, "acked_per_s": 1000.0, "shards": [{}, {}]},
            {"t": 210.0, "acked_per_s": 3000.0, "shards": [{}, {}]},
            {"t": 220.0, "acked_per_s": 2000.0, "shards": [{}, {}]},
        ]
        soak_doc = {
            "config": {"load": 0.5, "warmup_s": 180.0},
            "verdict": {"ok": True, "processes": {"gateway": {"rss_mb_end": 200.0}}},
            "samples": samples,
        }
        (directory / "soak.json").write_text(json.dumps(soak_doc))
    (directory / "bench_ranking.json").write_text(
        json.dumps({"feed_latency": {"ranker": {"feeds_per_s_concurrency_8": 50.0}}})
    )
    if stores:
        (directory / "bench_stores.json").write_text(
            json.dumps(
                {
                    "redis": {
                        "publish_bytes": 400,
                        "server_cpu_us_per_publish": 5.0,
                        "server_cpu_us_per_xadd": 10.0,
                    },
                    "mongo": {
                        "doc_bson_bytes": 250,
                        "insert_many_docs_per_s": 10_000.0,
                        "insert_many_batches_per_s": 156.25,
                        "batch_size": 64,
                    },
                }
            )
        )


def model(tmp_path, **fixture):
    write_fixture(tmp_path, **fixture)
    return capacity.compute(capacity.load_results(tmp_path), ASSUME)


def test_fan_out_splits_members_and_messages_by_the_shapes(tmp_path):
    v = model(tmp_path).values
    assert v["messages_small"] == pytest.approx(80_000)
    assert v["messages_big"] == pytest.approx(20_000)
    assert v["deliveries_small"] == pytest.approx(1_600_000)  # × 20 members
    assert v["deliveries_big"] == pytest.approx(20_000_000)  # × 1,000 members
    assert v["big_rooms"] == pytest.approx(200)
    assert v["big_room_msgs_per_s"] == pytest.approx(100)


def test_gateways_by_memory_and_by_deliveries(tmp_path):
    v = model(tmp_path).values
    assert v["utilisation"] == 0.5  # soak.json config.load wins over the assumption
    # (2,048 MB − 48 MB) × 0.5 ÷ 50 KB = 20,480 sockets; 1,000,000 ÷ 20,480 = 48.8
    assert v["sockets_per_gateway"] == pytest.approx(20_480)
    assert v["gateways_by_memory"] == 49
    # The best non-extra steps: 1.6 M ÷ (40,000 × 0.5) + 20 M ÷ (400,000 × 0.5) = 80 + 100
    assert v["gateways_by_cpu"] == 180
    assert v["gateways"] == 180


def test_shards_nodes_and_stores(tmp_path):
    m = model(tmp_path)
    v = m.values
    # Median after the warm-up (2,000 acked/s) over 2 shard processes: 1,000 msg/s per shard.
    assert v["shard_msgs_per_s"] == pytest.approx(1000)
    assert v["room_shards"] == 100
    assert v["one_room_msgs_per_s"] == pytest.approx(200)  # 800 acked in 4 s
    assert v["session_shards"] == 250  # 1,000,000 ÷ 4,000 idle sockets
    assert v["rankers"] == 40  # 1,000 feeds/s ÷ (50 × 0.5)
    assert v["ray_cores"] == 390 and v["ray_nodes"] == 98  # 390 ÷ 4, rounded up
    assert v["mongo_docs_per_s"] == 100_000
    assert v["mongo_mb_per_s"] == pytest.approx(25.0)  # × 250 B
    assert v["mongo_shards"] == 5  # 100,000 ÷ (40,000 × 0.5)
    # Redis: a 20-member room spread over 180 gateways reaches 180 × (1 − (179/180)^20) of them.
    per_small = 180 * (1 - (179 / 180) ** 20)
    per_big = 180 * (1 - (179 / 180) ** 1000)
    assert v["gateways_per_small_room"] == pytest.approx(per_small)
    assert v["redis_publishes_per_s"] == pytest.approx(80_000 * per_small + 20_000 * per_big)
    assert v["redis_mb_per_s"] == pytest.approx(v["redis_publishes_per_s"] * 400 / 1e6)
    # 5 µs of server CPU per publish: 200,000/s per core, 100,000 at load 0.5.
    assert v["redis_nodes"] == math.ceil(v["redis_publishes_per_s"] / 100_000)
    assert v["activity_stream_load"] == pytest.approx(2.0)  # 100,000 XADD/s ÷ (100,000 × 0.5)
    # One stack (1 gateway, 4 shards, 1 Redis node, 1 Mongo shard): the gateway's deliveries run out first.
    assert v["first_bottleneck_share"] == pytest.approx(1 / 180)
    assert "gateway deliveries" in capacity.render(m).split("First bottleneck")[1]


def test_distinct_gateways():
    assert capacity.distinct_gateways(1, 25) == 1.0
    assert capacity.distinct_gateways(10, 1) == pytest.approx(1.0)
    assert capacity.distinct_gateways(2, 2) == pytest.approx(1.5)
    assert capacity.distinct_gateways(100, 10_000) == pytest.approx(100)


def test_missing_results_leave_rows_unmeasured_not_a_crash(tmp_path):
    m = model(tmp_path, soak=False, stores=False)
    v = m.values
    assert v["utilisation"] == 0.25  # the assumption when soak.json is missing
    # Shards now from bench_chat: 8,000 acked in 4 s ÷ 4 shards × 0.25 = 125 msg/s per shard.
    assert v["shard_msgs_per_s"] == pytest.approx(125)
    assert v["room_shards"] == 800
    assert "redis_nodes" not in v and "mongo_mb_per_s" not in v
    table = capacity.render(m)
    assert "| Redis Cluster nodes | n/a |" in table
    assert "| MongoDB write volume | n/a |" in table


def test_whole_stack_cpu_cross_check_when_the_benchmark_has_it(tmp_path):
    assert "stack_cores" not in model(tmp_path).values
    v = model(tmp_path, cpu=True).values
    # (1.6 M × 100 µs + 20 M × 10 µs) = 360 core-seconds per second, ÷ 0.5
    assert v["stack_cores"] == pytest.approx(720)


def test_scale_out_row_reads_the_workers_report_when_present(tmp_path):
    assert "| Scale-out measured on this machine | n/a |" in capacity.render(model(tmp_path))
    table = capacity.render(model(tmp_path, scaling=True))
    assert "| Scale-out measured on this machine | 2 workers: ×1.4 (many rooms), ×1.1 (big room) |" in table
    assert "bench_chat.json `scaling.workers.many_rooms.ratio`" in table


def test_check_fails_on_a_stale_doc_and_write_fixes_it(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    write_fixture(results)
    doc = tmp_path / "scaling.md"
    doc.write_text(f"# Scaling\n\n{capacity.BEGIN}\n| old | table |\n{capacity.END}\n\nprose stays\n")
    said: list[str] = []
    assert capacity.main(["--results", str(results), "--check", str(doc)], out=said.append) == 1
    assert "stale" in said[0]
    assert capacity.main(["--results", str(results), "--write", str(doc)], out=said.append) == 0
    assert doc.read_text().endswith("prose stays\n")
    assert capacity.main(["--results", str(results), "--check", str(doc)], out=said.append) == 0
    # A new measurement makes the doc stale again.
    chat = json.loads((results / "bench_chat.json").read_text())
    chat["idle"]["kb_per_socket"] = 25.0
    (results / "bench_chat.json").write_text(json.dumps(chat))
    assert capacity.main(["--results", str(results), "--check", str(doc)], out=said.append) == 1


def test_docs_scaling_md_matches_the_committed_results():
    """docs/scaling.md cannot go stale: whoever commits new results regenerates its table
    (python loadtest/capacity.py --write docs/scaling.md)."""
    said: list[str] = []
    code = capacity.main(["--check", str(ROOT / "docs" / "scaling.md")], out=said.append)
    assert code == 0, "\n".join(said)
