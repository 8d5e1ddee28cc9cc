"""The media worker (actors/media_worker.py) on the real Redis stream (the embedded Redis) and a real S3
(SeaweedFS on loopback, tests/support/s3.py): at least once, idempotent per media id, surviving its own
restart, a refusal marked failed with nothing left behind, ``media:ready`` on the uploader's sockets' channel.

Here the worker's two protocols are met by a repository kept in Redis hashes and an object store over
pyarrow's ``S3FileSystem`` (both real stores); the project's own adapter (``actors/media_stores.py``, the
``Media`` rows and ``storage.objects``) is followed end to end by test_media_uploads.py."""

from __future__ import annotations

import asyncio
import io
import json
import uuid

import pyarrow.fs as pafs
import pytest
from PIL import Image
from support.media import make_video
from support.s3 import SeaweedS3

from actors.config import ActorConfig
from actors.media_worker import MediaItem, MediaWorkerHost, ProcessedMedia, derived_key, result_fields
from storage.redis import connect_redis

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed-media")).start()
    yield server
    server.stop()


class S3Objects:
    """``ObjectStore`` over pyarrow's S3 client, in threads."""

    def __init__(self, fs: pafs.S3FileSystem, bucket: str) -> None:
        self.fs, self.bucket = fs, bucket
        self.puts: list[str] = []

    def _path(self, key: str) -> str:
        return f"{self.bucket}/{key}"

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            with self.fs.open_input_stream(self._path(key)) as f:
                return f.read()

        return await asyncio.to_thread(read)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        def write() -> None:
            with self.fs.open_output_stream(self._path(key), metadata={"Content-Type": content_type}) as f:
                f.write(data)

        self.puts.append(key)
        await asyncio.to_thread(write)

    async def delete(self, key: str) -> None:
        try:
            await asyncio.to_thread(self.fs.delete_file, self._path(key))
        except FileNotFoundError:
            pass

    def keys(self, prefix: str) -> list[str]:
        sel = pafs.FileSelector(self._path(prefix), recursive=True, allow_not_found=True)
        infos = self.fs.get_file_info(sel)
        return sorted(i.path.split("/", 1)[1] for i in infos if i.type == pafs.FileType.File)


class RedisRepo:
    """``MediaRepo`` in Redis hashes; ``fail_ready`` makes the next mark_ready fail (a database outage)."""

    def __init__(self, redis, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix
        self.fail_ready = 0
        self.loads = 0
        self.hold: asyncio.Event | None = None  # a load that waits: the worker is "busy" with it

    async def create(self, owner_id: int, kind: str, source_key: str) -> str:
        media_id = uuid.uuid4().hex
        await self.redis.hset(
            self.prefix + media_id,
            mapping={"owner_id": owner_id, "kind": kind, "status": "uploaded", "source_key": source_key},
        )
        return media_id

    async def get(self, media_id: str) -> dict:
        raw = await self.redis.hgetall(self.prefix + media_id)
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def load(self, media_id: str) -> MediaItem | None:
        self.loads += 1
        if self.hold is not None:
            await self.hold.wait()
        row = await self.get(media_id)
        if not row:
            return None
        return MediaItem(media_id, int(row["owner_id"]), row["kind"], row["status"], row["source_key"])

    async def mark_ready(self, media_id: str, result: ProcessedMedia) -> None:
        if self.fail_ready:
            self.fail_ready -= 1
            raise ConnectionError("the database is down")
        fields = {k: json.dumps(v) for k, v in result_fields(result).items()}
        await self.redis.hset(self.prefix + media_id, mapping={**fields, "status": "ready"})

    async def mark_failed(self, media_id: str, code: str, message: str) -> None:
        await self.redis.hset(
            self.prefix + media_id, mapping={"status": "failed", "code": code, "message": message}
        )


class World:
    def __init__(self, redis, repo, objects, config, stream) -> None:
        self.redis, self.repo, self.objects, self.config, self.stream = redis, repo, objects, config, stream

    def worker(self, **kwargs) -> MediaWorkerHost:
        async def open_stores(config):
            return self.repo, self.objects

        return MediaWorkerHost(self.config, stream=self.stream, open_stores=open_stores, **kwargs)

    async def upload(self, kind: str, data: bytes, owner_id: int = 7) -> str:
        source = f"uploads/{uuid.uuid4().hex}"
        await self.objects.put(source, data, "application/octet-stream")
        media_id = await self.repo.create(owner_id, kind, source)
        await self.redis.xadd(self.stream, {"media_id": media_id})
        return media_id

    async def wait_status(self, media_id: str, timeout_s: float = 60) -> dict:
        async def poll():
            while True:
                row = await self.repo.get(media_id)
                if row.get("status") in ("ready", "failed"):
                    return row
                await asyncio.sleep(0.05)

        return await asyncio.wait_for(poll(), timeout_s)

    async def pending(self) -> int:
        return int((await self.redis.xpending(self.stream, "media-worker"))["pending"])

    async def settled(self, timeout_s: float = 10) -> None:
        """Every entry acknowledged (the worker acknowledges after marking, deleting and announcing)."""

        async def poll():
            while await self.pending():
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), timeout_s)


