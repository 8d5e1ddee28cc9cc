"""Dev mode inside a container: ``clubhub demo`` and ``clubhub mailbox``.

``CLUBHUB_ENV=dev`` keeps its promise — nothing another machine can reach — by serving on loopback only. In a
container the gateway must bind the container's own interface for a published port to reach it, so ``demo``
opts in explicitly (``CLUBHUB_DEV_CONTAINER``), and only where the container's network is private to its
host: inside a container (the ``container`` variable of podman, ``/.dockerenv`` of Docker) and never in a
Kubernetes pod. Who can reach it then depends on how the port is published: ``-p 127.0.0.1:8080:8080`` keeps
it on the host; the gateway says so loudly at start.

The dev mailbox route stays loopback-only (``GET /api/v1/dev/mailbox``, loopback = the container itself):
the verification links are read inside the container with ``podman exec <container> clubhub mailbox EMAIL``,
so nothing in the container treats a remote address as local.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from storage.settings import Settings

CONTAINER_MARKERS = (Path("/run/.containerenv"), Path("/.dockerenv"))


def container_problem() -> str | None:
    """Why dev mode must not bind a non-loopback address here, or None inside a plain container."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "this is a Kubernetes pod, whose address the whole cluster reaches (run `clubhub gateway` with CLUBHUB_ENV=prod)"
    # The `container` variable is systemd's convention, set by podman (also where a read-only root's /run
    # tmpfs hides /run/.containerenv), LXC and nspawn; Docker leaves /.dockerenv instead.
    if not os.environ.get("container") and not any(m.exists() for m in CONTAINER_MARKERS):  # noqa: SIM112
        return "this is not a container (no `container` variable, /run/.containerenv or /.dockerenv)"
    return None


def demo_settings(settings: Settings, host: str | None, port: int | None) -> Settings:
    """The dev gateway of the image's demo: every interface of the container, links to the host's loopback."""
    port = port if port is not None else settings.port
    return settings.model_copy(
        update={
            "env": "dev",
            "dev_container": True,
            # The container's own interfaces, reached only through the ports its host publishes.
            "host": host or "0.0.0.0",  # nosec B104
            "port": port,
            "public_url": settings.public_url or f"http://127.0.0.1:{port}",
        }
    )


def mailbox_problem(settings: Settings) -> str | None:
    if settings.env != "dev" or settings.smtp_url:
        return "the dev mailbox exists only with CLUBHUB_ENV=dev and no CLUBHUB_SMTP_URL"
    return None


def read_mailbox(settings: Settings, email: str) -> list[dict]:
    """The dev mailbox of ``email``, newest first, read from the Redis the gateway stores it in."""
    import redis.asyncio as aioredis

    from gateway.core.mail import Mailer
    from storage.services import Services

    url = Services(settings).urls()["redis"]
    if not url:
        raise RuntimeError("redis is not running (start the gateway first)")

    async def read() -> list[dict]:
        client = aioredis.from_url(url)
        try:
            return await Mailer(settings, client).dev_mailbox(email)
        finally:
            await client.aclose()

    return asyncio.run(read())
