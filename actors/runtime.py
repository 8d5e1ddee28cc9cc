"""Ray bootstrap: a local instance sized to the machine, or the cluster at ``CLUBHUB_RAY_ADDRESS``.

Every actor of ClubHoloHub lives in the ``clubhub`` namespace so that several gateways find the
same named actors.

Ray's control plane runs whatever code a client sends it, so (M5):
- token authentication is mandatory, for the local instance and for joining a cluster alike
  (``RAY_AUTH_MODE=token``; a configured ``RAY_AUTH_MODE`` of anything else is refused). The local
  instance's token is generated once into ``<data_dir>/ray/auth_token`` (0600) unless ``RAY_AUTH_TOKEN``
  or ``RAY_AUTH_TOKEN_PATH`` names one; processes started from this one (a second gateway of the tests)
  inherit the variables, and a gateway joining with the same data dir finds the file.
- the local instance listens on loopback only: every Ray server (GCS, raylet, object manager, workers,
  agents, the autoscaler's metrics) binds the node IP, and Ray turns a node IP of 127.0.0.1 into the
  machine's first routable address unless told this is a single-machine instance.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

import ray

from storage.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "clubhub"
PROBE_NAME = "clubhub-health-probe"


@ray.remote(num_cpus=0, max_restarts=-1)
class HealthProbe:
    """A zero-CPU actor whose answer proves the cluster can schedule and run actor calls."""

    def ping(self) -> str:
        return "pong"


class RayConfigError(RuntimeError):
    """Ray cannot be used safely as configured; one line for a person."""


def token_path(settings: Settings) -> Path:
    return settings.data_path / "ray" / "auth_token"


def require_token_auth(settings: Settings, *, local: bool) -> None:
    """Set this process (and its children) up for Ray token auth before ``ray.init``."""
    mode = os.environ.get("RAY_AUTH_MODE", "token").strip().lower()
    if mode != "token":
        raise RayConfigError(
            f"RAY_AUTH_MODE={mode}: ClubHoloHub runs Ray only with token authentication "
            "(unset it or set RAY_AUTH_MODE=token)"
        )
    os.environ["RAY_AUTH_MODE"] = "token"
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    path = token_path(settings)
    if local and not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))  # the format `ray get-auth-token --generate` writes
    if path.exists():
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(path)
    # Ray reads RAY_AUTH_MODE into its config once; make this process see the value set above.
    from ray._raylet import Config  # type: ignore[attr-defined]  # compiled module, no stub for Config

    Config.initialize("")


def _single_machine() -> None:
    """Keep the node IP at 127.0.0.1. Ray (2.60) replaces a loopback ``_node_ip_address`` with the
    machine's routable address unless clusters are disabled, the mode it uses on macOS/Windows; with it
    every Ray server binds 127.0.0.1 (or ::ffff:127.0.0.1) instead of ``*``."""
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


def _loopback_address(address: str) -> bool:
    from storage.settings import is_loopback

    host = address.removeprefix("ray://").rsplit(":", 1)[0]
    return is_loopback(host)


def start_ray(settings: Settings) -> bool:
    """Connect to or start Ray; True when this process started a local instance (and must stop it)."""
    if ray.is_initialized():
        return False
    common: dict[str, Any] = dict(
        namespace=NAMESPACE,
        logging_level=logging.WARNING,
        log_to_driver=True,
        configure_logging=False,
        ignore_reinit_error=True,
    )
    require_token_auth(settings, local=not settings.ray_address)
    if settings.ray_address:
        if _loopback_address(settings.ray_address):
            _single_machine()  # else Ray dials the machine's routable address, where nothing listens
        ray.init(address=settings.ray_address, **common)
        log.info("joined ray cluster", extra={"address": settings.ray_address})
        return False
    # An inherited RAY_ADDRESS would silently attach us to some other cluster.
    os.environ.pop("RAY_ADDRESS", None)
    _single_machine()
    ray.init(
        # "local": always a new instance. Without an address Ray joins the cluster /tmp/ray/ray_current_cluster
        # names, which any head started on this machine leaves behind (and then refuses num_cpus).
        address="local",
        num_cpus=settings.ray_num_cpus or os.cpu_count() or 1,
        include_dashboard=False,
        # Loopback only: this machine is the whole cluster, nothing should listen on other interfaces.
        _node_ip_address="127.0.0.1",
        object_store_memory=settings.ray_object_store_mb * 1024 * 1024,
        **common,
    )
    log.info("started local ray", extra={"gcs_address": gcs_address()})
    return True


def token_auth_enabled() -> bool:
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    return is_token_auth_enabled()


def gcs_address() -> str | None:
    """The address other processes (a second gateway) pass as ``CLUBHUB_RAY_ADDRESS``."""
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:
        return None


def health_probe():
    return HealthProbe.options(name=PROBE_NAME, get_if_exists=True, lifetime="detached").remote()


async def ping_ray(probe) -> None:
    if not ray.is_initialized():
        raise RuntimeError("ray is not initialized")
    answer = await probe.ping.remote()
    if answer != "pong":
        raise RuntimeError(f"unexpected answer {answer!r}")


def stop_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()
