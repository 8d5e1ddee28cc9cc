"""The process's connections to PostgreSQL, MongoDB, Redis and (when there is one) the object store,
opened and closed as one unit."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import redis.asyncio as aioredis
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from . import mongo, postgres
from . import redis as redis_store
from .objects import ObjectStore
from .settings import Settings
from .timing import MongoTimer, StoreTimings, listen_postgres, unlisten_postgres


@dataclass
class Stores:
    postgres_url: str
    mongo_client: AsyncMongoClient
    mongo: AsyncDatabase
    redis: aioredis.Redis
    timings: StoreTimings | None = None
    # Media's object store (urls["s3"]: CLUBHUB_S3_URL or the embedded SeaweedFS); None without one.
    objects: ObjectStore | None = None

    @classmethod
    async def open(
        cls,
        settings: Settings,
        urls: dict[str, str | None],
        *,
        postgres_db: str | None = None,
        mongo_db: str | None = None,
        timings: StoreTimings | None = None,
    ) -> Stores:
        """Connect to all three, apply migrations and indexes. ``*_db`` override the database names
        (tests use a fresh name per test where isolation matters). ``timings``: every call to the three
        is reported there (storage.timing; the gateway's ``clubhub_store_operation_seconds``)."""
        pg_url, mongo_url, redis_url = urls["postgres"], urls["mongo"], urls["redis"]
        if not (pg_url and mongo_url and redis_url):
            missing = [name for name, url in urls.items() if not url]
            raise RuntimeError(
                f"no URL for {', '.join(missing)}: run `clubhub services up` or set CLUBHUB_*_URL"
            )
        await postgres.init_postgres(pg_url, postgres_db, timed=timings is not None)
        client = mongo.connect_mongo(
            mongo_url, event_listeners=None if timings is None else [MongoTimer(timings)]
        )
        db = client[mongo_db or mongo.database_name(mongo_url, settings.mongo_db)]
        await mongo.ensure_indexes(db, settings.interactions_ttl_days * 86400)
        if timings is not None:
            listen_postgres(timings)
        objects = None
        if urls.get("s3"):
            # No request is made here: a store that does not answer shows in readiness, not as a failed start.
            objects = await ObjectStore(str(urls["s3"]), public_endpoint=settings.s3_public_endpoint).open()
        return cls(pg_url, client, db, redis_store.connect_redis(redis_url, timings), timings, objects)

    async def ping(self, timeout_s: float) -> dict[str, str]:
        """Ping each store concurrently; returns ``{name: error}`` for those that did not answer."""
        # A deadline per store, not one around the call: a slow store is reported by name, the others still are.
        checks = {
            "postgres": postgres.ping_postgres(),
            "mongo": mongo.ping_mongo(self.mongo_client),
            "redis": redis_store.ping_redis(self.redis),
        }
        if self.objects is not None:
            checks["s3"] = self.objects.ping()
        results = await asyncio.gather(
            *(asyncio.wait_for(c, timeout_s) for c in checks.values()), return_exceptions=True
        )
        return {
            name: _describe(r)
            for name, r in zip(checks, results, strict=True)
            if isinstance(r, BaseException)
        }

    async def close(self) -> None:
        if self.timings is not None:
            unlisten_postgres(self.timings)
        await postgres.close_postgres()
        await self.mongo_client.close()
        await self.redis.aclose()
        if self.objects is not None:
            await self.objects.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
