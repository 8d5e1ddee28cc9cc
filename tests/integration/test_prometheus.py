"""A real Prometheus — Debian's ``prometheus`` package, which ``make deploy-tools`` installs with promtool —
scraping the test gateway with the shipped configuration and rules (deploy/observability), changed only in
its addresses and intervals. After a little chat traffic its HTTP API answers a non-zero message rate and
an ack-latency quantile, the shipped recording rules give the same figures, every shipped rule evaluates
and every dashboard query runs without an error; and every series the rules and the dashboards name is one
this running gateway serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import math
import re
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest
import yaml
from support.chat import ChatClient, make_club_room
from support.deploy_check import REPO
from support.members import make_member
from support.processes import terminate

from storage.services import free_port

MONITORING = REPO / "deploy" / "observability"
GATEWAY_JOB = "clubhub-gateway"
# Scrapes and rule evaluations every second: the test waits seconds, not the shipped 15 s intervals.
INTERVAL = "1s"


def load_check():
    """deploy/checks/monitoring.py (not a package: loaded from its file, as deploy/check.py does)."""
    spec = importlib.util.spec_from_file_location("monitoring_check", REPO / "deploy/checks/monitoring.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prometheus_config(gateway_target: str, self_target: str) -> dict:
    """The shipped prometheus.yml with loopback targets, absolute rule paths and one-second intervals."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"].update(scrape_interval=INTERVAL, scrape_timeout=INTERVAL, evaluation_interval=INTERVAL)
    config["rule_files"] = [str(MONITORING / pattern) for pattern in config["rule_files"]]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert GATEWAY_JOB in jobs, "the shipped config has no gateway job"
    for name, job in jobs.items():
        job["static_configs"] = [{"targets": [gateway_target if name == GATEWAY_JOB else self_target]}]
    return config


@pytest.fixture
async def prometheus(gateway, tmp_path: Path):
    """Prometheus on a loopback port of its own, its data under tmp_path; stopped by pid afterwards."""
    from gateway.http.keys import METRICS_LISTENER

    binary = shutil.which("prometheus")
    assert binary, "prometheus not found: make deploy-tools installs Debian's prometheus package"
    metrics_url = gateway.app[METRICS_LISTENER].url  # the gateway's own metrics listener (port 0 here)
    gateway_target = re.fullmatch(r"http://([^/]+)/metrics", metrics_url).group(1)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(gateway_target, f"127.0.0.1:{port}"), sort_keys=False))
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, f"prometheus exited:\n{log_path.read_text()[-4000:]}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/-/ready") as resp:
                        if resp.status == 200:
                            break
                assert time.monotonic() < deadline, f"prometheus not ready:\n{log_path.read_text()[-4000:]}"
                await asyncio.sleep(0.2)
            yield base, http, metrics_url
    finally:
        terminate(proc, 10)


async def api(http: aiohttp.ClientSession, url: str, **params) -> dict:
    async with http.get(url, params=params) as resp:
        body = await resp.json()
    assert body["status"] == "success", body
    return body["data"]


async def scalar(http, base: str, expr: str) -> float | None:
    """The value of a one-series instant query, or None while it has no result."""
    result = (await api(http, f"{base}/api/v1/query", query=expr))["result"]
    return float(result[0]["value"][1]) if result else None