@pytest.fixture
async def world(services, s3):
    redis = connect_redis(services.urls()["redis"])
    tag = uuid.uuid4().hex[:8]
    channel = f"test-media-{tag}"
    config = ActorConfig(
        postgres_url="", mongo_url="", mongo_db="", redis_url=services.urls()["redis"], channel=channel
    )
    objects = S3Objects(s3.filesystem(), s3.bucket)
    w = World(redis, RedisRepo(redis, f"test-media:{tag}:"), objects, config, f"test-media-stream-{tag}")
    yield w
    await redis.delete(w.stream)
    await redis.aclose()


class Announcements:
    def __init__(self, redis, channel: str) -> None:
        self.pubsub = redis.pubsub()
        self.channel = channel
        self.seen: list[dict] = []

    async def __aenter__(self):
        await self.pubsub.subscribe(self.channel)
        self.task = asyncio.ensure_future(self._listen())
        return self

    async def _listen(self):
        async for msg in self.pubsub.listen():
            if msg["type"] == "message":
                self.seen.append(json.loads(msg["data"]))

    async def __aexit__(self, *exc):
        self.task.cancel()
        await self.pubsub.unsubscribe()
        await self.pubsub.aclose()

    async def wait(self, n: int, timeout_s: float = 10) -> list[dict]:
        async def poll():
            while len(self.seen) < n:
                await asyncio.sleep(0.02)
            return self.seen

        return await asyncio.wait_for(poll(), timeout_s)


def _jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (640, 480), (30, 120, 200))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_an_image_is_cleaned_thumbnailed_and_announced_once_ready(world):
    async with Announcements(world.redis, world.config.channel) as heard:
        media_id = await world.upload("image", _jpeg_with_gps(), owner_id=42)
        worker = world.worker()
        await worker.start()
        try:
            row = await world.wait_status(media_id)
            assert row["status"] == "ready"
            assert json.loads(row["width"]) == 480 and json.loads(row["height"]) == 640  # rotated
            assert len(json.loads(row["blurhash"])) == 28
            key, thumb = json.loads(row["key"]), json.loads(row["thumbnail_key"])
            assert key == derived_key(media_id, "image.jpg") and thumb == derived_key(media_id, "thumb.webp")
            cleaned = await world.objects.get(key)
            assert Image.open(io.BytesIO(cleaned)).getexif() == {} and b"Exif" not in cleaned
            assert Image.open(io.BytesIO(await world.objects.get(thumb))).format == "WEBP"
            # The upload (with its GPS) is gone; only the cleaned copy and the thumbnail remain.
            assert world.objects.keys(row["source_key"]) == []
            assert world.objects.keys(f"media/{media_id}") == sorted([key, thumb])
            events = await heard.wait(1)
            assert events[0]["event"] == "media:ready" and events[0]["room"] == "user:42"
            assert events[0]["data"] == [{"media_id": media_id, "status": "ready"}]
            await world.settled()
        finally:
            await worker.stop()


