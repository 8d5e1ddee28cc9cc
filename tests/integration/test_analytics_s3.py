"""The analytics store (storage.analytics) on a real S3 server: SeaweedFS on loopback (tests/support/s3.py).

Seals written, listed after a watermark and read back through ``S3FileSystem``; a data file without its
manifest stays invisible; the training job's Ray tasks read the same files from the store; and wrong
credentials are refused, never mistaken for an empty store.
"""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from support.s3 import SeaweedS3, http_status
from support.secret_audit import remember

from ranking.dataset import items_from_rows, load_log
from storage.analytics import COLUMNS, DATA, SCHEMA, SEALS, AnalyticsStore, seal_id

DAY = 86400.0
T0 = 1_796_000_000.0  # 2026-11-30 00:53 UTC
MIDNIGHT = T0 // DAY * DAY  # 2026-11-30 00:00 UTC


def row(i: int, ts: float, kind: str = "click", item: tuple[str, int] = ("event", 1), user: int = 7) -> tuple:
    dwell = 45_000 if kind == "dwell" else None
    return (f"i{i:04d}", user, item[0], item[1], kind, dwell, ts, "client", None)  # watch_ms: not a reel


def table_of(rows: list[tuple]) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(COLUMNS, r, strict=True)) for r in rows], schema=SCHEMA)


def by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("id")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed")).start()
    remember(server.secret_key)  # the run's logs (weed's included) are audited for it
    yield server
    server.stop()
    assert server.leftovers() == []


def test_the_server_listens_only_on_its_pinned_loopback_ports(s3):
    assert s3.listening() == sorted(("127.0.0.1", p) for p in s3.ports.values())


def test_seals_on_s3_list_after_a_watermark_and_read_back_exactly(s3):
    store = AnalyticsStore(f"{s3.url}/seals")
    assert store.kind == "s3"
    assert store.root == f"{s3.bucket}/seals/analytics"
    assert s3.secret_key not in repr(store)
    # An empty store (nothing under the prefix yet) is empty, not an error.
    assert store.seals_after(None) == [] and store.latest() is None
    assert store.files_until() == ([], None, 0)

    # Seals written on three dates (a seal's date is its stream id's), two per date; each seal's rows
    # span two days of ``ts``, so each seal is two data files.
    ids, written, n = [], [], 0
    for d in range(3):
        ms = int((T0 + d * DAY) * 1000)
        for j in range(2):
            # 8 rows, 6 h apart from 2026-11-29 00:00: four on the 29th, four on the 30th.
            rows = [
                row(n + k, MIDNIGHT - DAY + k * DAY / 4 + j, ("click", "dwell", "rsvp")[k % 3])
                for k in range(8)
            ]
            n += len(rows)
            seal = store.write_seal(seal_id(f"{ms}-{j}"), rows)
            assert seal.rows == 8 and len(seal.files) == 2
            assert [f.split("/")[-2] for f in seal.files] == ["day=2026-11-29", "day=2026-11-30"]
            ids.append(seal.id)
            written.append(rows)
    assert ids == sorted(ids)

    # The layout in the bucket: files under interactions/day=, manifests under seals/date= (the seal's date).
    listing = s3.filesystem().get_file_info(pafs.FileSelector(store.root, recursive=True))
    objects = {i.path[len(store.root) + 1 :] for i in listing if i.type == pafs.FileType.File}
    dates = ["2026-11-30", "2026-11-30", "2026-12-01", "2026-12-01", "2026-12-02", "2026-12-02"]
    assert {o for o in objects if o.startswith(f"{SEALS}/")} == {
        f"{SEALS}/date={date}/{sid}.json" for date, sid in zip(dates, ids, strict=True)
    }
    assert len([o for o in objects if o.startswith(f"{DATA}/day=")]) == 12

    seals = store.seals_after(None)
    assert [s.id for s in seals] == ids and all(s.rows == 8 for s in seals)
    assert [s.id for s in store.seals_after(ids[1])] == ids[2:]  # the watermark's own date, then later ones
    assert [s.id for s in store.seals_after(ids[2])] == ids[3:]
    assert store.seals_after(ids[-1]) == []
    assert store.latest() == ids[-1]

    files, last, rows = store.files_until(ids[3])
    assert last == ids[3] and rows == 32 and len(files) == 8
    assert files == [f for s in seals[:4] for f in s.files]
    assert by_id(store.read(files)).equals(by_id(table_of([r for rs in written[:4] for r in rs])))
    everything, last, rows = store.files_until()
    assert last == ids[-1] and rows == 48
    back = store.read(everything)
    assert back.schema == SCHEMA
    assert by_id(back).equals(by_id(table_of([r for rs in written for r in rs])))
    # One seal's files hold exactly its rows; nulls (dwell_ms) survive.
    one = store.read(seals[4].files)
    assert by_id(one).equals(by_id(table_of(written[4])))
    assert one["dwell_ms"].null_count == 5  # only the dwells (k = 1, 4, 7) have one
    assert store.read([]).num_rows == 0

    # Writing the same seal again is idempotent (same keys, same rows).
    again = store.write_seal(ids[0], written[0])
    assert again.files == seals[0].files
    assert [s.id for s in store.seals_after(None)] == ids
    assert store.files_until()[2] == 48


