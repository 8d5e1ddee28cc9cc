"""Prometheus metrics of the gateway (served at ``GET /metrics`` by ``gateway.http.metrics``).

The figures name routes, shards and socket counts: operations data, not for the public. So besides the
main port (dev only) they are served by a listener of their own (``CLUBHUB_METRICS_PORT``, loopback by
default, ``CLUBHUB_METRICS_HOST`` to let a scraper inside the cluster reach it), the only place in prod.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()


# Fine at the low end: the stages of a message under light load take well under a millisecond each.
STAGE_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2,
    0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip


class GatewayMetrics:
    """One registry per app so that several apps in one process (tests) keep separate figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "clubhub_http_requests_total",
            "HTTP requests by route, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clubhub_http_request_duration_seconds",
            "HTTP request latency by route and method",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.open_sockets = Gauge(
            "clubhub_open_sockets", "Socket.IO connections open on this gateway", registry=self.registry
        )
        self.chat_ops = Counter(
            "clubhub_chat_ops_total",
            "Chat operations by event and outcome (ok or error code)",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "clubhub_ack_latency_seconds",
            "message:send received to ack (durably stored)",
            registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
        )
        self.gateway_batch = Histogram(
            "clubhub_gateway_batch_size",
            "Operations per coalesced Ray call to a room shard",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.fanout_latency = Histogram(
            "clubhub_fanout_latency_seconds",
            "Message timestamp (shard) to delivery onto this gateway's sockets",
            registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
        )
        self.delivered_batches = Histogram(
            "clubhub_delivered_batch_size",
            "Messages per room packet delivered (message:batch coalescing)",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        )
        self.message_stage = Histogram(
            "clubhub_message_stage_seconds",
            "Where a message's time goes, per stage of its way from the sender's socket to the last "
            "recipient's on this gateway (see gateway.socket.delivery.STAGES)",
            ["stage"],
            registry=self.registry,
            buckets=STAGE_BUCKETS,
        )
        self.loop_lag = Histogram(
            "clubhub_event_loop_lag_seconds",
            "How late a 50 ms timer of the gateway's event loop fires (everything on the loop waits as long)",
            registry=self.registry,
            buckets=STAGE_BUCKETS,
        )
        self.gc_pause = Histogram(
            "clubhub_gc_pause_seconds",
            "Garbage collections of the gateway process, by generation, and how long each held it",
            ["generation"],
            registry=self.registry,
            buckets=STAGE_BUCKETS,
        )
        self.slow_consumers = Counter(
            "clubhub_slow_consumers_total",
            "Sockets dropped because their send queue was full",
            registry=self.registry,
        )
        self.room_batches = Counter(
            "clubhub_gateway_room_batches_total",
            "Room message batches this gateway received (only its rooms': each shard publishes a room's "
            "batch to the gateways holding sockets in it)",
            registry=self.registry,
        )
        self.shard_stats = None  # async () -> list of actor stats, set once the shards exist
        self.pipeline_stats = None  # async () -> the feed pipeline's actors' stats

    async def render(self) -> bytes:
        """The registry's figures, then the shards' (each shard is another process), as Prometheus text."""
        body = generate_latest(self.registry)
        if self.shard_stats is not None:
            body += render_shard_stats(await self.shard_stats()).encode()
        if self.pipeline_stats is not None:
            body += render_pipeline_stats(await self.pipeline_stats()).encode()
        return body


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_pipeline_stats(stats: dict) -> str:
    """The feed pipeline's figures: the model version each actor serves, failed switches by cause, and
    the analytics store's seals."""
    lines = [
        "# HELP clubhub_model_version The ranker model version each feed actor is on (-1: none)",
        "# TYPE clubhub_model_version gauge",
    ]
    consumer = stats.get("consumer")
    if consumer is not None:
        lines.append(f'clubhub_model_version{{actor="consumer"}} {consumer.get("model") or -1}')
    for i, ranker in enumerate(stats.get("rankers") or []):
        if ranker is not None:
            lines.append(f'clubhub_model_version{{actor="ranker-{i}"}} {ranker.get("version") or -1}')
    if consumer is None:
        return "\n".join(lines) + "\n"
    lines += [
        "# HELP clubhub_model_switch_failures_total Failed model switches of the interaction consumer, by cause",
        "# TYPE clubhub_model_switch_failures_total counter",
    ]
    for cause, n in sorted((consumer.get("switch_failures") or {}).items()):
        lines.append(f'clubhub_model_switch_failures_total{{cause="{_label(cause)}"}} {n}')
    lines += [
        "# HELP clubhub_analytics_sealed_rows_total Interactions sealed into the analytics store (Parquet)",
        "# TYPE clubhub_analytics_sealed_rows_total counter",
        f"clubhub_analytics_sealed_rows_total {consumer.get('sealed_rows', 0)}",
        "# HELP clubhub_analytics_pending_rows Interactions applied and not sealed yet",
        "# TYPE clubhub_analytics_pending_rows gauge",
        f"clubhub_analytics_pending_rows {consumer.get('pending', 0)}",
        "# HELP clubhub_analytics_seal_failures_total Seals the analytics store refused, by cause",
        "# TYPE clubhub_analytics_seal_failures_total counter",
    ]
    for cause, n in sorted((consumer.get("seal_failures") or {}).items()):
        lines.append(f'clubhub_analytics_seal_failures_total{{cause="{_label(cause)}"}} {n}')
    return "\n".join(lines) + "\n"


def render_shard_stats(stats: list[dict]) -> str:
    """The actors' own figures (each shard is another process) in Prometheus text format."""
    lines = [
        "# HELP clubhub_shard_active Active rooms or sessions hosted by each shard",
        "# TYPE clubhub_shard_active gauge",
    ]
    ops, batches, nodes = [], [], []
    for st in stats:
        kind, shard = st["kind"], st["shard"]
        active = st.get("active_rooms", st.get("active_sessions", 0))
        lines.append(f'clubhub_shard_active{{kind="{kind}",shard="{shard}"}} {active}')
        if st.get("node"):
            nodes.append(f'clubhub_shard_node{{kind="{kind}",shard="{shard}",node="{st["node"]}"}} 1')
        for key, value in sorted(st.get("counters", {}).items()):
            if ":" in key:
                event, outcome = key.split(":", 1)
                ops.append(
                    f'clubhub_shard_ops_total{{shard="{shard}",op="{event}",outcome="{outcome}"}} {value}'
                )
        for size, count in sorted(st.get("batch_sizes", {}).items()):
            batches.append(f'clubhub_shard_commit_batches_total{{shard="{shard}",size_le="{size}"}} {count}')
    if ops:
        lines += [
            "# HELP clubhub_shard_ops_total Operations committed or refused by room shards",
            "# TYPE clubhub_shard_ops_total counter",
            *ops,
        ]
    if batches:
        lines += [
            "# HELP clubhub_shard_commit_batches_total Group-commit batches by size bucket",
            "# TYPE clubhub_shard_commit_batches_total counter",
            *batches,
        ]
    if nodes:
        # An info-style gauge: the series of a shard moves to another node label when Ray restarts it there.
        lines += [
            "# HELP clubhub_shard_node The Ray node (id) hosting each shard, always 1",
            "# TYPE clubhub_shard_node gauge",
            *nodes,
        ]
    return "\n".join(lines) + "\n"
