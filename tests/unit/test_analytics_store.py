"""The analytics store's layout and reads (storage.analytics) and the training log's encoding
(ranking.dataset.encode), on a real directory."""

import json

import numpy as np
import pyarrow.fs as pafs
import pytest

from ranking.dataset import KINDS, encode, item_codes, items_from_rows
from storage.analytics import AnalyticsStore, redacted, seal_id, stream_id

DAY = 86400.0
T0 = 1_796_000_000.0  # 2026-11-30


def row(i: int, ts: float, kind: str = "click", item: tuple[str, int] = ("event", 1), user: int = 7) -> tuple:
    return (f"i{i}", user, item[0], item[1], kind, 45_000 if kind == "dwell" else None, ts, "client")


def test_seal_ids_sort_as_the_stream_does():
    ids = ["9-5", "10-0", "10-12", "1700000000000-3"]
    assert sorted(ids, key=seal_id) == ids
    assert [stream_id(seal_id(i)) for i in ids] == ids


def test_a_seal_is_one_file_per_day_and_a_manifest(tmp_path):
    store = AnalyticsStore(str(tmp_path))
    seal = store.write_seal(seal_id("1796000000000-1"), [row(1, T0), row(2, T0 - 2 * DAY), row(3, T0 + 1)])
    assert seal.rows == 3 and len(seal.files) == 2
    assert {f.split("/")[-2] for f in seal.files} == {"day=2026-11-30", "day=2026-11-28"}
    table = store.read(seal.files)
    assert sorted(table["id"].to_pylist()) == ["i1", "i2", "i3"]
    assert table["dwell_ms"].null_count == 3
    assert not list(tmp_path.rglob("*.tmp"))  # written beside, then renamed


def test_seals_after_a_watermark_list_only_newer_seals(tmp_path):
    store = AnalyticsStore(str(tmp_path))
    # Seals written on three dates (a seal's date is its stream id's), the interactions all of one day.
    ms = [int((T0 + d * DAY) * 1000) for d in (0, 1, 2)]
    ids = []
    for k, m in enumerate(ms):
        for j in range(2):
            ids.append(store.write_seal(seal_id(f"{m}-{j}"), [row(10 * k + j, T0)]).id)
    assert [s.id for s in store.seals_after(None)] == ids
    assert [s.id for s in store.seals_after(ids[2])] == ids[3:]
    assert store.seals_after(ids[-1]) == []
    assert store.latest() == ids[-1]
    files, last, rows = store.files_until(ids[3])
    assert last == ids[3] and rows == 4 and len(files) == 4
    # The manifests of dates before the watermark's are never opened: make one unreadable.
    first = tmp_path / "seals" / "date=2026-11-30"
    for p in first.iterdir():
        p.write_text("not json")
    assert [s.id for s in store.seals_after(ids[2])] == ids[3:]
    with pytest.raises(json.JSONDecodeError):
        store.seals_after(None)


def test_data_without_its_manifest_is_not_read(tmp_path):
    store = AnalyticsStore(str(tmp_path))
    seal = store.write_seal(seal_id("1796000000000-1"), [row(1, T0)])
    (tmp_path / "seals" / "date=2026-11-30" / f"{seal.id}.json").unlink()  # a crash before the manifest
    assert store.seals_after(None) == [] and store.latest() is None and store.files_until()[0] == []


def test_s3_urls_select_the_s3_filesystem_and_never_print_the_secret():
    store = AnalyticsStore("s3://key:sec%2Fret@127.0.0.1:9000/bucket/prefix")
    assert isinstance(store.fs, pafs.S3FileSystem) and store.kind == "s3"
    assert store.root == "bucket/prefix/analytics"
    assert "sec" not in repr(store) and "***" in redacted(store.url)
    with pytest.raises(ValueError):
        AnalyticsStore("s3://key:secret@127.0.0.1:9000/")
    assert AnalyticsStore("https://k:s@s3.eu-west-1.amazonaws.com/b").fs.region == "eu-west-1"
    assert AnalyticsStore("https://k:s@host.example/b?region=ap-south-1").fs.region == "ap-south-1"


def test_encode_maps_items_kinds_and_weights_and_drops_unknown_items():
    items = items_from_rows(
        [
            ("club", 1, 1, 0.0, np.nan, np.inf, True),
            ("event", 1, 1, 0.0, T0, T0 + 3600, True),
            ("room", 4, 1, 0.0, np.nan, np.inf, True),
        ],
        {1: True},
        {1: "c"},
    )
    codes, index = item_codes(items)
    rows = [
        row(1, T0, "click", ("event", 1)),
        row(2, T0, "dwell", ("room", 4)),
        row(3, T0, "rsvp", ("event", 99)),
    ]
    rows.append(row(4, T0, "join", ("club", 1), user=9))
    cols = {
        name: np.array([r[i] for r in rows], dtype=object)
        for i, name in enumerate(
            ["id", "user_id", "item_type", "item_id", "kind", "dwell_ms", "ts", "source"]
        )
    }
    cols["dwell_ms"] = np.array([np.nan if r[5] is None else r[5] for r in rows])
    cols["ts"] = cols["ts"].astype(float)
    out = encode(cols, codes, index)
    assert out["item"].tolist() == [1, 2, 0]  # event:99 no longer exists
    assert out["user"].tolist() == [7, 7, 9]
    assert [KINDS[k] for k in out["kind"]] == ["click", "dwell", "join"]
    assert np.allclose(out["weight"], [1.0, 1.5, 4.0])  # 45 s of dwell: 1.5 clicks


def test_seals_written_before_reels_read_with_a_null_watch_ms(tmp_path):
    """A seal of the eight columns before reels (no ``watch_ms``) reads under today's schema, and the
    training log's encoding takes it: the history before reels stays usable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from storage.analytics import SCHEMA

    store = AnalyticsStore(str(tmp_path))
    old_schema = pa.schema([f for f in SCHEMA if f.name != "watch_ms"])
    old = pa.Table.from_pylist(
        [dict(zip(old_schema.names, r, strict=True)) for r in (row(1, T0), row(2, T0 + 1, "dwell"))],
        schema=old_schema,
    )
    path = str(tmp_path / "old.parquet")
    pq.write_table(old, path)
    new = store.write_seal(
        seal_id("1796000000000-2"),
        [(*row(3, T0 + 2, "watch", ("reel", 4)), 15_000)],
    )
    table = store.read([path, *new.files])
    assert table["watch_ms"].to_pylist() == [None, None, 15_000]
    items = items_from_rows(
        [
            ("club", 1, 1, 0.0, float("nan"), float("inf"), True),
            ("event", 1, 1, 0.0, T0 + DAY, T0 + DAY, True),
            ("reel", 4, 1, 0.0, float("nan"), float("inf"), True, 30_000.0),
        ],
        {1: True},
        {1: "c"},
    )
    cols = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    out = encode(cols, *item_codes(items))
    assert [KINDS[k] for k in out["kind"]] == ["click", "dwell", "watch"]
    assert np.isnan(out["watch"][:2]).all() and out["watch"][2] == 15_000
    assert out["weight"][2] == 0.75  # 15 s of a reel watched: three quarters of a click
