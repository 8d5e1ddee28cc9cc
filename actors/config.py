"""``ActorConfig``: what every actor needs to reach the stores and pace itself, typed and frozen.

The gateway builds one from its settings and the running services' URLs and hands the same object to
every actor it creates; Ray pickles it into each actor process. Frozen, so no actor can change what the
others were given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from storage.janus import JanusKeys
from storage.settings import Settings


@dataclass(frozen=True)
class ActorConfig:
    postgres_url: str
    mongo_url: str
    mongo_db: str
    redis_url: str
    channel: str = "clubhub"  # python-socketio's Redis pubsub channel, shared with every gateway
    room_idle_s: float = 300.0
    session_idle_s: float = 600.0
    housekeeping_s: float = 5.0
    presence_fanout_limit: int = 250
    ranker_reload_s: float = 2.0
    mongo_timeout_ms: int = 2000
    use_model: bool = True  # False: the ranker serves the popularity fallback alone (a benchmark baseline)
    # Rankers compile each model version to machine code (ranking.compiled), cached here (empty: the
    # system's temporary directory); False serves LightGBM's booster alone (a benchmark baseline).
    compile_model: bool = True
    model_cache_dir: str = ""
    # The analytics store (storage.analytics): a directory, or an S3 URL. Empty: <cwd>/.clubhub/analytics.
    analytics_url: str = ""
    analytics_seal_s: float = 60.0  # the consumer seals what it applied into Parquet at least this often
    session_shards: int = 1
    # Notifications (actors.notifier): Web Push key (PEM) and subject, reminder offsets, pacing.
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:admin@clubholohub.local"
    reminder_offsets_s: tuple[int, ...] = (86400, 900)
    notifier_tick_s: float = 5.0
    public_url: str = ""
    # Media's object store (storage.objects; CLUBHUB_S3_URL or the embedded SeaweedFS); empty: none.
    objects_url: str = ""
    notify_stream: str = ""  # empty: storage.keys.NOTIFY_STREAM (a fault test runs a notifier on its own)
    notify_insert_chunk: int = 1000  # notifications per INSERT
    notify_chunk_pause_s: float = 0.0  # fault tests only: a pause after each chunk, to kill one midway
    # Live sessions' audio (storage.janus): the Janus WebSocket API and its secrets; empty: no audio.
    janus_url: str = ""
    janus_token_secret: str = ""
    janus_admin_key: str = ""
    janus_talking_dbov: int = 55
    janus_talking_packets: int = 25
    # Fault tests only: a pause between the seals a model switch applies, so a test can kill it midway.
    switch_seal_delay_s: float = 0.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        urls: Mapping[str, str | None] | None = None,
        vapid_private_key: str | None = None,
    ) -> ActorConfig:
        """``urls``: the services' URLs (``Services(settings).urls()``); embedded services only know theirs
        once started, so the settings' own URLs are the fallback. ``vapid_private_key``: the Web Push key
        (PEM) the gateway loaded or generated (``actors.push``)."""
        from storage.mongo import database_name
        from storage.services import janus_keys

        urls = urls or {}
        postgres = urls.get("postgres") or settings.postgres_url
        mongo = urls.get("mongo") or settings.mongo_url
        redis = urls.get("redis") or settings.redis_url
        if not (postgres and mongo and redis):
            raise ValueError("actor config needs the postgres, mongo and redis URLs")
        janus = janus_keys(settings, urls.get("janus") or settings.janus_url)
        return cls(
            postgres_url=postgres,
            mongo_url=mongo,
            mongo_db=database_name(mongo, settings.mongo_db),
            redis_url=redis,
            channel=settings.socketio_channel,
            room_idle_s=settings.room_idle_s,
            housekeeping_s=settings.housekeeping_s,
            presence_fanout_limit=settings.presence_fanout_limit,
            ranker_reload_s=settings.ranker_reload_s,
            analytics_url=settings.analytics_url,
            model_cache_dir=str(settings.data_path / "model-cache"),
            analytics_seal_s=settings.analytics_seal_s,
            session_shards=settings.session_shards,
            vapid_private_key=vapid_private_key or "",
            vapid_subject=settings.vapid_subject,
            reminder_offsets_s=tuple(int(x) for x in settings.reminder_offsets_s.split(",")),
            notifier_tick_s=settings.notifier_tick_s,
            public_url=settings.base_url,
            objects_url=urls.get("s3") or settings.s3_url or "",
            janus_url=janus.url if janus else "",
            janus_token_secret=janus.token_secret if janus else "",
            janus_admin_key=janus.admin_key if janus else "",
            janus_talking_dbov=settings.janus_talking_dbov,
            janus_talking_packets=settings.janus_talking_packets,
        )

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> ActorConfig:
        """The dict the gateway, the seeding and the benchmarks passed before; unknown keys are refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(config) - names
        if unknown:
            raise ValueError(f"unknown actor config keys: {sorted(unknown)}")
        return cls(**config)

    @classmethod
    def of(cls, config: ActorConfig | Mapping[str, Any]) -> ActorConfig:
        return config if isinstance(config, ActorConfig) else cls.from_dict(config)

    def janus_keys(self) -> JanusKeys | None:
        if not self.janus_url:
            return None
        return JanusKeys(self.janus_url, self.janus_token_secret, self.janus_admin_key)

    def replace(self, **changes: Any) -> ActorConfig:
        return dataclasses.replace(self, **changes)
