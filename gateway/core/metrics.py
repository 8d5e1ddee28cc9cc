"""Prometheus metrics of the gateway (served at ``GET /metrics`` by ``gateway.http.metrics``).

The figures name routes, shards and socket counts: operations data, not for the public. So besides the
main port (dev only) they are served by a listener of their own (``CLUBHUB_METRICS_PORT``, loopback by
default, ``CLUBHUB_METRICS_HOST`` to let a scraper inside the cluster reach it), the only place in prod.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from storage import keys
from storage.streams import group_lag

log = logging.getLogger(__name__)

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()

# The figures /metrics gathers from other processes and services (shards, pipeline actors, Redis streams,
# readiness) each get this long: a scrape is answered with what came in time, the rest left out.
COLLECT_TIMEOUT_S = 3.0
# The room shards' own counters (besides ops by outcome) that /metrics shows: a fixed set, so the label
# stays bounded whatever else a shard counts.
SHARD_EVENTS = (
    "activations",
    "evictions",
    "sockets_restored",
    "publish_errors",
    "unpublished_dropped",
    "batches",
    "batched_ops",
)
# An async source of figures gathered on each scrape.
Collector = Callable[[], Awaitable[Any]]
# The consumer groups whose lag /metrics reports: (label, stream key, group).
STREAMS = (
    ("interactions", keys.INTERACTIONS_STREAM, keys.INTERACTIONS_GROUP),
    ("activity", keys.ACTIVITY_STREAM, keys.ACTIVITY_GROUP),
    ("notify", keys.NOTIFY_STREAM, keys.NOTIFY_GROUP),
    ("search", keys.SEARCH_STREAM, keys.SEARCH_GROUP),
)


# Fine at the low end: the stages of a message under light load take well under a millisecond each.
STAGE_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2,
    0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0,
)  # fmt: skip
# Fewer buckets for the store calls: three stores times their operations already make many series.
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


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
        self.store_latency = Histogram(
            "clubhub_store_operation_seconds",
            "This gateway's calls to PostgreSQL, MongoDB and Redis by store and operation (storage.timing: "
            "SQL statement kind, MongoDB command, Redis command or pipeline), from call to reply",
            ["store", "operation"],
            registry=self.registry,
            buckets=STORE_BUCKETS,
        )
        # (store, operation) -> its child: bounded, storage.timing caps the operations per store.
        self._store_children: dict[tuple[str, str], Histogram] = {}
        self.shard_stats: Collector | None = None  # -> list of actor stats, set once the shards exist
        self.pipeline_stats: Collector | None = None  # -> the feed pipeline's actors' stats
        self.stream_stats: Collector | None = None  # -> stream_stats(redis)
        self.readiness: Collector | None = None  # -> {backend: "ok" | reason} (Backends.readiness)

    def store_operation(self, store: str, operation: str, seconds: float) -> None:
        """storage.timing's observer: one call to a store."""
        child = self._store_children.get((store, operation))
        if child is None:
            child = self._store_children[(store, operation)] = self.store_latency.labels(store, operation)
        child.observe(seconds)

    async def render(self) -> bytes:
        """The registry's figures, then those gathered on each scrape from elsewhere (each shard and
        pipeline actor is another process; stream lag and readiness are asked of the services), as
        Prometheus text. Those are gathered concurrently, each within COLLECT_TIMEOUT_S."""
        collectors = (self.shard_stats, self.pipeline_stats, self.stream_stats, self.readiness)
        shards, pipeline, streams, ready = await asyncio.gather(*(_collect(c) for c in collectors))
        body = generate_latest(self.registry)
        if self.shard_stats is not None:
            body += render_shard_stats(shards or []).encode()
        if self.pipeline_stats is not None:
            body += render_pipeline_stats(pipeline or {}).encode()
        if self.stream_stats is not None:
            body += render_stream_stats(streams).encode()
        if self.readiness is not None:
            body += render_readiness(ready).encode()
        return body


async def _collect(collector):
    if collector is None:
        return None
    try:
        return await asyncio.wait_for(collector(), COLLECT_TIMEOUT_S)
    except Exception:
        # The scrape still answers with everything else; the missing series say what did not answer.
        log.warning("a metrics source did not answer", exc_info=True)
        return None


async def stream_stats(redis) -> list[dict]:
    """Each consumer group of STREAMS that exists, with how far behind it is (storage.streams.group_lag)."""
    lags = await asyncio.gather(*(group_lag(redis, stream, group) for _, stream, group in STREAMS))
    return [
        {"stream": label, "group": group, **lag}
        for (label, _, group), lag in zip(STREAMS, lags, strict=True)
        if lag is not None
    ]


