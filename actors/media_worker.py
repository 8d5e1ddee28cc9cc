"""``MediaWorker``: a Ray actor that processes uploaded media off the request path.

``POST /media/{id}/complete`` puts ``{"media_id": "<id>"}`` on the media stream; the worker reads it in a
consumer group (``storage.streams.consume``: at least once, what it took and never acknowledged is read again
after its own restart or a failure) and, per media:

1. loads the media (``MediaRepo.load``); one already ``ready`` or ``failed`` is not processed again (a
   redelivery): its announcement is repeated and its upload deleted again (both idempotent);
2. reads the upload (``ObjectStore.get(item.source_key)``) and processes it in a thread
   (``actors.media_processing``: metadata stripped, thumbnail and blurhash; or a 720p H.264/AAC MP4 with a
   poster), bounded in bytes, pixels, duration and time;
3. writes the results under keys that depend only on the media id (``derived_key``), so a redelivery
   overwrites the same objects and never leaves a second copy;
4. marks the media ready (``MediaRepo.mark_ready``) with the keys, size, blurhash and duration, deletes the
   upload (it still holds the metadata; only the cleaned copy is served), and announces
   ``media:ready {media_id, status: "ready"}`` to the uploader's sockets (``user:<id>``, every gateway);
5. input the processing refuses (``MediaRejected``: undecodable, truncated, a decompression bomb, over 60 s,
   a missing upload) is marked failed with the refusal's code and words, the upload and anything written for
   it are deleted, and ``media:ready {media_id, status: "failed", error: {code, message}}`` is announced.

A store that fails (S3, the database, Redis) raises: the entry stays pending and is read again after a pause
that doubles up to ``BACKOFF_MAX_S``. Only the entry is acknowledged after all of the above returned.

The worker knows nothing of the ``Media`` model or the S3 client: it is given a ``StoresOpener`` (a
callable, or its ``"module:function"`` path, called once inside the actor with the ``ActorConfig``) that
returns a ``MediaRepo`` and an ``ObjectStore`` — the two protocols below.

Wiring (``actors/client.py``), like the notifier, with a CPU of its own since transcoding is CPU work::

    self.media_worker = MediaWorker.options(name="clubhub-media-worker", **shard_options, num_cpus=1)
        .remote(config, stream=keys.MEDIA_STREAM, group=keys.MEDIA_GROUP, open_stores="storage.media:open_stores")
    # and self.media_worker.start.remote() next to the notifier's in start() and _start_loops()

Several workers may share the group (``consumer=`` names them, each stable across its restarts); an entry
left pending by a worker that is gone for good is claimed by another after ``CLAIM_IDLE_MS``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import ray

from .config import ActorConfig
from .fanout import Fanout, user_target
from .hosting import OpenOnce, TaskSet

log = logging.getLogger(__name__)

GROUP = "media-worker"
CONSUMER = "media-worker-0"  # one named actor: its identity survives its restarts
READ_COUNT = 4  # media per read: each is seconds of CPU, so reads stay small
BLOCK_MS = 1000
CLAIM_IDLE_MS = 10 * 60_000  # an entry another worker left pending this long is taken over
BACKOFF_S = 0.5
BACKOFF_MAX_S = 30.0
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # the contract's upload limits, checked again on what was stored
MAX_VIDEO_BYTES = 100 * 1024 * 1024
FINAL = frozenset({"ready", "failed"})
EVENT = "media:ready"


# -- what the worker needs from the model and the object store ------------------------------------------


@dataclass(frozen=True)
class MediaItem:
    """One uploaded media as the repository knows it."""

    id: str
    owner_id: int  # the uploader: media:ready goes to their sockets
    kind: str  # "image" | "video"
    status: str  # anything but "ready"/"failed" is processed; those two are final
    source_key: str  # the object the client uploaded (presigned PUT)


@dataclass(frozen=True)
class ProcessedMedia:
    """What ``mark_ready`` stores: the keys of what may now be served, and what ``GET /media/{id}`` says."""

    kind: str
    key: str  # the cleaned image or the transcoded MP4
    content_type: str
    size: int
    width: int
    height: int
    blurhash: str
    thumbnail_key: str | None = None  # images (WebP)
    poster_key: str | None = None  # videos (JPEG)
    duration_ms: int | None = None  # videos
    animated: bool = False


class MediaRepo(Protocol):
    async def load(self, media_id: str) -> MediaItem | None:
        """The media, or None when there is no such media (deleted since)."""
        ...

    async def mark_ready(self, media_id: str, result: ProcessedMedia) -> None:
        """Store the result and set the status to ready (idempotent: the same result may come twice)."""
        ...

    async def mark_failed(self, media_id: str, code: str, message: str) -> None:
        """Set the status to failed with the refusal's code and words (idempotent)."""
        ...


class ObjectStore(Protocol):
    async def get(self, key: str) -> bytes:
        """The object's bytes; raises ``FileNotFoundError`` (or ``KeyError``) when there is none."""
        ...

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def delete(self, key: str) -> None:
        """Remove the object; no error when there is none."""
        ...