def test_a_data_file_without_its_manifest_is_not_listed(s3):
    store = AnalyticsStore(f"{s3.url}/crash")
    seal = store.write_seal(seal_id(f"{int(T0 * 1000)}-1"), [row(1, T0), row(2, T0 + 1)])
    # A crash between the data files and the manifest of a newer seal: its Parquet file is in the bucket.
    orphan = seal_id(f"{int((T0 + DAY) * 1000)}-0")
    path = f"{store.root}/{DATA}/day=2026-11-30/part-{orphan}.parquet"
    pq.write_table(table_of([row(3, T0 + 2)]), path, filesystem=store.fs)
    assert store.fs.get_file_info(path).type == pafs.FileType.File
    assert [s.id for s in store.seals_after(None)] == [seal.id]
    assert store.seals_after(seal.id) == []
    assert store.latest() == seal.id
    assert store.files_until() == (seal.files, seal.id, 2)
    assert sorted(store.read(store.files_until()[0])["id"].to_pylist()) == ["i0001", "i0002"]


def test_arrow_datasets_read_the_seals_through_the_store_filesystem(s3):
    store = AnalyticsStore(f"{s3.url}/dataset")
    rows = [row(k, MIDNIGHT - DAY + k * 3000, "click", user=k % 3) for k in range(50)]
    store.write_seal(seal_id(f"{int(T0 * 1000)}-0"), rows[:30])
    store.write_seal(seal_id(f"{int(T0 * 1000)}-1"), rows[30:])
    files, _, n = store.files_until()
    assert n == 50 and len(files) == 3
    dataset = pads.dataset(files, schema=SCHEMA, format="parquet", filesystem=store.fs)
    assert by_id(dataset.to_table()).equals(by_id(table_of(rows)))
    assert dataset.count_rows(filter=pads.field("user_id") == 1) == 17
    # The whole data tree as a hive-partitioned dataset: the day is a partition column.
    tree = pads.dataset(
        f"{store.root}/{DATA}", format="parquet", filesystem=store.fs, partitioning="hive"
    ).to_table()
    assert tree.num_rows == 50
    assert sorted(set(tree["day"].to_pylist())) == ["2026-11-29", "2026-11-30"]


def test_training_reads_the_seals_from_s3_in_ray_tasks(s3, ray_cluster):
    from ranking.pipeline import read_log

    store = AnalyticsStore(f"{s3.url}/ray")
    items = items_from_rows(
        [
            ("club", 1, 1, 0.0, np.nan, np.inf, True),
            ("event", 1, 1, 0.0, T0, T0 + 3600, True),
            ("room", 4, 1, 0.0, np.nan, np.inf, True),
        ],
        {1: True},
        {1: "c"},
    )
    targets = [("event", 1), ("room", 4), ("club", 1), ("event", 99)]  # event 99 no longer exists
    kinds = ["click", "dwell", "join", "rsvp"]
    n = 0
    for d in range(2):
        rows = [
            row(n + k, T0 - DAY + 1000 * k + d, kinds[k % 4], targets[k % 4], user=10 + k % 5)
            for k in range(120)
        ]
        n += len(rows)
        store.write_seal(seal_id(f"{int((T0 + d * DAY) * 1000)}-0"), rows)
    files, _, rows_total = store.files_until()
    assert rows_total == 240 and len(files) == 4

    log, timing = read_log(store, files, items)
    assert timing.rows == 180  # the rows of event 99 are dropped
    local = load_log(store, items, files)  # the same files read in this process
    for col in ("user", "item", "kind", "weight", "ts"):
        assert np.array_equal(getattr(log, col), getattr(local, col)), col
    assert np.all(np.diff(log.ts) >= 0)
    assert sorted(set(log.item.tolist())) == [0, 1, 2]


def test_wrong_credentials_are_refused_not_an_empty_store(s3):
    good = AnalyticsStore(f"{s3.url}/creds")
    seal = good.write_seal(seal_id(f"{int(T0 * 1000)}-1"), [row(1, T0)])
    wrong_secret = ("A" if s3.secret_key[0] != "A" else "B") + s3.secret_key[1:]
    endpoint = f"{s3.endpoint}/{s3.bucket}/creds"
    for key, secret in [(s3.access_key, wrong_secret), ("nosuchkey", s3.secret_key)]:
        bad = AnalyticsStore(f"s3://{quote(key, safe='')}:{quote(secret, safe='')}@{endpoint}")
        assert bad.kind == "s3"
        with pytest.raises(OSError, match="SIGNATURE_DOES_NOT_MATCH|ACCESS_DENIED|INVALID_ACCESS_KEY|403"):
            bad.seals_after(None)
        with pytest.raises(OSError):
            bad.latest()
        with pytest.raises(OSError):
            bad.files_until()
        with pytest.raises(OSError):
            bad.read(seal.files)
        with pytest.raises(OSError):
            bad.write_seal(seal_id(f"{int(T0 * 1000)}-2"), [row(2, T0)])
    # Unsigned requests are refused too.
    assert http_status(f"http://{s3.endpoint}/{s3.bucket}?list-type=2") == 403
    # The refused writes left nothing: the good store sees its one seal.
    assert [s.id for s in good.seals_after(None)] == [seal.id]
    assert good.read(seal.files)["id"].to_pylist() == ["i0001"]
