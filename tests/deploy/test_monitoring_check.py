"""make deploy-check's monitoring check (deploy/checks/monitoring.py) passes the committed Prometheus config,
rules and Grafana dashboards and fails each planted mistake, naming the file and the problem.

Each case copies deploy/observability (the dashboards' generator included) and the compose file into a temporary
root, plants one mistake and runs ``deploy/check.py --root <tmp> --only monitoring`` as make deploy-check would. The metric names the check
accepts come from the gateway's registry in this checkout, so the copy needs no code.
Nothing is skipped when promtool is missing: make test installs it first (make deploy-tools), and the check
fails without it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import deploy_check
from support.deploy_check import REPO, copy_into, plant

RULES = "deploy/observability/rules/clubhub.rules.yaml"
TESTS = "deploy/observability/rules/clubhub.test.yaml"
DASHBOARD = "deploy/observability/grafana/dashboards/clubhub-gateway.json"
CHAT_DASHBOARD = "deploy/observability/grafana/dashboards/clubhub-chat.json"
GENERATOR = "deploy/observability/dashboards.py"
PROMETHEUS = "deploy/observability/prometheus.yml"


def run_check(root: Path) -> tuple[int, str]:
    return deploy_check.run_check(root, "monitoring", timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return copy_into(tmp_path, "deploy/observability", "deploy/compose/compose.yaml")


def test_the_repository_passes():
    rc, out = run_check(REPO)
    assert rc == 0, out
    assert "ok   monitoring" in out


def test_a_copy_passes(tree: Path):
    rc, out = run_check(tree)
    assert rc == 0, out


NEW_ALERT = """      - alert: ClubhubNoSockets
        expr: sum(clubhub_open_sockets) == 0
        for: 15m
        labels:
          severity: info
        annotations:
          summary: No socket is open

      - alert: ClubhubOpenSocketsNearLimit
