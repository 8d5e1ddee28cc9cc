"""One set of real services and one Ray instance per test session.

The services are the project's own embedded ones, started under a temporary data dir (or the
external ones named by ``CLUBHUB_*_URL``); nothing is mocked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from aiohttp import web

from storage.services import Services, free_port
from storage.settings import Settings

# Every log line of the run is audited for passwords and tokens (tests/support/secret_audit.py); failures
# are printed as they happen (tests/support/report.py).
pytest_plugins = ["support.secret_audit", "support.report"]
pytest.register_assert_rewrite("support")
from support.mail import Inbox  # noqa: E402
from support.members import Member, client_session, make_member  # noqa: E402


@pytest.fixture(scope="session")
def smtp():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


@pytest.fixture(scope="session")
def settings(tmp_path_factory, smtp) -> Settings:
    # A burst of 40 lets tests send a few dozen messages in a row; the flood test goes past it.
    return Settings(
        data_dir=tmp_path_factory.mktemp("clubhub-data"),
        ray_num_cpus=os.cpu_count() or 2,
        smtp_url=smtp.url,
        user_msg_burst=40,
        housekeeping_s=1.0,
        metrics_port=0,
        socket_connect_timeout_s=3.0,
        # Most test clients share 127.0.0.1: per-address limits are tested with addresses of their own.
        ip_event_rate=1e6,
        ip_event_burst=1e6,
        max_sockets_per_ip=1000,
        # Chromium's fake microphone beeps (mostly silence between beeps): its average level over half
        # a second is far quieter than a voice, so the speaking indicator listens for quieter sound.
        janus_talking_dbov=100,
    )


@pytest.fixture(scope="session")
def services(settings):
    svc = Services(settings)
    started = svc.up()
    yield svc
    svc.down(started)


@pytest.fixture(scope="session")
def ray_cluster(settings):
    from actors import runtime  # here, not at the top: the unit tier never imports Ray or the gateway

    started = runtime.start_ray(settings)
    yield runtime.gcs_address()
    if started:
        runtime.stop_ray()


@dataclass
class Gateway:
    url: str
    app: web.Application
    runner: web.AppRunner | None = (
        None  # to add a listener on another address (tests/integration/test_hardening.py)
    )

    @property
    def backends(self):
        from gateway.app import BACKENDS

        return self.app[BACKENDS]


@pytest.fixture(scope="session")
async def gateway(settings, services, ray_cluster):
    from gateway.app import create_app, runner_options

    app = create_app(settings)
    runner = web.AppRunner(app, **runner_options(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield Gateway(f"http://127.0.0.1:{port}", app, runner)
    await runner.cleanup()


@pytest.fixture
async def http(gateway):
    async with client_session(gateway.url) as session:
        yield session


@pytest.fixture
async def member(gateway, smtp) -> Member:
    return await make_member(gateway.url, smtp)