def render_stream_stats(stats: list[dict] | None) -> str:
    """The consumer groups' lag. Headers always, samples for the groups that answered (none when Redis
    did not answer in time: a gap in the graph, not a false zero)."""
    lines = [
        "# HELP clubhub_stream_lag_seconds Age of the oldest entry a consumer group has not finished "
        "(pending, or not delivered yet); 0 when it is all done",
        "# TYPE clubhub_stream_lag_seconds gauge",
    ]
    pending = [
        "# HELP clubhub_stream_pending_entries Entries delivered to a consumer of the group and not "
        "acknowledged yet",
        "# TYPE clubhub_stream_pending_entries gauge",
    ]
    lag = [
        "# HELP clubhub_stream_lag_entries Entries not delivered to the group yet (Redis 7 and later)",
        "# TYPE clubhub_stream_lag_entries gauge",
    ]
    for st in stats or []:
        labels = f'stream="{_label(st["stream"])}",group="{_label(st["group"])}"'
        lines.append(f"clubhub_stream_lag_seconds{{{labels}}} {st['lag_s']:.3f}")
        pending.append(f"clubhub_stream_pending_entries{{{labels}}} {st['pending']}")
        if st.get("lag") is not None:
            lag.append(f"clubhub_stream_lag_entries{{{labels}}} {st['lag']}")
    return "\n".join(lines + pending + lag) + "\n"


def render_readiness(report: dict | None) -> str:
    """``clubhub_backend_ready``: what /readyz would say, per backing service, at this scrape."""
    lines = [
        "# HELP clubhub_backend_ready Whether each backing service (postgres, mongo, redis, s3, ray) answered "
        "this gateway's readiness check at this scrape (1) or not (0)",
        "# TYPE clubhub_backend_ready gauge",
    ]
    if report is None:
        report = dict.fromkeys(("postgres", "mongo", "redis", "ray"), "timed out")
    for backend, state in sorted(report.items()):
        lines.append(f'clubhub_backend_ready{{backend="{_label(backend)}"}} {1 if state == "ok" else 0}')
    return "\n".join(lines) + "\n"


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
    ops, events, batches, nodes, started = [], [], [], [], []
    for st in stats:
        kind, shard = st["kind"], st["shard"]
        active = st.get("active_rooms", st.get("active_sessions", 0))
        lines.append(f'clubhub_shard_active{{kind="{kind}",shard="{shard}"}} {active}')
        if st.get("started"):
            started.append(
                f'clubhub_shard_start_time_seconds{{kind="{kind}",shard="{shard}"}} {st["started"]:.3f}'
            )
        if st.get("node"):
            nodes.append(f'clubhub_shard_node{{kind="{kind}",shard="{shard}",node="{st["node"]}"}} 1')
        for key, value in sorted(st.get("counters", {}).items()):
            if ":" in key:
                event, outcome = key.split(":", 1)
                ops.append(
                    f'clubhub_shard_ops_total{{shard="{shard}",op="{event}",outcome="{outcome}"}} {value}'
                )
            elif key in SHARD_EVENTS:
                events.append(f'clubhub_shard_events_total{{shard="{shard}",event="{key}"}} {value}')
        for size, count in sorted(st.get("batch_sizes", {}).items()):
            batches.append(f'clubhub_shard_commit_batches_total{{shard="{shard}",size_le="{size}"}} {count}')
    if ops:
        lines += [
            "# HELP clubhub_shard_ops_total Operations committed or refused by room shards",
            "# TYPE clubhub_shard_ops_total counter",
            *ops,
        ]
    if events:
        lines += [
            "# HELP clubhub_shard_events_total Room shard events: rooms activated and evicted, sockets restored "
            "after a restart, fan-out publishes that failed or were dropped, group commits and their ops",
            "# TYPE clubhub_shard_events_total counter",
            *events,
        ]
    if batches:
        lines += [
            "# HELP clubhub_shard_commit_batches_total Group-commit batches by size bucket",
            "# TYPE clubhub_shard_commit_batches_total counter",
            *batches,
        ]
    if started:
        # Ray restarts a shard in a new process: its start time changes (changes() counts the restarts).
        lines += [
            "# HELP clubhub_shard_start_time_seconds When each shard's process started (Unix time)",
            "# TYPE clubhub_shard_start_time_seconds gauge",
            *started,
        ]
    if nodes:
        # An info-style gauge: the series of a shard moves to another node label when Ray restarts it there.
        lines += [
            "# HELP clubhub_shard_node The Ray node (id) hosting each shard, always 1",
            "# TYPE clubhub_shard_node gauge",
            *nodes,
        ]
    return "\n".join(lines) + "\n"
