"""What a gateway stands on: the backing services (started here when embedded and not yet up),
Ray, and the store connections. Started in order, stopped in reverse, and only what this process
started is stopped."""

from __future__ import annotations

import asyncio
import logging
import time

from actors import runtime
from storage.services import Services, ping_janus
from storage.settings import Settings
from storage.stores import Stores
from storage.timing import StoreTimings

log = logging.getLogger(__name__)


class Backends:
    def __init__(
        self, settings: Settings, *, postgres_db: str | None = None, mongo_db: str | None = None
    ) -> None:
        self.settings = settings
        self.services = Services(settings)
        self.postgres_db = postgres_db
        self.mongo_db = mongo_db
        self.started_services: list[str] = []
        self.started_ray = False
        self.stores: Stores | None = None
        # Set before start to have every store call timed (the app's clubhub_store_operation_seconds).
        self.timings: StoreTimings | None = None
        self._probe = None
        # The media server's WebSocket API once the services run; None: live sessions have no audio.
        self.janus_url: str | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.started_services = await loop.run_in_executor(None, self.services.up)
            self.janus_url = self.services.urls().get("janus") if self._media_server() else None
            # ray.init registers signal handlers and expects the main thread: run it inline.
            self.started_ray = runtime.start_ray(self.settings)
            self._probe = runtime.health_probe()
            self.stores = await Stores.open(
                self.settings,
                self.services.urls(),
                postgres_db=self.postgres_db,
                mongo_db=self.mongo_db,
                timings=self.timings,
            )
        except BaseException:
            await self.stop()
            raise

    async def readiness(self) -> dict[str, str]:
        """``{service: "ok" | reason}`` for postgres, mongo, redis, s3 (when media has an object store),
        janus (when live sessions have a media server) and ray, checked concurrently."""
        timeout = self.settings.ready_timeout_s
        if self.stores is None:
            names = ("postgres", "mongo", "redis", *self._object_store(), *self._media_server(), "ray")
            return {name: "not started" for name in names}
        stores_check = self.stores.ping(timeout)
        ray_check = asyncio.wait_for(runtime.ping_ray(self._probe), timeout)
        janus_check = self._ping_janus(timeout)
        failures, ray_result, janus = await asyncio.gather(
            stores_check, ray_check, janus_check, return_exceptions=True
        )
        names = ("postgres", "mongo", "redis", *(("s3",) if self.stores.objects is not None else ()))
        report = {name: failures.get(name, "ok") for name in names}
        if janus is not None:
            report["janus"] = (
                janus if isinstance(janus, str) else f"{type(janus).__name__}: {str(janus)[:200]}"
            )
        if isinstance(ray_result, BaseException):
            report["ray"] = (
                "timed out"
                if isinstance(ray_result, TimeoutError)
                else f"{type(ray_result).__name__}: {str(ray_result)[:200]}"
            )
        else:
            report["ray"] = "ok"
        return report

    def _object_store(self) -> tuple[str, ...]:
        return ("s3",) if "s3" in self.services.names else ()

    def _media_server(self) -> tuple[str, ...]:
        return ("janus",) if "janus" in self.services.names else ()

    async def _ping_janus(self, seconds: float) -> str | None:
        """'ok' or why not; None without a media server (a blocking client: in a thread, bounded)."""
        url = self.janus_url
        if url is None:
            return None
        try:
            await asyncio.wait_for(asyncio.to_thread(ping_janus, url, seconds), seconds + 0.5)
        except TimeoutError:
            return "timed out"
        except Exception as exc:
            return " ".join(str(exc).split())[:200]
        return "ok"

    async def model_status(self) -> dict | None:
        """The feed model's versions (``registry.status``), or None when the registry does not answer."""
        from ranking import registry

        if self.stores is None:
            return None
        try:
            st = await asyncio.wait_for(registry.status(self.stores.mongo), self.settings.ready_timeout_s)
        except Exception:
            return None
        return {**st, "stale": st["waiting_s"] > self.settings.model_stale_s}

    async def stop(self) -> None:
        if self.stores is not None:
            began = time.monotonic()
            try:
                await self.stores.close()
                log.info("closed stores", extra={"seconds": round(time.monotonic() - began, 2)})
            except Exception:
                log.exception("closing stores failed")
            self.stores = None
        if self.started_ray:
            began = time.monotonic()
            runtime.stop_ray()
            self.started_ray = False
            log.info("stopped local ray", extra={"seconds": round(time.monotonic() - began, 2)})
        if self.started_services:
            began = time.monotonic()
            loop = asyncio.get_running_loop()
            stopped = await loop.run_in_executor(None, self.services.down, self.started_services)
            log.info(
                "stopped embedded services",
                extra={"services": stopped, "seconds": round(time.monotonic() - began, 2)},
            )
            self.started_services = []
