"""The deployment roles of the ``clubhub`` command (gateway, ray-node, demo, mailbox) and the drain's
/readyz, without services or Ray: what each refuses and the ``ray start`` line a node runs."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import gateway.cli as cli
from gateway.cli import container, node
from gateway.http import health
from gateway.http.keys import BACKENDS
from storage.settings import Settings

EXTERNAL = {
    "CLUBHUB_POSTGRES_URL": "postgres://u:p@db:5432/clubhub",
    "CLUBHUB_MONGO_URL": "mongodb://mongo:27017/clubhub",
    "CLUBHUB_REDIS_URL": "redis://redis:6379/0",
    "CLUBHUB_RAY_ADDRESS": "ray://ray-head:10001",
}


@pytest.fixture
def clean_env(monkeypatch):
    for variable in (
        *EXTERNAL,
        "CLUBHUB_ENV",
        "CLUBHUB_HOST",
        "CLUBHUB_DEV_CONTAINER",
        "KUBERNETES_SERVICE_HOST",
    ):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


@pytest.mark.parametrize("unset", sorted(EXTERNAL))
def test_gateway_refuses_without_each_external_service(clean_env, capsys, unset):
    for variable, value in EXTERNAL.items():
        if variable != unset:
            clean_env.setenv(variable, value)
    served = []
    clean_env.setattr(cli, "run_gateway", served.append)
    assert cli.main(["gateway"]) == 2
    assert unset in capsys.readouterr().err
    assert served == []


def test_gateway_serves_with_every_external_service(clean_env):
    for variable, value in EXTERNAL.items():
        clean_env.setenv(variable, value)
    served: list[Settings] = []
    clean_env.setattr(cli, "run_gateway", lambda s: served.append(s) or 0)
    assert cli.main(["gateway", "--host", "0.0.0.0", "--port", "8081"]) == 0
    assert (served[0].host, served[0].port, served[0].ray_address) == (
        "0.0.0.0",
        8081,
        "ray://ray-head:10001",
    )


def test_dev_refuses_a_public_bind_without_the_container_opt_in(clean_env):
    assert "serves only on loopback" in cli.check_environment(Settings(host="0.0.0.0"))


def test_the_container_opt_in_is_refused_outside_a_container(clean_env):
    clean_env.setattr(container, "CONTAINER_MARKERS", ())
    clean_env.delenv("container", raising=False)
    problem = cli.check_environment(Settings(host="0.0.0.0", dev_container=True))
    assert "not a container" in problem


def test_the_container_opt_in_holds_in_a_container_but_not_in_kubernetes(clean_env, tmp_path):
    marker = tmp_path / ".dockerenv"
    marker.touch()
    clean_env.setattr(container, "CONTAINER_MARKERS", (marker,))
    assert cli.check_environment(Settings(host="0.0.0.0", dev_container=True)) is None
    clean_env.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert "Kubernetes" in cli.check_environment(Settings(host="0.0.0.0", dev_container=True))


def test_demo_is_dev_on_the_container_interfaces(clean_env):
    settings = container.demo_settings(Settings(), None, 8080)
    assert (settings.env, settings.host, settings.dev_container) == ("dev", "0.0.0.0", True)
    assert settings.public_url == "http://127.0.0.1:8080"


def test_demo_refuses_prod(clean_env, capsys):
    clean_env.setenv("CLUBHUB_ENV", "prod")
    assert cli.main(["demo"]) == 2
    assert "dev mode" in capsys.readouterr().err


def test_mailbox_refuses_outside_dev(clean_env, capsys):
    clean_env.setenv("CLUBHUB_ENV", "prod")
    assert cli.main(["mailbox", "someone@example.org"]) == 2
    assert "CLUBHUB_ENV=dev" in capsys.readouterr().err


def test_ray_start_line_of_a_worker():
    argv = node.ray_start_argv(
        Settings(ray_object_store_mb=512),
        head=False,
        address="ray-head:6379",
        resources=node.parse_resources('{"clubhub_shard": 1}'),
        num_cpus=4,
        extra=["--labels=zone=a"],
    )
    assert argv == [
        "ray",
        "start",
        "--block",
        "--disable-usage-stats",
        "--address=ray-head:6379",
        "--num-cpus=4",
        f"--object-store-memory={512 * 1024 * 1024}",
        '--resources={"clubhub_shard": 1}',
        "--labels=zone=a",
    ]


def test_ray_start_line_of_a_head_that_schedules_nothing():
    argv = node.ray_start_argv(Settings(), head=True, address=None, resources={}, num_cpus=0, extra=[])
    assert "--head" in argv and "--num-cpus=0" in argv
    assert not [a for a in argv if a.startswith(("--address", "--resources"))]


@pytest.mark.parametrize("text", ["[1]", '{"a": "x"}', '{"a": -1}', "{nope", '{"a": true}'])
def test_resources_must_be_a_json_object_of_amounts(text):
    with pytest.raises(node.NodeError):
        node.parse_resources(text)


def test_a_worker_needs_the_cluster_token(clean_env, tmp_path):
    for variable in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        clean_env.delenv(variable, raising=False)
    with pytest.raises(node.NodeError, match="RAY_AUTH_TOKEN"):
        node.token_environment(Settings(data_dir=tmp_path), head=False)


# A stand-in for `ray start --block`: says it is up, and like Ray exits 1 on SIGTERM (or ``code`` by itself).
FAKE_RAY = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(1)); "
    "print('up', flush=True); time.sleep(float(sys.argv[1])); sys.exit(int(sys.argv[2]))"
)


def run_node_process(seconds: float, code: int) -> subprocess.Popen:
    wrapper = "import sys; from gateway.cli.node import run_node; sys.exit(run_node(sys.argv[1:]))"
    argv = [sys.executable, "-c", wrapper, sys.executable, "-c", FAKE_RAY, str(seconds), str(code)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def test_a_sigterm_forwarded_to_ray_is_a_clean_exit():
    proc = run_node_process(30, 0)
    assert proc.stdout.readline().strip() == "up"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_ray_failing_by_itself_is_reported():
    proc = run_node_process(0, 3)
    assert proc.wait(timeout=10) == 3


class ReadyBackends:
    async def readiness(self) -> dict[str, str]:
        return {"postgres": "ok", "mongo": "ok", "redis": "ok", "ray": "ok"}

    async def model_status(self) -> dict | None:
        return None  # no model registry answered: /readyz says nothing of the model


async def test_readyz_answers_503_while_draining_and_healthz_stays_up():
    app = web.Application()
    app[BACKENDS] = ReadyBackends()
    drain = app[health.DRAIN] = health.Drain()
    health.api.register(app, authenticate=None)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz")).status == 200
        drain.start()
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert (await resp.json())["error"]["code"] == "unavailable"
        assert (await client.get("/healthz")).status == 200
