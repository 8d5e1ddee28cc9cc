"""The one settings object, read from ``CLUBHUB_*`` environment variables.

Secrets may instead come from files (``CLUBHUB_<NAME>_FILE``), the way Kubernetes and Vault mount them:
see ``SecretFilesSource``.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "CLUBHUB_"
# The settings that hold credentials: each may be given as CLUBHUB_<NAME>_FILE naming a file holding it.
SECRET_FIELDS = (
    "secret_key",
    "media_url_secret",
    "postgres_url",
    "mongo_url",
    "redis_url",
    "smtp_url",
    "s3_url",
    "vapid_private_key",
    "janus_token_secret",
    "janus_admin_key",
)
# A Ray custom resource name; Ray's own (CPU, GPU, memory, object_store_memory) are refused by Settings.
RAY_RESOURCE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$"
RAY_BUILTIN_RESOURCES = frozenset({"CPU", "GPU", "memory", "object_store_memory"})
# Where /metrics listens in prod when CLUBHUB_METRICS_PORT is not set (the OpenTelemetry/Prometheus exporter port).
DEFAULT_PROD_METRICS_PORT = 9464


class SettingsError(ValueError):
    """A configuration problem that is not one field's value (a secret file), one line for a person."""


class SecretFilesSource(PydanticBaseSettingsSource):
    """``CLUBHUB_<NAME>_FILE=/run/secrets/x`` for every name in ``SECRET_FIELDS``.

    The file's content is the value, without its trailing newline (``echo secret > file`` adds one).
    Giving both the variable and its ``_FILE`` is refused: which one wins would be a guess.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every secret at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_FIELDS:
            if name not in self.settings_cls.model_fields:
                continue
            variable = f"{ENV_PREFIX}{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            if os.environ.get(variable):
                raise SettingsError(f"both {variable} and {variable}_FILE are set; set only one")
            try:
                with open(path, encoding="utf-8") as f:
                    value = f.read()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise SettingsError(f"{variable}_FILE: cannot read {path}: {reason}") from None
            value = value.rstrip("\r\n")
            if not value:
                raise SettingsError(f"{variable}_FILE: {path} is empty")
            values[name] = value
        return values


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``: a bind address no other machine can reach."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as a browser sends it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (
            init_settings,
            env_settings,
            SecretFilesSource(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path(".clubhub")

    # A URL set here means the service is external and is not started by us.
    postgres_url: str | None = None
    mongo_url: str | None = None
    redis_url: str | None = None
    ray_address: str | None = None
    # S3-compatible object storage (s3://KEY:SECRET@host:port/bucket, https://... for TLS endpoints): media
    # (storage/objects.py) and the analytics store's Parquet go there when set. Unset: media goes to an
    # embedded SeaweedFS under the data dir (unless s3_embedded is off) and the analytics under the data dir.
    s3_url: str | None = None
    # Start an embedded SeaweedFS when s3_url is unset (`clubhub gateway` never does: it starts nothing).
    s3_embedded: bool = True
    # Presigned upload URLs name this endpoint instead of the one we use (a proxy or CDN in front of S3).
    s3_public_endpoint: str | None = None
    # The Janus WebRTC server's WebSocket API (ws://host:8188) for live-session audio. Unset: an embedded
    # Janus when the `janus` binary is installed (and janus_embedded allows it); neither: no audio.
    janus_url: str | None = Field(None, pattern=r"^wss?://[^\s]+$")
    janus_embedded: bool = True
    # An external Janus's secrets (the embedded one generates its own, once, under the data dir): the
    # HMAC secret its signed tokens are checked with (token_auth_secret) and the AudioBridge admin_key.
    janus_token_secret: SecretStr | None = None
    janus_admin_key: SecretStr | None = None
    # The embedded Janus's RTP/ICE port range (UDP, on the machine's own addresses).
    janus_rtp_ports: str = Field("40000-40999", pattern=r"^[0-9]{4,5}-[0-9]{4,5}$")
    # Speaking indicators: a stage participant is talking while the average level of their last
    # `janus_talking_packets` packets (20 ms each) is below `janus_talking_dbov` (0 loudest, 127 silence).
    janus_talking_dbov: int = Field(55, ge=1, le=127)
    janus_talking_packets: int = Field(25, ge=5, le=500)

    # Database names used with embedded services (external URLs carry their own).
    postgres_db: str = Field("clubhub", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    mongo_db: str = Field("clubhub", pattern=r"^[A-Za-z0-9_]{1,63}$")

    # Fixed loopback ports for the embedded servers; 0 picks a free one and remembers it.
    redis_port: int = Field(0, ge=0, le=65535)
    mongo_port: int = Field(0, ge=0, le=65535)
    # Override the auto-detected embedded server binaries.
    redis_server_bin: str | None = None
    mongo_server_bin: str | None = None
    weed_bin: str | None = None
    janus_bin: str | None = None

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Gateway processes sharing the port (SO_REUSEPORT, `clubhub run --workers`). Above 1, Socket.IO is
    # websocket-only: the kernel spreads connections by address, so a long-polling session's requests could
    # reach a process that does not hold it.
    workers: int = Field(1, ge=1, le=64)

    secret_key: SecretStr | None = None
    jwt_keys_dir: Path | None = None
    smtp_url: str | None = None
    mail_from: str = "ClubHoloHub <no-reply@clubholohub.local>"
    # Where people open links from mail (verification); defaults to the gateway's own address.
    public_url: str | None = None
    web_dist: Path | None = None  # the web client build to serve (default: web/dist of this checkout)
    # Trust X-Forwarded-For for the client address (only behind a proxy that sets it).
    trust_proxy: bool = False
    # Browser origins allowed to call the API and open sockets, comma-separated (default: the public URL's).
    cors_origins: str | None = None
    # /metrics on a listener of its own (prod: only there, default port 9464; dev: also on the main port).
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    access_token_ttl_s: int = Field(15 * 60, ge=30)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=60)
    verify_token_ttl_s: int = Field(24 * 3600, ge=60)
    # Login and signup attempts allowed per client address and per account in each window.
    auth_rate_limit: int = Field(10, ge=1)
    auth_rate_window_s: int = Field(60, ge=1)

    ray_num_cpus: int | None = Field(None, ge=1)
    ray_object_store_mb: int = Field(256, ge=64)
    # Custom Ray resources that pin actors to node groups (KubeRay worker groups started with
    # `--resources '{"<name>": 1}'`): the room/session shards and the interaction consumer ask for a sliver
    # of the shard resource, the rankers of the ranker resource. Unset: they run wherever Ray puts them.
    ray_shard_resource: str | None = Field(None, pattern=RAY_RESOURCE_PATTERN)
    ray_ranker_resource: str | None = Field(None, pattern=RAY_RESOURCE_PATTERN)

    # Chat: shards, batching, limits.
    room_shards: int = Field(2, ge=1, le=256)
    session_shards: int = Field(1, ge=1, le=256)
    # Named actors outlive the gateway that created them; default: when joining an existing cluster.
    detached_actors: bool | None = None
    socketio_channel: str = "clubhub"
    # Gateway -> room shard coalescing (actors.client.ShardBatcher): a send goes at once while fewer than
    # batch_in_flight calls to its shard are out (after batch_flush_ms when set), else with the next call.
    batch_flush_ms: float = Field(0.0, ge=0, le=100)
    batch_max_items: int = Field(256, ge=1, le=4096)
    batch_in_flight: int = Field(2, ge=1, le=64)
    room_idle_s: float = Field(300.0, gt=0)
    housekeeping_s: float = Field(5.0, gt=0)
    rankers: int = Field(1, ge=1, le=64)  # ranker actors serving feeds (each one process)
    ranker_reload_s: float = Field(2.0, gt=0)  # how often ranker actors look for a new model version
    analytics_seal_s: float = Field(60.0, gt=0, le=3600)  # interactions reach the Parquet store this often
    # Raw interactions in MongoDB expire (a TTL index): serving needs none of them, training reads Parquet.
    interactions_ttl_days: float = Field(30.0, gt=0)
    # /readyz reports the served model as stale when a newer trained version waited longer than this.
    model_stale_s: float = Field(600.0, gt=0)
    user_msg_rate: float = Field(5.0, gt=0)
    user_msg_burst: float = Field(20.0, ge=1)
    # Edits, deletes, reactions and every live:* action share a second per-user bucket.
    user_action_rate: float = Field(5.0, gt=0)
    user_action_burst: float = Field(20.0, ge=1)
    # room:join and live:join: a reconnecting client rejoins all its rooms at once, so a bigger burst.
    user_join_rate: float = Field(10.0, gt=0)
    user_join_burst: float = Field(100.0, ge=1)
    # Every Socket.IO event from one client address (all its users together), per gateway.
    ip_event_rate: float = Field(200.0, gt=0)
    ip_event_burst: float = Field(2000.0, ge=1)
    # Sockets one user / one client address may hold open on one gateway (engine.io sessions included).
    max_sockets_per_user: int = Field(20, ge=1)
    max_sockets_per_ip: int = Field(100, ge=1)
    # Seconds an engine.io session may stay open without connecting the Socket.IO namespace.
    socket_connect_timeout_s: float = Field(10.0, gt=0)
    # Seconds a connection may take to send a whole request (and stay idle between requests).
    header_timeout_s: float = Field(15.0, gt=0)
    typing_interval_s: float = Field(2.0, ge=0)
    max_socket_queue: int = Field(2000, ge=10)
    # Rooms with more members online than this get no presence broadcasts (join ack has `online`).
    presence_fanout_limit: int = Field(250, ge=0)
    # Largest Socket.IO frame accepted from a client (a 4,000-character message fits many times).
    max_socket_frame_bytes: int = Field(64 * 1024, ge=1024)

    # Notifications (actors.notifier). Web Push signs with a VAPID key pair: the private key as PEM (or
    # base64url of the raw 32 bytes), generated once into <data_dir>/vapid when unset.
    vapid_private_key: SecretStr | None = None
    vapid_subject: str = "mailto:admin@clubholohub.local"
    # A mention (or DM) still unread this long goes into the user's next email digest.
    digest_after_s: float = Field(900.0, gt=0)
    digest_every_s: float = Field(60.0, gt=0)  # how often gateways look for digests due
    # Event reminders: seconds before the start, comma-separated (tests use a short clock).
    reminder_offsets_s: str = Field("86400,900", pattern=r"^\d+(,\d+)*$")
    notifier_tick_s: float = Field(5.0, gt=0)  # how often the notifier looks for reminders due

    # Media uploads (gateway/actions/media.py): presigned PUTs live this long; per user, at most this many
    # uploads pending (not yet completed), this many bytes declared per 24 h, this many uploads per hour.
    media_upload_ttl_s: int = Field(15 * 60, ge=60, le=7 * 24 * 3600)
    media_pending_max: int = Field(20, ge=1)
    media_daily_bytes: int = Field(1024 * 1024 * 1024, ge=1024 * 1024)
    media_uploads_per_hour: int = Field(120, ge=1)
    # Production: browsers fetch media from this CDN in front of the bucket, by URLs the gateway signs after
    # its permission check (HMAC-SHA256 with media_url_secret, valid for about media_url_ttl_s; docs/media.md
    # says what the edge checks). Unset: the gateway serves /media/ itself from the object store.
    media_public_url: str | None = None
    media_url_secret: SecretStr | None = None
    media_url_ttl_s: int = Field(3600, ge=60, le=7 * 24 * 3600)

    log_level: str = "INFO"
    # Largest accepted HTTP request body, in bytes.
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    # Seconds a readiness probe waits for one service before calling it down.
    ready_timeout_s: float = Field(2.0, gt=0)
    # On SIGTERM: seconds /readyz answers 503 before the sockets close, so a load balancer stops routing new
    # connections here first (Kubernetes: below terminationGracePeriodSeconds, above the probe period).
    drain_s: float = Field(0.0, ge=0, le=3600)
    # Dev mode inside a container (`clubhub demo` sets it): the gateway may bind the container's own
    # interfaces, reachable only through a port the host publishes. Refused outside a container and in
    # Kubernetes; prod ignores it.
    dev_container: bool = False

    @field_validator("ray_shard_resource", "ray_ranker_resource")
    @classmethod
    def _custom_resource(cls, value: str | None) -> str | None:
        if value in RAY_BUILTIN_RESOURCES:
            raise ValueError(f"{value} is one of Ray's own resources; name a custom one (e.g. clubhub_shard)")
        return value

    @model_validator(mode="after")
    def _media_cdn(self) -> Settings:
        if self.media_public_url and self.media_url_secret is None:
            raise ValueError("media_public_url needs media_url_secret: the CDN checks the URLs it signs")
        return self

    @model_validator(mode="after")
    def _janus_secrets(self) -> Settings:
        if self.janus_url and (self.janus_token_secret is None or self.janus_admin_key is None):
            raise ValueError(
                "janus_url needs janus_token_secret and janus_admin_key: the gateway signs members' tokens "
                "and manages the audio rooms with them"
            )
        low, high = (int(p) for p in self.janus_rtp_ports.split("-"))
        if not 1024 <= low < high <= 65535:
            raise ValueError("janus_rtp_ports: LOW-HIGH with 1024 <= LOW < HIGH <= 65535")
        return self

    @property
    def analytics_url(self) -> str:
        return self.s3_url or str(self.data_path / "analytics")

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Origins (besides the gateway's own) that browsers may call the API and open sockets from."""
        if self.cors_origins:
            listed = [o.strip() for o in self.cors_origins.split(",") if o.strip()]
            return frozenset(origin_of(o) for o in listed if o != "*")  # never a wildcard
        return frozenset({origin_of(self.base_url)})

    @property
    def metrics_listener(self) -> tuple[str, int] | None:
        """(host, port) of the separate /metrics listener, or None when there is none (dev default)."""
        if self.metrics_port is not None:
            return self.metrics_host, self.metrics_port
        return (self.metrics_host, DEFAULT_PROD_METRICS_PORT) if self.env == "prod" else None

    @property
    def metrics_on_main_port(self) -> bool:
        return self.env == "dev"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
