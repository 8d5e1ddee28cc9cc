"""make deploy-check's compose check (deploy/checks/compose.py) passes the committed compose files and fails
each planted mistake, naming the file and the problem.

Each case copies deploy/compose, deploy/observability and setup.cfg into a temporary root, plants one mistake and runs
``deploy/check.py --root <tmp> --only compose`` as make deploy-check would. No container runs; each case
starts dclint under Node (a few seconds).
Nothing is skipped when dclint is missing: make test installs it first (make deploy-tools), and the check
fails without it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import deploy_check
from support.deploy_check import REPO, copy_into, plant

BASE = "deploy/compose/compose.yaml"
OVERLAY = "deploy/compose/compose.monitoring.yaml"
NGINX = "deploy/compose/nginx/nginx.conf"


def run_check(root: Path) -> tuple[int, str]:
    return deploy_check.run_check(root, "compose", timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    # Local secrets and settings are not part of the tree under test (a fresh clone has neither).
    ignore = shutil.ignore_patterns("secrets", ".env")
    copy_into(tmp_path, "deploy/compose", ignore=ignore)
    return copy_into(tmp_path, "deploy/observability", "setup.cfg")  # the overlay mounts deploy/observability


def test_the_repository_passes():
    rc, out = run_check(REPO)
    assert rc == 0, out
    assert "ok   compose" in out


def test_a_copy_without_local_secrets_passes(tree: Path):
    rc, out = run_check(tree)
    assert rc == 0, out


# (id, file, text, replacement, what the findings must say)
MISTAKES = [
    (
        "misspelled-service-field",
        BASE,
        '    restart: unless-stopped\n    healthcheck:\n      test: [ "CMD", "/mailpit", "readyz" ]',
        '    restrat: unless-stopped\n    healthcheck:\n      test: [ "CMD", "/mailpit", "readyz" ]',
        [
            f"{BASE}: compose schema: services.mailpit: 'restrat' does not match any of the regexes: '^x-'",
            f"{BASE}:1: dclint invalid-schema:",
        ],
    ),
    (
        "overlay-depends-on-unknown-service",
        OVERLAY,
        "      gateway-2:\n        condition: service_started",
        "      gateway-3:\n        condition: service_started",
        [f"{OVERLAY}: services.prometheus: depends_on names 'gateway-3', which no compose file defines"],
    ),
    (
        "misspelled-setting",
        BASE,
        'CLUBHUB_METRICS_PORT: "9464"',
        'CLUBHUB_METRIC_PORT: "9464"',
        [f"{BASE}: services.gateway-1: CLUBHUB_METRIC_PORT is not a setting of storage/settings.py"],
    ),
    (
        "undeclared-secret",
        BASE,
        "    - redis_url\n    - secret_key\n",
        "    - redis_url\n    - jwt_key\n",
        [f"{BASE}: services.gateway-1: secret 'jwt_key' is not declared under secrets"],
    ),
    (
        "missing-mounted-file",
        BASE,
        "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro",
        "./nginx/default.conf:/etc/nginx/nginx.conf:ro",
        [f"{BASE}: services.nginx: bind-mounted ./nginx/default.conf does not exist"],
    ),
    (
        "undocumented-variable",
        BASE,
        "CLUBHUB_LOG_LEVEL: ${CLUBHUB_LOG_LEVEL:-INFO}",
        "CLUBHUB_LOG_LEVEL: ${LOG_LEVEL:-INFO}",
        [f"{BASE}: ${{LOG_LEVEL}} is not documented in deploy/compose/.env.example"],
    ),
    (
        "unquoted-port",
        BASE,
        "      - '127.0.0.1:8025:8025'",
        "      - 127.0.0.1:8025:8025",
        [
            f"{BASE}:",
            "dclint require-quotes-in-ports: Ports in `ports` and `expose` sections should be enclosed",
        ],
    ),
    (
        "unknown-cli-option",
        BASE,
        'command: [ "ray-node", "--head", "--num-cpus", "0" ]',
        'command: [ "ray-node", "--haed", "--num-cpus", "0" ]',
        [
            f"{BASE}: services.ray-head: command ['ray-node', '--haed', '--num-cpus', '0']: clubhub refuses it:"
        ],
    ),
    (
        "resources-not-json",
        BASE,
        'command: [ "ray-node", "--address", "ray-head:6379" ]',
        'command: [ "ray-node", "--address", "ray-head:6379", "--resources", "clubhub_shard=1" ]',
        ["services.ray-worker: command", "--resources is not JSON"],
    ),
    (
        "upstream-not-sticky",
        NGINX,
        "        hash $remote_addr consistent;\n",
        "",
        [f"{NGINX}: the upstream is not sticky (ip_hash or hash): Socket.IO long-polling breaks"],
    ),
    (
        "no-websocket-upgrade",
        NGINX,
        "            proxy_set_header Upgrade $http_upgrade;\n",
        "",
        [f"{NGINX}: no proxy_set_header Upgrade: WebSocket upgrades fail"],
    ),
    (
        "upstream-wrong-port",
        NGINX,
        "server gateway-2:8080",
        "server gateway-2:9464",
        [f"{NGINX}: upstream server gateway-2:9464 is not that gateway's CLUBHUB_PORT"],
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_a_planted_mistake_fails(tree: Path, file: str, old: str, new: str, expected: list[str]):
    plant(tree, file, old, new)
    rc, out = run_check(tree)
    assert rc == 1, out
    assert "FAIL compose" in out
    for text in expected:
        assert text in out, out


def test_the_product_image_follows_the_version_in_setup_cfg(tree: Path):
    """A release bumps setup.cfg; compose must then run the image `make image` builds."""
    plant(tree, "setup.cfg", "version = ", "version = 9.")
    rc, out = run_check(tree)
    assert rc == 1, out
    assert "services.gateway-1: image clubholohub:${CLUBHUB_VERSION:-0.1.0} defaults to tag 0.1.0" in out
    assert "setup.cfg's version is 9.0.1.0" in out
