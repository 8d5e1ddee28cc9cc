"""One set of real services and one Ray instance per test session.

The services are the project's own embedded ones, started under a temporary data dir (or the
external ones named by ``CLUBHUB_*_URL``); nothing is mocked.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from actors import runtime
from gateway.app import create_app
from gateway.backends import BACKENDS, Backends
from storage.services import Services
from storage.settings import Settings


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("clubhub-data"), ray_num_cpus=os.cpu_count() or 2)


@pytest.fixture(scope="session")
def services(settings):
    svc = Services(settings)
    started = svc.up()
    yield svc
    svc.down(started)


@pytest.fixture(scope="session")
def ray_cluster(settings):
    started = runtime.start_ray(settings)
    yield runtime.gcs_address()
    if started:
        runtime.stop_ray()


@dataclass
class Gateway:
    url: str
    app: web.Application

    @property
    def backends(self) -> Backends:
        return self.app[BACKENDS]


@pytest.fixture(scope="session")
async def gateway(settings, services, ray_cluster):
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield Gateway(f"http://127.0.0.1:{port}", app)
    await runner.cleanup()


@pytest.fixture
async def http(gateway):
    async with aiohttp.ClientSession(base_url=gateway.url) as session:
        yield session


async def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll an async predicate until it returns a truthy value or the deadline passes."""
    import asyncio

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")
