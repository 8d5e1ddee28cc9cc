"""The Grafana dashboards of ``deploy/observability/grafana/dashboards``, generated from this file.

    python deploy/observability/dashboards.py           # (re)write the JSON files
    python deploy/observability/dashboards.py --check   # exit 1 when a committed file differs from what this writes

Plain Python, no SDK: a dashboard is rows of panels, a panel is a title, a sentence saying what it shows
and its PromQL. The layout (ids, positions) is computed, so a panel added in the middle moves the rest.
``make deploy-check`` (deploy/checks/monitoring.py) fails when the committed JSON is not what this writes,
and checks that every query parses and names only series the gateway exports (the metric names are in
gateway/core/metrics.py), so the two stay in step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioning/datasources/prometheus.yaml
GATEWAY = 'instance=~"$instance"'
FEED = 'route="/api/v1/feed", method="GET"'
RATE = "$__rate_interval"


def rate(metric: str, selector: str = "", by: str | None = None, agg: str = "sum") -> str:
    inner = f"rate({metric}{{{selector}}}[{RATE}])"
    return f"{agg} by ({by}) ({inner})" if by else f"{agg}({inner})"


def quantile(q: float, histogram: str, selector: str = "", by: str = "") -> str:
    """The q-quantile of a histogram over every gateway selected (``by`` keeps more labels than ``le``)."""
    labels = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, {rate(histogram + '_bucket', selector, labels)})"


def mean(histogram: str, selector: str = "") -> str:
    return f"{rate(histogram + '_sum', selector)} / {rate(histogram + '_count', selector)}"


def quantiles(histogram: str, selector: str, qs=(0.5, 0.9, 0.99), by: str = "") -> list[tuple[str, str]]:
    suffix = "".join(f" {{{{{label.strip()}}}}}" for label in by.split(",") if label.strip())
    return [(quantile(q, histogram, selector, by), f"p{round(q * 100)}{suffix}") for q in qs]


def sel(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


INSTANCE_VARIABLE = {
    "name": "instance",
    "label": "Gateway",
    "type": "query",
    "datasource": DATASOURCE,
    "query": {"query": "label_values(clubhub_open_sockets, instance)", "refId": "instance"},
    "definition": "label_values(clubhub_open_sockets, instance)",
    "includeAll": True,
    "multi": True,
    "allValue": ".*",
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "refresh": 2,
    "sort": 1,
}


class Dashboard:
    def __init__(self, uid: str, title: str, description: str, *, per_gateway: bool = True) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.per_gateway = per_gateway
        self.panels: list[dict] = []
        self._x = self._y = self._row_height = 0

    def row(self, title: str) -> Dashboard:
        self._newline()
        self.panels.append(
            {
                "id": len(self.panels) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self._y},
                "panels": [],
            }
        )
        self._y += 1
        return self

    def panel(
        self,
        title: str,
        description: str,
        targets: list[tuple[str, str]] | str,
        *,
        unit: str = "short",
        kind: str = "timeseries",
        width: int = 8,
        height: int = 8,
        stack: bool = False,
    ) -> Dashboard:
        if isinstance(targets, str):
            targets = [(targets, "")]
        if self._x + width > 24:
            self._newline()
        panel: dict = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DATASOURCE,
            "gridPos": {"h": height, "w": width, "x": self._x, "y": self._y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [
                {
                    "refId": chr(ord("A") + i),
                    "datasource": DATASOURCE,
                    "expr": expr,
                    "legendFormat": legend or "__auto",
                    **({"instant": True} if kind == "stat" else {}),
                }
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        if kind == "timeseries":
            panel["fieldConfig"]["defaults"]["custom"] = {
                "drawStyle": "line",
                "fillOpacity": 10 if stack else 0,
                "stacking": {"mode": "normal" if stack else "none"},
                "showPoints": "never",
            }
            panel["options"] = {
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            }
        else:
            panel["options"] = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value"}
        self.panels.append(panel)
        self._x += width
        self._row_height = max(self._row_height, height)
        return self

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_height
        self._x = self._row_height = 0

    def json(self) -> dict:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["clubholohub"],
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "editable": False,
            "graphTooltip": 1,
            "refresh": "30s",
            "time": {"from": "now-1h", "to": "now"},
            "templating": {"list": [INSTANCE_VARIABLE] if self.per_gateway else []},
            "annotations": {"list": []},
            "links": [
                {"type": "dashboards", "tags": ["clubholohub"], "asDropdown": True, "title": "ClubHoloHub"}
            ],
            "panels": self.panels,
        }


def overview() -> Dashboard:
    d = Dashboard(
        "clubhub-gateway",
        "ClubHoloHub overview",
        "Gateways, sockets, messages, ack latency, HTTP and the gateways' event loops; the other ClubHoloHub "
        "dashboards go deeper (generated by deploy/observability/dashboards.py).",
    )
    d.row("Overview")
    d.panel(
        "Gateways up",
        "Gateways Prometheus can scrape (compose runs two).",
        'sum(up{job="clubhub-gateway"})',
        kind="stat",
        width=6,
        height=4,
    )
    d.panel(
        "Open sockets",
        "Socket.IO connections, all gateways.",
        f"sum(clubhub_open_sockets{{{GATEWAY}}})",
        kind="stat",
        width=6,
        height=4,
    )
    d.panel(
        "Messages stored /s",
        "message:send acked (stored durably), all gateways.",
        rate("clubhub_chat_ops_total", sel('event="message:send"', 'outcome="ok"', GATEWAY)),
        unit="reqps",
        kind="stat",
        width=6,
        height=4,
    )
    d.panel(
        "Ack p99",
        "99th percentile from message:send to its durable ack.",
        quantile(0.99, "clubhub_ack_latency_seconds", GATEWAY),
        unit="s",
        kind="stat",
        width=6,
        height=4,
    )
    d.panel(
        "Backends ready",
        "Each backing service as the gateways' readiness check finds it at each scrape (1 ready, 0 not): the "
        "lowest over the gateways.",
        [(f"min by (backend) (clubhub_backend_ready{{{GATEWAY}}})", "{{backend}}")],
        width=12,
    )
    d.panel(
        "Event loop lag p99",
        "How late a 50 ms timer fires on each gateway's event loop: everything on the loop waits as long.",
        [(quantile(0.99, "clubhub_event_loop_lag_seconds", GATEWAY, "instance"), "{{instance}}")],
        unit="s",
        width=12,
    )
    d.row("HTTP")
    d.panel(
        "Requests /s by status",
        "REST requests answered per second, by status.",
        [(rate("clubhub_http_requests_total", GATEWAY, "status"), "{{status}}")],
        unit="reqps",
    )
    d.panel(
        "5xx ratio",
        "Share of REST requests answered 5xx (readiness probes excluded).",
        rate("clubhub_http_requests_total", sel('status=~"5.."', 'route!="/readyz"', GATEWAY))
        + " / "
        + rate("clubhub_http_requests_total", sel('route!="/readyz"', GATEWAY)),
        unit="percentunit",
    )
    d.panel(
        "p95 by route",
        "95th percentile of each route's latency.",
        [(quantile(0.95, "clubhub_http_request_duration_seconds", GATEWAY, "route"), "{{route}}")],
        unit="s",
    )
    d.panel(
        "GC pauses /s by generation",
        "Garbage collections of the gateway processes, by generation.",
        [(rate("clubhub_gc_pause_seconds_count", GATEWAY, "generation"), "gen {{generation}}")],
        unit="ops",
        width=12,
    )
    d.panel(
        "GC pause p99",
        "How long the 99th percentile collection held a gateway's event loop.",
        [(quantile(0.99, "clubhub_gc_pause_seconds", GATEWAY, "generation"), "gen {{generation}}")],
        unit="s",
        width=12,
    )
    return d


def chat() -> Dashboard:
    d = Dashboard(
        "clubhub-chat",
        "ClubHoloHub chat",
        "Messages, acks, delivery latency, refusals, batching and sockets of the chat path "
        "(generated by deploy/observability/dashboards.py).",
    )
    d.row("Traffic")
    d.panel(
        "Messages stored /s per gateway",
        "message:send acked, i.e. stored durably, by the gateway the sender is on.",
        [
            (
                rate(
                    "clubhub_chat_ops_total", sel('event="message:send"', 'outcome="ok"', GATEWAY), "instance"
                ),
                "{{instance}}",
            )
        ],
        unit="reqps",
    )
    d.panel(
        "Socket events /s by event",
        "Every Socket.IO event handled, whatever its outcome.",
        [(rate("clubhub_chat_ops_total", GATEWAY, "event"), "{{event}}")],
        unit="reqps",
        stack=True,
    )
    d.panel(
        "Open sockets per gateway",
        "Socket.IO connections open on each gateway.",
        [(f"clubhub_open_sockets{{{GATEWAY}}}", "{{instance}}")],
    )
    d.row("Latency")
    d.panel(
        "Ack latency",
        "message:send received to its ack (stored durably): the sender's 'sent' tick.",
        quantiles("clubhub_ack_latency_seconds", GATEWAY),
        unit="s",
    )
    d.panel(
        "Delivery latency",
        "The shard's timestamp of a message to its write onto the members' sockets, measured on the gateway "
        "delivering it: when the others see it.",
        quantiles("clubhub_fanout_latency_seconds", GATEWAY),
        unit="s",
    )
    d.panel(
        "Where a message's time goes (p99 per stage)",
        "Each stage of a message's way from the sender's socket to the last recipient's on this gateway "
        "(gateway/socket/delivery.py STAGES).",
        [(quantile(0.99, "clubhub_message_stage_seconds", GATEWAY, "stage"), "{{stage}}")],
        unit="s",
    )
    d.row("Refusals and slow sockets")
    d.panel(
        "Socket events refused /s",
        "Events answered with an error, by event and code (rate_limited, forbidden, invalid... are the "
        "client's; internal and unavailable are ours).",
        [
            (
                rate("clubhub_chat_ops_total", sel('outcome!="ok"', GATEWAY), "event, outcome"),
                "{{event}} {{outcome}}",
            )
        ],
        unit="reqps",
        width=12,
    )
    d.panel(
        "Slow consumers dropped /s",
        "Sockets disconnected because their send queue was full (they resume with since_seq).",
        [(rate("clubhub_slow_consumers_total", GATEWAY, "instance"), "{{instance}}")],
        unit="ops",
        width=12,
    )
    d.row("Batching")
    d.panel(
        "Ops per Ray call (gateway to shard)",
        "Operations coalesced into one Ray call to a room shard: mean and p99.",
        [
            (mean("clubhub_gateway_batch_size", GATEWAY), "mean"),
            (quantile(0.99, "clubhub_gateway_batch_size", GATEWAY), "p99"),
        ],
    )
    d.panel(
        "Messages per delivered packet",
        "Messages per room packet written to the sockets (message:batch coalescing): mean and p99.",
        [
            (mean("clubhub_delivered_batch_size", GATEWAY), "mean"),
            (quantile(0.99, "clubhub_delivered_batch_size", GATEWAY), "p99"),
        ],
    )
    d.panel(
        "Room batches received /s",
        "Room message batches each gateway received from the shards (only for rooms it holds sockets in).",
        [(rate("clubhub_gateway_room_batches_total", GATEWAY, "instance"), "{{instance}}")],
        unit="ops",
    )
    return d


# Every gateway reports the same shards: max over the gateways, then sum, counts each shard once.
SHARD_OPS = "max by (shard, op, outcome) (rate(clubhub_shard_ops_total[$__rate_interval]))"
SHARD_RESTARTS = "max by (kind, shard) (changes(clubhub_shard_start_time_seconds[1h]))"


def shards() -> Dashboard:
    d = Dashboard(
        "clubhub-shards",
        "ClubHoloHub shards and Ray",
        "The room and session shards (Ray actors): what they host, what they commit and how, restarts and "
        "where Ray placed them (generated by deploy/observability/dashboards.py).",
        per_gateway=False,
    )
    d.row("Hosting")
    d.panel(
        "Active rooms and sessions per shard",
        "Rooms (room shards) and live sessions (session shards) each shard holds in memory.",
        [("max by (kind, shard) (clubhub_shard_active)", "{{kind}} {{shard}}")],
    )
    d.panel(
        "Activations and evictions /s",
        "Rooms activated from the stores and evicted when idle, all room shards.",
        [
            (
                'sum by (event) (max by (shard, event) (rate(clubhub_shard_events_total{event=~"activations|evictions"}'
                "[$__rate_interval])))",
                "{{event}}",
            )
        ],
        unit="ops",
    )
    d.panel(
        "Shards per node",
        "How many shards each Ray node hosts now.",
        [("count by (node) (max by (kind, shard, node) (clubhub_shard_node))", "{{node}}")],
    )
    d.row("Commits")
    d.panel(
        "Shard ops /s by outcome",
        "Operations the room shards committed (ok) or refused (the error code), all shards.",
        [(f"sum by (op, outcome) ({SHARD_OPS})", "{{op}} {{outcome}}")],
        unit="ops",
        width=12,
    )
    d.panel(
        "Group commits /s by batch size",
        "Group-commit batches of the room shards by size bucket (one MongoDB insert_many each).",
        [
            (
                "sum by (size_le) (max by (shard, size_le) (rate(clubhub_shard_commit_batches_total[$__rate_interval])))",
                "≤ {{size_le}}",
            )
        ],
        unit="ops",
        width=12,
        stack=True,
    )
    d.panel(
        "Ops per group commit",
        "Mean operations per group commit, all room shards.",
        'sum(max by (shard) (rate(clubhub_shard_events_total{event="batched_ops"}[$__rate_interval])))'
        ' / sum(max by (shard) (rate(clubhub_shard_events_total{event="batches"}[$__rate_interval])))',
        width=12,
    )
    d.panel(
        "Fan-out publishes failed or dropped /s",
        "Room batches a shard could not publish to the gateways (their sockets resync with since_seq).",
        [
            (
                "sum by (event) (max by (shard, event) (rate(clubhub_shard_events_total"
                '{event=~"publish_errors|unpublished_dropped"}[$__rate_interval])))',
                "{{event}}",
            )
        ],
        unit="ops",
        width=12,
    )
    d.row("Restarts")
    d.panel(
        "Shard restarts (last hour)",
        "Times Ray restarted each shard's process in the last hour (its start time changed).",
        [(f"{SHARD_RESTARTS} > 0", "{{kind}} {{shard}}")],
        width=12,
    )
    d.panel(
        "Shard restarts per node (last hour)",
        "The last hour's restarts of the shards each Ray node hosts now.",
        [
            (
                f"sum by (node) ({SHARD_RESTARTS} * on (kind, shard) group_left (node) "
                "topk by (kind, shard) (1, clubhub_shard_node))",
                "{{node}}",
            )
        ],
        width=12,
    )
    return d


def feed() -> Dashboard:
    d = Dashboard(
        "clubhub-feed",
        "ClubHoloHub feed and pipeline",
        "Feed latency, the interaction and activity streams' consumer lag, the served model and the "
        "analytics store (generated by deploy/observability/dashboards.py).",
    )
    d.row("Feed")
    d.panel(
        "Feed latency",
        "GET /api/v1/feed as the gateways answer it (ranker actors included).",
        quantiles("clubhub_http_request_duration_seconds", sel(GATEWAY, FEED), (0.5, 0.95, 0.99)),
        unit="s",
        width=12,
    )
    d.panel(
        "Feed requests /s by status",
        "GET /api/v1/feed answered per second, by status.",
        [(rate("clubhub_http_requests_total", sel(GATEWAY, FEED), "status"), "{{status}}")],
        unit="reqps",
        width=12,
    )
    d.row("Streams")
    d.panel(
        "Consumer lag",
        "Age of the oldest entry each consumer group has not finished (interactions: the interaction "
        "consumer actor; activity: the gateways' achievement workers; notify: the notifier actor; search: "
        "the search indexer actor).",
        [("max by (stream, group) (clubhub_stream_lag_seconds)", "{{stream}}")],
        unit="s",
    )
    d.panel(
        "Pending entries",
        "Entries delivered to a consumer and not acknowledged yet (at least once: re-read after a crash).",
        [("max by (stream, group) (clubhub_stream_pending_entries)", "{{stream}}")],
    )
    d.panel(
        "Entries not delivered yet",
        "Entries added to the stream and not read by the group yet (reported by Redis 7 and later).",
        [("max by (stream, group) (clubhub_stream_lag_entries)", "{{stream}}")],
    )
    d.row("Model and analytics")
    d.panel(
        "Model version per actor",
        "The ranker model version each feed actor serves (-1: none yet). After a switch all should agree.",
        [("max by (actor) (clubhub_model_version)", "{{actor}}")],
    )
    d.panel(
        "Model switch failures /s by cause",
        "Failed model switches of the interaction consumer.",
        [
            (
                "sum by (cause) (max by (cause) (rate(clubhub_model_switch_failures_total[$__rate_interval])))",
                "{{cause}}",
            )
        ],
        unit="ops",
    )
    d.panel(
        "Analytics rows",
        "Interactions sealed into the analytics store (Parquet) per second, and applied but not sealed yet.",
        [
            ("max(rate(clubhub_analytics_sealed_rows_total[$__rate_interval]))", "sealed /s"),
            ("max(clubhub_analytics_pending_rows)", "pending"),
        ],
    )
    return d


def stores() -> Dashboard:
    d = Dashboard(
        "clubhub-stores",
        "ClubHoloHub stores",
        "The gateways' calls to PostgreSQL, MongoDB and Redis by operation (storage/timing.py), and their "
        "readiness (generated by deploy/observability/dashboards.py).",
    )
    d.row("All stores")
    d.panel(
        "Backends ready",
        "Each backing service as the gateways' readiness check finds it at each scrape (1 ready, 0 not).",
        [(f"min by (backend) (clubhub_backend_ready{{{GATEWAY}}})", "{{backend}}")],
    )
    d.panel(
        "Calls /s by store",
        "Calls from the gateways to each store.",
        [(rate("clubhub_store_operation_seconds_count", GATEWAY, "store"), "{{store}}")],
        unit="ops",
        stack=True,
    )
    d.panel(
        "p99 by store",
        "99th percentile of a call to each store, all operations.",
        [(quantile(0.99, "clubhub_store_operation_seconds", GATEWAY, "store"), "{{store}}")],
        unit="s",
    )
    for store, name in (("postgres", "PostgreSQL"), ("mongo", "MongoDB"), ("redis", "Redis")):
        where = sel(f'store="{store}"', GATEWAY)
        d.row(name)
        d.panel(
            f"{name} p99 by operation",
            f"99th percentile of each kind of call to {name}.",
            [(quantile(0.99, "clubhub_store_operation_seconds", where, "operation"), "{{operation}}")],
            unit="s",
            width=12,
        )
        d.panel(
            f"{name} calls /s by operation",
            f"Calls to {name} per second, by operation.",
            [(rate("clubhub_store_operation_seconds_count", where, "operation"), "{{operation}}")],
            unit="ops",
            width=12,
            stack=True,
        )
    return d


DASHBOARDS = {
    "clubhub-gateway.json": overview,
    "clubhub-chat.json": chat,
    "clubhub-shards.json": shards,
    "clubhub-feed.json": feed,
    "clubhub-stores.json": stores,
}


def render() -> dict[str, str]:
    """File name -> the JSON text this module writes for it."""
    return {
        name: json.dumps(make().json(), indent=2, ensure_ascii=False) + "\n"
        for name, make in DASHBOARDS.items()
    }


def stale(directory: Path = OUT) -> list[str]:
    """What differs between ``directory`` and what this module writes: one sentence per file."""
    wanted = render()
    findings = []
    for name, text in wanted.items():
        path = directory / name
        if not path.is_file():
            findings.append(f"{name}: missing (python deploy/observability/dashboards.py writes it)")
        elif path.read_text() != text:
            findings.append(f"{name}: not what deploy/observability/dashboards.py writes (run it)")
    for path in sorted(directory.glob("*.json")):
        if path.name not in wanted:
            findings.append(f"{path.name}: not written by deploy/observability/dashboards.py (add it there)")
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file differs")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.check:
        findings = stale(args.out)
        for finding in findings:
            print(finding, file=sys.stderr)
        return 1 if findings else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
