"""Prometheus config and rules, and the Grafana dashboards of ``deploy/observability``.

- ``promtool check config`` (the rule files it globs included), ``promtool check rules`` on every rule file
  and ``promtool test rules`` on every ``*.test.yaml``; every alert has a unit test.
- Every PromQL expression of a rule or a Grafana panel parses and selects only series the gateway exports,
  by labels those series have. The exported names come from the gateway's own registry
  (``gateway.core.metrics``, rendered as exposition text), never from a list kept here.
- The datasource each panel names is provisioned; the gateways Prometheus scrapes are the compose file's,
  on their metrics port.
- The committed dashboards are what ``deploy/observability/dashboards.py`` writes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

MONITORING = Path("deploy/observability")
COMPOSE = Path("deploy/compose/compose.yaml")
REPO = Path(__file__).resolve().parents[2]  # the gateway's code is imported from the real checkout
GATEWAY_JOB = "clubhub-gateway"
# Series Prometheus itself adds to every scrape, and the labels it attaches to every scraped series.
SCRAPE_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}
TARGET_LABELS = {"job", "instance"}
# Grafana's interval variables stand for durations; any other variable stands inside a label value.
GRAFANA_DURATION = re.compile(r"\$\{?__(rate_interval|interval|range)(_ms|_s)?\}?")
GRAFANA_VARIABLE = re.compile(r"\$\{[^}]+\}|\[\[\w+\]\]|\$\w+")
LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$")


def run(root: Path) -> list[str]:
    base = root / MONITORING
    if not base.is_dir():
        return [f"{MONITORING}: missing"]
    promtool = shutil.which("promtool")
    findings: list[str] = []
    if promtool is None:
        findings.append("promtool not found (make deploy-tools installs Debian's prometheus package)")
    exported = exported_series()
    rule_files = sorted(p for p in (base / "rules").glob("*.yaml") if not p.name.endswith(".test.yaml"))
    test_files = sorted((base / "rules").glob("*.test.yaml"))
    if not rule_files:
        findings.append(f"{MONITORING}/rules: no rule files")
    recorded: set[str] = set()
    alerts: dict[str, str] = {}
    if promtool:
        findings += promtool_run(root, promtool, ["check", "config"], [base / "prometheus.yml"])
        findings += promtool_run(root, promtool, ["check", "rules"], rule_files)
        findings += promtool_run(root, promtool, ["test", "rules"], test_files, cwd=base / "rules")
    for path in rule_files:
        rel = str(path.relative_to(root))
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue  # promtool check rules has said why
        for group in doc.get("groups") or []:
            for rule in group.get("rules") or []:
                if "record" in rule:
                    recorded.add(rule["record"])
                if "alert" in rule:
                    alerts[rule["alert"]] = rel
    allowed = {**exported, **{name: None for name in recorded | SCRAPE_SERIES}}
    for path in rule_files:
        rel = str(path.relative_to(root))
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        for group in doc.get("groups") or []:
            for rule in group.get("rules") or []:
                name = rule.get("alert") or rule.get("record")
                findings += expr_findings(f"{rel}: rule {name}", str(rule.get("expr", "")), allowed)
    findings += untested_alerts(root, alerts, test_files)
    findings += unloaded_rule_files(root, base, rule_files)
    findings += generated_dashboard_findings(base)
    findings += dashboard_findings(root, base, allowed)
    findings += scrape_findings(root, base)
    return findings


def promtool_run(root: Path, promtool: str, args: list[str], files: list[Path], cwd: Path | None = None):
    if not files:
        return []
    proc = subprocess.run(
        [promtool, *args, *map(str, files)],
        cwd=cwd or root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode == 0:
        return []
    output = "\n".join(part.strip() for part in (proc.stdout, proc.stderr) if part.strip())
    names = ", ".join(str(f.relative_to(root)) for f in files)
    return [f"promtool {' '.join(args)} {names} failed:\n{output[:4000]}"]


def exported_series() -> dict[str, set[str] | None]:
    """Series name -> label names, from the gateway's registry rendered the way GET /metrics renders it.

    Every labelled metric gets one child (an unused one is absent from the text), and the figures gathered
    on each scrape (Ray shards, pipeline actors, stream lag, readiness) are rendered from one sample of
    each, so that every family the gateway can serve appears. tests/integration/test_prometheus.py checks
    the same names against a running gateway's /metrics.
    """
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from prometheus_client import generate_latest
    from prometheus_client.metrics import MetricWrapperBase
    from prometheus_client.parser import text_string_to_metric_families

    from gateway.core.metrics import (
        GatewayMetrics,
        render_pipeline_stats,
        render_readiness,
        render_shard_stats,
        render_stream_stats,
    )

    metrics = GatewayMetrics()
    for metric in vars(metrics).values():
        # A labelled metric shows up in the text only once a child exists; the label names are not
        # public API of prometheus_client, but they have been this attribute since its first release.
        if isinstance(metric, MetricWrapperBase) and metric._labelnames:
            metric.labels(*("sample" for _ in metric._labelnames))
    sample_shard = {
        "kind": "room",
        "shard": 0,
        "active_rooms": 1,
        "counters": {"send:ok": 1, "activations": 1},
        "batch_sizes": {1: 1},
        "node": "sample",
        "started": 1.0,
    }
    sample_consumer = {"model": 1, "switch_failures": {"sample": 1}, "seal_failures": {"sample": 1}}
    sample_stream = {"stream": "sample", "group": "sample", "pending": 1, "lag_s": 1.0, "lag": 1}
    text = (
        generate_latest(metrics.registry).decode()
        + render_shard_stats([sample_shard])
        + render_pipeline_stats({"consumer": sample_consumer, "rankers": [{"version": 1}]})
        + render_stream_stats([sample_stream])
        + render_readiness({"sample": "ok"})
    )
    series: dict[str, set[str] | None] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def expr_findings(where: str, expr: str, allowed: dict[str, set[str] | None]) -> list[str]:
    """The expression parses; each selector names an allowed series and only labels that series has."""
    import promql_parser

    try:
        ast = promql_parser.parse(expr)
    except ValueError as exc:
        return [f"{where}: PromQL does not parse ({exc}): {expr.strip()}"]
    selectors: list = []
    promql_parser.walk(
        ast, lambda e: selectors.append(e) if isinstance(e, promql_parser.VectorSelector) else None
    )
    findings = []
    for sel in selectors:
        if not sel.name:
            findings.append(f"{where}: a selector without a metric name cannot be checked: {expr.strip()}")
            continue
        if sel.name not in allowed:
            findings.append(f"{where}: {sel.name} is not a metric the gateway exports")
            continue
        labels = allowed[sel.name]
        if labels is None:
            continue  # Prometheus' own series and recording rules: their labels are not ours to know
        for matcher in sel.matchers.matchers:
            if matcher.name not in labels | TARGET_LABELS:
                known = ", ".join(sorted(labels | TARGET_LABELS))
                findings.append(f"{where}: {sel.name} has no label {matcher.name!r} (it has {known})")
    return findings


def untested_alerts(root: Path, alerts: dict[str, str], test_files: list[Path]) -> list[str]:
    tested = set()
    for path in test_files:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue  # promtool test rules has said why
        for test in doc.get("tests") or []:
            tested |= {case.get("alertname") for case in test.get("alert_rule_test") or []}
    return [
        f"{rel}: alert {name} has no promtool unit test"
        for name, rel in sorted(alerts.items())
        if name not in tested
    ]


def unloaded_rule_files(root: Path, base: Path, rule_files: list[Path]) -> list[str]:
    """A rule file prometheus.yml does not glob is checked and tested here but never loaded by Prometheus."""
    try:
        config = yaml.safe_load((base / "prometheus.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []  # promtool check config has said why
    loaded = {p.resolve() for pattern in config.get("rule_files") or [] for p in base.glob(pattern)}
    return [
        f"{path.relative_to(root)}: not loaded by Prometheus (prometheus.yml rule_files: {config.get('rule_files')})"
        for path in rule_files
        if path.resolve() not in loaded
    ]


def grafana_expr(expr: str) -> str:
    """A panel query as Prometheus receives it once Grafana has filled in its variables."""
    return GRAFANA_VARIABLE.sub("placeholder", GRAFANA_DURATION.sub("5m", expr))


def generated_dashboard_findings(base: Path) -> list[str]:
    """The committed dashboards are exactly what deploy/observability/dashboards.py writes (the copy under
    ``base``, so a planted change to either is seen)."""
    import importlib.util

    generator = base / "dashboards.py"
    if not generator.is_file():
        return [f"{MONITORING}/dashboards.py: missing (it writes the Grafana dashboards)"]
    spec = importlib.util.spec_from_file_location("clubhub_dashboards", generator)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        stale = module.stale(base / "grafana" / "dashboards")
    except Exception as exc:
        return [f"{MONITORING}/dashboards.py: fails: {type(exc).__name__}: {exc}"]
    return [f"{MONITORING}/grafana/dashboards/{finding}" for finding in stale]


def dashboard_findings(root: Path, base: Path, allowed: dict[str, set[str] | None]) -> list[str]:
    findings = []
    uids = provisioned_datasources(base)
    dashboards = sorted((base / "grafana" / "dashboards").glob("*.json"))
    if not dashboards:
        findings.append(f"{MONITORING}/grafana/dashboards: no dashboards")
    for path in dashboards:
        rel = str(path.relative_to(root))
        try:
            dash = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            findings.append(f"{rel}: not JSON: {exc}")
            continue
        for panel in walk_panels(dash.get("panels") or []):
            title = panel.get("title", panel.get("id"))
            for holder in [panel, *(panel.get("targets") or [])]:
                findings += datasource_findings(f"{rel}: panel {title!r}", holder, uids)
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    where = f"{rel}: panel {title!r} query {target.get('refId', '?')}"
                    findings += expr_findings(where, grafana_expr(target["expr"]), allowed)
        for var in (dash.get("templating") or {}).get("list") or []:
            if var.get("type") != "query":
                continue
            findings += datasource_findings(f"{rel}: variable {var.get('name')!r}", var, uids)
            query = var.get("query")
            query = query.get("query", "") if isinstance(query, dict) else str(query or "")
            findings += variable_findings(f"{rel}: variable {var.get('name')!r}", query, allowed)
    return findings


def datasource_findings(where: str, holder: dict, uids: set[str]) -> list[str]:
    ds = holder.get("datasource") or {}
    uid = ds.get("uid") if isinstance(ds, dict) else ds
    if uid and not str(uid).startswith("$") and uid not in uids:
        return [f"{where}: datasource {uid!r} is not provisioned"]
    return []


def walk_panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])  # a collapsed row holds its panels


def variable_findings(where: str, query: str, allowed: dict[str, set[str] | None]) -> list[str]:
    m = LABEL_VALUES.match(query)
    if m is None:
        return expr_findings(where, grafana_expr(query), allowed)
    if not m.group("selector"):
        return []
    findings = expr_findings(where, grafana_expr(m.group("selector")), allowed)
    labels = allowed.get(m.group("selector").split("{")[0].strip())
    if not findings and labels is not None and m.group("label") not in labels | TARGET_LABELS:
        findings.append(f"{where}: label_values asks for label {m.group('label')!r}, which the series lacks")
    return findings


def provisioned_datasources(base: Path) -> set[str]:
    uids = set()
    for path in (base / "grafana" / "provisioning" / "datasources").glob("*.y*ml"):
        doc = yaml.safe_load(path.read_text()) or {}
        uids |= {ds.get("uid") for ds in doc.get("datasources") or [] if ds.get("uid")}
    return uids


def scrape_findings(root: Path, base: Path) -> list[str]:
    """The gateway job scrapes exactly the compose gateways, each on its CLUBHUB_METRICS_PORT."""
    config_path, compose_path = base / "prometheus.yml", root / COMPOSE
    if not config_path.is_file() or not compose_path.is_file():
        return [] if config_path.is_file() else [f"{MONITORING}/prometheus.yml: missing"]
    try:
        config = yaml.safe_load(config_path.read_text()) or {}
        compose = yaml.safe_load(compose_path.read_text()) or {}
    except yaml.YAMLError:
        return []  # promtool and the compose check say why
    gateways = {
        name: str((svc.get("environment") or {}).get("CLUBHUB_METRICS_PORT", ""))
        for name, svc in (compose.get("services") or {}).items()
        if isinstance(svc, dict) and svc.get("command") == ["gateway"]
    }
    jobs = {job.get("job_name"): job for job in config.get("scrape_configs") or []}
    if GATEWAY_JOB not in jobs:
        return [
            f"{MONITORING}/prometheus.yml: no scrape job {GATEWAY_JOB!r} (the rules and dashboards use it)"
        ]
    targets = [t for sc in jobs[GATEWAY_JOB].get("static_configs") or [] for t in sc.get("targets") or []]
    findings = []
    for target in targets:
        host, _, port = target.rpartition(":")
        if host not in gateways:
            findings.append(f"{MONITORING}/prometheus.yml: target {target} is not a gateway of {COMPOSE}")
        elif gateways[host] != port:
            findings.append(
                f"{MONITORING}/prometheus.yml: target {target}: {host}'s CLUBHUB_METRICS_PORT is {gateways[host]}"
            )
    for name in sorted(set(gateways) - {t.rpartition(":")[0] for t in targets}):
        findings.append(f"{MONITORING}/prometheus.yml: gateway {name} of {COMPOSE} is not scraped")
    return findings


def referenced_series(root: Path) -> dict[str, list[str]]:
    """Every series name the rules and dashboards select, but Prometheus' own and the recorded ones, with
    where each is used. tests/integration/test_prometheus.py holds them against a running gateway."""
    import promql_parser

    base = root / MONITORING
    found: dict[str, list[str]] = {}
    recorded: set[str] = set()

    def collect(where: str, expr: str) -> None:
        try:
            ast = promql_parser.parse(expr)
        except ValueError:
            return  # the check says so
        names: list[str] = []
        promql_parser.walk(
            ast, lambda e: names.append(e.name) if isinstance(e, promql_parser.VectorSelector) else None
        )
        for name in names:
            if name:
                found.setdefault(name, []).append(where)

    for path in sorted((base / "rules").glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                recorded |= {rule["record"]} if "record" in rule else set()
                collect(f"{path.name}: {rule.get('alert') or rule.get('record')}", str(rule.get("expr", "")))
    for path in sorted((base / "grafana" / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in walk_panels(dash.get("panels") or []):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    collect(f"{path.name}: {panel.get('title')}", grafana_expr(target["expr"]))
    return {name: where for name, where in found.items() if name not in recorded | SCRAPE_SERIES}
