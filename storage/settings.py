"""The one settings object, read from ``CLUBHUB_*`` environment variables."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLUBHUB_", extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path(".clubhub")

    # A URL set here means the service is external and is not started by us.
    postgres_url: str | None = None
    mongo_url: str | None = None
    redis_url: str | None = None
    ray_address: str | None = None

    # Database names used with embedded services (external URLs carry their own).
    postgres_db: str = Field("clubhub", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    mongo_db: str = Field("clubhub", pattern=r"^[A-Za-z0-9_]{1,63}$")

    # Fixed loopback ports for the embedded servers; 0 picks a free one and remembers it.
    redis_port: int = Field(0, ge=0, le=65535)
    mongo_port: int = Field(0, ge=0, le=65535)
    # Override the auto-detected embedded server binaries.
    redis_server_bin: str | None = None
    mongo_server_bin: str | None = None

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)

    secret_key: SecretStr | None = None
    jwt_keys_dir: Path | None = None
    smtp_url: str | None = None
    mail_from: str = "ClubHoloHub <no-reply@clubholohub.local>"
    # Where people open links from mail (verification); defaults to the gateway's own address.
    public_url: str | None = None
    web_dist: Path | None = None  # the web client build to serve (default: web/dist of this checkout)
    # Trust X-Forwarded-For for the client address (only behind a proxy that sets it).
    trust_proxy: bool = False

    access_token_ttl_s: int = Field(15 * 60, ge=30)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=60)
    verify_token_ttl_s: int = Field(24 * 3600, ge=60)
    # Login and signup attempts allowed per client address and per account in each window.
    auth_rate_limit: int = Field(10, ge=1)
    auth_rate_window_s: int = Field(60, ge=1)

    ray_num_cpus: int | None = Field(None, ge=1)
    ray_object_store_mb: int = Field(256, ge=64)

    # Chat: shards, batching, limits.
    room_shards: int = Field(2, ge=1, le=256)
    session_shards: int = Field(1, ge=1, le=256)
    # Named actors outlive the gateway that created them; default: when joining an existing cluster.
    detached_actors: bool | None = None
    socketio_channel: str = "clubhub"
    batch_flush_ms: float = Field(2.0, gt=0, le=100)
    batch_max_items: int = Field(256, ge=1, le=4096)
    room_idle_s: float = Field(300.0, gt=0)
    housekeeping_s: float = Field(5.0, gt=0)
    rankers: int = Field(1, ge=1, le=64)  # ranker actors serving feeds (each one process)
    ranker_reload_s: float = Field(2.0, gt=0)  # how often ranker actors look for a new model version
    user_msg_rate: float = Field(5.0, gt=0)
    user_msg_burst: float = Field(20.0, ge=1)
    typing_interval_s: float = Field(2.0, ge=0)
    max_socket_queue: int = Field(2000, ge=10)
    # Rooms with more members online than this get no presence broadcasts (join ack has `online`).
    presence_fanout_limit: int = Field(250, ge=0)
    # Largest Socket.IO frame accepted from a client (a 4,000-character message fits many times).
    max_socket_frame_bytes: int = Field(64 * 1024, ge=1024)

    log_level: str = "INFO"
    # Largest accepted HTTP request body, in bytes.
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    # Seconds a readiness probe waits for one service before calling it down.
    ready_timeout_s: float = Field(2.0, gt=0)

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