async def test_a_redelivery_is_not_processed_twice_and_a_store_failure_is_retried_on_the_same_keys(world):
    worker = world.worker()
    world.repo.fail_ready = 1  # the first mark_ready fails: the entry stays pending and is read again
    await worker.start()
    try:
        media_id = await world.upload("image", _jpeg_with_gps())
        row = await world.wait_status(media_id)
        assert row["status"] == "ready"
        await world.settled()
        stats = await worker.stats()
        assert stats["store_errors"] == 1 and stats["ready_image"] == 1
        # Processed twice (at least once), written to the same two keys both times: no second copy.
        assert world.objects.puts.count(derived_key(media_id, "image.jpg")) == 2
        assert world.objects.keys(f"media/{media_id}") == sorted(
            [derived_key(media_id, "image.jpg"), derived_key(media_id, "thumb.webp")]
        )
        before = await world.objects.get(derived_key(media_id, "image.jpg"))
        # The same media delivered again (a client calling complete twice, a replayed entry): skipped.
        puts = len(world.objects.puts)
        await world.redis.xadd(world.stream, {"media_id": media_id})
        await world.redis.xadd(world.stream, {"nothing": "here"})  # malformed: counted, skipped
        for _ in range(200):
            stats = await worker.stats()
            if stats.get("skipped") and stats.get("malformed"):
                break
            await asyncio.sleep(0.05)
        assert stats["skipped"] == 1 and stats["malformed"] == 1 and stats["ready_image"] == 1
        assert len(world.objects.puts) == puts
        assert await world.objects.get(derived_key(media_id, "image.jpg")) == before
        await world.settled()
    finally:
        await worker.stop()


async def test_bad_input_is_marked_failed_and_nothing_is_left_behind(world):
    good = _jpeg_with_gps()
    async with Announcements(world.redis, world.config.channel) as heard:
        truncated = await world.upload("image", good[: len(good) // 2], owner_id=5)
        zipped = await world.upload("image", b"PK\x03\x04" + b"\x00" * 64, owner_id=5)
        bomb = await world.upload("image", _png_bomb(), owner_id=5)
        worker = world.worker()
        await worker.start()
        try:
            for media_id, code, words in [
                (truncated, "invalid", "truncated"),
                (zipped, "invalid", "not a JPEG"),
                (bomb, "too_large", "megapixels"),
            ]:
                row = await world.wait_status(media_id)
                assert row["status"] == "failed" and row["code"] == code and words in row["message"]
                assert world.objects.keys(row["source_key"]) == []
                assert world.objects.keys(f"media/{media_id}") == []
            events = await heard.wait(3)
            by_id = {e["data"][0]["media_id"]: e["data"][0] for e in events}
            assert by_id[bomb]["status"] == "failed" and by_id[bomb]["error"]["code"] == "too_large"
            assert {e["room"] for e in events} == {"user:5"}
        finally:
            await worker.stop()


def _png_bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 99))
        + chunk(b"IEND", b"")
    )


async def test_a_video_is_transcoded_and_a_worker_restart_picks_up_what_it_had_taken(world, tmp_path):
    src = make_video(tmp_path / "clip.mp4", 1280, 720, seconds=2, fps=24)
    worker = world.worker()
    world.repo.hold = asyncio.Event()  # the worker takes the entry, then "dies" before finishing it
    await worker.start()
    media_id = await world.upload("video", src.read_bytes(), owner_id=9)
    for _ in range(200):
        if world.repo.loads:
            break
        await asyncio.sleep(0.05)
    assert world.repo.loads == 1 and await world.pending() == 1
    await worker.stop()
    world.repo.hold = None
    assert (await world.repo.get(media_id))["status"] == "uploaded" and await world.pending() == 1
    # The same consumer after its restart reads what it had taken and never acknowledged.
    restarted = world.worker()
    await restarted.start()
    try:
        row = await world.wait_status(media_id, 120)
        assert row["status"] == "ready" and json.loads(row["duration_ms"]) in range(1900, 2100)
        assert (json.loads(row["width"]), json.loads(row["height"])) == (1280, 720)
        assert world.objects.keys(f"media/{media_id}") == sorted(
            [derived_key(media_id, "poster.jpg"), derived_key(media_id, "video.mp4")]
        )
        mp4 = await world.objects.get(derived_key(media_id, "video.mp4"))
        assert mp4[4:8] == b"ftyp" and mp4.find(b"moov") < mp4.find(b"mdat")
        await world.settled()
    finally:
        await restarted.stop()


async def test_a_video_over_60_seconds_fails_with_its_reason(world, tmp_path):
    src = make_video(tmp_path / "long.mp4", 64, 48, seconds=61, fps=2, audio=False)
    worker = world.worker()
    await worker.start()
    try:
        media_id = await world.upload("video", src.read_bytes())
        row = await world.wait_status(media_id)
        assert row["status"] == "failed" and row["code"] == "too_large" and "60 s" in row["message"]
        assert world.objects.keys(row["source_key"]) == []
    finally:
        await worker.stop()
