"""The media worker's two stores over the project's own: the ``Media`` rows (PostgreSQL) and the object
store (``storage.objects``, S3). ``open_stores`` is the worker's ``StoresOpener``.

Keys: an upload's key (``Media.upload_key``) is stored whole, with the bucket's prefix if it has one; the
worker names its results ``media/<id>/<name>`` and this adapter puts them under the same prefix, so what
``mark_ready`` stores is whole too.
"""

from __future__ import annotations

import uuid
from typing import Any

from .config import ActorConfig
from .media_worker import MediaItem, ProcessedMedia


class MediaRows:
    async def load(self, media_id: str) -> MediaItem | None:
        from storage.models import Media

        try:
            key = uuid.UUID(hex=media_id)
        except ValueError:
            return None
        row = await Media.get_or_none(id=key)
        if row is None:
            return None
        kind, status = (str(getattr(v, "value", v)) for v in (row.kind, row.status))
        return MediaItem(row.id.hex, row.owner_id, kind, status, row.upload_key)

    async def mark_ready(self, media_id: str, result: ProcessedMedia) -> None:
        from storage.models import Media, MediaStatus

        await Media.filter(id=uuid.UUID(hex=media_id)).update(
            status=MediaStatus.ready,
            error=None,
            object_key=result.key,
            thumbnail_key=result.thumbnail_key,
            poster_key=result.poster_key,
            width=result.width,
            height=result.height,
            duration_ms=result.duration_ms,
            blurhash=result.blurhash,
        )

    async def mark_failed(self, media_id: str, code: str, message: str) -> None:
        from storage.models import Media, MediaStatus

        await Media.filter(id=uuid.UUID(hex=media_id)).update(status=MediaStatus.failed, error=message[:300])


class PrefixedObjects:
    """``storage.objects.ObjectStore`` as the worker asks for it (a missing object is ``FileNotFoundError``)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.prefix = (store.location.prefix or "").strip("/")

    def full(self, key: str) -> str:
        if not self.prefix or key.startswith(self.prefix + "/"):
            return key
        return str(self.store.key(key))

    async def get(self, key: str) -> bytes:
        from storage.objects import ObjectMissing

        try:
            return bytes(await self.store.get(self.full(key)))
        except ObjectMissing as exc:
            raise FileNotFoundError(key) from exc

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.store.put(self.full(key), data, content_type)

    async def delete(self, key: str) -> None:
        await self.store.delete(self.full(key))


class _Rows(MediaRows):
    """``MediaRows`` whose ready results carry whole keys."""

    def __init__(self, objects: PrefixedObjects) -> None:
        self.objects = objects

    async def mark_ready(self, media_id: str, result: ProcessedMedia) -> None:
        full = self.objects.full
        await super().mark_ready(
            media_id,
            ProcessedMedia(
                **{
                    **result.__dict__,
                    "key": full(result.key),
                    "thumbnail_key": full(result.thumbnail_key) if result.thumbnail_key else None,
                    "poster_key": full(result.poster_key) if result.poster_key else None,
                }
            ),
        )


async def open_stores(config: ActorConfig) -> tuple[_Rows, PrefixedObjects]:
    from storage.objects import ObjectStore
    from storage.postgres import init_tortoise, tortoise_config

    if not config.objects_url:
        raise RuntimeError("no object store configured (CLUBHUB_S3_URL, or the embedded one)")
    await init_tortoise(tortoise_config(config.postgres_url))
    store = await ObjectStore(config.objects_url).open()
    objects = PrefixedObjects(store)
    return _Rows(objects), objects