"""

# (id, file, text, replacement, what the findings must say)
MISTAKES = [
    (
        "rule-does-not-parse",
        RULES,
        "expr: clubhub_open_sockets > 8000",
        "expr: clubhub_open_sockets > > 8000",
        [
            f"promtool check rules {RULES} failed:",
            f"{RULES}: rule ClubhubOpenSocketsNearLimit: PromQL does not parse",
        ],
    ),
    (
        "rule-names-unexported-metric",
        RULES,
        "expr: clubhub_open_sockets > 8000",
        "expr: clubhub_open_socket > 8000",
        [
            f"{RULES}: rule ClubhubOpenSocketsNearLimit: clubhub_open_socket is not a metric the gateway exports"
        ],
    ),
    (
        "rule-misses-its-unit-test",
        RULES,
        "expr: clubhub_open_sockets > 8000",
        "expr: clubhub_open_sockets > 12000",
        [f"promtool test rules {TESTS} failed:", "alertname: ClubhubOpenSocketsNearLimit, time: 12m"],
    ),
    (
        "alert-without-a-test",
        RULES,
        "      - alert: ClubhubOpenSocketsNearLimit\n",
        NEW_ALERT,
        [f"{RULES}: alert ClubhubNoSockets has no promtool unit test"],
    ),
    (
        "panel-names-unexported-metric",
        CHAT_DASHBOARD,
        "rate(clubhub_slow_consumers_total{",
        "rate(clubhub_slow_consumer_total{",
        [
            f"{CHAT_DASHBOARD}: panel 'Slow consumers dropped /s' query A: "
            "clubhub_slow_consumer_total is not a metric the gateway exports",
            # Edited by hand, so no longer what the generator writes either.
            f"{CHAT_DASHBOARD}: not what {GENERATOR} writes (run it)",
        ],
    ),
    (
        "panel-uses-a-label-the-metric-lacks",
        DASHBOARD,
        'clubhub_http_requests_total{status=~\\"5..\\"',
        'clubhub_http_requests_total{code=~\\"5..\\"',
        [f"{DASHBOARD}: panel '5xx ratio' query A: clubhub_http_requests_total has no label 'code'"],
    ),
    (
        "panel-does-not-parse",
        CHAT_DASHBOARD,
        "sum by (instance) (rate(clubhub_slow_consumers_total{",
        "sum by (instance) rate(clubhub_slow_consumers_total{",
        [f"{CHAT_DASHBOARD}: panel 'Slow consumers dropped /s' query A: PromQL does not parse"],
    ),
    (
        "generator-changed-and-dashboards-not-written",
        GENERATOR,
        '"Slow consumers dropped /s"',
        '"Slow sockets dropped /s"',
        [f"{CHAT_DASHBOARD}: not what {GENERATOR} writes (run it)"],
    ),
    (
        "variable-datasource-not-provisioned",
        DASHBOARD,
        '"uid": "prometheus"',
        '"uid": "prom"',
        [f"{DASHBOARD}: variable 'instance': datasource 'prom' is not provisioned"],
    ),
    (
        "panel-datasource-not-provisioned",
        DASHBOARD,
        '"title": "Gateways up",\n      "description": "Gateways Prometheus can scrape (compose runs two).",\n'
        '      "datasource": {\n        "type": "prometheus",\n        "uid": "prometheus"',
        '"title": "Gateways up",\n      "description": "Gateways Prometheus can scrape (compose runs two).",\n'
        '      "datasource": {\n        "type": "prometheus",\n        "uid": "prom"',
        [f"{DASHBOARD}: panel 'Gateways up': datasource 'prom' is not provisioned"],
    ),
    (
        "variable-names-unexported-metric",
        DASHBOARD,
        '"query": "label_values(clubhub_open_sockets, instance)"',
        '"query": "label_values(clubhub_sockets, instance)"',
        [f"{DASHBOARD}: variable 'instance': clubhub_sockets is not a metric the gateway exports"],
    ),
    (
        "scrape-target-wrong-port",
        PROMETHEUS,
        "- gateway-2:9464",
        "- gateway-2:8080",
        [f"{PROMETHEUS}: target gateway-2:8080: gateway-2's CLUBHUB_METRICS_PORT is 9464"],
    ),
    (
        "config-does-not-load",
        PROMETHEUS,
        "  scrape_interval: 15s",
        "  scrape_interval: 15 seconds",
        [f"promtool check config {PROMETHEUS} failed:", "not a valid duration string"],
    ),
]


def test_a_rule_file_prometheus_does_not_load_fails(tree: Path):
    rules = tree / "deploy/observability/rules"
    (rules / "clubhub.rules.yaml").rename(rules / "clubhub.yaml")
    plant(tree, TESTS, "  - clubhub.rules.yaml", "  - clubhub.yaml")
    rc, out = run_check(tree)
    assert rc == 1, out
    assert (
        "deploy/observability/rules/clubhub.yaml: not loaded by Prometheus (prometheus.yml rule_files:" in out
    )


def test_a_dashboard_the_generator_does_not_write_fails(tree: Path):
    extra = tree / "deploy/observability/grafana/dashboards/by-hand.json"
    extra.write_text((tree / DASHBOARD).read_text())
    rc, out = run_check(tree)
    assert rc == 1, out
    assert (
        f"deploy/observability/grafana/dashboards/by-hand.json: not written by {GENERATOR} (add it there)"
        in out
    )


def test_a_generated_panel_naming_an_unexported_metric_fails(tree: Path):
    """The generator run after a typo in it: the dashboards are what it writes, and the typo is found."""
    plant(tree, GENERATOR, '"clubhub_slow_consumers_total"', '"clubhub_slow_consumer_total"')
    subprocess.run([sys.executable, str(tree / GENERATOR)], check=True, capture_output=True, timeout=60)
    rc, out = run_check(tree)
    assert rc == 1, out
    assert (
        f"{CHAT_DASHBOARD}: panel 'Slow consumers dropped /s' query A: "
        "clubhub_slow_consumer_total is not a metric the gateway exports"
    ) in out
    assert "writes (run it)" not in out, out


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_a_planted_mistake_fails(tree: Path, file: str, old: str, new: str, expected: list[str]):
    plant(tree, file, old, new)
    rc, out = run_check(tree)
    assert rc == 1, out
    assert "FAIL monitoring" in out
    for text in expected:
        assert text in out, out