async def poll(what: str, probe, timeout: float = 60.0):
    """``probe()`` until it returns something truthy; fails naming ``what`` and the last answer."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


@pytest.fixture
async def chat_traffic(gateway, smtp):
    """Two members of a club room; one sends a message every 0.3 s (inside the 5/s rate limit) until the
    test ends, the other receives them."""
    ada, bob = [await make_member(gateway.url, smtp, name) for name in ("Ada", "Bob")]
    room = await make_club_room(ada.user_id, [bob.user_id])
    sender, reader = [await ChatClient(gateway.url, m.token).connect() for m in (ada, bob)]
    await sender.join(room.id)
    await reader.join(room.id)
    acks: list[dict] = []

    async def send_forever():
        for i in range(10_000):  # bounded: ~50 minutes at this pace, far beyond any deadline here
            acks.append(await sender.send(room.id, f"scraped {i}"))
            del acks[:-100]  # only the last ones are looked at
            await asyncio.sleep(0.3)

    task = asyncio.create_task(send_forever())
    try:
        yield acks
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 15)
        await sender.close()
        await reader.close()


async def test_prometheus_reads_the_message_rate_and_ack_latency(prometheus, chat_traffic):
    base, http, metrics_url = prometheus
    job = f'job="{GATEWAY_JOB}"'

    async def target_up():
        targets = (await api(http, f"{base}/api/v1/targets"))["activeTargets"]
        gateway = [t for t in targets if t["labels"]["job"] == GATEWAY_JOB]
        return gateway and all(t["health"] == "up" for t in gateway) and gateway

    await poll("the gateway target is up", target_up, timeout=30)

    rate = await poll(
        "a non-zero message rate",
        lambda: scalar(
            http,
            base,
            f'sum(rate(clubhub_chat_ops_total{{{job}, event="message:send", outcome="ok"}}[10s]))',
        ),
    )
    assert 0 < rate < 10  # one sender at ~3 messages/s

    async def ack_p99():
        value = await scalar(
            http,
            base,
            f"histogram_quantile(0.99, sum by (le) (rate(clubhub_ack_latency_seconds_bucket{{{job}}}[10s])))",
        )
        return value if value is not None and math.isfinite(value) and value > 0 else None

    p99 = await poll("an ack-latency p99", ack_p99)
    assert p99 < 5  # the histogram's last finite bucket: a real figure, not the +Inf bucket
    assert all(ack["ok"] for ack in chat_traffic), chat_traffic

    # The shipped recording rules give the same figures (their 5m windows hold the few seconds there are).
    recorded = await poll(
        "the recorded message rate", lambda: scalar(http, base, "sum(clubhub:messages_stored:rate5m)")
    )
    assert recorded > 0

    async def recorded_p99():
        value = await scalar(http, base, "clubhub:ack_latency_seconds:p99_5m")
        return value if value is not None and math.isfinite(value) else None

    assert 0 < await poll("the recorded ack p99", recorded_p99) < 5

    # Every shipped rule was loaded and has evaluated without an error against this gateway's series.
    async def rules_evaluated():
        groups = (await api(http, f"{base}/api/v1/rules"))["groups"]
        rules = [r for g in groups for r in g["rules"]]
        failing = [(r["name"], r.get("lastError")) for r in rules if r["health"] == "err"]
        assert not failing, failing
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = await poll("every rule evaluated", rules_evaluated, timeout=30)
    shipped = yaml.safe_load((MONITORING / "rules" / "clubhub.rules.yaml").read_text())
    names = {r.get("alert") or r.get("record") for g in shipped["groups"] for r in g["rules"]}
    assert {r["name"] for r in rules} == names

    # Every panel query of every dashboard runs on real data without an error (a join that matches two
    # series per group, say, parses but fails only here), with Grafana's variables as it fills them in.
    failures = []
    for path in sorted((MONITORING / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets") or []:
                expr = target["expr"].replace("$__rate_interval", "10s").replace("$instance", ".*")
                async with http.get(f"{base}/api/v1/query", params={"query": expr}) as resp:
                    body = await resp.json()
                if body["status"] != "success":
                    failures.append((path.name, panel["title"], body.get("error")))
    assert not failures, failures


async def test_every_series_the_rules_and_dashboards_name_is_served_by_the_gateway(gateway, chat_traffic):
    """The deploy check holds the queries against the gateway's registry; this holds them against what a
    running gateway (with its shards, pipeline actors and streams) really serves at GET /metrics."""
    from gateway.http.keys import METRICS_LISTENER

    check = load_check()
    wanted = check.referenced_series(REPO)
    assert "clubhub_stream_lag_seconds" in wanted and "clubhub_store_operation_seconds_bucket" in wanted

    async def served() -> set[str]:
        async with aiohttp.ClientSession() as http, http.get(gateway.app[METRICS_LISTENER].url) as resp:
            text = await resp.text()
        names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}
        for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
            # A family declared with no sample yet (a counter by cause before the first failure) is served.
            names |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
        return names

    async def missing() -> dict[str, list[str]]:
        names = await served()
        return {name: where for name, where in wanted.items() if name not in names}

    # The shards report their ops and batches once they have some: the traffic above makes them.
    deadline = time.monotonic() + 30
    while (absent := await missing()) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert not absent, absent