StoresOpener = Callable[[ActorConfig], Awaitable[tuple[MediaRepo, ObjectStore]]]


def derived_key(media_id: str, name: str) -> str:
    """Where a result of ``media_id`` goes: one key per media and result, whatever the delivery."""
    return f"media/{media_id}/{name}"


def derived_keys(media_id: str) -> list[str]:
    """Every key the worker may write for a media (deleted when it fails)."""
    names = ["poster.jpg", "thumb.webp", "video.mp4"] + [f"image.{e}" for e in ("jpg", "png", "webp", "gif")]
    return [derived_key(media_id, n) for n in names]


def ready_event(media_id: str, status: str, code: str | None = None, message: str | None = None) -> dict:
    """The ``media:ready`` payload of the contract."""
    data: dict[str, Any] = {"media_id": media_id, "status": status}
    if status == "failed":
        data["error"] = {"code": code or "invalid", "message": message or "the media cannot be processed"}
    return data


def _resolve(opener: StoresOpener | str) -> StoresOpener:
    if callable(opener):
        return opener
    module, _, name = opener.partition(":")
    fn: StoresOpener = getattr(importlib.import_module(module), name)
    return fn


class MediaWorkerHost:
    def __init__(
        self,
        config: ActorConfig | Mapping[str, Any],
        *,
        stream: str,
        open_stores: StoresOpener | str,
        group: str = GROUP,
        consumer: str = CONSUMER,
        keep_source: bool = False,
        video_deadline_s: float | None = None,
    ) -> None:
        self.config = ActorConfig.of(config)
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.keep_source = keep_source
        self.video_deadline_s = video_deadline_s
        self._open_stores = open_stores
        self.started = time.time()
        self.tasks = TaskSet()
        self.counters: Counter[str] = Counter()
        self.seconds: dict[str, float] = {}  # processing time by kind
        self._opened = OpenOnce(self._open)
        self._started = OpenOnce(self._start)
        self._failures = 0

    async def start(self) -> str:
        """Idempotent: concurrent callers (every gateway at start-up and on each heartbeat) start one loop."""
        await self._started()
        return "running"

    async def _start(self) -> None:
        await self._opened()
        self.tasks.spawn(self._run())

    async def _open(self) -> None:
        from storage.redis import connect_redis
        from storage.streams import ensure_group

        # Work files of this consumer's previous life (killed mid-transcode) are removed: nothing stays.
        self.work_root = Path(tempfile.gettempdir()) / f"clubhub-media-{self.consumer}"
        await asyncio.to_thread(shutil.rmtree, self.work_root, True)
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.repo, self.objects = await _resolve(self._open_stores)(self.config)
        self.redis = connect_redis(self.config.redis_url)
        self.fanout = Fanout(self.redis, self.config.channel, "media-worker")
        # "0": media completed before the group existed are processed too.
        await ensure_group(self.redis, self.stream, self.group, "0")

    async def _run(self) -> None:
        from storage.streams import consume

        await consume(
            self.redis,
            self.stream,
            self.group,
            self.consumer,
            self.handle,
            count=READ_COUNT,
            block_ms=BLOCK_MS,
            claim_idle_ms=CLAIM_IDLE_MS,
        )

    async def stop(self) -> None:
        """The loop stopped (a test's stand-in for the actor's death); pending entries stay pending."""
        await self.tasks.close()
        if self._opened.opened:
            await self.redis.aclose()
            await asyncio.to_thread(shutil.rmtree, self.work_root, True)

    # -- one read ------------------------------------------------------------------------------
    async def handle(self, entries: Sequence[tuple[bytes, Mapping[bytes, bytes]]]) -> None:
        """Each entry's media processed in turn. A store failure raises (after a pause that grows with
        consecutive failures): the read stays pending and is read again; what was done is redone alike."""
        for _, raw in entries:
            media_id = (raw.get(b"media_id") or b"").decode(errors="replace").strip()
            if not media_id:
                self.counters["malformed"] += 1  # read again it would fail again: counted, logged, skipped
                log.warning("media entry without a media_id skipped: %r", dict(raw))
                continue
            try:
                await self.process(media_id)
            except Exception:
                self._failures += 1
                self.counters["store_errors"] += 1
                pause = min(BACKOFF_MAX_S, BACKOFF_S * 2 ** min(self._failures - 1, 10))
                log.warning(
                    "processing media %s failed; read again in %.1f s", media_id, pause, exc_info=True
                )
                await asyncio.sleep(pause)
                raise
            self._failures = 0

    async def process(self, media_id: str) -> str:
        """One media, start to end; returns what happened: ``ready``, ``failed``, ``skipped``, ``missing``."""
        await self._opened()
        item = await self.repo.load(media_id)
        if item is None:
            self.counters["missing"] += 1
            return "missing"
        if item.status in FINAL:
            # Processed already (a redelivery): not again. The announcement and the upload's removal may
            # not have happened before a crash, and both are harmless twice.
            self.counters["skipped"] += 1
            if item.status == "failed":
                for key in derived_keys(media_id):
                    await self.objects.delete(key)
            if item.status == "failed" or not self.keep_source:
                await self.objects.delete(item.source_key)
            await self._announce(item, ready_event(media_id, item.status))
            return "skipped"
        from .media_processing import MediaRejected

        started = time.perf_counter()
        try:
            result = await self._process(item)
        except MediaRejected as exc:
            await self._fail(item, exc.code, exc.message)
            return "failed"
        finally:
            self.seconds[item.kind] = self.seconds.get(item.kind, 0.0) + time.perf_counter() - started
        await self.repo.mark_ready(media_id, result)
        if not self.keep_source:
            await self.objects.delete(item.source_key)
        await self._announce(item, ready_event(media_id, "ready"))
        self.counters[f"ready_{item.kind}"] += 1
        return "ready"

    async def _process(self, item: MediaItem) -> ProcessedMedia:
        from .media_processing import MediaRejected

        if item.kind not in ("image", "video"):
            raise MediaRejected("invalid", f"unknown media kind {item.kind!r}")
        try:
            data = await self.objects.get(item.source_key)
        except (FileNotFoundError, KeyError) as exc:
            raise MediaRejected("invalid", "the upload is missing") from exc
        limit = MAX_IMAGE_BYTES if item.kind == "image" else MAX_VIDEO_BYTES
        if len(data) > limit:
            raise MediaRejected("too_large", f"the {item.kind} is over {limit // (1024 * 1024)} MB")
        if item.kind == "image":
            return await self._image(item, data)
        return await self._video(item, data)

    async def _image(self, item: MediaItem, data: bytes) -> ProcessedMedia:
        from .media_processing import MediaRejected, process_image

        try:
            img = await asyncio.to_thread(process_image, data)
        except MediaRejected:
            raise
        except Exception as exc:  # a decoder bug must not loop forever on one upload
            log.exception("image %s could not be processed", item.id)
            raise MediaRejected("invalid", "the image cannot be processed") from exc
        key = derived_key(item.id, f"image.{img.ext}")
        thumb = derived_key(item.id, "thumb.webp")
        await self.objects.put(key, img.data, img.content_type)
        await self.objects.put(thumb, img.thumbnail, img.thumbnail_content_type)
        return ProcessedMedia(
            kind="image",
            key=key,
            content_type=img.content_type,
            size=len(img.data),
            width=img.width,
            height=img.height,
            blurhash=img.blurhash,
            thumbnail_key=thumb,
            animated=img.animated,
        )

    async def _video(self, item: MediaItem, data: bytes) -> ProcessedMedia:
        from .media_processing import DEADLINE_S, MediaRejected, process_video

        work = Path(tempfile.mkdtemp(prefix="job-", dir=self.work_root))
        try:
            src, dst = work / "source", work / "video.mp4"
            await asyncio.to_thread(src.write_bytes, data)
            del data
            deadline = self.video_deadline_s or DEADLINE_S
            try:
                video = await asyncio.to_thread(process_video, src, dst, deadline_s=deadline)
            except MediaRejected:
                raise
            except Exception as exc:
                log.exception("video %s could not be processed", item.id)
                raise MediaRejected("invalid", "the video cannot be processed") from exc
            out = await asyncio.to_thread(dst.read_bytes)
            key, poster = derived_key(item.id, "video.mp4"), derived_key(item.id, "poster.jpg")
            await self.objects.put(key, out, video.content_type)
            await self.objects.put(poster, video.poster, video.poster_content_type)
            return ProcessedMedia(
                kind="video",
                key=key,
                content_type=video.content_type,
                size=len(out),
                width=video.width,
                height=video.height,
                blurhash=video.blurhash,
                poster_key=poster,
                duration_ms=video.duration_ms,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)

    async def _fail(self, item: MediaItem, code: str, message: str) -> None:
        """Refused: nothing of it is kept (the upload, anything written for it), the uploader is told.
        Marked first: a crash after that finds it failed, and the redelivery deletes what is left."""
        await self.repo.mark_failed(item.id, code, message)
        for key in derived_keys(item.id):
            await self.objects.delete(key)
        await self.objects.delete(item.source_key)
        await self._announce(item, ready_event(item.id, "failed", code, message))
        self.counters["failed"] += 1
        log.info("media %s refused: %s (%s)", item.id, message, code)

    async def _announce(self, item: MediaItem, data: dict) -> None:
        await self.fanout.emit(EVENT, data, user_target(item.owner_id))

    # -- operations --------------------------------------------------------------------------
    async def stats(self) -> dict:
        return {
            "started": self.started,
            **self.counters,
            **{f"seconds_{kind}": round(s, 3) for kind, s in self.seconds.items()},
        }

    async def ping(self) -> str:
        return "pong"


def result_fields(result: ProcessedMedia) -> dict[str, Any]:
    """``ProcessedMedia`` as plain fields (for a repository that stores a row or a document)."""
    return asdict(result)


# Typed as Any: Ray's stubs type a handle's methods as the plain methods, without ``.remote``.
MediaWorker: Any = ray.remote(MediaWorkerHost)
